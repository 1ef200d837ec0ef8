package consumers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/segmentio/kafka-go"

	"github.com/trustpipe/trustpipe/aggregate"
	"github.com/trustpipe/trustpipe/aggregate/event"
)

// fakeKafka serves a fixed list of records, then blocks until cancelled.
type fakeKafka struct {
	mu      sync.Mutex
	records []kafka.Message
	next    int
	commits []kafka.Message
}

func (f *fakeKafka) FetchMessage(ctx context.Context) (kafka.Message, error) {
	f.mu.Lock()
	if f.next < len(f.records) {
		m := f.records[f.next]
		f.next++
		f.mu.Unlock()
		return m, nil
	}
	f.mu.Unlock()
	<-ctx.Done()
	return kafka.Message{}, ctx.Err()
}

func (f *fakeKafka) CommitMessages(_ context.Context, msgs ...kafka.Message) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.commits = append(f.commits, msgs...)
	return nil
}

func (f *fakeKafka) fetched() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.next
}

// flakyStore fails its first `failures` writes, then records snapshots.
type flakyStore struct {
	mu       sync.Mutex
	failures int
	calls    int
	stored   []*aggregate.Snapshot
}

func (s *flakyStore) Write(_ context.Context, snap *aggregate.Snapshot) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.calls <= s.failures {
		return errors.New("connection refused")
	}
	s.stored = append(s.stored, snap)
	return nil
}

func (s *flakyStore) storedEvents() (n uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	latest := map[string]aggregate.CountRow{}
	for _, snap := range s.stored {
		for _, r := range snap.Counts {
			id := fmt.Sprintf("%v|%v", r.Key, r.BlockRef)
			if old, ok := latest[id]; !ok || r.Version >= old.Version {
				latest[id] = r
			}
		}
	}
	for _, r := range latest {
		n += r.Events
	}
	return n
}

type dlqRecorder struct {
	mu   sync.Mutex
	msgs []kafka.Message
}

func (d *dlqRecorder) WriteMessages(_ context.Context, msgs ...kafka.Message) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.msgs = append(d.msgs, msgs...)
	return nil
}

type testPseudonyms struct{}

func (testPseudonyms) Pseudonym(id string) string { return "x" + id }

func records(n int, invalidEvery int) []kafka.Message {
	at := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	var out []kafka.Message
	for i := range n {
		var v []byte
		if invalidEvery > 0 && i%invalidEvery == 0 {
			v = []byte(`{"event_id":"x","type":"nope"}`)
		} else {
			ev := event.Event{ID: fmt.Sprintf("e%d", i), Type: event.Click, OccurredAt: at, ContactID: "c", Channel: "email"}
			v = event.AppendJSON(nil, &ev)
		}
		out = append(out, kafka.Message{Topic: "in", Partition: 0, Offset: int64(i), Value: v, Time: at, HighWaterMark: int64(n)})
	}
	return out
}

func newTestPipeline(t *testing.T, k *fakeKafka, st Store, dlq Publisher, reg prometheus.Registerer) *Pipeline {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Aggregate.BlockSize = 10
	cfg.FlushInterval = 10 * time.Millisecond
	cfg.RetryBackoff = time.Millisecond
	cfg.MaxRetryBackoff = 5 * time.Millisecond
	p, err := New(cfg, Deps{Fetcher: k, Committer: k, Store: st, History: &fakeHistory{}, DeadLetters: dlq, Pseudonyms: testPseudonyms{},
		Metrics: NewMetrics(reg), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestStoreOutageRetriesAndCommitsOnlyStored runs the pipeline against a
// store that is down for its first writes: every event still lands exactly
// once, rejected records reach the dead-letter topic, and commits stay at
// block ends.
func TestStoreOutageRetriesAndCommitsOnlyStored(t *testing.T) {
	k := &fakeKafka{records: records(95, 7)}
	st := &flakyStore{failures: 5}
	dlq := &dlqRecorder{}
	reg := prometheus.NewRegistry()
	p := newTestPipeline(t, k, st, dlq, reg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for k.fetched() < 95 || st.storedEvents() < 81 {
		if time.Now().After(deadline) {
			t.Fatalf("fetched %d, stored %d", k.fetched(), st.storedEvents())
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// 95 records, offsets 0..94; offsets divisible by 7 (14 of them) are invalid.
	if got := st.storedEvents(); got != 81 {
		t.Fatalf("stored %d events, want 81", got)
	}
	if len(dlq.msgs) != 14 {
		t.Fatalf("%d dead letters, want 14", len(dlq.msgs))
	}
	// Pseudonymization happens at ingest: every stored contact went through
	// Deps.Pseudonyms (testPseudonyms prefixes "x"), none is a raw id.
	st.mu.Lock()
	contacts := 0
	for _, snap := range st.stored {
		for _, c := range snap.Contacts {
			contacts++
			if !strings.HasPrefix(c.Contact, "x") {
				t.Errorf("stored contact %q was not pseudonymized", c.Contact)
			}
		}
	}
	st.mu.Unlock()
	if contacts == 0 {
		t.Fatal("no engaged contact stored: the pseudonymization check saw nothing")
	}
	if r := dlq.msgs[0].Headers; string(r[3].Value) != string(event.ReasonUnknownType) {
		t.Fatalf("dead letter headers %v", r)
	}
	var last int64 = -1
	for _, c := range k.commits {
		if (c.Offset+1)%10 != 0 {
			t.Fatalf("commit at offset %d is not a block end", c.Offset)
		}
		last = max(last, c.Offset)
	}
	if last != 89 {
		t.Fatalf("last commit at %d, want 89 (block 8 ends there; block 9 is incomplete)", last)
	}
	if v := counterValue(t, reg, "trustpipe_sink_retries_total"); v < 5 {
		t.Fatalf("sink retries = %v, want >= 5", v)
	}
	if v := testutil.ToFloat64(p.deps.Metrics.accepted[event.Click]); v != 81 {
		t.Fatalf("accepted{type=click} = %v, want 81", v)
	}
	if v := testutil.ToFloat64(p.deps.Metrics.rejected[event.ReasonUnknownType]); v != 14 {
		t.Fatalf("rejected{reason=unknown_type} = %v, want 14", v)
	}
	want := `
# HELP trustpipe_dead_letters_total Rejected records published to the dead-letter topic.
# TYPE trustpipe_dead_letters_total counter
trustpipe_dead_letters_total 14
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "trustpipe_dead_letters_total"); err != nil {
		t.Fatal(err)
	}
}

// counterValue gathers the value of an unlabelled counter from reg.
func counterValue(t *testing.T, reg prometheus.Gatherer, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("no counter %s", name)
	return 0
}

// TestPermanentStoreErrorStops checks that an error retrying cannot fix
// stops the pipeline with advice instead of spinning.
func TestPermanentStoreErrorStops(t *testing.T) {
	k := &fakeKafka{records: records(5, 0)}
	p := newTestPipeline(t, k, permanentStore{}, &dlqRecorder{}, prometheus.NewRegistry())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := p.Run(ctx)
	if err == nil || !strings.Contains(err.Error(), "run `trustpipe migrate`") {
		t.Fatalf("Run = %v, want a permanent error with advice", err)
	}
	if len(k.commits) != 0 {
		t.Fatalf("committed %v although nothing was stored", k.commits)
	}
}

type permanentStore struct{}

func (permanentStore) Write(context.Context, *aggregate.Snapshot) error {
	return fmt.Errorf("insert: %w", &clickhouse.Exception{Code: 16, Message: "There is no column version in table"})
}

// TestShutdownWithStoreDownIsAnError: when the final flush cannot be stored
// within the shutdown timeout, Run must say so (a non-zero exit), not report
// a clean shutdown; nothing is committed.
func TestShutdownWithStoreDownIsAnError(t *testing.T) {
	k := &fakeKafka{records: records(30, 0)}
	p := newTestPipeline(t, k, &flakyStore{failures: 1 << 30}, &dlqRecorder{}, prometheus.NewRegistry())
	p.cfg.ShutdownTimeout = 50 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	for k.fetched() < 30 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "gave up at shutdown") {
			t.Fatalf("Run = %v, want the give-up error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after the shutdown timeout")
	}
	if len(k.commits) != 0 {
		t.Fatalf("committed %v although nothing was stored", k.commits)
	}
}

// failingFetcher fails once its records are served, like a broken broker
// connection.
type failingFetcher struct{ *fakeKafka }

func (f failingFetcher) FetchMessage(ctx context.Context) (kafka.Message, error) {
	if f.fetched() >= len(f.records) {
		return kafka.Message{}, errors.New("broker unreachable")
	}
	return f.fakeKafka.FetchMessage(ctx)
}

// TestFetchErrorWhileStoreIsDown: a Kafka failure while ClickHouse is down
// must end Run with the Kafka error after the shutdown timeout, not hang in
// the store's retries.
func TestFetchErrorWhileStoreIsDown(t *testing.T) {
	k := &fakeKafka{records: records(5, 0)}
	cfg := DefaultConfig()
	cfg.FlushInterval = 10 * time.Millisecond
	cfg.RetryBackoff, cfg.MaxRetryBackoff = time.Millisecond, 5*time.Millisecond
	cfg.ShutdownTimeout = 50 * time.Millisecond
	cfg.MaxFetchOutage = 20 * time.Millisecond
	p, err := New(cfg, Deps{Fetcher: failingFetcher{k}, Committer: k, Store: &flakyStore{failures: 1 << 30}, History: &fakeHistory{}, DeadLetters: &dlqRecorder{},
		Pseudonyms: testPseudonyms{}, Metrics: NewMetrics(prometheus.NewRegistry()), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.Run(context.Background()) }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "broker unreachable") {
			t.Fatalf("Run = %v, want the fetch error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run hung after a fetch error while the store was down")
	}
}

// TestMetricsDocumented: every metric NewMetrics registers is listed in the
// package doc of its stage (this one's, or sink's for the storage metrics).
func TestMetricsDocumented(t *testing.T) {
	reg := prometheus.NewRegistry()
	NewMetrics(reg)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var docs []string
	for _, f := range []string{"pipeline.go", "../sink/store.go"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, string(b))
	}
	for _, mf := range mfs {
		if !strings.Contains(docs[0], mf.GetName()) && !strings.Contains(docs[1], mf.GetName()) {
			t.Errorf("%s is listed in no package doc", mf.GetName())
		}
	}
}
