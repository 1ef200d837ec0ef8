package produce

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/trustpipe/trustpipe/aggregate/scenario"
)

// testEnd is a fixed scenario end, so that records are reproducible.
var testEnd = time.Date(2026, 3, 2, 15, 30, 0, 0, time.UTC)

func mustNew(t testing.TB, cfg scenario.Config) *scenario.Generator {
	t.Helper()
	g, err := scenario.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// memWriter records what it is given, like a synchronous broker.
type memWriter struct {
	mu      sync.Mutex
	msgs    []kafka.Message
	batches []int
	failAt  int // 1-based call that fails; 0 never
	calls   int
}

func (w *memWriter) WriteMessages(ctx context.Context, msgs ...kafka.Message) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.calls++
	if w.calls == w.failAt {
		return errors.New("broker unavailable")
	}
	w.msgs = append(w.msgs, msgs...) // keeps the slices: Produce must not reuse them
	w.batches = append(w.batches, len(msgs))
	return nil
}

// expected returns the records of a fresh generator for cfg, cloned.
func expected(t testing.TB, cfg scenario.Config) []scenario.Record {
	g := mustNew(t, cfg)
	var out []scenario.Record
	for r, ok := g.Next(); ok; r, ok = g.Next() {
		out = append(out, r.Clone())
	}
	return out
}

func sameRecord(m kafka.Message, r scenario.Record) error {
	if !bytes.Equal(m.Key, r.Key) || (m.Key == nil) != (r.Key == nil) {
		return fmt.Errorf("key %q, want %q", m.Key, r.Key)
	}
	if !bytes.Equal(m.Value, r.Value) {
		return fmt.Errorf("value %s, want %s", trunc(m.Value), trunc(r.Value))
	}
	if !m.Time.Equal(r.Time) {
		return fmt.Errorf("time %v, want %v", m.Time, r.Time)
	}
	return nil
}

func TestProduce(t *testing.T) {
	for _, n := range []int{0, 1, 999, 1000, 1001, 7777} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			cfg := scenario.Config{Name: "creepy-personalization", Events: n, Days: 5, Seed: 11, End: testEnd, InvalidRatio: 0.02}
			w := &memWriter{}
			var calls [][2]int
			got, err := Produce(context.Background(), w, mustNew(t, cfg), 1000, func(done, total int) {
				calls = append(calls, [2]int{done, total})
			})
			if err != nil || got != n {
				t.Fatalf("Produce = %d, %v; want %d", got, err, n)
			}
			want := expected(t, cfg)
			if len(w.msgs) != n {
				t.Fatalf("writer got %d messages, want %d", len(w.msgs), n)
			}
			for i := range want {
				if err := sameRecord(w.msgs[i], want[i]); err != nil {
					t.Fatalf("message %d: %v", i, err)
				}
			}
			for _, b := range w.batches {
				if b > 1000 || b == 0 {
					t.Fatalf("batch of %d", b)
				}
			}
			if len(calls) == 0 || calls[0] != [2]int{0, n} || calls[len(calls)-1] != [2]int{n, n} {
				t.Fatalf("progress calls %v", calls)
			}
		})
	}
}

func TestProduceErrors(t *testing.T) {
	cfg := scenario.Config{Name: "healthy", Events: 5000, Days: 2, End: testEnd}
	w := &memWriter{failAt: 3}
	n, err := Produce(context.Background(), w, mustNew(t, cfg), 1000, nil)
	if n != 2000 || err == nil || !strings.Contains(err.Error(), "writing records 2001-3000 of 5000: broker unavailable") {
		t.Fatalf("Produce = %d, %v", n, err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	w = &memWriter{}
	n, err = Produce(ctx, w, mustNew(t, cfg), 100, func(done, total int) {
		if done >= 300 {
			cancel()
		}
	})
	if n != 300 || !errors.Is(err, context.Canceled) {
		t.Fatalf("Produce after cancel = %d, %v", n, err)
	}
}

func TestPaced(t *testing.T) {
	if p := Paced(&memWriter{}, 0); p == nil {
		t.Fatal("nil writer")
	}
	w := &memWriter{}
	start := time.Now()
	n, err := Produce(context.Background(), Paced(w, 4000), mustNew(t, scenario.Config{Name: "healthy", Events: 1000, End: testEnd}), 100, nil)
	if err != nil || n != 1000 {
		t.Fatal(n, err)
	}
	// The last batch (records 900-999) is due at 900/4000 s.
	if el := time.Since(start); el < 200*time.Millisecond {
		t.Fatalf("1000 records at 4000/s took %v", el)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p := Paced(w, 1)
	_ = p.WriteMessages(ctx, kafka.Message{}) // the first batch is due now
	if err := p.WriteMessages(ctx, kafka.Message{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("paced write with cancelled context: %v", err)
	}
}

// TestProduceKafka is the acceptance test of `trustpipe gen`: against an
// in-process Kafka-protocol broker, Produce with a real kafka-go Writer
// writes exactly N records, and reading every partition back to its high
// watermark returns exactly the generated records, with event-time
// timestamps and per-contact partitioning.
func TestProduceKafka(t *testing.T) {
	const topic, partitions = "trust-events", 3
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, topic))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	addrs := cluster.ListenAddrs()

	cfg := scenario.Config{Name: "trust-spiral", Events: 20000, Days: 14, Seed: 2026, End: testEnd, InvalidRatio: 0.01}
	w := &kafka.Writer{
		Addr:         kafka.TCP(addrs...),
		Topic:        topic,
		Balancer:     &kafka.Hash{},
		BatchSize:    1000,
		BatchTimeout: time.Millisecond,
		RequiredAcks: kafka.RequireAll,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	t0 := time.Now()
	n, err := Produce(ctx, w, mustNew(t, cfg), 1000, nil)
	t.Logf("produce took %v", time.Since(t0))
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil || n != cfg.Events {
		t.Fatalf("Produce = %d, %v; want %d", n, err, cfg.Events)
	}

	// Read every partition from the start to its high watermark.
	var got []kafka.Message
	partitionOf := map[string]int{}
	for p := range partitions {
		conn, err := kafka.DialLeader(ctx, "tcp", addrs[0], topic, p)
		if err != nil {
			t.Fatal(err)
		}
		hw, err := conn.ReadLastOffset()
		if err != nil {
			t.Fatal(err)
		}
		var prev time.Time
		for off := int64(0); off < hw; {
			// A connection to the partition leader, fetching batches from
			// the next offset until the high watermark.
			if _, err := conn.Seek(off, kafka.SeekAbsolute); err != nil {
				t.Fatal(err)
			}
			conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			batch := conn.ReadBatch(1, 10<<20)
			for {
				m, err := batch.ReadMessage()
				if err != nil {
					break
				}
				if m.Offset != off {
					t.Fatalf("partition %d: offset %d, want %d", p, m.Offset, off)
				}
				// Records of a partition arrive in production order, which
				// is event-time order.
				if m.Time.Before(prev) {
					t.Fatalf("partition %d offset %d: time %v before %v", p, off, m.Time, prev)
				}
				prev = m.Time
				if m.Key != nil {
					if q, ok := partitionOf[string(m.Key)]; ok && q != p {
						t.Fatalf("contact %s in partitions %d and %d", m.Key, q, p)
					}
					partitionOf[string(m.Key)] = p
				}
				got = append(got, m)
				off++
			}
			if err := batch.Close(); err != nil {
				t.Fatalf("partition %d offset %d: %v", p, off, err)
			}
		}
		conn.Close()
		t.Logf("partition %d: %d records", p, hw)
	}
	if len(got) != cfg.Events {
		t.Fatalf("read back %d records, want exactly %d", len(got), cfg.Events)
	}

	// Match records by value (event ids make values unique; invalid records
	// carry their base event's id too) and compare key and timestamp.
	want := map[string]scenario.Record{}
	for _, r := range expected(t, cfg) {
		want[string(r.Value)] = r
	}
	if len(want) != cfg.Events {
		t.Fatalf("generated values are not unique: %d distinct of %d", len(want), cfg.Events)
	}
	for _, m := range got {
		r, ok := want[string(m.Value)]
		if !ok {
			t.Fatalf("unexpected record %s", trunc(m.Value))
		}
		if err := sameRecord(m, r); err != nil {
			t.Fatal(err)
		}
		delete(want, string(m.Value))
	}
}

type discard struct{}

func (discard) WriteMessages(context.Context, ...kafka.Message) error { return nil }

// BenchmarkProduce adds Produce's batching and copying to generation.
func BenchmarkProduce(b *testing.B) {
	g := mustNew(b, scenario.Config{Name: "trust-spiral", Events: b.N, Days: 28, Seed: 1, End: testEnd})
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	if _, err := Produce(context.Background(), discard{}, g, 1000, nil); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}

func trunc(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "..."
	}
	return string(b)
}
