package scenario

import (
	"testing"
	"time"
)

// benchNext measures generation (event choice, timestamps, encoding) per
// record; b.N records in one generator so setup is amortised the way a
// large `trustpipe gen` run amortises it.
func benchNext(b *testing.B, cfg Config) {
	cfg.Events = b.N
	g := mustNew(b, cfg)
	var bytes int64
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for r, ok := g.Next(); ok; r, ok = g.Next() {
		bytes += int64(len(r.Value))
	}
	el := time.Since(start)
	b.ReportMetric(float64(b.N)/el.Seconds(), "events/s")
	b.ReportMetric(float64(bytes)/float64(b.N), "B/event")
}

func BenchmarkGenerate(b *testing.B) {
	for _, name := range Names() {
		b.Run(name, func(b *testing.B) {
			benchNext(b, Config{Name: name, Days: 28, Seed: 1, End: testEnd})
		})
	}
}

func BenchmarkGenerateInvalid(b *testing.B) {
	benchNext(b, Config{Name: "trust-spiral", Days: 28, Seed: 1, End: testEnd, InvalidRatio: 0.01})
}

// BenchmarkNew measures setting up the default population and a year-long
// timeline.
func BenchmarkNew(b *testing.B) {
	for b.Loop() {
		if _, err := New(Config{Name: "healthy", Events: 1e6, Days: 365, End: testEnd}); err != nil {
			b.Fatal(err)
		}
	}
}
