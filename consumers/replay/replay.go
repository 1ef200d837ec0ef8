// Package replay re-processes ranges of Kafka topics through the same
// consumers.Pipeline as the live service, for `trustpipe replay`: after an
// outage upstream, after a producer fix, or to backfill a new definition into
// a shadow set of tables (see Swap).
//
// A replay reads with its own partition readers (kafka-go Readers with a
// Partition and no GroupID): it never joins the live consumer group and
// never commits an offset. Every range is widened to whole blocks
// (DESIGN.md, "Exactness"), so a replay rewrites exactly the rows the live
// pipeline wrote for those blocks — same keys, same versions — and is
// idempotent: it can be killed at any point and run again, any number of
// times, and the totals do not move. Blocks that retention has partly
// deleted are skipped, never rewritten from what is left of them.
//
// Rejected records are counted and reported but not dead-lettered again:
// the live pipeline already published them. The pipeline's metrics go to a
// private registry, so a replay never feeds the counters alerts use.
//
// Concurrency: a Replayer runs one replay at a time; Run starts a reader
// goroutine per partition (at most Config.Parallel at once) plus the
// pipeline's own goroutines, and waits for all of them.
package replay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/trustpipe/trustpipe/aggregate"
	"github.com/trustpipe/trustpipe/consumers"
	"github.com/trustpipe/trustpipe/consumers/progress"
)

// Config configures replays.
type Config struct {
	// Pipeline must be the live pipeline's configuration: the same block
	// size, bucket size and limits rewrite the same rows. (A shadow
	// backfill of a new definition is the exception: it writes new tables.)
	Pipeline consumers.Config
	// Brokers and Dialer reach Kafka for the partition readers; Transport
	// (nil: kafka-go's default) for metadata and offset look-ups.
	Brokers   []string
	Dialer    *kafka.Dialer
	Transport kafka.RoundTripper
	// Parallel is how many partitions are read at once (default 4).
	Parallel int
	// Settings is the fingerprint of Pipeline and the pseudonym key
	// (consumers.SettingsFingerprint); Run refuses a target recorded with
	// another one.
	Settings string
}

// Target is where a replay writes: a *sink.Store on the live tables or on
// a shadow set.
type Target interface {
	consumers.Store
	// History reads the dedup decisions and contact states stored before
	// each replayed range,
	// so a replay decides every offset as the live read did.
	consumers.History
	// CheckCompatible refuses tables written with another block or bucket
	// size, where a replay would add rows instead of replacing them.
	CheckCompatible(ctx context.Context, blockSize int64, bucket time.Duration) error
	// CheckSettings refuses tables recorded with other settings, and
	// records these on tables that have none.
	CheckSettings(ctx context.Context, settings string) error
}

// Deps are a Replayer's collaborators.
type Deps struct {
	Target     Target
	Pseudonyms consumers.Pseudonyms
	Logger     *slog.Logger
	// Progress receives a progress bar (rate, ETA); nil for none.
	Progress io.Writer
	// Now is the wall clock (durations in the summary).
	Now func() time.Time
}

// Replayer plans and runs replays.
type Replayer struct {
	cfg    Config
	deps   Deps
	broker clientBroker
}

// New checks cfg and returns a Replayer.
func New(cfg Config, deps Deps) (*Replayer, error) {
	if err := cfg.Pipeline.Aggregate.Validate(); err != nil {
		return nil, err
	}
	if len(cfg.Brokers) == 0 {
		return nil, fmt.Errorf("replay: %w", consumers.ErrNoBrokers)
	}
	if deps.Target == nil || deps.Pseudonyms == nil {
		return nil, errors.New("replay: a target store and a pseudonymizer are required")
	}
	if cfg.Settings == "" {
		return nil, errors.New("replay: the settings fingerprint is required")
	}
	if cfg.Parallel <= 0 {
		cfg.Parallel = 4
	}
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	client := &kafka.Client{Addr: kafka.TCP(cfg.Brokers...), Timeout: 30 * time.Second, Transport: cfg.Transport}
	return &Replayer{cfg: cfg, deps: deps, broker: clientBroker{client: client}}, nil
}

// Plan resolves sel against the broker: partitions, log starts, high
// watermarks and timestamp look-ups, widened to whole blocks. A request that
// cannot be served as asked is an *InputError.
func (r *Replayer) Plan(ctx context.Context, sel Selection) (*Plan, error) {
	return plan(ctx, r.broker, sel, r.cfg.Pipeline.Aggregate.BlockSize)
}

// Summary is the outcome of a replay.
type Summary struct {
	Records, Accepted, Rejected uint64
	RejectedBy                  map[string]uint64 // by reason code
	Blocks                      int               // blocks whose rows were rewritten
	Partitions                  int
	Duration                    time.Duration
}

// Rate is records per second.
func (s *Summary) Rate() float64 {
	if s.Duration <= 0 {
		return 0
	}
	return float64(s.Records) / s.Duration.Seconds()
}

// Print writes the summary for a person.
func (s *Summary) Print(w io.Writer) {
	fmt.Fprintf(w, "replay: %d records in %s (%.0f records/s): %d accepted, %d rejected",
		s.Records, s.Duration.Round(time.Millisecond), s.Rate(), s.Accepted, s.Rejected)
	if len(s.RejectedBy) > 0 {
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(s.RejectedBy)) {
			parts = append(parts, fmt.Sprintf("%s %d", k, s.RejectedBy[k]))
		}
		fmt.Fprintf(w, " (%s; not dead-lettered again)", strings.Join(parts, ", "))
	}
	fmt.Fprintf(w, "; %d blocks rewritten in %d partitions\n", s.Blocks, s.Partitions)
}

// ErrInterrupted is returned by Run when ctx ended before the plan was read.
var ErrInterrupted = errors.New("replay interrupted before the end of its ranges: what was read is stored; run it again (replays are idempotent)")

// Run replays plan into the target and returns its summary. It returns
// ErrInterrupted (with the partial summary) when ctx ends first.
func (r *Replayer) Run(ctx context.Context, p *Plan) (*Summary, error) {
	agg := r.cfg.Pipeline.Aggregate
	if p.BlockSize != agg.BlockSize {
		return nil, fmt.Errorf("replay: plan made for block size %d, pipeline uses %d", p.BlockSize, agg.BlockSize)
	}
	if err := r.deps.Target.CheckCompatible(ctx, agg.BlockSize, agg.BucketSize); err != nil {
		return nil, err
	}
	if err := r.deps.Target.CheckSettings(ctx, r.cfg.Settings); err != nil {
		return nil, err
	}
	start := r.deps.Now()
	reg := prometheus.NewRegistry() // private: replays never feed the live alerts' counters
	rec := &recordingStore{inner: r.deps.Target, blocks: map[aggregate.BlockRef]struct{}{}}
	fcfg := readerConfig{Brokers: r.cfg.Brokers, Dialer: r.cfg.Dialer, Parallel: r.cfg.Parallel}
	f := startFetcher(ctx, fcfg, r.broker, p.Ranges, r.deps.Logger, r.cfg.Pipeline.QueueSize)
	defer f.Close()
	pipe, err := consumers.New(r.cfg.Pipeline, consumers.Deps{
		Fetcher:     f,
		Committer:   noCommits{},
		Store:       rec,
		History:     r.deps.Target,
		DeadLetters: discardDeadLetters{},
		Pseudonyms:  r.deps.Pseudonyms,
		Metrics:     consumers.NewMetrics(reg),
		Logger:      r.deps.Logger,
		// Markers and aborted records are skipped as the live pipeline does.
		Transactions: consumers.NewTransactions(r.cfg.Brokers, r.cfg.Transport, consumers.FetchMaxBytes),
	})
	if err != nil {
		return nil, err
	}
	total := p.Offsets()
	stopProgress := r.progress(f, total)
	err = pipe.Run(ctx)
	complete := err == nil && ctx.Err() == nil
	stopProgress(complete)
	s := summarize(reg)
	s.Blocks = rec.count()
	s.Partitions = p.Partitions()
	s.Duration = r.deps.Now().Sub(start)
	if err != nil {
		return s, err
	}
	if !complete {
		return s, ErrInterrupted
	}
	return s, nil
}

// progress redraws a progress bar from the fetcher's count until stopped.
func (r *Replayer) progress(f *fetcher, total int64) func(complete bool) {
	if r.deps.Progress == nil {
		return func(bool) {}
	}
	bar := progress.New(r.deps.Progress, "replay")
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		bar.Update(0, int(total))
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if n := f.Done(); n < total {
					bar.Update(int(n), int(total))
				}
			}
		}
	}()
	return func(complete bool) {
		close(done)
		wg.Wait()
		if complete {
			bar.Update(int(total), int(total))
		}
		bar.Finish()
	}
}

// summarize reads the replay's totals from its private registry.
func summarize(reg *prometheus.Registry) *Summary {
	s := &Summary{RejectedBy: map[string]uint64{}}
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			v := uint64(m.GetCounter().GetValue())
			switch mf.GetName() {
			case "trustpipe_records_consumed_total":
				s.Records += v
			case "trustpipe_events_accepted_total":
				s.Accepted += v
			case "trustpipe_events_rejected_total":
				s.Rejected += v
				if v > 0 {
					for _, l := range m.GetLabel() {
						if l.GetName() == "reason" {
							s.RejectedBy[l.GetValue()] += v
						}
					}
				}
			}
		}
	}
	return s
}

// recordingStore passes writes on and remembers which blocks were written.
type recordingStore struct {
	inner  consumers.Store
	mu     sync.Mutex
	blocks map[aggregate.BlockRef]struct{}
}

func (s *recordingStore) Write(ctx context.Context, snap *aggregate.Snapshot) error {
	if err := s.inner.Write(ctx, snap); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range snap.Ledger {
		s.blocks[l.BlockRef] = struct{}{}
	}
	return nil
}

func (s *recordingStore) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.blocks)
}

// noCommits is the replay's Committer: a replay never commits offsets, so
// the live consumer group's position is never touched.
type noCommits struct{}

func (noCommits) CommitMessages(context.Context, ...kafka.Message) error { return nil }

// discardDeadLetters is the replay's dead-letter publisher: the live
// pipeline already published every rejected record with its reason, so a
// replay only counts them (Summary.RejectedBy) instead of publishing
// duplicates.
type discardDeadLetters struct{}

func (discardDeadLetters) WriteMessages(context.Context, ...kafka.Message) error { return nil }

// Print describes a plan for a person: requested and widened ranges,
// skipped blocks and empty partitions.
func (p *Plan) Print(w io.Writer) {
	for _, s := range p.Empty {
		fmt.Fprintf(w, "replay: nothing in %s\n", s)
	}
	for _, s := range p.Skipped {
		fmt.Fprintf(w, "replay: WARNING: not rewriting offsets %d-%d of %s/%d: retention deleted the start of that block, "+
			"and re-reading the rest of it would replace its complete counts with partial ones\n", s.From, s.To, s.Topic, s.Partition)
	}
	for _, r := range p.Ranges {
		q, wd := r.Requested, r.Widened
		note := ""
		if q.From != wd.From || q.To != wd.To {
			note = fmt.Sprintf(" (requested %d-%d, widened to whole blocks of %d)", q.From, q.To, p.BlockSize)
		}
		fmt.Fprintf(w, "replay: %s/%d offsets %d-%d, blocks %d-%d%s\n", wd.Topic, wd.Partition, wd.From, wd.To, wd.From/p.BlockSize, wd.To/p.BlockSize, note)
	}
}
