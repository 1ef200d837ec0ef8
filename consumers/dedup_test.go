package consumers

import (
	"context"
	"errors"
	"fmt"
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

// fakeHistory answers every history query with nothing counted before (the
// tests read from offset 0 into empty storage), failing its first
// `failures` calls with err, and records the queries.
type fakeHistory struct {
	mu       sync.Mutex
	failures int
	err      error
	queries  []aggregate.HistoryQuery
}

func (h *fakeHistory) LoadHistory(_ context.Context, q aggregate.HistoryQuery) (aggregate.History, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.queries = append(h.queries, q)
	if len(h.queries) <= h.failures {
		return aggregate.History{}, h.err
	}
	return aggregate.History{}, nil
}

// withResent returns recs with copies of records appended: each copy has
// the same key and bytes as the record at the given index, at a new offset.
func withResent(recs []kafka.Message, copies ...int) []kafka.Message {
	for _, i := range copies {
		m := recs[i]
		m.Offset = int64(len(recs))
		recs = append(recs, m)
	}
	for i := range recs {
		recs[i].HighWaterMark = int64(len(recs))
	}
	return recs
}

// TestResentRecordsCountOnce re-sends records right after and thousands of
// offsets later: each counts once, the duplicates are in the ledger and in
// trustpipe_duplicates_total, and with dedup off they count again.
func TestResentRecordsCountOnce(t *testing.T) {
	base := records(3000, 0)
	recs := withResent(base[:1:1], 0)                        // right after
	recs = withResent(append(recs, base[1:]...), 0, 5, 2999) // thousands of offsets later
	for i := range recs {
		recs[i].Offset = int64(i)
	}
	for _, window := range []time.Duration{24 * time.Hour, 0} {
		t.Run(fmt.Sprint("window ", window), func(t *testing.T) {
			k := &fakeKafka{records: recs}
			st := &flakyStore{}
			hist := &fakeHistory{}
			p := newTestPipeline(t, k, st, &dlqRecorder{}, prometheus.NewRegistry())
			p.deps.History = hist
			p.cfg.Aggregate.Dedup.Window = window
			if p.agg, _ = aggregate.New(p.cfg.Aggregate); p.agg == nil {
				t.Fatal("aggregator")
			}
			runUntil(t, p, func() bool { return k.fetched() == len(recs) && st.ledgerConsumed() == uint64(len(recs)) })
			want, wantDups := uint64(3000), uint64(4)
			if window == 0 {
				want, wantDups = 3004, 0
			}
			if got := st.storedEvents(); got != want {
				t.Errorf("stored %d events, want %d", got, want)
			}
			if got := testutil.ToFloat64(p.deps.Metrics.duplicates[event.Click]); got != float64(wantDups) {
				t.Errorf("trustpipe_duplicates_total{type=click} = %v, want %d", got, wantDups)
			}
			if got := testutil.ToFloat64(p.deps.Metrics.accepted[event.Click]); got != 3004 {
				t.Errorf("accepted = %v, want every valid record (3004)", got)
			}
			if got := st.ledgerDuplicates(); got != wantDups {
				t.Errorf("ledger duplicates = %d, want %d", got, wantDups)
			}
			if window > 0 && (len(hist.queries) != 1 || hist.queries[0].Before != 0) {
				t.Errorf("history queries %+v, want one, before offset 0", hist.queries)
			}
		})
	}
}

// TestHistoryLoadRetriesThenStopsOnPermanentErrors: a transient failure to
// load the history is retried; a permanent one stops the pipeline with
// advice, having counted and committed nothing of the partition.
func TestHistoryLoadRetriesThenStopsOnPermanentErrors(t *testing.T) {
	k := &fakeKafka{records: records(20, 0)}
	st := &flakyStore{}
	p := newTestPipeline(t, k, st, &dlqRecorder{}, prometheus.NewRegistry())
	p.deps.History = &fakeHistory{failures: 3, err: errors.New("connection refused")}
	runUntil(t, p, func() bool { return st.ledgerConsumed() == 20 })

	k = &fakeKafka{records: records(20, 0)}
	p = newTestPipeline(t, k, &flakyStore{}, &dlqRecorder{}, prometheus.NewRegistry())
	p.deps.History = &fakeHistory{failures: 1, err: &clickhouse.Exception{Code: 16, Message: "There is no column dedup_watermark"}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Run(ctx); err == nil || !strings.Contains(err.Error(), "run `trustpipe migrate`") {
		t.Fatalf("Run = %v, want the permanent error with advice", err)
	}
	if len(k.commits) != 0 {
		t.Fatalf("committed %v", k.commits)
	}
}

func TestDedupNeedsHistory(t *testing.T) {
	if _, err := New(DefaultConfig(), Deps{}); err == nil || !strings.Contains(err.Error(), "history") {
		t.Fatalf("New without a history = %v", err)
	}
}

// runUntil runs p until done holds, then stops it cleanly.
func runUntil(t *testing.T, p *Pipeline, done func() bool) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- p.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for !done() {
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("timed out (Run: %v)", <-errc)
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// latestLedger is the stored ledger, highest version per block.
func (s *flakyStore) latestLedger() map[aggregate.BlockRef]aggregate.LedgerRow {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[aggregate.BlockRef]aggregate.LedgerRow{}
	for _, snap := range s.stored {
		for _, l := range snap.Ledger {
			if old, ok := out[l.BlockRef]; !ok || l.Version >= old.Version {
				out[l.BlockRef] = l
			}
		}
	}
	return out
}

func (s *flakyStore) ledgerConsumed() (n uint64) {
	for _, l := range s.latestLedger() {
		n += l.Consumed
	}
	return n
}

func (s *flakyStore) ledgerDuplicates() (n uint64) {
	for _, l := range s.latestLedger() {
		n += l.Duplicates
	}
	return n
}
