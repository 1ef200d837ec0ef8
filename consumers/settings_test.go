package consumers

import (
	"strings"
	"testing"
	"time"
)

// TestSettingsFingerprint: every setting that shapes rows changes the
// fingerprint, the ones that do not leave it alone, and the pseudonym key
// never appears in it.
func TestSettingsFingerprint(t *testing.T) {
	key := []byte("fingerprint-test-key-0123456789")
	base := DefaultConfig()
	want := SettingsFingerprint(base, key)
	if strings.Contains(want, string(key)) {
		t.Fatalf("fingerprint %q shows the key", want)
	}
	cases := []struct {
		name    string
		change  func(c *Config, key *[]byte)
		differs bool
	}{
		{"bucket", func(c *Config, _ *[]byte) { c.Aggregate.BucketSize = 5 * time.Minute }, true},
		{"block", func(c *Config, _ *[]byte) { c.Aggregate.BlockSize = 5000 }, true},
		{"max_bytes", func(c *Config, _ *[]byte) { c.Limits.MaxBytes = 1024 }, true},
		{"max_depth", func(c *Config, _ *[]byte) { c.Limits.MaxDepth = 4 }, true},
		{"max_skew", func(c *Config, _ *[]byte) { c.Limits.MaxSkew = time.Hour }, true},
		{"max_age", func(c *Config, _ *[]byte) { c.Limits.MaxAge = time.Hour }, true},
		{"dedup_window", func(c *Config, _ *[]byte) { c.Aggregate.Dedup.Window = time.Hour }, true},
		{"dedup_max_ids", func(c *Config, _ *[]byte) { c.Aggregate.Dedup.MaxIDs = 10 }, true},
		{"contact_states", func(c *Config, _ *[]byte) { c.Aggregate.Contacts.MaxStates = 10 }, true},
		{"contact_horizon", func(c *Config, _ *[]byte) { c.Aggregate.Contacts.Horizon = 24 * time.Hour }, true},
		{"pseudonym_key", func(_ *Config, k *[]byte) { *k = []byte("fingerprint-test-key-0123456780") }, true},
		{"flush interval", func(c *Config, _ *[]byte) { c.FlushInterval = time.Minute }, false},
		{"queue size", func(c *Config, _ *[]byte) { c.QueueSize = 1 }, false},
		{"queue bytes", func(c *Config, _ *[]byte) { c.QueueBytes = 1 << 30 }, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, k := base, key
			tc.change(&c, &k)
			got := SettingsFingerprint(c, k)
			if (got != want) != tc.differs {
				t.Fatalf("fingerprint %q vs %q: differs = %v, want %v", got, want, got != want, tc.differs)
			}
		})
	}
}
