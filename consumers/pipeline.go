// Package consumers reads trust events from Kafka and drives them through
// validation, aggregation and storage with the exactness guarantees of
// DESIGN.md: records are fetched with explicit commits, decoded against the
// v1 contract, rejected records are dead-lettered with a reason, accepted
// events are counted per offset block, and a partition's offset is committed
// only after the rows and ledger of every block before it are stored.
//
// Concurrency: a Pipeline runs two goroutines joined by a one-slot channel —
// process (fetch + decode + aggregate, sole owner of the Aggregator) and
// store (dead letters, ClickHouse, commits) — while kafka-go's reader fetches
// ahead in its own goroutines into a queue of QueueSize records. When
// storage is slow or down the channel and the queue fill and fetching
// pauses, so memory stays bounded by configuration whatever the input volume.
//
// Metrics (Metrics, registered by NewMetrics, which also registers the
// storage stage's sink.Metrics): trustpipe_records_consumed_total,
// trustpipe_events_accepted_total, trustpipe_events_rejected_total,
// trustpipe_consumer_lag, trustpipe_event_time_watermark_seconds,
// trustpipe_offsets_committed_total, trustpipe_rebalances_total,
// trustpipe_partition_rereads_total, trustpipe_dead_letters_total,
// trustpipe_records_skipped_total, trustpipe_native_events_skipped_total,
// trustpipe_kafka_retries_total, trustpipe_duplicates_total,
// trustpipe_dedup_ids, trustpipe_message_memory_sends,
// trustpipe_followups_unattributed_total, trustpipe_contact_states and
// trustpipe_contact_states_forgotten_total.
package consumers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/errgroup"

	"github.com/trustpipe/trustpipe/aggregate"
	"github.com/trustpipe/trustpipe/aggregate/event"
	"github.com/trustpipe/trustpipe/consumers/adapter"
)

// Fetcher hands out records without committing them (kafka-go's
// Reader.FetchMessage). A bounded input returns io.EOF when exhausted; the
// pipeline then stores everything and Run returns nil.
type Fetcher interface {
	FetchMessage(ctx context.Context) (kafka.Message, error)
}

// Committer commits offsets: committing message m stores m.Offset+1.
type Committer interface {
	CommitMessages(ctx context.Context, msgs ...kafka.Message) error
}

// Store durably stores a snapshot; Write must be idempotent.
type Store interface {
	Write(ctx context.Context, snap *aggregate.Snapshot) error
}

// History loads what a partition's memories — dedup ids, remembered sends,
// contact states — need before a read starting at q.Before
// (aggregate.HistoryQuery): what the sink stored of them.
type History interface {
	LoadHistory(ctx context.Context, q aggregate.HistoryQuery) (aggregate.History, error)
}

// Publisher publishes records (the dead-letter topic's kafka-go Writer).
type Publisher interface {
	WriteMessages(ctx context.Context, msgs ...kafka.Message) error
}

// Config tunes a Pipeline.
type Config struct {
	Aggregate aggregate.Config
	Limits    event.Limits
	// Formats maps input topics that hold a platform's native payloads to
	// that format; their records are converted (package adapter) instead
	// of decoded as contract records. One record may hold several events:
	// the ledger counts the record (one offset, accepted or rejected), the
	// counts its events; deduplication decides the record as a whole.
	Formats map[string]adapter.Format
	// DeadLetterTopic receives rejected records with reason headers.
	DeadLetterTopic string
	// FlushInterval bounds how long counted events wait before being stored.
	FlushInterval time.Duration
	// MaxPendingRows triggers an early flush, bounding memory and insert size.
	MaxPendingRows int
	// MaxPendingDeadLetterBytes triggers an early flush when the rejected
	// records held for the dead-letter topic grow this large (keys and
	// values), so a flood of oversized junk cannot exhaust memory.
	MaxPendingDeadLetterBytes int
	// MaxDeadLetterBytes bounds one dead letter (key, value and headers):
	// larger rejected records are truncated, headers kept, so a dead letter
	// always fits the producer's batch limit (kafka-go's Writer.BatchBytes,
	// 1 MiB by default) and the broker's default max.message.bytes.
	MaxDeadLetterBytes int
	// QueueSize is the number of records the Fetcher buffers ahead of
	// processing (kafka-go's queue capacity; see NewGroupReader).
	QueueSize int
	// QueueBytes bounds the bytes of records the Fetcher buffers ahead:
	// the reader queues at most QueueBytes / the largest record the broker
	// accepts, and fetches at most QueueBytes at a time (NewReaderQueue).
	QueueBytes int
	// MaxFetchOutage bounds how long failing fetches are retried (with
	// RetryBackoff) while no record arrives, e.g. through a rolling broker
	// restart, before Run gives up.
	MaxFetchOutage time.Duration
	// ShutdownTimeout bounds the final flush after the context is cancelled.
	ShutdownTimeout time.Duration
	// RetryBackoff and MaxRetryBackoff shape retries of a failed store.
	RetryBackoff, MaxRetryBackoff time.Duration
	// MemoryLimit is the soft limit of the process's Go memory that
	// SetMemoryLimit applies (0: none). See DefaultMemoryLimit.
	MemoryLimit int64
}

// DefaultConfig returns sensible production defaults.
func DefaultConfig() Config {
	return Config{
		Aggregate:       aggregate.DefaultConfig(),
		Limits:          event.DefaultLimits(),
		DeadLetterTopic: "trust-events-dlq",
		FlushInterval:   time.Second,
		MaxPendingRows:  100000,
		// Three batches can be alive at once (being stored, queued, being
		// filled), so dead letters hold at most about 3 × 32 MiB.
		MaxPendingDeadLetterBytes: 32 << 20,
		MaxDeadLetterBytes:        1 << 20,
		QueueSize:                 8192,
		QueueBytes:                64 << 20,
		ShutdownTimeout:           30 * time.Second,
		MaxFetchOutage:            5 * time.Minute,
		RetryBackoff:              100 * time.Millisecond,
		MaxRetryBackoff:           30 * time.Second,
		MemoryLimit:               DefaultMemoryLimit,
	}
}

// Pseudonyms maps a raw contact or account id to its stored pseudonym. The
// pipeline applies it to both ids of every accepted event before counting,
// so raw ids never reach aggregate or storage.
type Pseudonyms interface {
	Pseudonym(id string) string
}

// Deps are the Pipeline's collaborators.
type Deps struct {
	Fetcher   Fetcher
	Committer Committer
	Store     Store
	// History is required when Config.Aggregate.Dedup, .Messages or
	// .Contacts is on; it must read what Store wrote.
	History     History
	DeadLetters Publisher
	Pseudonyms  Pseudonyms
	Metrics     *Metrics
	Logger      *slog.Logger
	// Now is the wall clock, used only for flush timestamps in metrics.
	Now func() time.Time
	// Rebalances, when set, reports consumer-group generations joined since
	// the previous call (kafka-go's Reader.Stats().Rebalances).
	Rebalances func() int64
	// Assignment, when set with Rebalances, is asked after each rebalance
	// which partitions this member still holds; the aggregator then frees
	// the state of the others (see aggregate.Aggregator.Retain).
	Assignment Assignment
	// Transactions, when set, tells transaction markers and aborted records
	// apart (see Transactions); without it every record is data.
	Transactions Classifier
}

// Pipeline is the consume → validate → aggregate → store stage chain.
type Pipeline struct {
	cfg  Config
	deps Deps
	agg  *aggregate.Aggregator
	dec  *event.Decoder
	// native is the reused output of converting a native record.
	native adapter.Output

	// failing names the store step whose last attempt failed ("" when the
	// last attempt succeeded), for readiness.
	failing atomic.Pointer[string]
}

// The errors Config.Validate wraps (besides aggregate's and event's), so a
// caller can name its own setting.
var (
	ErrDeadLetterTopic = errors.New("the dead-letter topic must be a valid Kafka topic name")
	ErrFlushInterval   = errors.New("the flush interval must be positive")
	ErrMaxPendingRows  = errors.New("the pending-row limit must be positive")
	ErrDeadLetterBytes = errors.New("the pending dead-letter byte limit must be positive")
	ErrMaxDeadLetter   = fmt.Errorf("the dead-letter size limit must be at least %d bytes", minDeadLetterBytes)
	ErrQueueSize       = errors.New("the fetch queue size must be positive")
	ErrQueueBytes      = fmt.Errorf("the fetch queue byte budget must be at least %d bytes (one record of the broker's default size)", DefaultMaxMessageBytes)
	ErrShutdownTimeout = errors.New("the shutdown timeout must be positive")
	ErrRetryBackoff    = errors.New("the retry backoffs must be positive, the first not above the maximum")
	ErrMemoryLimit     = fmt.Errorf("the memory limit must be 0 (none) or at least %d bytes", minMemoryLimit)
)

// Validate reports the first setting the pipeline cannot work with; the
// error wraps a sentinel (this package's, aggregate's or event's) and names
// the offending value.
func (c Config) Validate() error {
	if err := c.Aggregate.Validate(); err != nil {
		return err
	}
	if err := c.Limits.Validate(); err != nil {
		return err
	}
	if err := validTopic(c.DeadLetterTopic); err != nil {
		return fmt.Errorf("%w: %w", ErrDeadLetterTopic, err)
	}
	for _, p := range []struct {
		bad bool
		err error
		val any
	}{
		{c.FlushInterval <= 0, ErrFlushInterval, c.FlushInterval},
		{c.MaxPendingRows <= 0, ErrMaxPendingRows, c.MaxPendingRows},
		{c.MaxPendingDeadLetterBytes <= 0, ErrDeadLetterBytes, c.MaxPendingDeadLetterBytes},
		{c.MaxDeadLetterBytes < minDeadLetterBytes, ErrMaxDeadLetter, c.MaxDeadLetterBytes},
		{c.QueueSize <= 0, ErrQueueSize, c.QueueSize},
		{c.QueueBytes < DefaultMaxMessageBytes, ErrQueueBytes, c.QueueBytes},
		{c.ShutdownTimeout <= 0, ErrShutdownTimeout, c.ShutdownTimeout},
		{c.RetryBackoff <= 0 || c.MaxRetryBackoff < c.RetryBackoff, ErrRetryBackoff, fmt.Sprintf("%s and %s", c.RetryBackoff, c.MaxRetryBackoff)},
		{c.MemoryLimit != 0 && c.MemoryLimit < minMemoryLimit, ErrMemoryLimit, c.MemoryLimit},
	} {
		if p.bad {
			return fmt.Errorf("%w: got %v", p.err, p.val)
		}
	}
	return nil
}

// New validates cfg and returns a Pipeline.
func New(cfg Config, deps Deps) (*Pipeline, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	agg, err := aggregate.New(cfg.Aggregate)
	if err != nil {
		return nil, err
	}
	if (cfg.Aggregate.Dedup.Enabled() || cfg.Aggregate.Messages.Enabled() || cfg.Aggregate.Contacts.Enabled()) && deps.History == nil {
		return nil, errors.New("pipeline: deduplication, the message memory or contact state is on but no history store is given")
	}
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	p := &Pipeline{cfg: cfg, deps: deps, agg: agg, dec: event.NewDecoder(cfg.Limits)}
	return p, nil
}

// Unhealthy returns nil when the most recent store attempt succeeded, and
// otherwise an error naming the step that fails (publishing dead letters to
// Kafka, or storing in ClickHouse), so readiness blames the right component.
func (p *Pipeline) Unhealthy() error {
	if what := p.failing.Load(); what != nil {
		return fmt.Errorf("%s is failing (see logs)", *what)
	}
	return nil
}

// batch is one unit of work for the store goroutine.
type batch struct {
	snap        *aggregate.Snapshot
	deadLetters []kafka.Message
	tally       *tally
}

// Run consumes until ctx is cancelled, then stores what it has counted,
// commits what is safe to commit, and returns nil. It returns an error when
// storage fails permanently (the error says what to do) or Kafka fails.
func (p *Pipeline) Run(ctx context.Context) error {
	batches := make(chan *batch, 1)
	storeDone := make(chan struct{})

	g, gctx := errgroup.WithContext(ctx)
	// Storing continues past cancellation — of ctx, or of the group when
	// fetching failed — for at most ShutdownTimeout, so the final snapshot
	// lands; nothing is committed that was not stored.
	storeCtx, cancelStore := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelStore()
	go func() {
		select {
		case <-gctx.Done():
		case <-storeDone:
			return
		}
		t := time.NewTimer(p.cfg.ShutdownTimeout)
		defer t.Stop()
		select {
		case <-t.C:
			cancelStore()
		case <-storeDone:
		}
	}()

	g.Go(func() error { return p.process(gctx, batches, storeDone) })
	g.Go(func() error {
		defer close(storeDone)
		return p.store(storeCtx, batches)
	})
	err := g.Wait()
	if err != nil && ctx.Err() != nil && errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// process fetches, decodes and aggregates records, handing a batch to store
// every FlushInterval (and early when MaxPendingRows is reached), and a final
// batch when ctx ends or a bounded input is exhausted.
//
// It fetches itself, with a context whose deadline is the next flush, rather
// than through a fetch goroutine and a channel: one context per flush
// interval costs nothing per record, while a channel hop per record was a
// third of the processing cost. kafka-go's reader already fetches ahead in
// its own goroutines (bounded by its queue capacity).
func (p *Pipeline) process(ctx context.Context, batches chan<- *batch, storeDone <-chan struct{}) error {
	defer close(batches)
	t := newTally()
	var dead pendingDeadLetters
	var ev event.Event
	var rereads, unattributed, forgotCap, forgotAge uint64
	// revokeDue: a rebalance was seen and no definite assignment has been
	// read since (the group may still be settling: asked again each flush).
	revokeDue := false
	emit := func() error {
		var rebalanced int64
		if p.deps.Rebalances != nil {
			rebalanced = p.deps.Rebalances()
		}
		if rebalanced > 0 {
			revokeDue = true
		}
		if revokeDue && p.deps.Assignment != nil {
			revokeDue = !p.releaseRevoked(ctx)
		}
		snap := p.agg.Snapshot()
		if snap.Empty() && len(dead.msgs) == 0 && rebalanced == 0 {
			return nil
		}
		if rebalanced > 0 {
			// Partitions may have moved to other instances: forget every
			// partition's lag and watermark; those still owned are set again
			// by their next record. A frozen lag of a partition read
			// elsewhere would otherwise hold the health gate closed.
			clear(t.partition)
		}
		t.rebalances = rebalanced
		t.rereads, rereads = p.agg.Rereads()-rereads, p.agg.Rereads()
		t.remembered = p.agg.Remembered()
		t.unattributed, unattributed = p.agg.Unattributed()-unattributed, p.agg.Unattributed()
		t.messages = p.agg.MessagesRemembered()
		t.contactStates = p.agg.ContactStates()
		c, h := p.agg.ContactsForgotten()
		t.forgotCap, t.forgotAge, forgotCap, forgotAge = c-forgotCap, h-forgotAge, c, h
		b := &batch{snap: snap, deadLetters: dead.take(), tally: t.handOff()}
		select {
		case batches <- b:
			return nil
		case <-storeDone:
			return errStoreStopped
		}
	}
	// A fetch error outlasting the reader's own attempts (a broker
	// restarting, a leader moving) is retried with backoff until fetching
	// has failed for MaxFetchOutage with no record read in between.
	// Failures further apart than two backoff caps are separate outages.
	var fetched, fetchedAtFailure uint64
	var outageStart, lastFailure time.Time
	backoff := p.cfg.RetryBackoff
	for {
		flushCtx, cancel := context.WithTimeout(ctx, p.cfg.FlushInterval)
		err := p.fetchUntil(ctx, flushCtx, t, &ev, &dead, emit, &fetched)
		flushDue := flushCtx.Err() != nil // read before cancel, which sets it
		cancel()
		if err != nil && !flushDue && ctx.Err() == nil && !errors.Is(err, io.EOF) && !errors.Is(err, errStoreStopped) {
			now := p.deps.Now()
			if outageStart.IsZero() || fetched != fetchedAtFailure || now.Sub(lastFailure) > 2*p.cfg.MaxRetryBackoff {
				outageStart, fetchedAtFailure, backoff = now, fetched, p.cfg.RetryBackoff
			}
			lastFailure = now
			if retry, _ := retryable(err); retry && now.Sub(outageStart) < p.cfg.MaxFetchOutage {
				p.deps.Logger.Warn("fetch from kafka failed, retrying", "since", outageStart, "backoff", backoff, "err", err)
				p.deps.Metrics.kafkaRetries.WithLabelValues("fetch").Inc()
				select {
				case <-time.After(backoff):
				case <-ctx.Done():
				}
				backoff = min(backoff*2, p.cfg.MaxRetryBackoff)
				continue
			}
		}
		switch {
		case ctx.Err() != nil || errors.Is(err, io.EOF):
			// Cancelled, or a bounded input (a replay) is exhausted: store
			// what was counted. If the store goroutine stopped, it reports why.
			_ = emit()
			return nil
		case errors.Is(err, errStoreStopped):
			return nil
		case errors.Is(err, errHistory):
			_ = emit()
			return err
		case !flushDue:
			return fmt.Errorf("%w (retried since %s): %w", ErrFetch, outageStart.Format(time.RFC3339), err)
		}
		if err := emit(); err != nil {
			return nil
		}
	}
}

// assignmentTimeout bounds the question to the group coordinator; the
// processing goroutine waits for it (once per rebalance, while the group
// settles).
const assignmentTimeout = 5 * time.Second

// releaseRevoked asks which partitions this member holds and frees the
// aggregator's state of all others, pending rows included (their new owner
// re-reads them from the last committed block start). It reports whether
// the answer was definite; an indefinite one (the group is rebalancing)
// frees nothing, since dropping a partition still read here would make its
// next record start a partial read of its block.
func (p *Pipeline) releaseRevoked(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, assignmentTimeout)
	defer cancel()
	owned, err := p.deps.Assignment.Assigned(ctx)
	if err != nil {
		p.deps.Logger.Debug("partition assignment not read, state of revoked partitions kept for now", "err", err)
		return false
	}
	dropped := p.agg.Retain(func(part aggregate.Partition) bool { return owned[part] })
	if len(dropped) > 0 {
		p.deps.Logger.Info("freed the state of partitions assigned elsewhere", "partitions", len(dropped), "held", len(owned))
	}
	return true
}

var (
	errStoreStopped = errors.New("store stopped")
	errHistory      = errors.New("load partition history (dedup ids, remembered sends, contact states)")
)

// pendingDeadLetters are the rejected records of the batch being filled.
type pendingDeadLetters struct {
	msgs  []kafka.Message
	bytes int
}

func (d *pendingDeadLetters) add(m *kafka.Message) {
	d.msgs = append(d.msgs, *m)
	d.bytes += len(m.Key) + len(m.Value)
}

func (d *pendingDeadLetters) take() []kafka.Message {
	msgs := d.msgs
	d.msgs, d.bytes = nil, 0
	return msgs
}

// fetchUntil processes records until flushCtx ends or fetching fails,
// emitting early whenever the pending rows or dead letters reach their
// bounds. A fetched record is classified under runCtx, not flushCtx: the
// reader has handed it over, so giving up on it at a flush deadline would
// lose it. History loads (seed) run under runCtx too: they may outlast a
// flush interval.
func (p *Pipeline) fetchUntil(runCtx, flushCtx context.Context, t *tally, ev *event.Event, dead *pendingDeadLetters, emit func() error, fetched *uint64) error {
	for {
		m, err := p.deps.Fetcher.FetchMessage(flushCtx)
		if err != nil {
			return err
		}
		*fetched++
		if err := p.seed(runCtx, &m); err != nil {
			return err
		}
		kind, err := p.classify(runCtx, &m)
		if err != nil {
			return err
		}
		if kind != Data {
			p.skip(&m, kind, t)
		} else if dl, ok := p.handle(&m, ev, t); ok && dl != nil {
			dead.add(dl)
		}
		if p.agg.Pending() >= p.cfg.MaxPendingRows || len(dead.msgs) >= p.cfg.MaxPendingRows || dead.bytes >= p.cfg.MaxPendingDeadLetterBytes {
			if emit() != nil {
				return errStoreStopped
			}
		}
	}
}

// seed loads the partition's history (dedup ids, contact states) from
// storage when m starts the partition afresh (its first record here, or a
// re-read from an earlier block), so that m and the records after it are
// decided as on every other read. Transient failures are retried, as when storing.
func (p *Pipeline) seed(ctx context.Context, m *kafka.Message) error {
	part := int32(m.Partition)
	if !p.agg.NeedsHistory(m.Topic, part, m.Offset) {
		return nil
	}
	q := p.agg.HistoryQuery(m.Topic, part, m.Offset)
	var h aggregate.History
	err := p.retry(ctx, "load partition history from ClickHouse", func() (err error) {
		h, err = p.deps.History.LoadHistory(ctx, q)
		return err
	})
	if err != nil {
		return fmt.Errorf("%w of %s/%d before offset %d: %w", errHistory, m.Topic, m.Partition, m.Offset, err)
	}
	p.agg.Seed(q, h)
	return nil
}

// handle decodes and counts one record. It returns a dead letter for a
// newly rejected record, and ok=false for a re-delivered one.
func (p *Pipeline) handle(m *kafka.Message, ev *event.Event, t *tally) (dl *kafka.Message, ok bool) {
	if f := p.cfg.Formats[m.Topic]; f != nil {
		return p.handleNative(m, f, t)
	}
	rej := p.dec.Decode(m.Value, m.Time, ev)
	if rej != nil {
		if !p.agg.Reject(m.Topic, int32(m.Partition), m.Offset) {
			return nil, false
		}
		t.rejected[rej.Reason]++
		dl = p.deadLetter(m, rej)
	} else {
		ev.ContactID = p.deps.Pseudonyms.Pseudonym(ev.ContactID)
		ev.AccountID = p.deps.Pseudonyms.Pseudonym(ev.AccountID)
		switch p.agg.Accept(m.Topic, int32(m.Partition), m.Offset, m.Time, ev) {
		case aggregate.Redelivered:
			return nil, false
		case aggregate.Duplicate:
			t.duplicates[ev.Type]++
		}
		t.accepted[ev.Type]++
	}
	t.consumed[m.Topic]++
	var occurred int64
	if rej == nil {
		occurred = ev.OccurredAt.Unix()
	}
	t.progress(m, occurred)
	return dl, true
}

// handleNative converts and counts one record of a native-format topic.
//
// Its dead letter carries neither key nor value, only the headers (source
// topic, partition, offset, reason, a detail without payload values, and
// the format): a native payload that failed to convert cannot be
// pseudonymized reliably (where its addresses are is what failed to
// parse), and the source record stays where the headers say, in a topic
// that already holds it raw.
func (p *Pipeline) handleNative(m *kafka.Message, f adapter.Format, t *tally) (*kafka.Message, bool) {
	part := int32(m.Partition)
	err := adapter.Convert(f, m.Value, p.deps.Pseudonyms, p.dec, m.Time, &p.native)
	var occurred int64
	var dl *kafka.Message
	if err != nil {
		ae := &adapter.Error{Reason: event.ReasonInvalidJSON, Detail: "conversion failed"}
		errors.As(err, &ae)
		if !p.agg.Reject(m.Topic, part, m.Offset) {
			return nil, false
		}
		t.rejected[ae.Reason]++
		stripped := *m
		stripped.Key, stripped.Value = nil, nil
		dl = p.deadLetter(&stripped, &event.Rejection{Reason: ae.Reason, Detail: ae.Detail})
		dl.Headers = append(dl.Headers, kafka.Header{Key: HeaderFormat, Value: []byte(f.Name())})
	} else {
		evs := p.native.Events
		for i := range evs {
			// Pseudonymized again, as every contract record's contact_id
			// is: the same address then has the same stored pseudonym
			// whether it came through `trustpipe ingest` or this topic.
			evs[i].ContactID = p.deps.Pseudonyms.Pseudonym(evs[i].ContactID)
			evs[i].AccountID = p.deps.Pseudonyms.Pseudonym(evs[i].AccountID)
			occurred = max(occurred, evs[i].OccurredAt.Unix())
		}
		outcome := p.agg.AcceptRecord(m.Topic, part, m.Offset, m.Time, recordID(evs), evs)
		if outcome == aggregate.Redelivered {
			return nil, false
		}
		for i := range evs {
			if outcome == aggregate.Duplicate {
				t.duplicates[evs[i].Type]++
			}
			t.accepted[evs[i].Type]++
		}
		for r, n := range p.native.Skipped {
			t.nativeSkipped[nativeSkip{f.Name(), r}] += uint64(n)
		}
	}
	t.consumed[m.Topic]++
	t.progress(m, occurred)
	return dl, true
}

// HeaderFormat, on the dead letter of a native record, names its format.
const HeaderFormat = "trustpipe-format"

// recordID identifies a native record for deduplication by its events'
// ids: a platform re-sending the same events gives the same id.
func recordID(evs []event.Event) string {
	h := sha256.New()
	for i := range evs {
		h.Write([]byte(evs[i].ID))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// classify asks Deps.Transactions what m is, retrying a failed look-up
// with backoff until ctx ends: a broker restart must not stop the pipeline,
// and guessing would count an aborted record or dead-letter a marker.
func (p *Pipeline) classify(ctx context.Context, m *kafka.Message) (RecordKind, error) {
	if p.deps.Transactions == nil {
		return Data, nil
	}
	backoff := p.cfg.RetryBackoff
	for {
		kind, err := p.deps.Transactions.Classify(ctx, m)
		if err == nil {
			return kind, nil
		}
		if ctx.Err() != nil {
			return Data, ctx.Err()
		}
		p.deps.Logger.Warn("classifying transactional records failed, retrying", "topic", m.Topic, "partition", m.Partition, "offset", m.Offset, "backoff", backoff, "err", err)
		p.deps.Metrics.kafkaRetries.WithLabelValues("classify").Inc()
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return Data, ctx.Err()
		}
		backoff = min(backoff*2, p.cfg.MaxRetryBackoff)
	}
}

// skip accounts for an offset that carries no event: it is neither counted
// nor dead-lettered, but the ledger accounts for it (LedgerRow.Skipped).
func (p *Pipeline) skip(m *kafka.Message, kind RecordKind, t *tally) {
	if !p.agg.Skip(m.Topic, int32(m.Partition), m.Offset) {
		return
	}
	t.skipped[kind]++
	t.progress(m, 0)
}

// Dead-letter record headers: where the record came from and why it was
// rejected, so it can be inspected, fixed and re-produced.
const (
	HeaderSourceTopic     = "trustpipe-source-topic"
	HeaderSourcePartition = "trustpipe-source-partition"
	HeaderSourceOffset    = "trustpipe-source-offset"
	HeaderReason          = "trustpipe-reason"
	HeaderDetail          = "trustpipe-detail"
)

func (p *Pipeline) deadLetter(m *kafka.Message, rej *event.Rejection) *kafka.Message {
	dl := &kafka.Message{
		Topic: p.cfg.DeadLetterTopic,
		Key:   m.Key,
		Value: m.Value,
		Time:  m.Time,
		Headers: []kafka.Header{
			{Key: HeaderSourceTopic, Value: []byte(m.Topic)},
			{Key: HeaderSourcePartition, Value: []byte(strconv.Itoa(m.Partition))},
			{Key: HeaderSourceOffset, Value: []byte(strconv.FormatInt(m.Offset, 10))},
			{Key: HeaderReason, Value: []byte(rej.Reason)},
			{Key: HeaderDetail, Value: []byte(rej.Detail)},
		},
	}
	truncateDeadLetter(dl, p.cfg.MaxDeadLetterBytes)
	return dl
}

// HeaderTruncated, on a dead letter cut to MaxDeadLetterBytes, holds the
// original key and value sizes ("key=<bytes> value=<bytes>"); the source
// headers say where the whole record is.
const HeaderTruncated = "trustpipe-truncated"

// minDeadLetterBytes leaves room for the headers of any dead letter.
const minDeadLetterBytes = 64 << 10

// truncateDeadLetter cuts the value, then the key, of m so that its size
// as the producer counts it stays within limit, keeping every header.
// One oversized rejected record would otherwise fail every publish attempt
// (kafka-go's MessageTooLargeError) and stop the pipeline.
func truncateDeadLetter(m *kafka.Message, limit int) {
	// Record framing: length, attributes, timestamp and offset deltas, key
	// and value lengths (varints), headers count; 64 bytes cover them.
	overhead := 64
	for _, h := range m.Headers {
		overhead += len(h.Key) + len(h.Value) + 10
	}
	if overhead+len(m.Key)+len(m.Value) <= limit {
		return
	}
	overhead += len(HeaderTruncated) + 40
	m.Headers = append(m.Headers, kafka.Header{Key: HeaderTruncated, Value: fmt.Appendf(nil, "key=%d value=%d", len(m.Key), len(m.Value))})
	budget := max(limit-overhead, 0)
	m.Key = m.Key[:min(len(m.Key), budget)]
	m.Value = m.Value[:min(len(m.Value), budget-len(m.Key))]
}

// store writes each batch — dead letters, then ClickHouse rows, then offset
// commits — retrying transient failures with capped exponential backoff.
// Exactness does not depend on the retries: nothing is committed until its
// rows are stored, and re-stored rows replace themselves.
func (p *Pipeline) store(ctx context.Context, batches <-chan *batch) error {
	m := p.deps.Metrics
	for b := range batches {
		start := time.Now()
		if err := p.retry(ctx, "publishing dead letters to Kafka topic "+p.cfg.DeadLetterTopic, func() error {
			if len(b.deadLetters) == 0 {
				return nil
			}
			return p.deps.DeadLetters.WriteMessages(ctx, b.deadLetters...)
		}); err != nil {
			return err
		}
		if err := p.retry(ctx, "storing the snapshot in ClickHouse", func() error { return p.deps.Store.Write(ctx, b.snap) }); err != nil {
			return err
		}
		if len(b.snap.Commits) > 0 {
			msgs := make([]kafka.Message, len(b.snap.Commits))
			for i, c := range b.snap.Commits {
				msgs[i] = kafka.Message{Topic: c.Topic, Partition: int(c.Partition), Offset: c.Offset}
			}
			// A failed commit is not retried: the blocks are stored, so
			// re-reading them after a restart only rewrites identical rows.
			if err := p.deps.Committer.CommitMessages(ctx, msgs...); err != nil {
				p.deps.Logger.Warn("offset commit failed; the blocks will be re-read, which is safe", "err", err)
			} else {
				m.committed.Add(float64(len(msgs)))
			}
		}
		m.sink.Stored(b.snap, time.Since(start), p.deps.Now())
		m.deadLetters.Add(float64(len(b.deadLetters)))
		if b.tally.rebalances > 0 {
			m.rebalances.Add(float64(b.tally.rebalances))
			m.lag.Reset()
			m.watermark.Reset()
		}
		m.add(b.tally)
	}
	return nil
}

// retry runs op until it succeeds, fails permanently (see retryable), or
// ctx ends.
func (p *Pipeline) retry(ctx context.Context, what string, op func() error) error {
	backoff := p.cfg.RetryBackoff
	for attempt := 1; ; attempt++ {
		err := op()
		if err == nil {
			p.failing.Store(nil)
			return nil
		}
		p.failing.Store(&what)
		p.deps.Metrics.sink.Failed()
		if ctx.Err() != nil {
			// %v, not %w: this must not look like a plain cancellation,
			// or Run would report a clean shutdown.
			return fmt.Errorf("%s: gave up at shutdown after %d attempts; nothing past the last stored block was committed, so it will be re-read on restart: %v", what, attempt, err)
		}
		if retry, advice := retryable(err); !retry {
			if advice != "" {
				return fmt.Errorf("%s: %w (%s)", what, err, advice)
			}
			return fmt.Errorf("%s: %w", what, err)
		}
		p.deps.Logger.Warn("store failed, retrying", "what", what, "attempt", attempt, "backoff", backoff, "err", err)
		p.deps.Metrics.sink.Retried()
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
		}
		backoff = min(backoff*2, p.cfg.MaxRetryBackoff)
	}
}
