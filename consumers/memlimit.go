package consumers

import (
	"log/slog"
	"os"
	"runtime/debug"
)

// DefaultMemoryLimit is the default Config.MemoryLimit: 200 MiB.
//
// Why a limit at all: with Go's default garbage-collector pacing (GOGC=100)
// the heap grows to twice what is live before a collection, so the
// process's peak RSS is about twice its peak live heap. A backfill holds
// about 110 MiB live at the defaults (open blocks' keys, snapshots being
// stored, the fetch queue, dedup ids), which made a peak RSS near 300 MiB.
// With a soft limit the collector runs earlier only while the heap is
// near the limit, so the peak RSS stays near the limit (plus the binary's
// own pages) at little CPU cost, and a live-shaped stream, whose live heap
// is far below it, is not affected at all.
//
// The limit is soft: the process never fails because of it. If what is
// live grows past it (much larger queue, pending-row or dedup settings),
// the collector works harder, using at most half the CPU, and memory grows
// past the limit: raise it with those settings.
const DefaultMemoryLimit = 200 << 20

// minMemoryLimit refuses limits below what the defaults hold live, where
// the collector would run all the time.
const minMemoryLimit = 64 << 20

// SetMemoryLimit applies limit (bytes; 0: none) as the Go runtime's soft
// memory limit (runtime/debug.SetMemoryLimit), unless the GOMEMLIMIT
// environment variable is set: an operator's (or a container platform's)
// explicit runtime setting wins. It logs the limit in force.
func SetMemoryLimit(limit int64, log *slog.Logger) {
	if env := os.Getenv("GOMEMLIMIT"); env != "" {
		log.Info("memory limit", "GOMEMLIMIT", env, "note", "set in the environment, so the configured limit is not applied")
		return
	}
	if limit == 0 {
		return
	}
	debug.SetMemoryLimit(limit)
	log.Info("memory limit", "bytes", limit)
}
