package readback_test

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/trustpipe/trustpipe/aggregate"
	"github.com/trustpipe/trustpipe/aggregate/event"
	"github.com/trustpipe/trustpipe/sink"
	"github.com/trustpipe/trustpipe/sink/readback"
	"github.com/trustpipe/trustpipe/sink/sinktest"
)

// The integration tests run the read-back's SQL on a real ClickHouse (18.16
// in CI; TRUSTPIPE_TEST_CLICKHOUSE_ADDR) over rows written with Store.Write,
// and compare the exported gauges with values computed by hand.

var (
	itNow  = time.Date(2026, 11, 1, 10, 0, 30, 0, time.UTC)
	itBase = time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
)

// rowWriter builds count rows, each in a block of its own unless told
// otherwise, so that replacement only happens where a test wants it.
type rowWriter struct {
	rows  []aggregate.CountRow
	block int64
}

func (w *rowWriter) add(at time.Time, typ event.Type, campaign string, n uint64) *aggregate.CountRow {
	w.block++
	w.rows = append(w.rows, aggregate.CountRow{
		Key:      aggregate.Key{Bucket: at.Unix(), EventType: typ, CampaignID: campaign, Channel: "email"},
		BlockRef: aggregate.BlockRef{Topic: "trust-events", Partition: int32(w.block % 3), Block: w.block},
		Counts:   aggregate.Counts{Events: n},
		Version:  100,
	})
	return &w.rows[len(w.rows)-1]
}

func newReadBack(t *testing.T, st *sink.Store, cfg readback.Config) *prometheus.Registry {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	rb, err := readback.New(cfg, readback.Deps{Source: st, Registerer: reg, Now: func() time.Time { return itNow }})
	if err != nil {
		t.Fatal(err)
	}
	if err := rb.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	return reg
}

// gauge returns the value of the series with exactly these labels.
func gauge(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) (float64, bool) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) != len(labels) {
				continue
			}
			for _, lp := range m.GetLabel() {
				if v, ok := labels[lp.GetName()]; !ok || v != lp.GetValue() {
					continue metrics
				}
			}
			return value(m), true
		}
	}
	return 0, false
}

func value(m *dto.Metric) float64 {
	if m.GetGauge() != nil {
		return m.GetGauge().GetValue()
	}
	return m.GetCounter().GetValue()
}

func expect(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string, want float64) {
	t.Helper()
	got, ok := gauge(t, reg, name, labels)
	if !ok {
		t.Errorf("%s%v is missing", name, labels)
		return
	}
	if math.Abs(got-want) > 1e-9*max(1, math.Abs(want)) {
		t.Errorf("%s%v = %.12g, want %.12g", name, labels, got, want)
	}
}

func expectAbsent(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) {
	t.Helper()
	if v, ok := gauge(t, reg, name, labels); ok {
		t.Errorf("%s%v = %v, want no series", name, labels, v)
	}
}

func iw(indicator, window string) map[string]string {
	return map[string]string{"indicator": indicator, "window": window}
}

func TestIntegrationIndicatorsMatchHandComputed(t *testing.T) {
	st, _ := sinktest.Open(t, nil)
	ctx := context.Background()
	var w rowWriter
	// Last 24h (bucket 08:00): 10 000 delivered in three blocks, one of
	// which was re-flushed (the lower version must not count).
	at := itBase.Add(-2 * time.Hour)
	w.add(at, event.Delivered, "spring", 6000)
	stale := *w.add(at, event.Delivered, "spring", 3000)
	w.add(at, event.Delivered, "fall", 1000)
	w.add(at, event.Unsubscribe, "spring", 30)
	w.add(at, event.Complaint, "spring", 5)
	w.add(at, event.OptDown, "spring", 20)
	w.add(at, event.Sentiment, "spring", 4).ValueNanos = 2_000_000_000 // mean 0.5
	stale.Events, stale.Version = 2999, 50
	w.rows = append(w.rows, stale)
	// The 24h baseline (now − 29d .. now − 24h): three days ago.
	old := itBase.Add(-72 * time.Hour)
	w.add(old, event.Delivered, "spring", 20000)
	w.add(old, event.Unsubscribe, "spring", 20)
	w.add(old, event.Complaint, "spring", 10)
	w.add(old, event.OptDown, "spring", 5)
	// Outside every window and baseline.
	w.add(itBase.Add(-60*24*time.Hour), event.Unsubscribe, "spring", 1_000_000)
	w.add(itBase.Add(time.Hour), event.Unsubscribe, "spring", 1_000_000)

	ref := func(p int32, b int64) aggregate.BlockRef {
		return aggregate.BlockRef{Topic: "trust-events", Partition: p, Block: b}
	}
	ledger := []aggregate.LedgerRow{
		{BlockRef: ref(0, 0), FirstOffset: 0, LastOffset: 9999, Consumed: 10000, Accepted: 10000, Complete: true},
		{BlockRef: ref(0, 1), FirstOffset: 10000, LastOffset: 19999, Consumed: 10000, Accepted: 10000, Complete: true},
		{BlockRef: ref(0, 3), FirstOffset: 30000, LastOffset: 30500, Consumed: 501, Accepted: 501}, // block 2 missing
		{BlockRef: ref(1, 0), FirstOffset: 0, LastOffset: 99, Consumed: 100, Accepted: 100},
	}
	if err := st.Write(ctx, &aggregate.Snapshot{Counts: w.rows, Ledger: ledger}); err != nil {
		t.Fatal(err)
	}
	reg := newReadBack(t, st, readback.DefaultConfig())

	// By hand, 24h window: delivered 6000 + 3000 + 1000 = 10 000.
	expect(t, reg, "trustpipe_indicator_volume", iw("unsubscribe_rate", "24h"), 10000)
	expect(t, reg, "trustpipe_indicator", iw("unsubscribe_rate", "24h"), 30.0/10000)
	expect(t, reg, "trustpipe_indicator", iw("complaint_rate", "24h"), 5.0/10000)
	expect(t, reg, "trustpipe_indicator", iw("opt_down_share", "24h"), 20.0/50)
	expect(t, reg, "trustpipe_indicator", iw("sentiment_avg", "24h"), 0.5)
	expect(t, reg, "trustpipe_indicator", iw("preference_center_rate", "24h"), 0)
	expectAbsent(t, reg, "trustpipe_indicator", iw("direct_traffic_share", "24h"))
	expect(t, reg, "trustpipe_indicator_volume", iw("direct_traffic_share", "24h"), 0)
	expect(t, reg, "trustpipe_indicator_baseline", iw("unsubscribe_rate", "24h"), 20.0/20000)
	expect(t, reg, "trustpipe_indicator_min_volume", map[string]string{"indicator": "unsubscribe_rate"}, 1000)

	// Trust Index, 24h. Components with data and enough volume, scored
	// linearly between bad (0) and good (100) and clamped:
	//   complaint_rate   0.0005 ≤ good 0.001            -> 100, weight 3
	//   unsubscribe_rate 0.003, good 0.002, bad 0.008  -> 100·5/6, weight 2
	//   opt_down_share   0.4, good 0.5, bad 0.1        -> 75, weight 1
	//   too_personal_rate 0 (delivered ≥ 5000)          -> 100, weight 1
	//   preference_center_rate 0                       -> 0, weight 0.5
	//   too_frequent_rate, not_relevant_rate 0         -> 100, weight 0.5 each
	//   sentiment_avg: 4 scores < minimum 10           -> left out
	// (300 + 500/3 + 75 + 100 + 0 + 100) / 8.5 = 4450/51.
	expect(t, reg, "trustpipe_trust_index", map[string]string{"window": "24h"}, 4450.0/51)
	// Coverage: 7 of 12 components, weight 8.5 of 14.5.
	expect(t, reg, "trustpipe_trust_index_coverage_ratio", map[string]string{"window": "24h"}, 8.5/14.5)
	expect(t, reg, "trustpipe_trust_index_components_used", map[string]string{"window": "24h"}, 7)
	// Baseline: complaint 0.0005 -> 100 (3), unsubscribe 0.001 -> 100 (2),
	// opt-down 5/25 below its minimum 30, too personal 100 (1),
	// preference centre 0 (0.5), too frequent and not relevant 100 (0.5
	// each): 700/7.5 = 280/3.
	expect(t, reg, "trustpipe_trust_index_baseline", map[string]string{"window": "24h"}, 280.0/3)
	// No click metrics, so no divergence — but both indices exist: 0.
	expect(t, reg, "trustpipe_divergence", map[string]string{"window": "24h"}, 0)

	// No direct sessions anywhere: no growth.
	expectAbsent(t, reg, "trustpipe_direct_traffic_growth", map[string]string{"window": "24h"})

	// Nothing in the last hour: volumes 0, no values, no index.
	expect(t, reg, "trustpipe_indicator_volume", iw("unsubscribe_rate", "1h"), 0)
	expectAbsent(t, reg, "trustpipe_indicator", iw("unsubscribe_rate", "1h"))
	expectAbsent(t, reg, "trustpipe_trust_index", map[string]string{"window": "1h"})
	// The 28d window holds both buckets.
	expect(t, reg, "trustpipe_indicator", iw("unsubscribe_rate", "28d"), 50.0/30000)

	// Newest bucket 08:00 ends 08:01; read back at 10:00:30.
	expect(t, reg, "trustpipe_data_freshness_seconds", nil, 7170)
	expect(t, reg, "trustpipe_ledger_gap_offsets", nil, 10000)
	expect(t, reg, "trustpipe_readback_success_timestamp_seconds", nil, float64(itNow.Unix()))
	expect(t, reg, "trustpipe_readback_errors_total", nil, 0)
}

func TestIntegrationBreakdown(t *testing.T) {
	st, _ := sinktest.Open(t, nil)
	ctx := context.Background()
	// A value that needs quoting in the bound array, and is the largest.
	const weird = `o'brien\?x`
	var w rowWriter
	at := itBase.Add(-30 * time.Minute)
	for _, r := range []struct {
		campaign         string
		delivered, unsub uint64
	}{
		{weird, 6000, 6}, {"spring", 3000, 3}, {"fall", 2000, 4}, {"tiny", 10, 1},
		{"", 5000, 0}, {readback.OtherValue, 4000, 0}, // never their own group
	} {
		w.add(at, event.Delivered, r.campaign, r.delivered)
		w.add(at, event.Unsubscribe, r.campaign, r.unsub)
	}
	// Baselines of the 1h window.
	old := itBase.Add(-2 * 24 * time.Hour)
	w.add(old, event.Delivered, "spring", 1000)
	w.add(old, event.Unsubscribe, "spring", 5)
	w.add(old, event.Delivered, "fall", 500)
	w.add(old, event.Unsubscribe, "fall", 1)
	if err := st.Write(ctx, &aggregate.Snapshot{Counts: w.rows}); err != nil {
		t.Fatal(err)
	}
	cfg := readback.DefaultConfig()
	cfg.Breakdown, cfg.TopN = "campaign_id", 2
	reg := newReadBack(t, st, cfg)

	dv := func(v, window string) map[string]string {
		return map[string]string{"indicator": "unsubscribe_rate", "window": window, "dimension_value": v}
	}
	expect(t, reg, "trustpipe_indicator_volume", dv(weird, "1h"), 6000)
	expect(t, reg, "trustpipe_indicator_volume", dv("spring", "1h"), 3000)
	expect(t, reg, "trustpipe_indicator_volume", dv("other", "1h"), 2000+10+5000+4000)
	expect(t, reg, "trustpipe_indicator_volume", iw("unsubscribe_rate", "1h"), 20010)
	expect(t, reg, "trustpipe_indicator", dv("spring", "1h"), 0.001)
	expect(t, reg, "trustpipe_indicator", dv("other", "1h"), 5.0/11010)
	expect(t, reg, "trustpipe_indicator_baseline", dv("spring", "1h"), 0.005)
	expect(t, reg, "trustpipe_indicator_baseline", dv("other", "1h"), 1.0/500)
	expectAbsent(t, reg, "trustpipe_indicator_baseline", dv(weird, "1h"))
	expectAbsent(t, reg, "trustpipe_indicator_volume", dv("fall", "1h"))
	expectAbsent(t, reg, "trustpipe_indicator_volume", dv("", "1h"))
	// 7d: the same top values; the baseline rows are in the window now.
	expect(t, reg, "trustpipe_indicator_volume", dv("spring", "7d"), 4000)
	expect(t, reg, "trustpipe_indicator_volume", dv("other", "7d"), 11510)
}

// TestIntegrationAttributed writes send-time cohort rows and checks the
// attributed gauges against hand-computed values: a healthy blast whose late
// unsubscribes arrive the next day, a bad blast, a campaign without sent_at,
// email complaints beside SMS, and per-provider and per-domain complaints.
func TestIntegrationAttributed(t *testing.T) {
	st, _ := sinktest.Open(t, nil)
	ctx := context.Background()
	var rows []aggregate.CohortRow
	block := int64(0)
	add := func(at time.Time, bySend bool, typ event.Type, campaign, channel, provider, domain string, n uint64) {
		block++
		rows = append(rows, aggregate.CohortRow{
			CohortKey: aggregate.CohortKey{Cohort: at.Truncate(time.Hour).Unix(), BySendTime: bySend, EventType: typ,
				CampaignID: campaign, Channel: channel, MailboxProvider: provider, SendingDomain: domain},
			BlockRef: aggregate.BlockRef{Topic: "trust-events", Block: block}, Events: n, Version: 1,
		})
	}
	// itNow is 10:00:30. Baseline cohorts (3 days ago): 100 000 email
	// deliveries, 200 unsubscribes (0.2 %), 50 complaints.
	old := itBase.Add(-72 * time.Hour)
	add(old, true, event.Delivered, "old", "email", "gmail", "news.example", 100000)
	add(old, true, event.Unsubscribe, "old", "email", "", "", 200)
	add(old, true, event.Complaint, "old", "email", "gmail", "news.example", 50)
	// Healthy blast sent 20 h ago: 50 000 deliveries, 100 unsubscribes so far.
	healthy := itBase.Add(-20 * time.Hour)
	add(healthy, true, event.Delivered, "blast-ok", "email", "gmail", "news.example", 30000)
	add(healthy, true, event.Delivered, "blast-ok", "email", "yahoo", "promo.example", 20000)
	add(healthy, true, event.Unsubscribe, "blast-ok", "email", "", "", 100)
	add(healthy, true, event.Complaint, "blast-ok", "email", "yahoo", "promo.example", 80) // 0.4 % of yahoo
	// Bad blast sent 2 h ago: 10 000 deliveries, 150 unsubscribes (1.5 %).
	bad := itBase.Add(-2 * time.Hour)
	add(bad, true, event.Delivered, "blast-bad", "email", "gmail", "news.example", 10000)
	add(bad, true, event.Unsubscribe, "blast-bad", "email", "", "", 150)
	// A campaign whose producer sends no sent_at: deliveries 30 h ago (out
	// of the 24h cohort window), late unsubscribes in their own hour.
	add(itBase.Add(-30*time.Hour), true, event.Delivered, "no-sent-at", "sms", "", "", 40000)
	add(itBase.Add(-1*time.Hour), false, event.Unsubscribe, "no-sent-at", "sms", "", "", 40)
	add(itBase.Add(-1*time.Hour), true, event.Complaint, "no-sent-at", "sms", "", "", 400) // SMS: not in the complaint rate
	if err := st.Write(ctx, &aggregate.Snapshot{Cohorts: rows}); err != nil {
		t.Fatal(err)
	}
	reg := newReadBack(t, st, readback.DefaultConfig())
	g := func(ind, window, by, group string) map[string]string {
		return map[string]string{"indicator": ind, "window": window, "group_by": by, "group": group}
	}
	// Program, cohorts of the last 24h with sent_at: deliveries 50 000 +
	// 10 000 (the SMS campaign's are 30 h old); unsubscribes 100 + 150 (the
	// SMS follow-up carries no sent_at). 250 / 60 000.
	expect(t, reg, "trustpipe_attributed_volume", g("unsubscribe_rate", "24h", "program", ""), 60000)
	expect(t, reg, "trustpipe_attributed_rate", g("unsubscribe_rate", "24h", "program", ""), 250.0/60000)
	// Email complaints over email deliveries: 80 / 60 000.
	expect(t, reg, "trustpipe_attributed_rate", g("complaint_rate", "24h", "program", ""), 80.0/60000)
	// Baseline of the 24h window: the cohorts of 3 days ago, 200 / 100 000
	// (the 30 h old SMS deliveries are in it too: 200 / 140 000).
	expect(t, reg, "trustpipe_attributed_baseline", iw("unsubscribe_rate", "24h"), 200.0/140000)
	// Campaigns: each over its own deliveries, whatever hour its follow-ups
	// arrived in. blast-bad 1.5 %, blast-ok 0.2 %; no-sent-at has no
	// deliveries in the 24h window, so no campaign series of its own there,
	// but in 7d it has: 40 / 40 000.
	expect(t, reg, "trustpipe_attributed_rate", g("unsubscribe_rate", "24h", "campaign", "blast-bad"), 150.0/10000)
	expect(t, reg, "trustpipe_attributed_rate", g("unsubscribe_rate", "24h", "campaign", "blast-ok"), 100.0/50000)
	expectAbsent(t, reg, "trustpipe_attributed_rate", g("unsubscribe_rate", "24h", "campaign", "no-sent-at"))
	expect(t, reg, "trustpipe_attributed_rate", g("unsubscribe_rate", "7d", "campaign", "no-sent-at"), 40.0/40000)
	// Per provider and domain (24h): yahoo / promo.example 80 / 20 000 =
	// 0.4 %; gmail / news.example 0 / 40 000.
	expect(t, reg, "trustpipe_attributed_rate", g("complaint_rate", "24h", "mailbox_provider", "yahoo"), 80.0/20000)
	expect(t, reg, "trustpipe_attributed_rate", g("complaint_rate", "24h", "mailbox_provider", "gmail"), 0)
	expect(t, reg, "trustpipe_attributed_volume", g("complaint_rate", "24h", "mailbox_provider", "gmail"), 40000)
	expect(t, reg, "trustpipe_attributed_rate", g("complaint_rate", "24h", "sending_domain", "promo.example"), 80.0/20000)
	expect(t, reg, "trustpipe_attributed_volume", g("complaint_rate", "24h", "sending_domain", "other"), 0)
	// The attributed series stay within their part of SeriesBound.
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, mf := range mfs {
		if strings.HasPrefix(mf.GetName(), "trustpipe_attributed_") {
			n += len(mf.GetMetric())
		}
	}
	if bound := readback.AttributedSeriesBound(readback.DefaultConfig()); n == 0 || n > bound {
		t.Errorf("%d attributed series, bound %d", n, bound)
	}
}
