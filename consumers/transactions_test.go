package consumers

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/trustpipe/trustpipe/aggregate"
	"github.com/trustpipe/trustpipe/aggregate/event"
	"github.com/trustpipe/trustpipe/consumers/kafkatest"
)

// txnInput is what produceTransactions wrote, counted by the producer: the
// oracle the pipeline's totals are checked against.
type txnInput struct {
	committedValid, committedInvalid int
	abortedRecords                   int
}

// produceTransactions writes transactions with franz-go's transactional
// producer (as Kafka Connect, Streams or Flink do): every third one is
// aborted, each mixes valid events with one invalid record, spread over the
// topic's partitions by key.
func produceTransactions(t *testing.T, brokers []string, topic string, txns, perTxn int) txnInput {
	t.Helper()
	ctx := context.Background()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.TransactionalID("trustpipe-test"), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var in txnInput
	now := time.Now().UTC().Truncate(time.Second)
	for i := range txns {
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		var recs []*kgo.Record
		for j := range perTxn {
			var v []byte
			if j == 0 {
				v = []byte(`{"event_id":"broken",`)
			} else {
				ev := event.Event{ID: fmt.Sprintf("e%d-%d", i, j), Type: event.Click, OccurredAt: now, ContactID: fmt.Sprintf("c%d", j), Channel: "email"}
				v = event.AppendJSON(nil, &ev)
			}
			recs = append(recs, &kgo.Record{Key: fmt.Appendf(nil, "k%d", j), Value: v, Timestamp: now})
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
		commit := kgo.TryCommit
		if i%3 == 1 {
			commit = kgo.TryAbort
			in.abortedRecords += perTxn
		} else {
			in.committedValid += perTxn - 1
			in.committedInvalid++
		}
		if err := cl.EndTransaction(ctx, commit); err != nil {
			t.Fatal(err)
		}
	}
	return in
}

// logEnd is the sum of the partitions' end offsets: every offset the
// ledger must account for.
func logEnd(t *testing.T, brokers []string, topic string, partitions int) int64 {
	t.Helper()
	var total int64
	for p := range partitions {
		conn, err := kafka.DialLeader(context.Background(), "tcp", brokers[0], topic, p)
		if err != nil {
			t.Fatal(err)
		}
		last, err := conn.ReadLastOffset()
		conn.Close()
		if err != nil {
			t.Fatal(err)
		}
		total += last
	}
	return total
}

// ledgerTotals sums the newest ledger row of every block.
func ledgerTotals(t *testing.T, st *flakyStore) (consumed, accepted, rejected, skipped uint64) {
	t.Helper()
	st.mu.Lock()
	defer st.mu.Unlock()
	latest := map[aggregate.BlockRef]aggregate.LedgerRow{}
	for _, snap := range st.stored {
		for _, r := range snap.Ledger {
			if r.Consumed != r.Accepted+r.Rejected {
				t.Errorf("ledger row %+v: consumed != accepted + rejected", r)
			}
			if old, ok := latest[r.BlockRef]; !ok || r.Version >= old.Version {
				latest[r.BlockRef] = r
			}
		}
	}
	for _, r := range latest {
		consumed, accepted, rejected, skipped = consumed+r.Consumed, accepted+r.Accepted, rejected+r.Rejected, skipped+r.Skipped
	}
	return
}

// countingTransport counts the classifier's fetches, to show that a
// partition's log spanned several of them.
type countingTransport struct{ fetches atomic.Int64 }

func (c *countingTransport) RoundTrip(ctx context.Context, addr net.Addr, req kafka.Request) (kafka.Response, error) {
	c.fetches.Add(1)
	return kafka.DefaultTransport.RoundTrip(ctx, addr, req)
}

// TestTransactionalProducers reads topics written by a transactional
// producer that aborts some transactions, through the consumer-group reader
// `run` uses. With Transactions, aborted records never count, markers are
// not dead-lettered, and the ledger accounts for every offset of the log.
// The negative control (no classifier: the pipeline as kafka-go alone
// reads) shows the faults the test detects: aborted records counted and
// markers dead-lettered as invalid_json.
func TestTransactionalProducers(t *testing.T) {
	for _, tc := range []struct {
		name     string
		classify bool
		// fetchMax caps the classifier's fetches: small caps make a
		// partition's log span many of them, so transactions straddle
		// fetch ranges.
		fetchMax int
	}{
		{"classified", true, FetchMaxBytes},
		{"classified, 4 KiB fetches", true, 4 << 10},
		{"classified, 512 B fetches", true, 512},
		{"negative control: kafka-go alone", false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const topic, partitions = "tx-events", 3
			brokers := kafkatest.Start(t, partitions, topic)
			in := produceTransactions(t, brokers, topic, 12, 20)
			end := logEnd(t, brokers, topic, partitions)
			markers := end - int64(in.committedValid+in.committedInvalid+in.abortedRecords)
			if markers < 12 {
				t.Fatalf("log end %d leaves %d offsets for markers, want at least one per transaction", end, markers)
			}

			transport := &countingTransport{}
			reader := NewGroupReader(brokers, "g-"+t.Name(), []string{topic}, nil, ReaderQueue{Capacity: 100, MaxBytes: FetchMaxBytes}, kafka.ReadCommitted, nil)
			defer reader.Close()
			st, dlq, reg := &flakyStore{}, &dlqRecorder{}, prometheus.NewRegistry()
			cfg := DefaultConfig()
			cfg.Aggregate.BlockSize = 50
			cfg.FlushInterval = 20 * time.Millisecond
			deps := Deps{Fetcher: reader, Committer: reader, Store: st, History: &fakeHistory{}, DeadLetters: dlq, Pseudonyms: testPseudonyms{},
				Metrics: NewMetrics(reg), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
			if tc.classify {
				deps.Transactions = NewTransactions(brokers, transport, tc.fetchMax)
			}
			p, err := New(cfg, deps)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- p.Run(ctx) }()
			deadline := time.Now().Add(30 * time.Second)
			for {
				c, _, _, s := ledgerTotals(t, st)
				if int64(c+s) >= end {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("ledger accounts for %d offsets after 30 s, want %d", c+s, end)
				}
				time.Sleep(20 * time.Millisecond)
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}

			consumed, accepted, rejected, skipped := ledgerTotals(t, st)
			events := st.storedEvents()
			t.Logf("log end %d: %d committed valid, %d committed invalid, %d aborted, %d markers; stored %d events, ledger consumed %d accepted %d rejected %d skipped %d, %d dead letters",
				end, in.committedValid, in.committedInvalid, in.abortedRecords, markers, events, consumed, accepted, rejected, skipped, len(dlq.msgs))
			if int64(consumed+skipped) != end {
				t.Errorf("ledger consumed + skipped = %d, want every offset (%d)", consumed+skipped, end)
			}
			exact := events == uint64(in.committedValid) && len(dlq.msgs) == in.committedInvalid &&
				accepted == uint64(in.committedValid) && rejected == uint64(in.committedInvalid) &&
				skipped == uint64(in.abortedRecords)+uint64(markers)
			if !tc.classify {
				if exact || events <= uint64(in.committedValid) {
					t.Fatalf("without the classifier the pipeline was exact (%d events): the control cannot tell a fix from no fix", events)
				}
				return
			}
			if !exact {
				t.Fatalf("stored %d events / %d dead letters, ledger accepted %d rejected %d skipped %d; want %d, %d, %d, %d, %d",
					events, len(dlq.msgs), accepted, rejected, skipped, in.committedValid, in.committedInvalid, in.committedValid, in.committedInvalid, int64(in.abortedRecords)+markers)
			}
			// Every transaction (aborted ones included) is spread over all
			// partitions, so a log spanning more fetches than it has
			// partitions has transactions straddling fetch ranges.
			t.Logf("%d classifier fetches of up to %d bytes", transport.fetches.Load(), tc.fetchMax)
			if tc.fetchMax < FetchMaxBytes && transport.fetches.Load() <= partitions {
				t.Errorf("%d classifier fetches of up to %d bytes: no partition's log spanned several fetches", transport.fetches.Load(), tc.fetchMax)
			}
			if got := testutil.ToFloat64(deps.Metrics.skipped[Marker]); got != float64(markers) {
				t.Errorf("trustpipe_records_skipped_total{kind=marker} = %v, want %d", got, markers)
			}
			if got := testutil.ToFloat64(deps.Metrics.skipped[Aborted]); got != float64(in.abortedRecords) {
				t.Errorf("trustpipe_records_skipped_total{kind=aborted} = %v, want %d", got, in.abortedRecords)
			}
			for _, m := range dlq.msgs {
				if r := kafkatest.Header(m, HeaderReason); r != string(event.ReasonInvalidJSON) {
					t.Errorf("dead letter with reason %q", r)
				}
			}
		})
	}
}
