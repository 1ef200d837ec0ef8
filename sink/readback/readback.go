// Package readback reads the trust indicators back from ClickHouse on an
// interval and exports them as Prometheus gauges, so alerting rules can page
// when buyer trust drops (dashboards/prometheus).
//
// What is read, and why it is exact. Every value is computed from the read
// surface (CONTRACT.md §3), by EVENT time: rows of trust_counts whose bucket
// (the UTC start of a base bucket) lies in a window are summed into
// indicator.Totals and evaluated with package indicator — the one definition
// of every formula; nothing here re-implements one. trust_counts is exact
// whatever instance, crash or replay wrote it, so every trustpipe instance
// exports the same values (the recording rules de-duplicate with max).
//
// Windows and baselines. For each window w in indicator.Windows() (1h, 24h, 7d, 28d)
// and the read-back's clock now (truncated to whole seconds):
//
//	window    rows with bucket in [now − w, now)
//	baseline  rows with bucket in [now − w − 28d, now − w)
//
// i.e. the baseline of a window is the 28 days (BaselinePeriod) immediately
// before the window starts. Since a bucket counts by its start, a window is
// accurate to one bucket (the pipeline's bucket size). The boundaries of all
// windows and baselines, and of the audience weeks (audience.go), cut
// [now − 56d, now) into consecutive segments;
// one query sums trust_counts per segment and each window or baseline is the
// merge of its segments, so every row is read once per refresh.
//
// Missing values are absent, never NaN or 0: an indicator whose denominator
// is 0 in a window, a Trust Index with no qualifying component, or a
// divergence check without an index in both periods has no series at all, so
// an alert comparing it with a threshold stays silent instead of firing on
// missing data (the rules' gates treat absent as closed). Volumes
// (denominators) are counts and are always exported, 0 included.
//
// Breakdown. With Config.Breakdown set to one dimension (campaign_id,
// channel, segment or source), each window also gets, per group, the same
// gauges with a dimension_value label: the TopN values with the most events
// in the window (ties by value) get a group each; everything else — the
// remaining values, the empty value (its series would be indistinguishable
// from the aggregate), values longer than MaxDimensionValueBytes and the
// literal value "other" — is summed into dimension_value="other". The number
// of series is therefore bounded by SeriesBound whatever arrives. A group's
// baseline is the same value's (or, for "other", every other value's)
// baseline period. The aggregate series carry no dimension_value label,
// which is what the recording rules select with {dimension_value=""}.
//
// Consistency. Each refresh builds a complete set of series and swaps it in
// atomically: a scrape sees either the previous refresh or the new one, never
// a half-updated mix (which a GaugeVec Reset followed by Sets would expose).
// A failed refresh keeps the previous set, increments
// trustpipe_readback_errors_total and leaves
// trustpipe_readback_success_timestamp_seconds behind, so the rules see the
// read-back age grow (trustpipe:data_age_seconds) and close the data_fresh
// gate.
//
// Metrics (registered by New): the trust gauges trustpipe_indicator,
// trustpipe_indicator_baseline, trustpipe_indicator_volume,
// trustpipe_indicator_min_volume, trustpipe_trust_index,
// trustpipe_trust_index_baseline, trustpipe_divergence,
// trustpipe_data_freshness_seconds and trustpipe_ledger_gap_offsets, the
// audience gauges trustpipe_audience_signal, trustpipe_audience_signal_baseline,
// trustpipe_audience_count and trustpipe_shrinking_audience (audience.go), and
// the read-back's own trustpipe_readback_success_timestamp_seconds,
// trustpipe_readback_errors_total and trustpipe_readback_duration_seconds.
//
// Concurrency: Run (or Refresh) must not be called concurrently with itself;
// collection by the Prometheus registry is safe concurrently with both.
package readback

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/trustpipe/trustpipe/aggregate/indicator"
	"github.com/trustpipe/trustpipe/aggregate/report"
	"github.com/trustpipe/trustpipe/sink"
)

// Source is the part of sink's read API the read-back uses; *sink.Store
// implements it, the unit tests fake it.
type Source interface {
	SegmentTotals(ctx context.Context, bounds []time.Time) ([]indicator.Totals, time.Time, error)
	TopValues(ctx context.Context, dim string, p report.Period, n int, exclude []string, maxBytes int) ([]string, error)
	SplitTotals(ctx context.Context, dim string, values []string, split time.Time, p report.Period) (cur, base []indicator.Totals, err error)
	LedgerBlocks(ctx context.Context, floors map[sink.LedgerPartition]int64) ([]sink.LedgerBlock, error)
	CohortSegmentTotals(ctx context.Context, bounds []time.Time) (all, bySend []indicator.Totals, err error)
	CohortTopValues(ctx context.Context, dim, channel string, p report.Period, n int, exclude []string, maxBytes int) ([]string, error)
	CohortGroupTotals(ctx context.Context, dim, channel string, values []string, p report.Period, onlyValues bool) ([]indicator.Totals, error)
	Audience(ctx context.Context, p report.Period, f report.Filter) (*indicator.Audience, error)
	AccountHistories(ctx context.Context, rule indicator.AccountRule, first, last time.Time) ([]indicator.AccountHistory, error)
}

// BaselinePeriod is the length of every window's baseline: the period
// immediately before the window starts.
const BaselinePeriod = 28 * 24 * time.Hour

// BreakdownDimensions lists the valid values of Config.Breakdown (besides
// "", off): the trust_counts dimension columns. They are low-cardinality by
// intent; TopN bounds them whatever arrives.
func BreakdownDimensions() []string { return sink.Dimensions() }

// OtherValue is the dimension_value of the group that sums every value
// without a group of its own.
const OtherValue = "other"

// MaxDimensionValueBytes is the longest dimension value that may get its
// own group (longer values are summed into "other"). It equals the contract's
// longest dimension (campaign_id and segment, 128 bytes).
const MaxDimensionValueBytes = 128

// MaxTopN caps Config.TopN, so a typo cannot create tens of thousands of
// series.
const MaxTopN = 100

// Config tunes a ReadBack.
type Config struct {
	// Interval between refreshes.
	Interval time.Duration
	// Timeout bounds one refresh; 0 means max(Interval, 30s).
	Timeout time.Duration
	// BucketSize is the base bucket width of trust_counts (the pipeline's
	// aggregate.Config.BucketSize); data freshness counts from a bucket's end.
	BucketSize time.Duration
	// Breakdown is "" (off) or one of BreakdownDimensions.
	Breakdown string
	// TopN is the number of breakdown values with their own series per
	// window, 1..MaxTopN; also of campaigns and sending domains with
	// attributed series of their own.
	TopN int
	// Index configures the Trust Index; zero value: indicator.DefaultIndexConfig().
	Index indicator.IndexConfig
	// Divergence configures DetectDivergence; zero value:
	// indicator.DefaultDivergenceConfig(). Its Index is always replaced by
	// Index, so the exported index and the divergence check agree.
	Divergence indicator.DivergenceConfig
	// AccountRule says when an account is in alarm; zero value:
	// indicator.DefaultAccountRule().
	AccountRule indicator.AccountRule
	// TargetAccounts are the pseudonyms of the target accounts counted by
	// trustpipe_accounts_in_alarm{scope="target"}.
	TargetAccounts []string
}

// DefaultConfig returns the defaults: 30 s interval, one-minute buckets, no
// breakdown, top 10, the default Trust Index and divergence settings.
func DefaultConfig() Config {
	return Config{
		Interval:   30 * time.Second,
		BucketSize: time.Minute,
		TopN:       10,
	}
}

// The errors Validate wraps, so a caller can name its own settings.
var (
	ErrInterval   = errors.New("the read-back interval must be positive")
	ErrTimeout    = errors.New("the read-back timeout must not be negative")
	ErrBucketSize = errors.New("the bucket size must be positive")
	ErrBreakdown  = fmt.Errorf("the breakdown must be one of %s, or empty for none", strings.Join(sink.Dimensions(), ", "))
	ErrTopN       = fmt.Errorf("the number of breakdown values with their own series must be from 1 to %d", MaxTopN)
)

// Validate reports every setting New would refuse; each error wraps one of
// the sentinels above (or indicator's) and names the offending value.
func (c Config) Validate() error {
	_, err := c.withDefaults()
	return err
}

// withDefaults fills zero values and validates.
func (c Config) withDefaults() (Config, error) {
	var errs []error
	if c.Interval <= 0 {
		errs = append(errs, fmt.Errorf("%w: got %s", ErrInterval, c.Interval))
	}
	if c.Timeout < 0 {
		errs = append(errs, fmt.Errorf("%w: got %s", ErrTimeout, c.Timeout))
	}
	if c.Timeout == 0 {
		c.Timeout = max(c.Interval, 30*time.Second)
	}
	if c.BucketSize <= 0 {
		errs = append(errs, fmt.Errorf("%w: got %s", ErrBucketSize, c.BucketSize))
	}
	if c.Breakdown != "" && !slices.Contains(BreakdownDimensions(), c.Breakdown) {
		errs = append(errs, fmt.Errorf("%w: got %q", ErrBreakdown, c.Breakdown))
	}
	if c.TopN < 1 || c.TopN > MaxTopN {
		errs = append(errs, fmt.Errorf("%w: got %d", ErrTopN, c.TopN))
	}
	if len(c.Index.Components) == 0 {
		c.Index = indicator.DefaultIndexConfig()
	}
	if err := c.Index.Validate(); err != nil {
		errs = append(errs, err)
	}
	if len(c.Divergence.ClickMetrics) == 0 {
		c.Divergence = indicator.DefaultDivergenceConfig()
	}
	c.Divergence.Index = c.Index
	if c.AccountRule == (indicator.AccountRule{}) {
		c.AccountRule = indicator.DefaultAccountRule()
	}
	if err := c.Divergence.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return c, fmt.Errorf("read-back: %w", err)
	}
	return c, nil
}

// Deps are the ReadBack's collaborators.
type Deps struct {
	// Source runs the read queries: the *sink.Store of the read surface.
	Source Source
	// Registerer receives the read-back metrics.
	Registerer prometheus.Registerer
	// Now is the clock windows end at; tests pass a fixed time. Default
	// time.Now.
	Now func() time.Time
	// Logger; default slog.Default().
	Logger *slog.Logger
}

// ReadBack periodically reads trust indicators from ClickHouse and exports
// them.
type ReadBack struct {
	cfg  Config
	deps Deps
	m    *metrics
	// floors holds, per partition, the lowest ledger block the ledger gap
	// still looks at (see LedgerBlocks); it only moves up.
	floors map[sink.LedgerPartition]int64
}

// New validates cfg, registers the metrics on deps.Registerer and returns a
// ReadBack. No series of the trust gauges exist until the first successful
// refresh.
func New(cfg Config, deps Deps) (*ReadBack, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if deps.Source == nil || deps.Registerer == nil {
		return nil, errors.New("read-back: Source and Registerer are required")
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	m, err := newMetrics(deps.Registerer, minVolumes(cfg.Index), indicator.ComputeIndex(cfg.Index, indicator.Totals{}).Coverage.Configured, len(cfg.TargetAccounts))
	if err != nil {
		return nil, err
	}
	return &ReadBack{cfg: cfg, deps: deps, m: m, floors: map[sink.LedgerPartition]int64{}}, nil
}

// Run refreshes at once and then every Interval until ctx ends; it returns
// nil then. A failed refresh is logged and counted, never returned: a
// ClickHouse outage must not stop the pipeline, and the rules notice the
// growing read-back age.
func (r *ReadBack) Run(ctx context.Context) error {
	t := time.NewTicker(r.cfg.Interval)
	defer t.Stop()
	failing := false
	for {
		err := r.Refresh(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			lvl := slog.LevelWarn
			if !sink.Retryable(err) {
				lvl = slog.LevelError
			}
			r.deps.Logger.Log(ctx, lvl, "read-back of trust gauges failed; keeping the previous values", "err", err, "advice", sink.Advice(err))
			failing = true
		case failing:
			r.deps.Logger.Info("read-back of trust gauges recovered")
			failing = false
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Refresh runs one read-back: it queries ClickHouse, evaluates every window
// and swaps the exported series. On error the previous series stay.
func (r *ReadBack) Refresh(parent context.Context) error {
	start := r.deps.Now()
	ctx, cancel := context.WithTimeout(parent, r.cfg.Timeout)
	defer cancel()
	snap, err := r.read(ctx, start.Truncate(time.Second))
	end := r.deps.Now()
	if err != nil {
		if parent.Err() == nil { // shutting down is not a read-back failure
			r.m.duration.Observe(max(end.Sub(start).Seconds(), 0))
			r.m.errors.Inc()
		}
		return err
	}
	r.m.duration.Observe(max(end.Sub(start).Seconds(), 0))
	r.m.trust.set(snap)
	r.m.success.Set(float64(end.UnixNano()) / 1e9)
	return nil
}

// read queries and evaluates everything for one refresh at now.
func (r *ReadBack) read(ctx context.Context, now time.Time) ([]prometheus.Metric, error) {
	plan := newPlan(now, indicator.Windows())
	segs, newest, err := r.querySegments(ctx, plan)
	if err != nil {
		return nil, err
	}
	gap, err := r.queryLedgerGap(ctx)
	if err != nil {
		return nil, err
	}
	b := r.m.trust.builder()
	for i, w := range plan.windows {
		cur, base := plan.totals(segs, w.cur), plan.totals(segs, w.base)
		if err := r.evaluate(b, w.name, "", cur, base); err != nil {
			return nil, err
		}
		secs := func(p period) time.Duration { return time.Duration(p.hi-p.lo) * time.Second }
		if g := indicator.DirectTrafficGrowth(cur, base, secs(w.cur), secs(w.base)); g != nil {
			if err := b.add(r.m.trust.directGrowth, *g, w.name); err != nil {
				return nil, err
			}
		}
		if r.cfg.Breakdown == "" {
			continue
		}
		groups, err := r.queryBreakdown(ctx, plan.windows[i], cur, base)
		if err != nil {
			return nil, err
		}
		for _, g := range groups {
			if err := r.evaluate(b, w.name, g.value, g.cur, g.base); err != nil {
				return nil, err
			}
		}
	}
	if err := r.readAttributed(ctx, b, now); err != nil {
		return nil, err
	}
	if err := r.readAudience(ctx, b, plan, segs); err != nil {
		return nil, err
	}
	if err := r.readAccounts(ctx, b, now); err != nil {
		return nil, err
	}
	if newest > 0 {
		bucketEnd := time.Unix(newest, 0).Add(r.cfg.BucketSize)
		if err := b.add(r.m.trust.freshness, max(now.Sub(bucketEnd).Seconds(), 0)); err != nil {
			return nil, err
		}
	}
	if err := b.add(r.m.trust.ledgerGap, float64(gap)); err != nil {
		return nil, err
	}
	return b.metrics, nil
}

// evaluate adds one group's series: dimValue "" is the aggregate (no
// dimension_value label).
func (r *ReadBack) evaluate(b *builder, window, dimValue string, cur, base indicator.Totals) error {
	d := r.m.trust
	lv := func(vals ...string) []string {
		if dimValue != "" {
			vals = append(vals, dimValue)
		}
		return vals
	}
	byDim := dimValue != ""
	for _, def := range indicator.All() {
		v, bv := def.Evaluate(cur), def.Evaluate(base)
		if err := b.add(d.volume.pick(byDim), v.Denominator, lv(def.Name, window)...); err != nil {
			return err
		}
		if v.Value != nil {
			if err := b.add(d.indicator.pick(byDim), *v.Value, lv(def.Name, window)...); err != nil {
				return err
			}
		}
		if bv.Value != nil {
			if err := b.add(d.baseline.pick(byDim), *bv.Value, lv(def.Name, window)...); err != nil {
				return err
			}
		}
	}
	if idx := indicator.ComputeIndex(r.cfg.Index, cur); idx.Value != nil {
		if err := b.add(d.index.pick(byDim), *idx.Value, lv(window)...); err != nil {
			return err
		}
		if err := b.add(d.coverage.pick(byDim), idx.Coverage.WeightShare, lv(window)...); err != nil {
			return err
		}
		if err := b.add(d.componentsUsed.pick(byDim), float64(idx.Coverage.Used), lv(window)...); err != nil {
			return err
		}
	}
	if idx := indicator.ComputeIndex(r.cfg.Index, base); idx.Value != nil {
		if err := b.add(d.indexBaseline.pick(byDim), *idx.Value, lv(window)...); err != nil {
			return err
		}
	}
	if dv := indicator.DetectDivergence(r.cfg.Divergence, base, cur); dv.IndexDrop != nil {
		flag := 0.0
		if dv.Flag {
			flag = 1
		}
		if err := b.add(d.divergence.pick(byDim), flag, lv(window)...); err != nil {
			return err
		}
	}
	return nil
}

// minVolumes returns the effective minimum volume of every indicator: the
// Trust Index component's override when it sets one, else the definition's.
func minVolumes(idx indicator.IndexConfig) map[string]float64 {
	out := map[string]float64{}
	for _, d := range indicator.All() {
		out[d.Name] = d.MinVolume
	}
	for _, c := range idx.Components {
		if c.MinVolume != nil {
			if _, ok := out[c.Indicator]; ok {
				out[c.Indicator] = *c.MinVolume
			}
		}
	}
	return out
}

// SeriesBound is the most samples the read-back ever exports, whatever the
// data: with W windows, I indicators, G = 1 + (TopN + 1) groups per window
// with a breakdown (1 without), H histogram buckets, WA attribution windows
// and A attributed indicators,
//
//	W·G·(3·I + 5)  indicator, baseline and volume per indicator; trust
//	               index, its baseline, divergence, coverage and components
//	               used per group
//	+ W            direct-traffic growth (aggregate only)
//	+ I + 1        trustpipe_indicator_min_volume, components configured
//	+ 2            data freshness, ledger gap
//	+ 4            accounts in alarm (all, target), active, targets configured
//	+ 2            read-back success timestamp, errors
//	+ H + 3        read-back duration histogram (H buckets, +Inf, sum, count)
//	+ WA·(3·A + 2·A·TopN + 2·TopN + 2·(TopN + 1))
//	               attributed: program rate, volume and baseline; rate and
//	               volume per top campaign; complaint rate and volume per
//	               mailbox provider and per top sending domain + "other"
//	+ 2·S + 2·C + 1
//	               audience: value and baseline of S signals, C counts in
//	               both weeks, the shrinking-audience flag
//
// For the defaults (W = 4, I = 25, H = 12, WA = 2, A = 13, TopN = 10,
// S = 3, C = 5) that is 4·1·80 + 4 + 26 + 4 + 4 + 15 + 2·(39 + 260 + 20 +
// 22) + 17 = 1072 without a breakdown and 4·12·80 + 4 + 49 + 682 + 17 =
// 4592 with one.
func SeriesBound(cfg Config) int {
	w, i := len(indicator.Windows()), len(indicator.All())
	g := 1
	if cfg.Breakdown != "" {
		g += cfg.TopN + 1
	}
	return w*g*(3*i+5) + w + i + 1 + 2 + 4 + 2 + len(durationBuckets) + 3 + AttributedSeriesBound(cfg) + audienceSeries()
}

// AttributedSeriesBound is the attributed part of SeriesBound.
func AttributedSeriesBound(cfg Config) int {
	wa, a, n := len(indicator.AttributionWindows()), len(indicator.AttributedDefinitions()), cfg.TopN
	return wa * (3*a + 2*a*n + 2*n + 2*(n+1))
}
