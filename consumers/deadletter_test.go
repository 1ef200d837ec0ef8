package consumers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/trustpipe/trustpipe/consumers/kafkatest"
)

// TestOversizedDeadLetterIsTruncated rejects a 3 MiB record and publishes
// its dead letter through a kafka-go Writer with the default 1 MiB batch
// limit, as `run` does, to a kfake broker. Without truncation the Writer
// fails every attempt (MessageTooLargeError) and nothing is ever committed.
func TestOversizedDeadLetterIsTruncated(t *testing.T) {
	const dlqTopic = "dlq"
	brokers := kafkatest.Start(t, 1, dlqTopic)
	recs := records(30, 0)
	big := bytes.Repeat([]byte("x"), 3<<20)
	recs[7].Value = append([]byte(`{"event_id":"big","note":"`), big...) // too_large
	recs[7].Key = []byte("key-7")
	k := &fakeKafka{records: recs}
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Balancer: &kafka.Hash{}, RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond}
	defer w.Close()
	st := &flakyStore{}
	p := newTestPipeline(t, k, st, w, prometheus.NewRegistry())
	p.cfg.DeadLetterTopic = dlqTopic
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	deadline := time.Now().Add(20 * time.Second)
	for st.storedEvents() < 29 {
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("stored %d of 29 events after 20 s (publishing the dead letter: %v)", st.storedEvents(), p.Unhealthy())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got, err := kafkatest.ReadAll(context.Background(), brokers, dlqTopic)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("%d dead letters, want 1", len(got))
	}
	dl := got[0]
	want := map[string]string{
		HeaderSourceTopic: "in", HeaderSourcePartition: "0", HeaderSourceOffset: "7",
		HeaderReason: "too_large", HeaderTruncated: fmt.Sprintf("key=5 value=%d", len(recs[7].Value)),
	}
	for h, v := range want {
		if g := kafkatest.Header(dl, h); g != v {
			t.Errorf("header %s = %q, want %q", h, g, v)
		}
	}
	if string(dl.Key) != "key-7" || len(dl.Value) > 1<<20 || len(dl.Value) < 1<<19 || !bytes.HasPrefix(recs[7].Value, dl.Value) {
		t.Errorf("dead letter key %q, value %d bytes: want the key and a prefix of the value of at most 1 MiB", dl.Key, len(dl.Value))
	}
}

// TestTruncateDeadLetterKeepsSmallOnes: records under the limit are
// published whole, with no truncation header.
func TestTruncateDeadLetterKeepsSmallOnes(t *testing.T) {
	m := &kafka.Message{Key: []byte("k"), Value: bytes.Repeat([]byte("v"), 1000), Headers: []kafka.Header{{Key: HeaderReason, Value: []byte("invalid_json")}}}
	truncateDeadLetter(m, minDeadLetterBytes)
	if len(m.Value) != 1000 || len(m.Headers) != 1 {
		t.Fatalf("small dead letter changed: %d bytes, headers %v", len(m.Value), m.Headers)
	}
}

// failingPublisher fails every publish with err.
type failingPublisher struct{ err error }

func (f failingPublisher) WriteMessages(context.Context, ...kafka.Message) error { return f.err }

// TestPermanentDeadLetterErrorsStop: a missing dead-letter topic or a
// denied ACL stops the pipeline with advice (it was retried for ever, with
// /readyz blaming ClickHouse); a transient error is retried and readiness
// names the dead-letter topic, not ClickHouse.
func TestPermanentDeadLetterErrorsStop(t *testing.T) {
	for _, tc := range []struct {
		name   string
		err    error
		advice string // "" = transient
	}{
		{"missing topic", kafka.WriteErrors{nil, kafka.UnknownTopicOrPartition}, "create it"},
		{"authorization", fmt.Errorf("write: %w", kafka.TopicAuthorizationFailed), "grant it WRITE"},
		{"too large for the broker", kafka.MessageTooLargeError{}, "max.message.bytes"},
		{"leader change", kafka.WriteErrors{kafka.NotLeaderForPartition}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := &fakeKafka{records: records(20, 3)}
			p := newTestPipeline(t, k, &flakyStore{}, failingPublisher{tc.err}, prometheus.NewRegistry())
			p.cfg.ShutdownTimeout = 100 * time.Millisecond
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			err := p.Run(ctx)
			if tc.advice == "" {
				if err == nil || !strings.Contains(err.Error(), "gave up at shutdown") {
					t.Fatalf("Run = %v, want retries until shutdown", err)
				}
			} else if err == nil || !strings.Contains(err.Error(), tc.advice) || ctx.Err() != nil {
				t.Fatalf("Run = %v, want a prompt stop with advice %q", err, tc.advice)
			}
			if h := p.Unhealthy(); h == nil || !strings.Contains(h.Error(), "dead letters to Kafka topic") || strings.Contains(h.Error(), "ClickHouse") {
				t.Fatalf("Unhealthy = %v, want the dead-letter topic named", h)
			}
			if len(k.commits) != 0 {
				t.Fatalf("committed %v although nothing was stored", k.commits)
			}
		})
	}
}

// TestRetryableClassifier is the one classifier's table: Kafka errors by
// code (also inside WriteErrors and wrapped), ClickHouse errors by the sink.
func TestRetryableClassifier(t *testing.T) {
	for _, tc := range []struct {
		err   error
		retry bool
	}{
		{errors.New("connection refused"), true},
		{kafka.WriteErrors{nil, kafka.LeaderNotAvailable}, true},
		{kafka.WriteErrors{kafka.RequestTimedOut, kafka.TopicAuthorizationFailed}, false},
		{fmt.Errorf("publish: %w", kafka.UnknownTopicOrPartition), false},
		{kafka.SASLAuthenticationFailed, false},
		{kafka.ClusterAuthorizationFailed, false},
		{&clickhouse.Exception{Code: 16}, false},
		{&clickhouse.Exception{Code: 252}, true},
	} {
		retry, advice := retryable(tc.err)
		if retry != tc.retry || (!retry && advice == "") {
			t.Errorf("retryable(%v) = %v, %q; want retry %v, and advice when not", tc.err, retry, advice, tc.retry)
		}
	}
}
