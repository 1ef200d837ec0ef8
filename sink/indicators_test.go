package sink_test

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/trustpipe/trustpipe/aggregate"
	"github.com/trustpipe/trustpipe/aggregate/event"
	"github.com/trustpipe/trustpipe/aggregate/indicator"
	"github.com/trustpipe/trustpipe/sink"
	"github.com/trustpipe/trustpipe/sink/sinktest"
)

// Unit checks of the generated SQL: every formula comes from the
// indicator package, the views read only the read surface, and the SQL
// avoids what ClickHouse 18.16 lacks.
func TestIndicatorViewsSQL(t *testing.T) {
	views := sink.IndicatorViews()
	var names []string
	for _, v := range views {
		names = append(names, v.Name)
	}
	want := []string{"trust_indicators_hourly", "trust_indicators_daily", "trust_indicator_series",
		"trust_indicators_window", "consent_migration_daily", "engaged_reach_daily", "engaged_reach_total_daily",
		"trust_attributed_hourly", "trust_attributed_daily", "email_complaints_daily", "unique_engagement_daily", sink.ViewAudienceDaily}
	if !slices.Equal(names, want) {
		t.Fatalf("views %v, want %v", names, want)
	}
	from := regexp.MustCompile(`(?i)\b(FROM|JOIN)\s+\{db\}\.(\w+)`)
	for _, v := range views {
		for _, m := range from.FindAllStringSubmatch(v.Query, -1) {
			switch m[2] {
			case "trust_counts", "trust_count_rows", "engaged_contacts", "trust_indicators_hourly", sink.ViewCohortRows, sink.ViewUniqueEngagement, sink.ViewContactClicks:
			default:
				t.Errorf("%s reads %s: views must read only the read surface", v.Name, m[2])
			}
		}
		if !from.MatchString(v.Query) {
			t.Errorf("%s reads nothing in {db}", v.Name)
		}
		for _, banned := range []string{"toStartOfInterval", "LowCardinality", "DateTime64", "_blocks"} {
			if strings.Contains(v.Query, banned) {
				t.Errorf("%s uses %s", v.Name, banned)
			}
		}
	}
	// Every numerator and denominator is the indicator package's rendering.
	for _, name := range []string{sink.ViewIndicatorsHourly, sink.ViewIndicatorsDaily, sink.ViewIndicatorsWindow} {
		q := views[slices.Index(names, name)].Query
		for _, d := range indicator.All() {
			for _, part := range []string{d.NumeratorSQL() + " AS " + d.Name + "_num", d.DenominatorSQL() + " AS " + d.Name + "_den"} {
				if !strings.Contains(q, part) {
					t.Errorf("%s lacks %q", name, part)
				}
			}
		}
	}
}

// base is a day far enough back to be outside every rolling window.
func baseDay() time.Time {
	return time.Now().UTC().AddDate(0, 0, -60).Truncate(24 * time.Hour)
}

type dims struct{ campaign, channel, segment, source string }

var (
	c1 = dims{"c1", "email", "s1", "marketo"}
	c2 = dims{"c2", "sms", "s2", "hubspot"}
)

// rowSpec is one trust_counts cell of the hand-computed dataset.
type rowSpec struct {
	at      time.Time
	d       dims
	typ     event.Type
	detail  string
	pers    string
	tier    uint8
	events  uint64
	nanos   int64
	version int64
}

func handDataset(day time.Time) []rowSpec {
	h10, h11 := day.Add(10*time.Hour), day.Add(11*time.Hour+30*time.Minute)
	return []rowSpec{
		{at: h10, d: c1, typ: event.Delivered, events: 1000},
		{at: h10, d: c1, typ: event.Unsubscribe, events: 3},
		{at: h10, d: c1, typ: event.Complaint, events: 1},
		{at: h10, d: c1, typ: event.OptDown, events: 2},
		{at: h10, d: c1, typ: event.Open, events: 300},
		{at: h10, d: c1, typ: event.Open, detail: event.DetailMachine, events: 50},
		{at: h10, d: c1, typ: event.Click, events: 40},
		{at: h10, d: c1, typ: event.FormFill, events: 5},
		{at: h10, d: c1, typ: event.Send, detail: event.DetailExplained, pers: "basic", tier: 1, events: 100},
		{at: h10, d: c1, typ: event.Send, pers: "behavioral", tier: 1, events: 20},
		{at: h10, d: c1, typ: event.Send, pers: "none", tier: 1, events: 880},
		{at: h10, d: c1, typ: event.ConsentChange, detail: "1->2", events: 4},
		{at: h10, d: c1, typ: event.ConsentChange, detail: "2->1", events: 1},
		{at: h10, d: c1, typ: event.Sentiment, events: 3, nanos: 1_500_000_000},
		{at: h10, d: c1, typ: event.Feedback, detail: "too_personal", events: 2},
		{at: h10, d: c1, typ: event.WebSession, detail: "direct", events: 30},
		{at: h10, d: c1, typ: event.WebSession, detail: "organic", events: 70},
		{at: h10, d: c1, typ: event.PreferenceCenterVisit, events: 7},
		{at: h11, d: c1, typ: event.Delivered, events: 500},
		{at: h11, d: c1, typ: event.Unsubscribe, events: 1},
		{at: h11, d: c1, typ: event.Click, events: 10},
		{at: h11, d: c1, typ: event.Open, events: 100},
		{at: h11, d: c1, typ: event.ConsentChange, detail: "3->0", events: 2},
		{at: h10, d: c2, typ: event.Delivered, events: 200},
		{at: h10, d: c2, typ: event.Unsubscribe, events: 2},
		{at: h10.Add(24 * time.Hour), d: c2, typ: event.ConsentChange, detail: "0->3", events: 5},
	}
}

func countRows(specs []rowSpec) []aggregate.CountRow {
	out := make([]aggregate.CountRow, len(specs))
	for i, s := range specs {
		version := s.version
		if version == 0 {
			version = 1
		}
		out[i] = aggregate.CountRow{
			Key: aggregate.Key{Bucket: s.at.Unix(), EventType: s.typ, Detail: s.detail, CampaignID: s.d.campaign,
				Channel: s.d.channel, Segment: s.d.segment, Source: s.d.source, Personalization: s.pers, ConsentTier: s.tier},
			BlockRef: aggregate.BlockRef{Topic: "t", Partition: 0, Block: 0},
			Counts:   aggregate.Counts{Events: s.events, ValueNanos: s.nanos},
			Version:  version,
		}
	}
	return out
}

// cellKey groups trust_counts rows the way the wide views do.
type cellKey struct {
	t string // hour or day, formatted
	d dims
}

// readTotals reads trust_counts and accumulates it per (hour or day,
// dimensions) in Go: the oracle the views are compared with.
func readTotals(t *testing.T, conn driver.Conn, db, timeExpr string) map[cellKey]*indicator.Totals {
	t.Helper()
	rows, err := conn.Query(context.Background(), fmt.Sprintf(`SELECT toString(%s), campaign_id, channel, segment, source,
	event_type, detail, personalization, consent_tier, events, value_sum FROM %s.trust_counts`, timeExpr, db))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[cellKey]*indicator.Totals{}
	for rows.Next() {
		var k cellKey
		var r indicator.Row
		if err := rows.Scan(&k.t, &k.d.campaign, &k.d.channel, &k.d.segment, &k.d.source,
			&r.EventType, &r.Detail, &r.Personalization, &r.ConsentTier, &r.Events, &r.ValueSum); err != nil {
			t.Fatal(err)
		}
		if out[k] == nil {
			out[k] = &indicator.Totals{}
		}
		r.Channel = k.d.channel
		out[k].Add(r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// nd is a numerator and denominator.
type nd struct{ num, den float64 }

// readWide reads a wide view into (cell, indicator) -> (num, den).
func readWide(t *testing.T, conn driver.Conn, db, view, timeCol string) map[cellKey]map[string]nd {
	t.Helper()
	var cols []string
	for _, d := range indicator.All() {
		cols = append(cols, "toFloat64("+d.Name+"_num)", "toFloat64("+d.Name+"_den)")
	}
	rows, err := conn.Query(context.Background(), fmt.Sprintf("SELECT toString(%s), campaign_id, channel, segment, source, %s FROM %s.%s",
		timeCol, strings.Join(cols, ", "), db, view))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[cellKey]map[string]nd{}
	for rows.Next() {
		var k cellKey
		vals := make([]float64, len(cols))
		dest := []any{&k.t, &k.d.campaign, &k.d.channel, &k.d.segment, &k.d.source}
		for i := range vals {
			dest = append(dest, &vals[i])
		}
		if err := rows.Scan(dest...); err != nil {
			t.Fatal(err)
		}
		m := map[string]nd{}
		for i, d := range indicator.All() {
			m[d.Name] = nd{vals[2*i], vals[2*i+1]}
		}
		out[k] = m
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestIndicatorViews loads a small hand-computed dataset and checks every
// view twice: against the Go evaluation (indicator.Evaluate over Totals read
// from trust_counts) and against values computed by hand.
func TestIndicatorViews(t *testing.T) {
	st, cfg := sinktest.Open(t, sink.IndicatorViews())
	ctx := context.Background()
	conn, db := st.Conn(), cfg.Database
	day := baseDay()
	specs := handDataset(day)
	// A stale, lower-version copy of one cell must be replaced, not added:
	// the views sit on the read surface, which resolves versions.
	stale := rowSpec{at: day.Add(10 * time.Hour), d: c1, typ: event.Delivered, events: 999999, version: 0}
	if err := st.Write(ctx, &aggregate.Snapshot{Counts: countRows([]rowSpec{stale})}); err != nil {
		t.Fatal(err)
	}
	for i := range specs {
		specs[i].version = 5
	}
	if err := st.Write(ctx, &aggregate.Snapshot{Counts: countRows(specs)}); err != nil {
		t.Fatal(err)
	}
	d0 := day.Unix()
	contact := func(d int64, dm dims, c string) aggregate.ContactRow {
		return aggregate.ContactRow{Day: d, CampaignID: dm.campaign, Channel: dm.channel, Segment: dm.segment, Source: dm.source, Contact: c}
	}
	contacts := []aggregate.ContactRow{
		contact(d0, c1, "a"), contact(d0, c1, "b"), contact(d0, c1, "c"), contact(d0, c1, "a"), // duplicate write
		contact(d0, c2, "a"), contact(d0, c2, "d"),
		contact(d0+86400, c1, "a"),
	}
	if err := st.Write(ctx, &aggregate.Snapshot{Contacts: contacts}); err != nil {
		t.Fatal(err)
	}

	// 1. Wide views equal the Go evaluation of the same cells.
	for _, v := range []struct{ view, timeCol, timeExpr string }{
		{sink.ViewIndicatorsHourly, "hour", "toStartOfHour(bucket)"},
		{sink.ViewIndicatorsDaily, "day", "toDate(bucket)"},
	} {
		oracle := readTotals(t, conn, db, v.timeExpr)
		got := readWide(t, conn, db, v.view, v.timeCol)
		if len(got) != len(oracle) || len(got) == 0 {
			t.Fatalf("%s: %d cells, trust_counts has %d", v.view, len(got), len(oracle))
		}
		for k, tot := range oracle {
			for _, d := range indicator.All() {
				want := d.Evaluate(*tot)
				if g := got[k][d.Name]; g.num != want.Numerator || g.den != want.Denominator {
					t.Errorf("%s %v %s: view %v/%v, Go %v/%v", v.view, k, d.Name, g.num, g.den, want.Numerator, want.Denominator)
				}
			}
		}
	}

	// 2. Hand-computed cells.
	hourly := readWide(t, conn, db, sink.ViewIndicatorsHourly, "hour")
	daily := readWide(t, conn, db, sink.ViewIndicatorsDaily, "day")
	h10 := cellKey{day.Add(10 * time.Hour).Format("2006-01-02 15:04:05"), c1}
	h11 := cellKey{day.Add(11 * time.Hour).Format("2006-01-02 15:04:05"), c1}
	dc1 := cellKey{day.Format("2006-01-02"), c1}
	dc2 := cellKey{day.Format("2006-01-02"), c2}
	hand := []struct {
		cell cellKey
		name string
		want nd
	}{
		{h10, indicator.UnsubscribeRate, nd{3, 1000}},
		{h11, indicator.UnsubscribeRate, nd{1, 500}},
		{dc1, indicator.UnsubscribeRate, nd{4, 1500}},
		{dc2, indicator.UnsubscribeRate, nd{2, 200}},
		{h10, indicator.ComplaintRate, nd{1, 1000}},
		{dc2, indicator.ComplaintRate, nd{0, 0}}, // SMS: no email deliveries
		{h10, indicator.OptDownShare, nd{2, 5}},
		{h10, indicator.PreferenceCenterRate, nd{7, 1000}},
		{h10, indicator.DirectTrafficShare, nd{30, 100}},
		{h10, indicator.SentimentAvg, nd{1.5, 3}},
		{h10, indicator.ConsentMomentum, nd{4 - 1, 5}},
		{dc1, indicator.ConsentMomentum, nd{4 - 1, 5}}, // 3->0 is a move into "unknown": neither
		{h10, indicator.TooPersonalRate, nd{2, 1000}},
		{h10, indicator.ExplainedPersonalizationShare, nd{100, 120}},
		{h10, indicator.ConsentCoverage, nd{100, 120}},
		{h10, indicator.OpenRate, nd{300, 1000}},
		{dc1, indicator.OpenRate, nd{400, 1500}},
		{h10, indicator.CTR, nd{40, 1000}},
		{h10, indicator.ClickToOpen, nd{40, 300}},
		{dc1, indicator.ClickToOpen, nd{50, 400}},
		{h10, indicator.FormFillRate, nd{5, 1000}},
		{h11, indicator.SentimentAvg, nd{0, 0}},
	}
	for _, h := range hand {
		src := hourly
		if len(h.cell.t) == len("2006-01-02") {
			src = daily
		}
		if g := src[h.cell][h.name]; g != h.want {
			t.Errorf("%v %s = %v, want %v (hand-computed)", h.cell, h.name, g, h.want)
		}
	}
	// Re-aggregation stays exact: sum(num)/sum(den) over both campaigns.
	var num, den float64
	if err := conn.QueryRow(ctx, fmt.Sprintf("SELECT toFloat64(sum(unsubscribe_rate_num)), toFloat64(sum(unsubscribe_rate_den)) FROM %s.trust_indicators_daily WHERE day = toDate(?)", db),
		day.Format("2006-01-02")).Scan(&num, &den); err != nil {
		t.Fatal(err)
	}
	if num != 6 || den != 1700 {
		t.Errorf("day unsubscribe_rate over all campaigns = %v/%v, want 6/1700", num, den)
	}

	// 3. The long series equals the wide hourly view, one row per indicator.
	rows, err := conn.Query(ctx, fmt.Sprintf("SELECT toString(hour), campaign_id, channel, segment, source, indicator, numerator, denominator FROM %s.trust_indicator_series", db))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rows.Next() {
		var k cellKey
		var name string
		var v nd
		if err := rows.Scan(&k.t, &k.d.campaign, &k.d.channel, &k.d.segment, &k.d.source, &name, &v.num, &v.den); err != nil {
			t.Fatal(err)
		}
		if hourly[k][name] != v {
			t.Errorf("series %v %s = %v, hourly view %v", k, name, v, hourly[k][name])
		}
		n++
	}
	rows.Close()
	if want := len(hourly) * len(indicator.All()); n != want {
		t.Errorf("series has %d rows, want %d", n, want)
	}

	// 4. Consent migration by hand.
	rows, err = conn.Query(ctx, fmt.Sprintf("SELECT toString(day), from_tier, to_tier, events FROM %s.consent_migration_daily ORDER BY day, from_tier, to_tier", db))
	if err != nil {
		t.Fatal(err)
	}
	var mig []string
	for rows.Next() {
		var d string
		var from, to uint8
		var ev uint64
		if err := rows.Scan(&d, &from, &to, &ev); err != nil {
			t.Fatal(err)
		}
		mig = append(mig, fmt.Sprintf("%s %d->%d %d", d, from, to, ev))
	}
	rows.Close()
	d1, d2 := day.Format("2006-01-02"), day.AddDate(0, 0, 1).Format("2006-01-02")
	if want := []string{d1 + " 1->2 4", d1 + " 2->1 1", d1 + " 3->0 2", d2 + " 0->3 5"}; !slices.Equal(mig, want) {
		t.Errorf("consent_migration_daily = %v, want %v", mig, want)
	}

	// 5. Engaged reach: per combination, and the exact daily total (which
	// is not the sum of the per-combination counts: contact a is in both).
	reach := func(q string) []string {
		rows, err := conn.Query(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var d, c string
			var n uint64
			if err := rows.Scan(&d, &c, &n); err != nil {
				t.Fatal(err)
			}
			out = append(out, fmt.Sprintf("%s %s %d", d, c, n))
		}
		return out
	}
	if got, want := reach(fmt.Sprintf("SELECT toString(day), campaign_id, contacts FROM %s.engaged_reach_daily ORDER BY day, campaign_id", db)),
		[]string{d1 + " c1 3", d1 + " c2 2", d2 + " c1 1"}; !slices.Equal(got, want) {
		t.Errorf("engaged_reach_daily = %v, want %v", got, want)
	}
	if got, want := reach(fmt.Sprintf("SELECT toString(day), '', contacts FROM %s.engaged_reach_total_daily ORDER BY day", db)),
		[]string{d1 + "  4", d2 + "  1"}; !slices.Equal(got, want) {
		t.Errorf("engaged_reach_total_daily = %v, want %v", got, want)
	}
}

// TestIndicatorsWindowView checks the rolling windows ending now: which rows
// each window includes, and that every (window, indicator) pair is present
// with a NULL value when there is no data.
func TestIndicatorsWindowView(t *testing.T) {
	st, cfg := sinktest.Open(t, sink.IndicatorViews())
	ctx := context.Background()
	conn, db := st.Conn(), cfg.Database
	type win struct {
		num, den float64
		value    *float64
	}
	read := func() map[string]map[string]win {
		rows, err := conn.Query(ctx, fmt.Sprintf("SELECT `window`, indicator, numerator, denominator, value FROM %s.trust_indicators_window", db))
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		out := map[string]map[string]win{}
		for rows.Next() {
			var w, name string
			var v win
			if err := rows.Scan(&w, &name, &v.num, &v.den, &v.value); err != nil {
				t.Fatal(err)
			}
			if out[w] == nil {
				out[w] = map[string]win{}
			}
			out[w][name] = v
		}
		return out
	}
	windows := indicator.Windows()
	// Empty database: every pair present, every value NULL.
	empty := read()
	for _, w := range windows {
		if len(empty[w.Name]) != len(indicator.All()) {
			t.Fatalf("empty: window %s has %d indicators", w.Name, len(empty[w.Name]))
		}
		for name, v := range empty[w.Name] {
			if v.value != nil || v.den != 0 {
				t.Errorf("empty: %s %s = %+v", w.Name, name, v)
			}
		}
	}

	now := time.Now().UTC().Truncate(time.Minute)
	ages := []time.Duration{30 * time.Minute, 5 * time.Hour, 3 * 24 * time.Hour, 20 * 24 * time.Hour, 40 * 24 * time.Hour}
	var specs []rowSpec
	for i, age := range ages {
		specs = append(specs,
			rowSpec{at: now.Add(-age), d: c1, typ: event.Delivered, events: uint64(100 * (i + 1))},
			rowSpec{at: now.Add(-age), d: c1, typ: event.Unsubscribe, events: uint64(i + 1)})
	}
	if err := st.Write(ctx, &aggregate.Snapshot{Counts: countRows(specs)}); err != nil {
		t.Fatal(err)
	}
	got := read()
	// Hand-computed: the 1h window holds the first row, 24h the first two,
	// 7d three, 28d four; the 40-day-old row is in none.
	want := map[string]nd{"1h": {1, 100}, "24h": {3, 300}, "7d": {6, 600}, "28d": {10, 1000}}
	for _, w := range windows {
		v := got[w.Name][indicator.UnsubscribeRate]
		if (nd{v.num, v.den}) != want[w.Name] || v.value == nil || *v.value != want[w.Name].num/want[w.Name].den {
			t.Errorf("window %s unsubscribe_rate = %v/%v value %v, want %v", w.Name, v.num, v.den, v.value, want[w.Name])
		}
		if s := got[w.Name][indicator.SentimentAvg]; s.value != nil {
			t.Errorf("window %s sentiment_avg = %v without data, want NULL", w.Name, *s.value)
		}
		if c := got[w.Name][indicator.CTR]; c.value == nil || *c.value != 0 {
			t.Errorf("window %s ctr = %+v, want 0 (no clicks, deliveries present)", w.Name, c)
		}
	}
}

// TestAttributedViews loads send-time cohort rows and unique rows and checks
// the attributed views against hand-computed values.
func TestAttributedViews(t *testing.T) {
	st, cfg := sinktest.Open(t, sink.IndicatorViews())
	ctx := context.Background()
	conn, db := st.Conn(), cfg.Database
	day := baseDay()
	blast, next := day.Add(9*time.Hour), day.Add(33*time.Hour) // next is 09:00 the day after
	cohort := func(at time.Time, bySend bool, typ event.Type, detail, channel, provider, domain string, n uint64, version int64) aggregate.CohortRow {
		return aggregate.CohortRow{
			CohortKey: aggregate.CohortKey{Cohort: at.Unix(), BySendTime: bySend, EventType: typ, Detail: detail,
				CampaignID: "blast", Channel: channel, MailboxProvider: provider, SendingDomain: domain},
			BlockRef: aggregate.BlockRef{Topic: "t", Block: 0}, Events: n, Version: version,
		}
	}
	rows := []aggregate.CohortRow{
		cohort(blast, true, event.Delivered, "", "email", "gmail", "a.example", 6000, 5),
		cohort(blast, true, event.Delivered, "", "email", "yahoo", "a.example", 4000, 5),
		cohort(blast, true, event.Delivered, "", "sms", "", "", 50000, 5),
		cohort(blast, true, event.Complaint, "", "email", "gmail", "a.example", 24, 5),
		cohort(blast, true, event.Complaint, "", "email", "yahoo", "a.example", 2, 5),
		cohort(blast, true, event.Complaint, "", "sms", "", "", 10, 5),
		cohort(blast, true, event.Unsubscribe, "", "email", "", "", 20, 5),
		cohort(next, false, event.Unsubscribe, "", "email", "", "", 5, 5), // no sent_at: its own hour
		cohort(blast, true, event.Click, "", "email", "", "", 300, 5),
		cohort(blast, true, event.Click, event.DetailBot, "email", "", "", 900, 5),
		// A stale, lower version of a cell is replaced, not added.
		cohort(blast, true, event.Unsubscribe, "", "email", "", "", 999, 1),
	}
	if err := st.Write(ctx, &aggregate.Snapshot{Cohorts: rows}); err != nil {
		t.Fatal(err)
	}
	uniq := func(kind, contact string) aggregate.UniqueRow {
		return aggregate.UniqueRow{Day: day.Unix(), CampaignID: "blast", Channel: "email", Kind: kind, Contact: contact}
	}
	uniques := []aggregate.UniqueRow{
		uniq("delivered", "a"), uniq("delivered", "b"), uniq("delivered", "c"), uniq("delivered", "d"),
		uniq("open", "a"), uniq("open", "b"), uniq("open", "a"), // a repeat open counts once
		uniq("open", "x"), // an opener without a delivery in the cohort: an opener, not a unique open
		uniq("click", "b"),
	}
	if err := st.Write(ctx, &aggregate.Snapshot{Uniques: uniques}); err != nil {
		t.Fatal(err)
	}
	query := func(q string, dest ...any) {
		t.Helper()
		if err := conn.QueryRow(ctx, fmt.Sprintf(q, db)).Scan(dest...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	var num, den float64
	// Campaign attribution: every unsubscribe of the campaign over its
	// deliveries, whatever hour it arrived in: (20 + 5) / 60000.
	query("SELECT toFloat64(sum(unsubscribe_rate_num)), toFloat64(sum(unsubscribe_rate_den)) FROM %s.trust_attributed_daily WHERE campaign_id = 'blast'", &num, &den)
	if num != 25 || den != 60000 {
		t.Errorf("campaign unsubscribe rate = %v/%v, want 25/60000", num, den)
	}
	// The blast's own cohort by send time: 20 / 60000.
	query("SELECT toFloat64(sum(unsubscribe_rate_num)), toFloat64(sum(unsubscribe_rate_den)) FROM %s.trust_attributed_hourly WHERE by_send_time = 1 AND cohort_hour = toDateTime("+fmt.Sprint(blast.Unix())+")", &num, &den)
	if num != 20 || den != 60000 {
		t.Errorf("blast cohort unsubscribe rate = %v/%v, want 20/60000", num, den)
	}
	// Email complaints over email deliveries: 26 / 10000 (the SMS side is out).
	query("SELECT toFloat64(sum(complaint_rate_num)), toFloat64(sum(complaint_rate_den)) FROM %s.trust_attributed_daily", &num, &den)
	if num != 26 || den != 10000 {
		t.Errorf("complaint rate = %v/%v, want 26/10000", num, den)
	}
	// CTR leaves bot clicks out: 300 / 60000.
	query("SELECT toFloat64(sum(ctr_num)), toFloat64(sum(ctr_den)) FROM %s.trust_attributed_daily", &num, &den)
	if num != 300 || den != 60000 {
		t.Errorf("ctr = %v/%v, want 300/60000", num, den)
	}
	// Per mailbox provider: gmail 24/6000 = 0.4 %, yahoo 2/4000.
	got := map[string]nd{}
	r, err := conn.Query(ctx, fmt.Sprintf("SELECT mailbox_provider, sending_domain, toFloat64(complaint_rate_num), toFloat64(complaint_rate_den) FROM %s.email_complaints_daily", db))
	if err != nil {
		t.Fatal(err)
	}
	for r.Next() {
		var p, d string
		var v nd
		if err := r.Scan(&p, &d, &v.num, &v.den); err != nil {
			t.Fatal(err)
		}
		got[p+"/"+d] = v
	}
	r.Close()
	if want := map[string]nd{"gmail/a.example": {24, 6000}, "yahoo/a.example": {2, 4000}, "/": {0, 0}}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("email_complaints_daily = %v, want %v", got, want)
	}
	// Unique engagement: 4 recipients, 3 openers (a, b, x), 2 of them
	// recipients; 1 clicker.
	var recipients, openers, clickers, uopens, uclicks uint64
	query("SELECT recipients, openers, clickers, unique_opens, unique_clicks FROM %s.unique_engagement_daily WHERE campaign_id = 'blast'",
		&recipients, &openers, &clickers, &uopens, &uclicks)
	if recipients != 4 || openers != 3 || clickers != 1 || uopens != 2 || uclicks != 1 {
		t.Errorf("unique engagement = %d recipients, %d openers, %d clickers, %d unique opens, %d unique clicks; want 4, 3, 1, 2, 1",
			recipients, openers, clickers, uopens, uclicks)
	}
}
