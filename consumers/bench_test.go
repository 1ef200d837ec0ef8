package consumers

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trustpipe/trustpipe/aggregate"
	"github.com/trustpipe/trustpipe/aggregate/event"
	"github.com/trustpipe/trustpipe/aggregate/scenario"
)

var (
	benchOnce sync.Once
	benchRecs []scenario.Record
)

// benchRecords generates a realistic stream once per test binary, so the
// generator's cost stays out of the measurement.
func benchRecords(b *testing.B, n int) []scenario.Record {
	b.Helper()
	benchOnce.Do(func() { benchRecs = generate(b, n) })
	return benchRecs
}

func generate(b *testing.B, n int) []scenario.Record {
	g, err := scenario.New(scenario.Config{Name: "trust-spiral", Events: n, Days: 28, Seed: 1, End: time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		b.Fatal(err)
	}
	out := make([]scenario.Record, 0, n)
	for {
		r, ok := g.Next()
		if !ok {
			return out
		}
		out = append(out, r.Clone())
	}
}

// BenchmarkDecodeValidateAggregate measures the per-event CPU cost of the
// processing stage — strict decode, validation, pseudonymization of
// contacts, per-block aggregation and a snapshot per block — on one core.
// The target (DESIGN.md) is >= 1 000 000 events/s per core.
func BenchmarkDecodeValidateAggregate(b *testing.B) {
	recs := benchRecords(b, 200000)
	pseudonyms, err := NewPseudonymizer([]byte("bench-pseudonym-key-0123456789"))
	if err != nil {
		b.Fatal(err)
	}
	cfg := aggregate.DefaultConfig()
	agg, err := aggregate.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	dec := event.NewDecoder(event.DefaultLimits())
	var ev event.Event
	var bytes int64
	for _, r := range recs {
		bytes += int64(len(r.Value))
	}
	b.SetBytes(bytes / int64(len(recs)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := &recs[i%len(recs)]
		off := int64(i)
		if rej := dec.Decode(r.Value, r.Time, &ev); rej != nil {
			agg.Reject("t", 0, off)
		} else {
			ev.ContactID = pseudonyms.Pseudonym(ev.ContactID)
			agg.Accept("t", 0, off, r.Time, &ev)
		}
		if off%cfg.BlockSize == cfg.BlockSize-1 {
			agg.Snapshot()
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkDistinctKeysMemory feeds 100 000 records of 60 KiB, each with its
// own campaign (a distinct key) and contact, through decode, pseudonymization
// and aggregation, each record in a fresh buffer as kafka-go hands them out,
// with a snapshot every 10 000 records (a flush). It reports the peak live
// heap, measured after a collection every 1 000 records, and the process's
// peak RSS: both must
// stay bounded by the configuration (one open block's keys), not grow with
// the number of distinct keys or the record size.
func BenchmarkDistinctKeysMemory(b *testing.B) {
	const records, recordSize, flushEvery = 100000, 60 << 10, 10000
	pseudonyms, err := NewPseudonymizer([]byte("bench-pseudonym-key-0123456789"))
	if err != nil {
		b.Fatal(err)
	}
	at := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	pad := strings.Repeat("a", recordSize)
	var peakHeap uint64
	for range b.N {
		agg, err := aggregate.New(aggregate.DefaultConfig())
		if err != nil {
			b.Fatal(err)
		}
		dec := event.NewDecoder(event.DefaultLimits())
		var ev event.Event
		var ms runtime.MemStats
		for i := range records {
			head := fmt.Sprintf(`{"event_id":"e%d","type":"click","occurred_at":"2026-11-20T10:00:00Z","contact_id":"c%d","campaign_id":"camp-%d","channel":"email","x_pad":"`, i, i, i)
			value := make([]byte, 0, recordSize)
			value = append(append(value, head...), pad[:recordSize-len(head)-2]...)
			value = append(value, `"}`...)
			if rej := dec.Decode(value, at, &ev); rej != nil {
				b.Fatalf("record %d rejected: %v", i, rej)
			}
			ev.ContactID = pseudonyms.Pseudonym(ev.ContactID)
			agg.Accept("t", 0, int64(i), at, &ev)
			if i%1000 == 999 {
				runtime.GC() // HeapAlloc is then what is still reachable
				runtime.ReadMemStats(&ms)
				peakHeap = max(peakHeap, ms.HeapAlloc)
			}
			if i%flushEvery == flushEvery-1 {
				agg.Snapshot()
			}
		}
	}
	b.ReportMetric(float64(peakHeap)/(1<<20), "peak-live-heap-MiB")
	if rss, ok := peakRSS(); ok {
		b.ReportMetric(float64(rss)/(1<<20), "peak-RSS-MiB")
	}
}

// peakRSS reads the process's peak resident set (Linux VmHWM).
func peakRSS() (uint64, bool) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10, err == nil
		}
	}
	return 0, false
}
