package consumers

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/segmentio/kafka-go"
)

// restartingBroker serves its records but fails `failures` fetches after
// the first `failAt`, as kafka-go's reader does when a partition's start
// fails MaxAttempts times in a row while its leader restarts.
type restartingBroker struct {
	*fakeKafka
	failAt   int
	mu       sync.Mutex
	failures int
}

func (b *restartingBroker) FetchMessage(ctx context.Context) (kafka.Message, error) {
	b.mu.Lock()
	if b.fetched() == b.failAt && b.failures > 0 {
		b.failures--
		b.mu.Unlock()
		return kafka.Message{}, kafka.LeaderNotAvailable
	}
	b.mu.Unlock()
	return b.fakeKafka.FetchMessage(ctx)
}

// TestRollingBrokerRestartIsRiddenOut: fetch errors outlasting the
// reader's own attempts are retried with backoff (counted in
// trustpipe_kafka_retries_total{op="fetch"}) and every event is stored;
// before, Run returned the first such error and `run` exited.
func TestRollingBrokerRestartIsRiddenOut(t *testing.T) {
	k := &fakeKafka{records: records(40, 0)}
	b := &restartingBroker{fakeKafka: k, failAt: 15, failures: 4}
	st := &flakyStore{}
	p := newTestPipeline(t, k, st, &dlqRecorder{}, prometheus.NewRegistry())
	p.deps.Fetcher = b
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for st.storedEvents() < 40 {
		select {
		case err := <-done:
			cancel()
			t.Fatalf("Run returned %v with %d of 40 events stored", err, st.storedEvents())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("stored %d of 40 events", st.storedEvents())
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(p.deps.Metrics.kafkaRetries.WithLabelValues("fetch")); got != 4 {
		t.Fatalf("fetch retries = %v, want 4", got)
	}
}

// TestFetchOutageIsBounded: a broker that never comes back ends Run with
// the Kafka error once MaxFetchOutage has passed without a record.
func TestFetchOutageIsBounded(t *testing.T) {
	k := &fakeKafka{records: records(5, 0)}
	p := newTestPipeline(t, k, &flakyStore{}, &dlqRecorder{}, prometheus.NewRegistry())
	p.deps.Fetcher = &restartingBroker{fakeKafka: k, failAt: 5, failures: 1 << 30}
	p.cfg.MaxFetchOutage = 50 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := p.Run(ctx)
	if err == nil || ctx.Err() != nil || !strings.Contains(err.Error(), "Leader Not Available") {
		t.Fatalf("Run = %v, want the fetch error after the outage bound", err)
	}
}

// TestRebalanceDropsPartitionGauges: after a rebalance, lag and watermark
// gauges exist only for partitions read since; before, the lag of a
// partition handed to another instance stayed frozen for ever.
func TestRebalanceDropsPartitionGauges(t *testing.T) {
	recs := records(40, 0)
	for i := range recs[:20] {
		recs[i].Partition = 1 // partition 1 first, then (after the rebalance) only 0
		recs[i].HighWaterMark = 1000
	}
	k := &fakeKafka{records: recs[:20]}
	reg := prometheus.NewRegistry()
	st := &flakyStore{}
	p := newTestPipeline(t, k, st, &dlqRecorder{}, reg)
	var rebalanced atomic.Int64
	p.deps.Rebalances = func() int64 { return rebalanced.Swap(0) }
	p.deps.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	lagSeries := func() string {
		mfs, _ := reg.Gather()
		var parts []string
		for _, mf := range mfs {
			if mf.GetName() != "trustpipe_consumer_lag" {
				continue
			}
			for _, m := range mf.GetMetric() {
				for _, l := range m.GetLabel() {
					if l.GetName() == "partition" {
						parts = append(parts, l.GetValue())
					}
				}
			}
		}
		return strings.Join(parts, ",")
	}
	waitFor("partition 1's lag", func() bool { return lagSeries() == "1" })
	rebalanced.Store(1)
	k.mu.Lock()
	k.records = append(k.records, recs[20:]...)
	k.mu.Unlock()
	waitFor("only partition 0's lag after the rebalance", func() bool { return lagSeries() == "0" })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(p.deps.Metrics.rebalances); got != 1 {
		t.Fatalf("rebalances = %v, want 1", got)
	}
}
