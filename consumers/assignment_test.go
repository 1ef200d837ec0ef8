package consumers

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/trustpipe/trustpipe/aggregate"
	"github.com/trustpipe/trustpipe/aggregate/event"
	"github.com/trustpipe/trustpipe/consumers/kafkatest"
)

// syncBuffer is a log sink two goroutines may share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// groupMember is one pipeline reading the group through kafka-go's reader.
type groupMember struct {
	pipe   *Pipeline
	reader *kafka.Reader
	asg    GroupAssignment
	log    *syncBuffer
	cancel context.CancelFunc
	done   chan error
}

func startMember(t *testing.T, brokers []string, group string, st Store, release bool) *groupMember {
	t.Helper()
	id := UniqueClientID()
	dialer := &kafka.Dialer{Timeout: 10 * time.Second, ClientID: id}
	r := NewGroupReader(brokers, group, []string{"in"}, dialer, ReaderQueue{Capacity: 64, MaxBytes: FetchMaxBytes}, kafka.ReadCommitted, nil)
	t.Cleanup(func() { _ = r.Close() })
	m := &groupMember{reader: r, log: &syncBuffer{}, done: make(chan error, 1),
		asg: GroupAssignment{Client: &kafka.Client{Addr: kafka.TCP(brokers...)}, Group: group, ClientID: id}}
	cfg := DefaultConfig()
	cfg.Aggregate.BlockSize = 1000 // blocks stay open: every partition read holds state
	cfg.FlushInterval = 50 * time.Millisecond
	deps := Deps{Fetcher: r, Committer: r, Store: st, History: &fakeHistory{}, DeadLetters: &dlqRecorder{}, Pseudonyms: testPseudonyms{},
		Metrics: NewMetrics(prometheus.NewRegistry()), Logger: slog.New(slog.NewTextHandler(m.log, nil)),
		Rebalances: func() int64 { return r.Stats().Rebalances }}
	if release {
		deps.Assignment = m.asg
	}
	p, err := New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	m.pipe = p
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	go func() { m.done <- p.Run(ctx) }()
	t.Cleanup(cancel)
	return m
}

// stop ends the member's Run; its aggregator may be read afterwards.
func (m *groupMember) stop(t *testing.T) {
	t.Helper()
	m.cancel()
	if err := <-m.done; err != nil {
		t.Fatal(err)
	}
}

func produce(t *testing.T, brokers []string, from, n int) {
	t.Helper()
	at := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	w := kafkatest.Writer(brokers, "in")
	defer w.Close()
	msgs := make([]kafka.Message, n)
	for i := range msgs {
		ev := event.Event{ID: fmt.Sprintf("e%d", from+i), Type: event.Click, OccurredAt: at, ContactID: "c", Channel: "email"}
		msgs[i] = kafka.Message{Key: []byte(ev.ID), Value: event.AppendJSON(nil, &ev), Time: at}
	}
	if err := w.WriteMessages(context.Background(), msgs...); err != nil {
		t.Fatal(err)
	}
}

func waitUntil(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func sortedKeys(owned map[aggregate.Partition]bool) []aggregate.Partition {
	var ps []aggregate.Partition
	for p := range owned {
		ps = append(ps, p)
	}
	slices.SortFunc(ps, func(x, y aggregate.Partition) int { return int(x.Partition - y.Partition) })
	return ps
}

// TestRevokedPartitionsAreFreed: a first member reads all four partitions;
// once a second joins the group, the first holds state only for the
// partitions the coordinator assigns it, and the totals over both members
// stay exact. The control without the assignment check keeps all four.
func TestRevokedPartitionsAreFreed(t *testing.T) {
	for _, tc := range []struct {
		name    string
		release bool
	}{{"freed", true}, {"control", false}} {
		t.Run(tc.name, func(t *testing.T) {
			brokers := kafkatest.Start(t, 4, "in")
			const first, second = 400, 400
			produce(t, brokers, 0, first)
			st := &flakyStore{}
			group := "g-" + tc.name
			m1 := startMember(t, brokers, group, st, tc.release)
			waitUntil(t, "the first member to count the first records", time.Minute, func() bool { return st.storedEvents() == first })
			m2 := startMember(t, brokers, group, st, tc.release)
			var own1 map[aggregate.Partition]bool
			waitUntil(t, "the group to settle on two members", time.Minute, func() bool {
				a1, err1 := m1.asg.Assigned(context.Background())
				a2, err2 := m2.asg.Assigned(context.Background())
				own1 = a1
				return err1 == nil && err2 == nil && len(a1) == 2 && len(a2) == 2
			})
			if tc.release {
				waitUntil(t, "the first member to free revoked partitions", time.Minute, func() bool {
					return strings.Contains(m1.log.String(), "freed the state of partitions assigned elsewhere")
				})
			}
			produce(t, brokers, first, second)
			waitUntil(t, "both members to count every record", time.Minute, func() bool { return st.storedEvents() == first+second })
			m1.stop(t)
			held := m1.pipe.agg.Partitions()
			want := []aggregate.Partition{{Topic: "in", Partition: 0}, {Topic: "in", Partition: 1}, {Topic: "in", Partition: 2}, {Topic: "in", Partition: 3}}
			if tc.release {
				want = sortedKeys(own1)
			}
			if !reflect.DeepEqual(held, want) {
				t.Fatalf("first member holds state of %v, want %v (assigned %v)", held, want, sortedKeys(own1))
			}
			m2.stop(t)
			if got := st.storedEvents(); got != first+second {
				t.Fatalf("stored %d events, want %d", got, first+second)
			}
		})
	}
}
