package consumers

import (
	"errors"
	"io"
	"log/slog"
	"math"
	"runtime/debug"
	"testing"
)

// TestSetMemoryLimit: the configured limit is applied, 0 applies none, and
// GOMEMLIMIT in the environment wins; limits too small to work with are
// refused by Validate.
func TestSetMemoryLimit(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(before) })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, c := range []struct {
		name, env string
		limit     int64
		want      int64
	}{
		{"applied", "", 128 << 20, 128 << 20},
		{"none", "", 0, math.MaxInt64},
		{"GOMEMLIMIT wins", "300MiB", 128 << 20, math.MaxInt64},
	} {
		debug.SetMemoryLimit(math.MaxInt64)
		t.Setenv("GOMEMLIMIT", c.env)
		SetMemoryLimit(c.limit, log)
		if got := debug.SetMemoryLimit(-1); got != c.want {
			t.Errorf("%s: limit in force %d, want %d", c.name, got, c.want)
		}
	}
	cfg := DefaultConfig()
	cfg.MemoryLimit = 1 << 20
	if err := cfg.Validate(); !errors.Is(err, ErrMemoryLimit) {
		t.Errorf("Validate of a 1 MiB limit: %v, want ErrMemoryLimit", err)
	}
}
