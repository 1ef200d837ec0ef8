package consumers

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

func TestPseudonym(t *testing.T) {
	key := []byte("0123456789abcdef-test-key")
	p, err := NewPseudonymizer(key)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"c-1", "alice@example.com", "ü"} {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(id))
		want := hex.EncodeToString(m.Sum(nil))[:32]
		if got := p.Pseudonym(id); got != want {
			t.Errorf("Pseudonym(%q) = %s, want %s", id, got, want)
		}
	}
	if p.Pseudonym("") != "" {
		t.Error("empty id must stay empty")
	}
	if _, err := NewPseudonymizer([]byte("short")); err == nil {
		t.Error("short key accepted")
	}
}
