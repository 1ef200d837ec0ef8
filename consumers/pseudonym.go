package consumers

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"strings"
)

// MinPseudonymKeyLen is the shortest accepted pseudonymization secret.
const MinPseudonymKeyLen = 16

// Pseudonymizer replaces contact and account ids with keyed HMAC-SHA256
// pseudonyms, so raw ids are never stored while the same person still maps
// to the same pseudonym (distinct counts stay exact). Without the key a
// pseudonym cannot be reversed or recomputed from a guessed id.
//
// Every accepted event is pseudonymized at ingest, and one contact's events
// cluster in time, so the last results are memoised: a map lookup instead of
// an HMAC for a contact seen recently. The memo holds at most memoSize
// entries and is dropped whole when full, so its memory is bounded.
//
// A Pseudonymizer is not safe for concurrent use: it reuses one HMAC state.
type Pseudonymizer struct {
	mac  hash.Hash
	sum  []byte
	out  []byte
	memo map[string]string
}

// memoSize bounds the memo (about 100 bytes an entry: ~6 MiB at most).
const memoSize = 1 << 16

// ErrPseudonymKey is wrapped by NewPseudonymizer's error for a missing or
// short key; the message says how to make one, never what the key was.
var ErrPseudonymKey = fmt.Errorf("the pseudonym key must be a secret of at least %d bytes (e.g. the output of `openssl rand -hex 32`)", MinPseudonymKeyLen)

// NewPseudonymizer returns a Pseudonymizer keyed by key.
func NewPseudonymizer(key []byte) (*Pseudonymizer, error) {
	if len(key) < MinPseudonymKeyLen {
		return nil, fmt.Errorf("%w: got %d bytes", ErrPseudonymKey, len(key))
	}
	return &Pseudonymizer{mac: hmac.New(sha256.New, key), sum: make([]byte, 0, sha256.Size), out: make([]byte, 32),
		memo: make(map[string]string)}, nil
}

// Pseudonym returns the 128-bit hex pseudonym of id ("" stays "").
func (p *Pseudonymizer) Pseudonym(id string) string {
	if id == "" {
		return ""
	}
	if ps, ok := p.memo[id]; ok {
		return ps
	}
	p.mac.Reset()
	p.mac.Write([]byte(id))
	p.sum = p.mac.Sum(p.sum[:0])
	hex.Encode(p.out, p.sum[:16])
	ps := string(p.out)
	if len(p.memo) >= memoSize {
		clear(p.memo)
	}
	// id may alias a fetched record's bytes (zero-copy decoding): clone it,
	// so the memo does not keep whole records alive.
	p.memo[strings.Clone(id)] = ps
	return ps
}
