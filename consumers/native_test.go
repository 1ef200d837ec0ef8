package consumers

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/segmentio/kafka-go"

	"github.com/trustpipe/trustpipe/aggregate"
	"github.com/trustpipe/trustpipe/aggregate/event"
	"github.com/trustpipe/trustpipe/consumers/adapter"
)

// TestNativeTopic runs SendGrid batches through the pipeline: each record
// is one ledger offset and all its events are counted; a skipped event is
// a metric, not an error; an unconvertible record is one rejected offset
// whose dead letter holds no payload; a re-sent batch counts once.
func TestNativeTopic(t *testing.T) {
	at := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	batch := func(i int) []byte {
		return fmt.Appendf(nil, `[{"email":"who-%[1]d@gmail.com","timestamp":%[2]d,"event":"delivered","sg_event_id":"d%[1]d","sg_message_id":"m%[1]d"},
{"email":"who-%[1]d@gmail.com","timestamp":%[2]d,"event":"open","sg_machine_open":true,"sg_event_id":"o%[1]d","sg_message_id":"m%[1]d"},
{"email":"who-%[1]d@gmail.com","timestamp":%[2]d,"event":"deferred","sg_event_id":"x%[1]d","sg_message_id":"m%[1]d"}]`, i, at.Unix())
	}
	var recs []kafka.Message
	for i := range 25 {
		recs = append(recs, kafka.Message{Key: []byte(fmt.Sprintf("who-%d@gmail.com", i)), Value: batch(i)})
	}
	recs = append(recs, kafka.Message{Key: []byte("junk@gmail.com"), Value: []byte(`[{"email":"junk@gmail.com","event":"open"`)}) // truncated
	recs = append(recs, kafka.Message{Value: batch(3)})                                                                           // re-sent
	for i := range recs {
		recs[i].Topic, recs[i].Offset, recs[i].Time, recs[i].HighWaterMark = "native", int64(i), at, int64(len(recs))
	}
	k := &fakeKafka{records: recs}
	st := &flakyStore{}
	dlq := &dlqRecorder{}
	p := newTestPipeline(t, k, st, dlq, prometheus.NewRegistry())
	p.cfg.Formats = map[string]adapter.Format{"native": adapter.SendGrid}
	p.cfg.Aggregate.Dedup.Window = 24 * time.Hour
	if p.agg, _ = aggregate.New(p.cfg.Aggregate); p.agg == nil {
		t.Fatal("aggregator")
	}
	runUntil(t, p, func() bool { return st.ledgerConsumed() == uint64(len(recs)) })

	if got := st.storedEvents(); got != 50 {
		t.Errorf("stored %d events, want 50 (two per batch, the re-sent batch once)", got)
	}
	var accepted, rejected uint64
	for _, l := range st.latestLedger() {
		accepted, rejected = accepted+l.Accepted, rejected+l.Rejected
		if l.Consumed != l.Accepted+l.Rejected {
			t.Errorf("ledger row %+v: consumed != accepted + rejected", l)
		}
	}
	if accepted != 26 || rejected != 1 || st.ledgerDuplicates() != 1 {
		t.Errorf("ledger accepted %d rejected %d duplicates %d, want 26, 1, 1 (records, not events)", accepted, rejected, st.ledgerDuplicates())
	}
	if got := testutil.ToFloat64(p.deps.Metrics.nativeSkipped.WithLabelValues("sendgrid", string(adapter.SkipTemporary))); got != 26 {
		t.Errorf("skipped deferred events = %v, want 26", got)
	}
	if got := testutil.ToFloat64(p.deps.Metrics.accepted[event.Open]); got != 26 {
		t.Errorf("accepted opens = %v, want 26", got)
	}
	if len(dlq.msgs) != 1 {
		t.Fatalf("%d dead letters, want 1", len(dlq.msgs))
	}
	dl := dlq.msgs[0]
	if dl.Key != nil || dl.Value != nil || headerValue(dl, HeaderFormat) != "sendgrid" || headerValue(dl, HeaderReason) != string(event.ReasonInvalidJSON) {
		t.Errorf("dead letter %+v: want no key or value, format and reason headers", dl)
	}
	for _, h := range dl.Headers {
		if bytes.Contains(h.Value, []byte("@")) {
			t.Errorf("dead-letter header %s holds an address: %s", h.Key, h.Value)
		}
	}
}

func headerValue(m kafka.Message, key string) string {
	for _, h := range m.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}
