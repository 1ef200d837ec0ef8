package consumers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/trustpipe/trustpipe/aggregate/event"
)

// TestResolvePseudonyms: pseudonyms pass, raw ids (and raw:-prefixed ones
// that look like pseudonyms) are hashed, and without a key a raw id is an
// error that does not echo it.
func TestResolvePseudonyms(t *testing.T) {
	p, err := NewPseudonymizer([]byte("0123456789abcdef-test-key"))
	if err != nil {
		t.Fatal(err)
	}
	ps := p.Pseudonym("acct-00003")
	looks := strings.Repeat("ab", 16)
	got, err := ResolvePseudonyms([]string{" acct-00003 ", ps, "", RawPrefix + looks, looks, strings.ToUpper(looks)}, p)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{ps, ps, p.Pseudonym(looks), looks, p.Pseudonym(strings.ToUpper(looks))}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("ResolvePseudonyms = %v, want %v", got, want)
	}
	if got, err := ResolvePseudonyms([]string{ps}, nil); err != nil || len(got) != 1 || got[0] != ps {
		t.Errorf("pseudonyms without a key: %v, %v", got, err)
	}
	_, err = ResolvePseudonyms([]string{ps, "acct-secret"}, nil)
	if !errors.Is(err, ErrRawIDWithoutKey) || strings.Contains(err.Error(), "acct-secret") || !strings.Contains(err.Error(), "entry 2") {
		t.Errorf("raw id without a key: %v", err)
	}
}

// TestPipelinePseudonymizesAccounts: the account and contact ids of the
// stored account rows went through Deps.Pseudonyms (testPseudonyms
// prefixes "x"); none is raw.
func TestPipelinePseudonymizesAccounts(t *testing.T) {
	at := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	var msgs []kafka.Message
	for i := range 30 {
		ev := event.Event{ID: fmt.Sprintf("e%d", i), Type: event.Unsubscribe, OccurredAt: at, ContactID: fmt.Sprintf("c%d", i%4),
			AccountID: fmt.Sprintf("acct-%d", i%3), Channel: "email"}
		msgs = append(msgs, kafka.Message{Topic: "in", Offset: int64(i), Value: event.AppendJSON(nil, &ev), Time: at, HighWaterMark: 30})
	}
	k := &fakeKafka{records: msgs}
	st := &flakyStore{}
	p := newTestPipeline(t, k, st, &dlqRecorder{}, prometheus.NewRegistry())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	deadline := time.Now().Add(30 * time.Second)
	for st.storedEvents() < 30 {
		if time.Now().After(deadline) {
			t.Fatalf("stored %d events, want 30", st.storedEvents())
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	accounts, contacts := map[string]bool{}, map[string]bool{}
	for _, snap := range st.stored {
		for _, r := range snap.Accounts {
			accounts[r.Account] = true
		}
		for _, r := range snap.AccountContacts {
			accounts[r.Account], contacts[r.Contact] = true, true
		}
	}
	if len(accounts) != 3 || len(contacts) != 4 {
		t.Fatalf("stored accounts %v and pullback contacts %v, want 3 and 4", accounts, contacts)
	}
	for a := range accounts {
		if !strings.HasPrefix(a, "xacct-") {
			t.Errorf("stored account %q was not pseudonymized", a)
		}
	}
	for c := range contacts {
		if !strings.HasPrefix(c, "xc") {
			t.Errorf("stored pullback contact %q was not pseudonymized", c)
		}
	}
}
