package consumers

import (
	"maps"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/segmentio/kafka-go"

	"github.com/trustpipe/trustpipe/aggregate/event"
	"github.com/trustpipe/trustpipe/consumers/adapter"
	"github.com/trustpipe/trustpipe/sink"
)

// Metrics are the pipeline's Prometheus metrics (names in the package
// doc): the consuming stage's own and the storage stage's (sink.Metrics).
// Label values come only from fixed sets (event types, reason codes,
// configured topics, partition numbers), never from payload strings, so
// series stay bounded.
type Metrics struct {
	sink          *sink.Metrics
	consumed      *prometheus.CounterVec
	accepted      []prometheus.Counter // by event.Type
	duplicates    []prometheus.Counter // by event.Type
	remembered    prometheus.Gauge
	messages      prometheus.Gauge
	unattributed  prometheus.Counter
	contactStates prometheus.Gauge
	forgotten     map[string]prometheus.Counter // by reason: cap, horizon
	rejected      map[event.Reason]prometheus.Counter
	lag           *prometheus.GaugeVec
	watermark     *prometheus.GaugeVec
	committed     prometheus.Counter
	rebalances    prometheus.Counter
	rereads       prometheus.Counter
	deadLetters   prometheus.Counter
	skipped       map[RecordKind]prometheus.Counter
	nativeSkipped *prometheus.CounterVec
	kafkaRetries  *prometheus.CounterVec
}

// NewMetrics registers the pipeline metrics, the storage stage's included,
// on reg. Pass a fresh registry (prometheus.NewRegistry()) for runs whose
// numbers must not feed the live alerts, such as replays.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	f := promauto.With(reg)
	m := &Metrics{
		sink: sink.NewMetrics(reg),
		consumed: f.NewCounterVec(prometheus.CounterOpts{
			Name: "trustpipe_records_consumed_total", Help: "Kafka records processed (accepted + rejected), by topic.",
		}, []string{"topic"}),
		lag: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "trustpipe_consumer_lag", Help: "Records behind the partition's high watermark at the last processed record.",
		}, []string{"topic", "partition"}),
		watermark: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "trustpipe_event_time_watermark_seconds", Help: "Newest occurred_at (Unix seconds) accepted per partition.",
		}, []string{"topic", "partition"}),
		committed: f.NewCounter(prometheus.CounterOpts{
			Name: "trustpipe_offsets_committed_total", Help: "Partition offset commits (one per completed block range).",
		}),
		rebalances: f.NewCounter(prometheus.CounterOpts{
			Name: "trustpipe_rebalances_total", Help: "Consumer-group generations joined.",
		}),
		rereads: f.NewCounter(prometheus.CounterOpts{
			Name: "trustpipe_partition_rereads_total", Help: "Times a partition was handed back from an earlier offset and re-read.",
		}),
		deadLetters: f.NewCounter(prometheus.CounterOpts{
			Name: "trustpipe_dead_letters_total", Help: "Rejected records published to the dead-letter topic.",
		}),
	}
	accepted := f.NewCounterVec(prometheus.CounterOpts{
		Name: "trustpipe_events_accepted_total", Help: "Valid events, by event type; trustpipe_duplicates_total of them were not counted again.",
	}, []string{"type"})
	duplicates := f.NewCounterVec(prometheus.CounterOpts{
		Name: "trustpipe_duplicates_total", Help: "Valid events not counted, by event type: their event_id was already counted in the partition within the dedup window.",
	}, []string{"type"})
	m.remembered = f.NewGauge(prometheus.GaugeOpts{
		Name: "trustpipe_dedup_ids", Help: "Event ids held in memory for deduplication, over the partitions read (about 55 bytes each).",
	})
	m.contactStates = f.NewGauge(prometheus.GaugeOpts{
		Name: "trustpipe_contact_states", Help: "Contact states (unsubscribes per channel, recorded consent tiers) held in memory to judge sends, over the partitions read (about 320 bytes each).",
	})
	forgotten := f.NewCounterVec(prometheus.CounterOpts{
		Name: "trustpipe_contact_states_forgotten_total", Help: "Contact states forgotten, by reason: cap (TRUSTPIPE_CONTACT_STATES reached: sends they would have flagged are not flagged) or horizon (unchanged for TRUSTPIPE_CONTACT_HORIZON).",
	}, []string{"reason"})
	m.forgotten = map[string]prometheus.Counter{"cap": forgotten.WithLabelValues("cap"), "horizon": forgotten.WithLabelValues("horizon")}
	rejected := f.NewCounterVec(prometheus.CounterOpts{
		Name: "trustpipe_events_rejected_total", Help: "Invalid records dead-lettered, by rejection reason.",
	}, []string{"reason"})
	skipped := f.NewCounterVec(prometheus.CounterOpts{
		Name: "trustpipe_records_skipped_total", Help: "Offsets carrying no event, by kind: transaction markers and records of aborted transactions. Not counted, not dead-lettered; in the ledger's skipped column.",
	}, []string{"kind"})
	m.kafkaRetries = f.NewCounterVec(prometheus.CounterOpts{
		Name: "trustpipe_kafka_retries_total", Help: "Retried Kafka operations after a transient failure (e.g. a broker restart), by operation.",
	}, []string{"op"})
	m.nativeSkipped = f.NewCounterVec(prometheus.CounterOpts{
		Name: "trustpipe_native_events_skipped_total", Help: "Events of native-format topics with no contract type, by format and reason; not errors, not counted.",
	}, []string{"format", "reason"})
	for _, format := range adapter.Names() {
		for _, r := range adapter.Skips() {
			m.nativeSkipped.WithLabelValues(format, string(r))
		}
	}
	m.skipped = map[RecordKind]prometheus.Counter{Marker: skipped.WithLabelValues("marker"), Aborted: skipped.WithLabelValues("aborted")}
	m.accepted = make([]prometheus.Counter, len(event.Types())+1)
	m.duplicates = make([]prometheus.Counter, len(event.Types())+1)
	for _, t := range event.Types() {
		m.accepted[t] = accepted.WithLabelValues(t.String())
		m.duplicates[t] = duplicates.WithLabelValues(t.String())
	}
	m.messages = f.NewGauge(prometheus.GaugeOpts{
		Name: "trustpipe_message_memory_sends", Help: "Sends held in memory to attribute their follow-ups to the send's inputs and reason, over the partitions read (about 115 bytes each).",
	})
	m.unattributed = f.NewCounter(prometheus.CounterOpts{
		Name: "trustpipe_followups_unattributed_total", Help: "Follow-ups with a message_id whose send was not in the message memory (another partition, past TRUSTPIPE_LINEAGE_HORIZON or TRUSTPIPE_LINEAGE_MAX_MESSAGES); re-reads count again.",
	})
	m.rejected = make(map[event.Reason]prometheus.Counter)
	for _, r := range event.Reasons() {
		m.rejected[r] = rejected.WithLabelValues(string(r))
	}
	return m
}

// tally holds counts gathered per record and added to Metrics once per
// snapshot: a cached counter Add per batch instead of a label lookup per
// record keeps metrics off the hot path.
type tally struct {
	consumed   map[string]uint64
	accepted   []uint64 // by event.Type
	duplicates []uint64 // by event.Type
	rejected   map[event.Reason]uint64
	skipped    map[RecordKind]uint64
	// nativeSkipped counts the skipped events of native records.
	nativeSkipped map[nativeSkip]uint64
	partition     map[partitionKey]partitionTally
	rereads       uint64
	remembered    int // a gauge: ids held at the hand-off
	messages      int // a gauge: sends held at the hand-off
	unattributed  uint64
	contactStates int // a gauge: contact states held at the hand-off
	// forgotCap and forgotAge count contact states forgotten since the
	// previous batch.
	forgotCap, forgotAge uint64
	// rebalances is the number of group generations joined since the
	// previous batch: the store side then drops every partition gauge.
	rebalances int64
}

type nativeSkip struct {
	format string
	reason adapter.SkipReason
}

type partitionKey struct {
	topic     string
	partition int
}

type partitionTally struct {
	lag       int64
	watermark int64
}

func newTally() *tally {
	return &tally{
		consumed:      map[string]uint64{},
		accepted:      make([]uint64, len(event.Types())+1),
		duplicates:    make([]uint64, len(event.Types())+1),
		rejected:      map[event.Reason]uint64{},
		skipped:       map[RecordKind]uint64{},
		nativeSkipped: map[nativeSkip]uint64{},
		partition:     map[partitionKey]partitionTally{},
	}
}

// progress records where a partition's reading is: its lag at m, and its
// event-time watermark when occurred (Unix seconds of an accepted event,
// 0 for none) is newer.
func (t *tally) progress(m *kafka.Message, occurred int64) {
	k := partitionKey{m.Topic, m.Partition}
	pt := t.partition[k]
	pt.lag = m.HighWaterMark - m.Offset - 1
	if occurred > pt.watermark {
		pt.watermark = occurred
	}
	t.partition[k] = pt
}

// handOff returns the counts gathered so far for the store goroutine and
// starts new ones. Partition lag and watermarks carry over (they are gauges;
// the watermark only moves forward); the returned copy is not shared.
func (t *tally) handOff() *tally {
	out := &tally{consumed: t.consumed, accepted: t.accepted, duplicates: t.duplicates, rejected: t.rejected, skipped: t.skipped, nativeSkipped: t.nativeSkipped, rereads: t.rereads, remembered: t.remembered,
		messages: t.messages, unattributed: t.unattributed, contactStates: t.contactStates, forgotCap: t.forgotCap, forgotAge: t.forgotAge, rebalances: t.rebalances, partition: maps.Clone(t.partition)}
	t.consumed = map[string]uint64{}
	t.accepted = make([]uint64, len(event.Types())+1)
	t.duplicates = make([]uint64, len(event.Types())+1)
	t.rejected = map[event.Reason]uint64{}
	t.skipped = map[RecordKind]uint64{}
	t.nativeSkipped = map[nativeSkip]uint64{}
	t.rereads, t.unattributed = 0, 0
	return out
}

func (m *Metrics) add(t *tally) {
	for topic, n := range t.consumed {
		m.consumed.WithLabelValues(topic).Add(float64(n))
	}
	for typ, n := range t.accepted {
		if n > 0 {
			m.accepted[typ].Add(float64(n))
		}
	}
	for typ, n := range t.duplicates {
		if n > 0 {
			m.duplicates[typ].Add(float64(n))
		}
	}
	m.remembered.Set(float64(t.remembered))
	m.messages.Set(float64(t.messages))
	m.unattributed.Add(float64(t.unattributed))
	m.contactStates.Set(float64(t.contactStates))
	m.forgotten["cap"].Add(float64(t.forgotCap))
	m.forgotten["horizon"].Add(float64(t.forgotAge))
	for r, n := range t.rejected {
		m.rejected[r].Add(float64(n))
	}
	for k, n := range t.skipped {
		m.skipped[k].Add(float64(n))
	}
	for k, n := range t.nativeSkipped {
		m.nativeSkipped.WithLabelValues(k.format, string(k.reason)).Add(float64(n))
	}
	m.rereads.Add(float64(t.rereads))
	for k, p := range t.partition {
		part := strconv.Itoa(k.partition)
		m.lag.WithLabelValues(k.topic, part).Set(float64(p.lag))
		if p.watermark > 0 {
			m.watermark.WithLabelValues(k.topic, part).Set(float64(p.watermark))
		}
	}
}
