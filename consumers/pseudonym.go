package consumers

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
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

// RawPrefix marks a configured id as raw, to be hashed, even when it looks
// like a pseudonym (see ResolvePseudonyms).
const RawPrefix = "raw:"

// IsPseudonym reports whether s has the form of a pseudonym: 32 lower-case
// hex digits (Pseudonym's output).
func IsPseudonym(s string) bool {
	if len(s) != 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// ErrRawIDWithoutKey is wrapped by ResolvePseudonyms when a raw id must be
// hashed but there is no pseudonymizer (no key configured).
var ErrRawIDWithoutKey = errors.New("a raw id can only be hashed with the pseudonym key: set it, or list the ids' pseudonyms (32 hex digits, as stored)")

// ResolvePseudonyms turns a configured list of ids into pseudonyms, so raw
// ids never go further than the configuration: an entry of 32 lower-case
// hex digits is taken as a pseudonym; any other entry, or one prefixed
// with RawPrefix, is a raw id and hashed with p (which may be nil when no
// entry needs it). Blank entries are dropped. The error names the entry's
// position, never its value.
func ResolvePseudonyms(entries []string, p *Pseudonymizer) ([]string, error) {
	var out []string
	for i, e := range entries {
		e = strings.TrimSpace(e)
		raw, forced := strings.CutPrefix(e, RawPrefix)
		switch {
		case e == "" || (forced && raw == ""):
			continue
		case !forced && IsPseudonym(e):
			out = append(out, e)
		case p == nil:
			return nil, fmt.Errorf("entry %d: %w", i+1, ErrRawIDWithoutKey)
		default:
			out = append(out, p.Pseudonym(raw))
		}
	}
	return out, nil
}
