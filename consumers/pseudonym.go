package consumers

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
)

// MinPseudonymKeyLen is the shortest accepted pseudonymization secret.
const MinPseudonymKeyLen = 16

// Pseudonymizer replaces contact and account ids with keyed HMAC-SHA256
// pseudonyms, so raw ids are never stored while the same person still maps
// to the same pseudonym (distinct counts stay exact). Without the key a
// pseudonym cannot be reversed or recomputed from a guessed id.
//
// A Pseudonymizer is not safe for concurrent use: it reuses one HMAC state.
type Pseudonymizer struct {
	mac hash.Hash
	sum []byte
	out []byte
}

// NewPseudonymizer returns a Pseudonymizer keyed by key.
func NewPseudonymizer(key []byte) (*Pseudonymizer, error) {
	if len(key) < MinPseudonymKeyLen {
		return nil, errors.New("TRUSTPIPE_PSEUDONYM_KEY must be a secret of at least 16 bytes (e.g. the output of `openssl rand -hex 32`)")
	}
	return &Pseudonymizer{mac: hmac.New(sha256.New, key), sum: make([]byte, 0, sha256.Size), out: make([]byte, 32)}, nil
}

// Pseudonym returns the 128-bit hex pseudonym of id ("" stays "").
func (p *Pseudonymizer) Pseudonym(id string) string {
	if id == "" {
		return ""
	}
	p.mac.Reset()
	p.mac.Write([]byte(id))
	p.sum = p.mac.Sum(p.sum[:0])
	hex.Encode(p.out, p.sum[:16])
	return string(p.out)
}
