package readback

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"

	"github.com/trustpipe/trustpipe/aggregate/indicator"
	"github.com/trustpipe/trustpipe/aggregate/testkit"
	"github.com/trustpipe/trustpipe/sink"
)

// now is the fixed clock of the unit tests; the read-back truncates it to
// 10:00:30. base is the minute the fixture buckets are placed around.
var (
	now  = time.Date(2026, 11, 1, 10, 0, 30, 500_000_000, time.UTC)
	base = time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	day  = 24 * time.Hour
)

var spring = dims{campaign: "spring", channel: "email", segment: "smb", source: "marketo"}

// fixture: a click trap in the last hour, healthy data before it, and rows
// outside every window (older than 56 days, and in the future) that must
// not count anywhere.
func fixture(d dims) []fakeRow {
	var rows []fakeRow
	rows = append(rows, clickTrap.rows(base.Add(-30*time.Minute), d)...)
	rows = append(rows, good.rows(base.Add(-3*time.Hour), d)...)
	rows = append(rows, good.rows(base.Add(-2*day), d)...)
	rows = append(rows, good.rows(base.Add(-10*day), d)...)
	rows = append(rows, good.rows(base.Add(-40*day), d)...)
	rows = append(rows, clickTrap.scale(100, 1).rows(base.Add(-60*day), d)...)
	rows = append(rows, clickTrap.scale(100, 1).rows(base.Add(2*time.Minute), d)...)
	return rows
}

type harness struct {
	rb    *ReadBack
	reg   *prometheus.Registry
	fake  *fakeSource
	clock time.Time
}

func newHarness(t *testing.T, cfg Config, f *fakeSource) *harness {
	t.Helper()
	h := &harness{reg: prometheus.NewPedanticRegistry(), fake: f, clock: now}
	rb, err := New(cfg, Deps{Source: f, Registerer: h.reg, Now: func() time.Time { return h.clock }})
	if err != nil {
		t.Fatal(err)
	}
	h.rb = rb
	return h
}

func (h *harness) refresh(t *testing.T) {
	t.Helper()
	if err := h.rb.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// exposition returns the text exposition of the named metric families, or
// of all of them without names.
func (h *harness) exposition(t *testing.T, names ...string) string {
	t.Helper()
	mfs, err := h.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	for _, mf := range mfs {
		if len(names) > 0 && !slices.Contains(names, mf.GetName()) {
			continue
		}
		if _, err := expfmt.MetricFamilyToText(&b, mf); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

// checkGolden compares the whole exposition with testdata/name; -update
// rewrites the file.
func checkGolden(t *testing.T, h *harness, name string) {
	t.Helper()
	testkit.Golden(t, filepath.Join("testdata", name), []byte(h.exposition(t)))
}

func TestExpositionGolden(t *testing.T) {
	f := &fakeSource{rows: fixture(spring), ledger: []sink.LedgerBlock{
		blk("trust-events", 0, 0, 9999), blk("trust-events", 0, 10000, 19999), blk("trust-events", 0, 20005, 25000), // 5 missing
		blk("trust-events", 1, 0, 9999), blk("trust-events", 1, 10000, 10400),
	}}
	h := newHarness(t, DefaultConfig(), f)
	h.refresh(t)
	checkGolden(t, h, "default.golden")

	// One scan of trust_counts (all windows and baselines), one of the
	// ledger, one of the cohorts (all attribution windows and baselines),
	// and per attribution window one top-values read per attributed group
	// kind (campaign, provider, domain) — followed by its group read only
	// when it finds values, which the fake's empty cohorts never do.
	// Then the audience: both weeks' contact counts (their ctr comes from
	// the one segment scan).
	want := []string{"SegmentTotals", "LedgerBlocks", "CohortSegmentTotals"}
	for range indicator.AttributionWindows() {
		want = append(want, "CohortTopValues", "CohortTopValues", "CohortTopValues")
	}
	want = append(want, "Audience", "Audience", "AccountHistories")
	if !slices.Equal(f.reads, want) {
		t.Errorf("reads per refresh %v, want %v", f.reads, want)
	}
	out := h.exposition(t)
	for _, want := range []string{
		`trustpipe_divergence{window="1h"} 1`,
		`trustpipe_ledger_gap_offsets 5`,
		// newest bucket 09:30 (the 10:02 one is in the future), ends 09:31,
		// read back at 10:00:30.
		`trustpipe_data_freshness_seconds 1770`,
		`trustpipe_indicator_volume{indicator="unsubscribe_rate",window="1h"} 10000`,
		`trustpipe_indicator_volume{indicator="unsubscribe_rate",window="28d"} 40000`,
		`trustpipe_indicator{indicator="unsubscribe_rate",window="1h"} 0.007`,
		`trustpipe_indicator_baseline{indicator="unsubscribe_rate",window="1h"} 0.002`,
		`trustpipe_readback_success_timestamp_seconds 1.7935272305e+09`,
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("exposition lacks %q", want)
		}
	}
	if strings.Contains(out, "dimension_value") {
		t.Error("aggregate series must not carry a dimension_value label")
	}
}

func TestBreakdownGolden(t *testing.T) {
	var rows []fakeRow
	rows = append(rows, fixture(spring)...)
	fall := dims{campaign: "fall", channel: "email"}
	rows = append(rows, good.scale(1, 2).rows(base.Add(-10*time.Minute), fall)...)
	rows = append(rows, good.scale(1, 2).rows(base.Add(-20*day), fall)...)
	tiny := dims{campaign: "tiny", channel: "web"}
	rows = append(rows, good.scale(1, 100).rows(base.Add(-5*time.Minute), tiny)...)
	// Never a group of their own, whatever their volume: the empty value
	// (it would collide with the aggregate series) and the literal "other".
	rows = append(rows, good.scale(3, 1).rows(base.Add(-15*time.Minute), dims{channel: "email"})...)
	rows = append(rows, good.scale(3, 1).rows(base.Add(-15*time.Minute), dims{campaign: OtherValue, channel: "email"})...)

	cfg := DefaultConfig()
	cfg.Breakdown, cfg.TopN = "campaign_id", 2
	f := &fakeSource{rows: rows}
	h := newHarness(t, cfg, f)
	h.refresh(t)
	checkGolden(t, h, "breakdown.golden")

	out := h.exposition(t, "trustpipe_indicator_volume")
	// 1h: spring 10000 delivered, fall 5000, everything else (tiny 100,
	// unnamed 30000, "other" 30000) in other.
	for _, want := range []string{
		`trustpipe_indicator_volume{dimension_value="spring",indicator="unsubscribe_rate",window="1h"} 10000`,
		`trustpipe_indicator_volume{dimension_value="fall",indicator="unsubscribe_rate",window="1h"} 5000`,
		`trustpipe_indicator_volume{dimension_value="other",indicator="unsubscribe_rate",window="1h"} 60100`,
		`trustpipe_indicator_volume{indicator="unsubscribe_rate",window="1h"} 75100`,
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("exposition lacks %q", want)
		}
	}
	if strings.Contains(out, `dimension_value="tiny"`) || strings.Contains(out, `dimension_value=""`) {
		t.Error("only the top 2 values may have their own series")
	}
}

// TestMissingValuesAreAbsent: an indicator with a zero denominator, an index
// without qualifying components, and divergence without both indices have
// no series — never NaN, never 0 — while volumes are exported as 0.
func TestMissingValuesAreAbsent(t *testing.T) {
	var rows []fakeRow
	for _, r := range good.rows(base.Add(-10*time.Minute), spring) {
		if r.EventType != "web_session" {
			rows = append(rows, r)
		}
	}
	h := newHarness(t, DefaultConfig(), &fakeSource{rows: rows})
	h.refresh(t)
	out := h.exposition(t)
	for line := range strings.SplitSeq(out, "\n") {
		if strings.HasPrefix(line, "trustpipe_") && (strings.HasSuffix(line, " NaN") || strings.HasSuffix(line, "Inf")) {
			t.Errorf("non-finite value: %s", line)
		}
	}
	for _, absent := range []string{
		`trustpipe_indicator{indicator="direct_traffic_share"`,
		`trustpipe_indicator_baseline{`,   // no data before the last hour
		`trustpipe_trust_index_baseline{`, // idem
		`trustpipe_divergence{`,           // needs an index in both periods
		`trustpipe_indicator_baseline{indicator="unsubscribe_rate"`,
	} {
		if strings.Contains(out, absent) {
			t.Errorf("series %s… must be absent", absent)
		}
	}
	for _, present := range []string{
		`trustpipe_indicator_volume{indicator="direct_traffic_share",window="1h"} 0`,
		`trustpipe_indicator{indicator="unsubscribe_rate",window="1h"} 0.002`,
		`trustpipe_trust_index{window="1h"}`,
	} {
		if !strings.Contains(out, present) {
			t.Errorf("exposition lacks %s", present)
		}
	}
}

func TestEmptyDatabase(t *testing.T) {
	h := newHarness(t, DefaultConfig(), &fakeSource{})
	if n := strings.Count(h.exposition(t, "trustpipe_indicator_volume", "trustpipe_ledger_gap_offsets"), "\ntrustpipe_"); n != 0 {
		t.Fatalf("%d trust series before the first refresh, want none", n)
	}
	h.refresh(t)
	checkGolden(t, h, "empty.golden")
}

// TestWindowBoundaries: a window is [now − w, now) by bucket start, its
// baseline [now − w − 28d, now − w).
func TestWindowBoundaries(t *testing.T) {
	at := func(ts time.Time, n uint64) fakeRow {
		return fakeRow{bucket: ts.Unix(), dims: spring, Row: indicator.Row{EventType: "delivered", Events: n}}
	}
	end := now.Truncate(time.Second)
	rows := []fakeRow{
		at(end, 1),                                                // starts at now: not yet in any window
		at(end.Add(-time.Hour), 10),                               // first second of the 1h window
		at(end.Add(-time.Hour-time.Second), 100),                  // last second of the 1h baseline
		at(end.Add(-time.Hour-BaselinePeriod), 1000),              // first second of the 1h baseline
		at(end.Add(-time.Hour-BaselinePeriod-time.Second), 10000), // before it
	}
	h := newHarness(t, DefaultConfig(), &fakeSource{rows: rows})
	h.refresh(t)
	out := h.exposition(t, "trustpipe_indicator_volume")
	if want := `trustpipe_indicator_volume{indicator="unsubscribe_rate",window="1h"} 10` + "\n"; !strings.Contains(out, want) {
		t.Errorf("want %q in\n%s", want, out)
	}
	// The 1h baseline volume shows through the 28d window instead: 28d
	// covers [now−28d, now) = 10 + 100; its baseline starts at now−56d.
	if want := `trustpipe_indicator_volume{indicator="unsubscribe_rate",window="28d"} 110` + "\n"; !strings.Contains(out, want) {
		t.Errorf("want %q in\n%s", want, out)
	}

	// The 1h baseline itself holds 1100 delivered; with 11 unsubscribes at
	// its two edges the baseline rate is exactly 0.01.
	unsub := func(ts time.Time, n uint64) fakeRow {
		r := at(ts, n)
		r.EventType = "unsubscribe"
		return r
	}
	h.fake.rows = append(h.fake.rows, unsub(end.Add(-time.Hour-time.Second), 1), unsub(end.Add(-time.Hour-BaselinePeriod), 10),
		unsub(end.Add(-time.Hour-BaselinePeriod-time.Second), 500))
	h.refresh(t)
	out = h.exposition(t, "trustpipe_indicator_baseline")
	if want := `trustpipe_indicator_baseline{indicator="unsubscribe_rate",window="1h"} 0.01` + "\n"; !strings.Contains(out, want) {
		t.Errorf("want %q in\n%s", want, out)
	}
}

func TestFreshness(t *testing.T) {
	end := now.Truncate(time.Second) // 10:00:30
	for _, tc := range []struct {
		name   string
		newest time.Time
		bucket time.Duration
		want   string
	}{
		{"ten minutes", base.Add(-10 * time.Minute), time.Minute, "trustpipe_data_freshness_seconds 570\n"},
		{"five-minute buckets", base.Add(-10 * time.Minute), 5 * time.Minute, "trustpipe_data_freshness_seconds 330\n"},
		{"current bucket", base, time.Minute, "trustpipe_data_freshness_seconds 0\n"},
		{"55 days", end.Add(-55 * day), time.Minute, "trustpipe_data_freshness_seconds 4.75194e+06\n"},
		{"older than 56 days: absent", end.Add(-57 * day), time.Minute, ""},
		{"only in the future: absent", end.Add(time.Minute), time.Minute, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.BucketSize = tc.bucket
			rows := []fakeRow{{bucket: tc.newest.Unix(), Row: indicator.Row{EventType: "click", Events: 1}}}
			h := newHarness(t, cfg, &fakeSource{rows: rows})
			h.refresh(t)
			if got := h.exposition(t, "trustpipe_data_freshness_seconds"); !strings.HasSuffix(got, tc.want) || (tc.want == "") != (got == "") {
				t.Errorf("got\n%s\nwant suffix %q", got, tc.want)
			}
		})
	}
}

// blk is a ledger block; its number assumes the default block size.
func blk(topic string, partition int32, first, last int64) sink.LedgerBlock {
	return sink.LedgerBlock{LedgerPartition: sink.LedgerPartition{Topic: topic, Partition: partition}, Block: first / 10000, First: first, Last: last}
}

func TestLedgerGap(t *testing.T) {
	for _, tc := range []struct {
		name   string
		blocks []sink.LedgerBlock
		want   int64
	}{
		{"empty", nil, 0},
		{"contiguous", []sink.LedgerBlock{blk("t", 0, 0, 9), blk("t", 0, 10, 19), blk("t", 0, 20, 23)}, 0},
		{"unordered input", []sink.LedgerBlock{blk("t", 0, 20, 29), blk("t", 0, 0, 9), blk("t", 0, 10, 14)}, 5},
		{"partial first block is not a gap", []sink.LedgerBlock{blk("t", 0, 7, 9), blk("t", 0, 10, 19)}, 0},
		{"missing block", []sink.LedgerBlock{blk("t", 0, 0, 9), blk("t", 0, 20, 29)}, 10},
		{"summed over partitions and topics", []sink.LedgerBlock{
			blk("t", 0, 0, 9), blk("t", 0, 12, 19), blk("t", 1, 0, 9), blk("t", 1, 13, 19), blk("u", 0, 0, 9), blk("u", 0, 11, 19),
		}, 2 + 3 + 1},
		{"same offsets in another partition are no gap", []sink.LedgerBlock{blk("t", 0, 0, 9), blk("t", 1, 10, 19)}, 0},
		{"overlap from a changed block size", []sink.LedgerBlock{blk("t", 0, 0, 9999), blk("t", 0, 3000, 5999), blk("t", 0, 10000, 10010)}, 0},
		{"hole after an overlap", []sink.LedgerBlock{blk("t", 0, 0, 9999), blk("t", 0, 3000, 5999), blk("t", 0, 10002, 10010)}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ledgerGap(tc.blocks); got != tc.want {
				t.Errorf("ledgerGap = %d, want %d", got, tc.want)
			}
		})
	}
}

// TestFailedRefreshKeepsValues: a failing ClickHouse leaves the previous
// series, counts the error and does not move the success timestamp.
func TestFailedRefreshKeepsValues(t *testing.T) {
	f := &fakeSource{rows: fixture(spring)}
	h := newHarness(t, DefaultConfig(), f)
	h.refresh(t)
	names := []string{"trustpipe_indicator", "trustpipe_trust_index", "trustpipe_readback_success_timestamp_seconds", "trustpipe_data_freshness_seconds"}
	before := h.exposition(t, names...)

	h.clock = now.Add(time.Minute)
	f.err = errors.New("connection refused")
	err := h.rb.Refresh(context.Background())
	if err == nil || !strings.Contains(err.Error(), "read-back: connection refused") {
		t.Fatalf("Refresh error = %v, want it wrapped", err)
	}
	if after := h.exposition(t, names...); after != before {
		t.Errorf("series changed after a failed refresh:\n%s\nwant\n%s", after, before)
	}
	if got := testutil.ToFloat64(h.rb.m.errors); got != 1 {
		t.Errorf("errors = %v, want 1", got)
	}

	// Shutting down is not a failure.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = h.rb.Refresh(ctx)
	if got := testutil.ToFloat64(h.rb.m.errors); got != 1 {
		t.Errorf("errors after a cancelled refresh = %v, want 1", got)
	}
}

func TestRunRefreshesUntilCancelled(t *testing.T) {
	f := &fakeSource{rows: fixture(spring)}
	cfg := DefaultConfig()
	cfg.Interval = 10 * time.Millisecond
	h := newHarness(t, cfg, f)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.rb.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		f.mu.Lock()
		n := len(f.reads)
		f.mu.Unlock()
		if n >= 6 { // three refreshes
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Run did not refresh repeatedly")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v, want nil after cancel", err)
	}
	if !strings.Contains(h.exposition(t, "trustpipe_trust_index"), `trustpipe_trust_index{window="28d"}`) {
		t.Error("no trust index after Run")
	}
}

func TestConfigValidation(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edit  func(*Config)
		want  error
		value string
	}{
		{"interval", func(c *Config) { c.Interval = 0 }, ErrInterval, "got 0s"},
		{"timeout", func(c *Config) { c.Timeout = -time.Second }, ErrTimeout, "got -1s"},
		{"bucket", func(c *Config) { c.BucketSize = 0 }, ErrBucketSize, "got 0s"},
		{"breakdown", func(c *Config) { c.Breakdown = "contact" }, ErrBreakdown, `got "contact"`},
		{"top n", func(c *Config) { c.Breakdown, c.TopN = "channel", 0 }, ErrTopN, "got 0"},
		{"top n cap", func(c *Config) { c.Breakdown, c.TopN = "channel", 101 }, ErrTopN, "got 101"},
		{"index", func(c *Config) {
			c.Index = indicator.IndexConfig{Components: []indicator.Component{{Indicator: "ctr", Weight: 1}}}
		}, nil, "ctr is a click metric"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.edit(&c)
			if err := c.Validate(); err == nil || (tc.want != nil && !errors.Is(err, tc.want)) || !strings.Contains(err.Error(), tc.value) {
				t.Fatalf("Validate error = %v, want %v naming %q", err, tc.want, tc.value)
			}
			_, err := New(c, Deps{Source: &fakeSource{}, Registerer: prometheus.NewRegistry()})
			if err == nil || !strings.Contains(err.Error(), tc.value) {
				t.Fatalf("New error = %v, want it to contain %q", err, tc.value)
			}
		})
	}
	// Top N also bounds the attributed campaigns and domains, so it is
	// checked without a breakdown too.
	c := DefaultConfig()
	c.TopN = 0
	if _, err := New(c, Deps{Source: &fakeSource{}, Registerer: prometheus.NewRegistry()}); !errors.Is(err, ErrTopN) {
		t.Fatalf("New with top N 0 = %v, want a top N error", err)
	}
}

// TestMinVolumeFollowsIndexOverrides: the exported minimum is the one the
// Trust Index uses, so the alert gates and the index agree.
func TestMinVolumeFollowsIndexOverrides(t *testing.T) {
	idx, err := indicator.ParseIndexComponents("complaint_rate:min_volume=5000", indicator.DefaultIndexConfig())
	if err != nil {
		t.Fatal(err)
	}
	c := DefaultConfig()
	c.Index = idx
	h := newHarness(t, c, &fakeSource{})
	out := h.exposition(t, "trustpipe_indicator_min_volume")
	for _, want := range []string{
		`trustpipe_indicator_min_volume{indicator="complaint_rate"} 5000`,
		`trustpipe_indicator_min_volume{indicator="unsubscribe_rate"} 1000`,
		`trustpipe_indicator_min_volume{indicator="ctr"} 100`,
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("exposition lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "\ntrustpipe_indicator_min_volume{"); n != len(indicator.All()) {
		t.Errorf("%d min volume series, want one per indicator (%d)", n, len(indicator.All()))
	}
}

// countSeries counts the trustpipe_ samples of an exposition (a histogram
// counts once per bucket, sum and count, as Prometheus stores it).
func countSeries(t *testing.T, h *harness) int {
	t.Helper()
	n := 0
	for line := range strings.SplitSeq(h.exposition(t), "\n") {
		if strings.HasPrefix(line, "trustpipe_") {
			n++
		}
	}
	return n
}

// TestSeriesBound: the number of trustpipe_ series is bounded by
// SeriesBound — windows × groups × (3 × indicators + 5) + indicators + 9 +
// histogram + the attributed series — whatever the breakdown dimension holds: 100 000 distinct
// campaign ids plus junk (long strings, unicode, empty, invalid UTF-8, the
// reserved "other") give exactly as many series as a handful of campaigns.
func TestSeriesBound(t *testing.T) {
	const topN = 10
	i, w := len(indicator.All()), len(indicator.Windows())
	wa, a := len(indicator.AttributionWindows()), len(indicator.AttributedDefinitions())
	if i != 25 || w != 4 || wa != 2 || a != 13 {
		t.Fatalf("indicators %d, windows %d, attribution windows %d, attributed %d: update the documented bound", i, w, wa, a)
	}
	cfg := DefaultConfig()
	cfg.TopN = topN
	// Attributed: per window 3·13 program + 2·13·10 campaigns + 2·10
	// providers (at most TopN) + 2·11 domains with "other".
	attributed := wa * (3*a + 2*a*topN + 2*topN + 2*(topN+1))
	// Audience: value and baseline of 3 signals, 5 counts in 2 weeks, a flag.
	audience := 2*len(indicator.AudienceSignals()) + 2*5 + 1
	if got, want := SeriesBound(cfg), w*1*(3*i+5)+w+i+9+len(durationBuckets)+3+attributed+audience; got != want || got != 1072 {
		t.Fatalf("SeriesBound without breakdown = %d, want %d = 1072", got, want)
	}
	cfg.Breakdown = "campaign_id"
	bound := SeriesBound(cfg)
	if want := w*(1+topN+1)*(3*i+5) + w + i + 9 + len(durationBuckets) + 3 + attributed + audience; bound != want || bound != 4592 {
		t.Fatalf("SeriesBound = %d, want %d = 4592", bound, want)
	}
	// The fake holds no cohort rows, so the event-time part must reach its
	// bound exactly, beside the program's attributed volumes (always
	// exported, 0 here); the integration test bounds the attributed part.
	bound -= attributed - wa*a
	// Nor contacts: the audience counts (0) are exported, not its signals
	// or flag.
	bound -= audience - 2*5

	// Every group must have data in every window and baseline for the
	// bound to be reached exactly: a bucket in the last hour is in every
	// window, one at now − 28d − 30m in every baseline.
	cur, old := base.Add(-30*time.Minute), base.Add(-28*day-30*time.Minute)
	full := func(d dims, m mix) []fakeRow { return append(m.rows(cur, d), m.rows(old, d)...) }
	load := func(campaigns int) []fakeRow {
		var rows []fakeRow
		// The top campaigns: full profiles, the largest volumes.
		for k := range topN + 3 {
			rows = append(rows, full(dims{campaign: fmt.Sprintf("big-%02d", k), channel: "email"}, good.scale(uint64(20+k), 10))...)
		}
		// Junk with even larger volumes: none of it may get its own series.
		for _, junk := range []string{"", OtherValue, strings.Repeat("x", MaxDimensionValueBytes+1), strings.Repeat("é", 100), "\xff\xfe\xfd", "🎯 ☃"} {
			rows = append(rows, full(dims{campaign: junk, channel: "email"}, good.scale(50, 1))...)
		}
		// The long tail: distinct campaign ids with a few events each.
		for k := range campaigns {
			id := fmt.Sprintf("c-%06d-キャンペーン", k)
			rows = append(rows,
				fakeRow{bucket: cur.Unix(), dims: dims{campaign: id}, Row: indicator.Row{EventType: "delivered", Events: 3}},
				fakeRow{bucket: old.Unix(), dims: dims{campaign: id}, Row: indicator.Row{EventType: "unsubscribe", Events: 1}})
		}
		return rows
	}

	counts := map[int]int{}
	for _, campaigns := range []int{0, 100, 100_000} {
		h := newHarness(t, cfg, &fakeSource{rows: load(campaigns)})
		h.refresh(t)
		out := h.exposition(t)
		if strings.Contains(out, `dimension_value="x`) || strings.Contains(out, `dimension_value="c-`) || strings.Contains(out, `dimension_value=""`) || strings.Contains(out, `dimension_value="éé`) {
			t.Fatalf("junk or tail value got its own series (campaigns=%d)", campaigns)
		}
		counts[campaigns] = countSeries(t, h)
		groups := strings.Count(out, "\ntrustpipe_trust_index{")
		t.Logf("%d distinct campaigns + junk: %d trustpipe_ series (bound %d), %d trust index groups", campaigns, counts[campaigns], bound, groups)
		if counts[campaigns] > bound {
			t.Fatalf("%d series for %d campaigns, above the bound %d", counts[campaigns], campaigns, bound)
		}
	}
	if counts[100_000] != counts[100] || counts[100] != counts[0] {
		t.Fatalf("series count grows with the input: %v", counts)
	}
	if counts[100_000] != bound {
		t.Fatalf("with data in every group %d series, want exactly the bound %d", counts[100_000], bound)
	}
}

// TestAccountGauges: the read-back judges the accounts over the 7 UTC days
// ending today and exports only counts: all, target, active.
func TestAccountGauges(t *testing.T) {
	today := now.UTC().Truncate(24 * time.Hour)
	pulled := func(account string, contacts ...string) indicator.AccountHistory {
		return indicator.AccountHistory{Account: account, Days: []indicator.AccountDay{
			{Day: today.AddDate(0, 0, -6), Unsubscribes: 1, PullbackContacts: contacts[:1]},
			{Day: today, Complaints: uint64(len(contacts) - 1), PullbackContacts: contacts[1:]},
		}}
	}
	f := &fakeSource{accounts: []indicator.AccountHistory{
		pulled("a1", "c1", "c2"), pulled("a2", "c3", "c4", "c5"), pulled("a3", "c6"),
		{Account: "a4", Days: []indicator.AccountDay{{Day: today.AddDate(0, 0, -7), Delivered: 9}}}, // before the span
	}}
	cfg := DefaultConfig()
	cfg.TargetAccounts = []string{"a2", "a3", "never-seen"}
	h := newHarness(t, cfg, f)
	h.refresh(t)
	if f.accountDays != [2]time.Time{today.AddDate(0, 0, -6), today} {
		t.Errorf("accounts read for %v, want the 7 days ending %s", f.accountDays, today)
	}
	got := h.exposition(t, "trustpipe_accounts_in_alarm", "trustpipe_accounts_active", "trustpipe_target_accounts")
	for _, want := range []string{
		`trustpipe_accounts_in_alarm{scope="all"} 2`,
		`trustpipe_accounts_in_alarm{scope="target"} 1`,
		`trustpipe_accounts_active 3`,
		`trustpipe_target_accounts 3`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("exposition lacks %s:\n%s", want, got)
		}
	}
	if strings.Contains(got, "a1") || strings.Contains(got, "a2") {
		t.Errorf("an account appears in the exposition:\n%s", got)
	}
}
