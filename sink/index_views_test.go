package sink_test

import (
	"context"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/trustpipe/trustpipe/aggregate"
	"github.com/trustpipe/trustpipe/aggregate/event"
	"github.com/trustpipe/trustpipe/aggregate/indicator"
	"github.com/trustpipe/trustpipe/aggregate/scenario"
	"github.com/trustpipe/trustpipe/sink"
	"github.com/trustpipe/trustpipe/sink/sinktest"
)

// Unit checks of the generated index SQL: names, columns, read surface only,
// nothing ClickHouse 18.16 lacks.
func TestIndexViewsSQL(t *testing.T) {
	views := sink.IndexViews(indicator.DefaultIndexConfig())
	var names []string
	for _, v := range views {
		names = append(names, v.Name)
	}
	want := []string{"trust_index_hourly", "trust_index_daily", "trust_index_campaign_daily",
		"trust_index_window", "trust_index_window_components", "trust_index_config"}
	if !slices.Equal(names, want) {
		t.Fatalf("views %v, want %v", names, want)
	}
	from := regexp.MustCompile(`(?i)\b(FROM|JOIN)\s+\{db\}\.(\w+)`)
	for _, v := range views {
		for _, m := range from.FindAllStringSubmatch(v.Query, -1) {
			if !strings.HasPrefix(m[2], "trust_indicators_") && !strings.HasPrefix(m[2], "trust_index_") {
				t.Errorf("%s reads %s: index views read only the indicator views", v.Name, m[2])
			}
		}
		for _, banned := range []string{"toStartOfInterval", "LowCardinality", "DateTime64", "_blocks"} {
			if strings.Contains(v.Query, banned) {
				t.Errorf("%s uses %s", v.Name, banned)
			}
		}
	}
	for _, c := range indicator.DefaultIndexConfig().Components {
		for _, suffix := range sink.IndexColumns() {
			if !strings.Contains(views[0].Query, " AS "+c.Indicator+suffix+",") && !strings.HasSuffix(strings.SplitN(views[0].Query, "\nFROM (", 2)[0], " AS "+c.Indicator+suffix) {
				t.Errorf("%s lacks column %s%s", views[0].Name, c.Indicator, suffix)
			}
		}
	}
}

// indexCell is one row of an index view: its key and the Go oracle.
type indexRow struct {
	index *float64
	comps map[string]indexComp
}

type indexComp struct {
	value, score                 *float64
	volume, weight, contribution float64
	included                     uint8
}

// readTotalsBy reads trust_counts grouped by a key expression into Totals.
func readTotalsBy(t *testing.T, conn driver.Conn, db, keyExpr, where string) map[string]*indicator.Totals {
	t.Helper()
	if where == "" {
		where = "1"
	}
	rows, err := conn.Query(context.Background(), fmt.Sprintf(`SELECT %s, event_type, detail, channel, personalization, consent_tier, events, value_sum
FROM %s.trust_counts WHERE %s`, keyExpr, db, where))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]*indicator.Totals{}
	for rows.Next() {
		var k string
		var r indicator.Row
		if err := rows.Scan(&k, &r.EventType, &r.Detail, &r.Channel, &r.Personalization, &r.ConsentTier, &r.Events, &r.ValueSum); err != nil {
			t.Fatal(err)
		}
		if out[k] == nil {
			out[k] = &indicator.Totals{}
		}
		out[k].Add(r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// readIndexView reads a wide index view keyed by keyExpr.
func readIndexView(t *testing.T, conn driver.Conn, db, view, keyExpr string, comps []string) map[string]indexRow {
	t.Helper()
	cols := []string{keyExpr, "trust_index"}
	for _, c := range comps {
		for _, s := range sink.IndexColumns() {
			cols = append(cols, c+s)
		}
	}
	rows, err := conn.Query(context.Background(), fmt.Sprintf("SELECT %s FROM %s.%s", strings.Join(cols, ", "), db, view))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]indexRow{}
	for rows.Next() {
		var k string
		r := indexRow{comps: map[string]indexComp{}}
		vals := make([]indexComp, len(comps))
		dest := []any{&k, &r.index}
		for i := range vals {
			v := &vals[i]
			dest = append(dest, &v.value, &v.volume, &v.included, &v.score, &v.weight, &v.contribution)
		}
		if err := rows.Scan(dest...); err != nil {
			t.Fatal(err)
		}
		for i, c := range comps {
			r.comps[c] = vals[i]
		}
		if _, dup := out[k]; dup {
			t.Fatalf("%s: two rows for %s", view, k)
		}
		out[k] = r
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

const tolerance = 1e-9

func near(a, b float64) bool { return math.Abs(a-b) < tolerance }

func nearPtr(a, b *float64) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return near(*a, *b)
}

func fmtPtr(p *float64) string {
	if p == nil {
		return "NULL"
	}
	return fmt.Sprint(*p)
}

// compareIndex checks every view row against ComputeIndex over the same
// totals, and returns how many rows had an Index and how many component
// exclusions for low volume or no data were seen (so a test can insist the
// dataset exercised them).
func compareIndex(t *testing.T, label string, cfg indicator.IndexConfig, oracle map[string]*indicator.Totals, got map[string]indexRow) (withIndex, nullIndex, lowVolume int) {
	t.Helper()
	if len(got) != len(oracle) {
		t.Errorf("%s: %d rows, trust_counts has %d groups", label, len(got), len(oracle))
	}
	for k, tot := range oracle {
		row, ok := got[k]
		if !ok {
			t.Errorf("%s: no row for %s", label, k)
			continue
		}
		want := indicator.ComputeIndex(cfg, *tot)
		if !nearPtr(row.index, want.Value) {
			t.Errorf("%s %s: trust_index %s, ComputeIndex %s", label, k, fmtPtr(row.index), fmtPtr(want.Value))
		}
		if want.Value == nil {
			nullIndex++
		} else {
			withIndex++
		}
		seen := map[string]bool{}
		for _, cr := range want.Components {
			g, ok := row.comps[cr.Name]
			if !ok || seen[cr.Name] {
				continue // invalid or repeated components have no columns
			}
			seen[cr.Name] = true
			if strings.HasPrefix(cr.ExcludedReason, "low volume") {
				lowVolume++
			}
			if !nearPtr(g.value, cr.Value) || !near(g.volume, cr.Denominator) || (g.included == 1) == cr.Excluded ||
				!nearPtr(g.score, cr.Score) || !near(g.weight, cr.Weight) || !near(g.contribution, cr.Contribution) {
				t.Errorf("%s %s %s: view value=%s volume=%v included=%d score=%s weight=%v contribution=%v;\n"+
					"\tComputeIndex value=%s volume=%v excluded=%v (%s) score=%s weight=%v contribution=%v",
					label, k, cr.Name, fmtPtr(g.value), g.volume, g.included, fmtPtr(g.score), g.weight, g.contribution,
					fmtPtr(cr.Value), cr.Denominator, cr.Excluded, cr.ExcludedReason, fmtPtr(cr.Score), cr.Weight, cr.Contribution)
			}
		}
	}
	return withIndex, nullIndex, lowVolume
}

func componentNames(cfg indicator.IndexConfig) []string {
	var out []string
	for _, c := range cfg.Components {
		if _, ok := indicator.ByName(c.Indicator); ok && !slices.Contains(out, c.Indicator) {
			out = append(out, c.Indicator)
		}
	}
	return out
}

// handIndexRows is a dataset built to sit on the Index's edges, at times
// relative to now so that the rolling windows see it: an hour where some
// components sit exactly at their minimum volume and others one below, an
// hour where nothing qualifies (NULL Index), an hour with a single
// component at the bad end, an hour of sentiment and web traffic only, and
// a day outside every window.
func handIndexRows(now time.Time) []aggregate.CountRow {
	type cell struct {
		at       time.Time
		campaign string
		typ      event.Type
		detail   string
		pers     string
		tier     uint8
		events   uint64
		nanos    int64
	}
	h0 := now.Add(-10 * time.Minute).Truncate(time.Minute)
	h1 := now.Add(-5 * time.Hour).Truncate(time.Minute)
	h2 := now.Add(-3 * 24 * time.Hour).Truncate(time.Minute)
	h3 := now.Add(-20 * 24 * time.Hour).Truncate(time.Minute)
	old := now.Add(-40 * 24 * time.Hour).Truncate(time.Minute)
	cells := []cell{
		// h0: delivered exactly at the preference-centre and too-personal
		// minimum (5000); opt-down share (15 < 30) and direct traffic
		// (99 < 100) one short of theirs.
		{h0, "c1", event.Delivered, "", "", 0, 4000, 0},
		{h0, "c2", event.Delivered, "", "", 0, 1000, 0},
		{h0, "c1", event.Complaint, "", "", 0, 7, 0},
		{h0, "c1", event.Unsubscribe, "", "", 0, 10, 0},
		{h0, "c1", event.OptDown, "", "", 0, 5, 0},
		{h0, "c2", event.PreferenceCenterVisit, "", "", 0, 2, 0},
		{h0, "", event.WebSession, "direct", "", 0, 40, 0},
		{h0, "", event.WebSession, "organic", "", 0, 59, 0},
		{h0, "c1", event.Sentiment, "", "", 0, 10, 2_500_000_000},
		{h0, "c1", event.ConsentChange, "1->2", "", 2, 20, 0},
		{h0, "c2", event.ConsentChange, "3->1", "", 1, 10, 0},
		{h0, "c1", event.Feedback, "too_personal", "", 0, 3, 0},
		{h0, "c1", event.Send, event.DetailExplained, "basic", 1, 90, 0},
		{h0, "c2", event.Send, "", "behavioral", 1, 10, 0},
		{h0, "c1", event.Send, "", "none", 1, 900, 0},
		{h0, "c1", event.Click, "", "", 0, 300, 0},
		// h1: 999 delivered: every delivered-based component one short.
		{h1, "c1", event.Delivered, "", "", 0, 999, 0},
		{h1, "c1", event.Unsubscribe, "", "", 0, 1, 0},
		// h2: only the unsubscribe rate qualifies, at its bad threshold.
		{h2, "c1", event.Delivered, "", "", 0, 1000, 0},
		{h2, "c1", event.Unsubscribe, "", "", 0, 8, 0},
		// h3: sentiment below bad (clamped to 0) and direct traffic above
		// good (clamped to 100).
		{h3, "c2", event.Sentiment, "", "", 0, 10, -7_000_000_000},
		{h3, "", event.WebSession, "direct", "", 0, 50, 0},
		{h3, "", event.WebSession, "paid", "", 0, 50, 0},
		// outside every window
		{old, "c1", event.Delivered, "", "", 0, 3000, 0},
		{old, "c1", event.Complaint, "", "", 0, 30, 0},
	}
	out := make([]aggregate.CountRow, len(cells))
	for i, c := range cells {
		out[i] = aggregate.CountRow{
			Key: aggregate.Key{Bucket: c.at.Unix(), EventType: c.typ, Detail: c.detail, CampaignID: c.campaign,
				Channel: "email", Segment: "s", Source: "src", Personalization: c.pers, ConsentTier: c.tier},
			BlockRef: aggregate.BlockRef{Topic: "t", Partition: 0, Block: int64(i)},
			Counts:   aggregate.Counts{Events: c.events, ValueNanos: c.nanos},
			Version:  1,
		}
	}
	return out
}

// TestIndexViewsMatchComputeIndex is the acceptance check of the Index SQL:
// on several datasets and configurations, every row of every index view
// equals indicator.ComputeIndex over the totals of the same rows read from
// trust_counts (|diff| < 1e-9), component by component, exclusions included.
func TestIndexViewsMatchComputeIndex(t *testing.T) {
	now := time.Now().UTC()
	overrides, err := indicator.ParseIndexComponents(
		"complaint_rate:min_volume=0;opt_down_share:weight=0;sentiment_avg:good=0.2,bad=-0.2,weight=4;"+
			"direct_traffic_share:min_volume=99;unsubscribe_rate:good=0.001,bad=0.02",
		indicator.DefaultIndexConfig())
	if err != nil {
		t.Fatal(err)
	}
	single := indicator.IndexConfig{Components: []indicator.Component{{Indicator: indicator.ConsentMomentum, Weight: 1}}}

	type dataset struct {
		name string
		load func(t *testing.T, st *sink.Store)
	}
	hand := dataset{"hand", func(t *testing.T, st *sink.Store) {
		if err := st.Write(context.Background(), &aggregate.Snapshot{Counts: handIndexRows(now)}); err != nil {
			t.Fatal(err)
		}
	}}
	scen := func(name string, events, days int) dataset {
		return dataset{name, func(t *testing.T, st *sink.Store) {
			sinktest.LoadScenario(t, st, scenario.Config{Name: name, Events: events, Days: days, Seed: 7,
				End: now.Add(-48 * time.Hour).Truncate(time.Hour), Campaigns: 12}, sinktest.LoadOptions{})
		}}
	}
	cases := []struct {
		name    string
		cfg     indicator.IndexConfig
		data    dataset
		windows bool // compare trust_index_window (only for data not cut by a moving window edge)
	}{
		{"hand/default", indicator.DefaultIndexConfig(), hand, true},
		{"hand/overrides", overrides, hand, true},
		{"hand/single", single, hand, true},
		{"trust-spiral/default", indicator.DefaultIndexConfig(), scen("trust-spiral", 80000, 4), false},
		{"creepy-personalization/overrides", overrides, scen("creepy-personalization", 50000, 3), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			st, scfg := sinktest.Open(t, append(sink.IndicatorViews(), sink.IndexViews(tc.cfg)...))
			tc.data.load(t, st)
			conn, db := st.Conn(), scfg.Database
			comps := componentNames(tc.cfg)
			var with, null, low int
			for _, v := range []struct{ view, key, countsKey string }{
				{sink.ViewIndexHourly, "toString(hour)", "toString(toStartOfHour(bucket))"},
				{sink.ViewIndexDaily, "toString(day)", "toString(toDate(bucket))"},
				{sink.ViewIndexCampaignDaily, "concat(toString(day), '/', campaign_id)", "concat(toString(toDate(bucket)), '/', campaign_id)"},
			} {
				w, n, l := compareIndex(t, v.view, tc.cfg,
					readTotalsBy(t, conn, db, v.countsKey, ""),
					readIndexView(t, conn, db, v.view, v.key, comps))
				with, null, low = with+w, null+n, low+l
			}
			if tc.windows {
				oracle := map[string]*indicator.Totals{}
				for _, w := range indicator.Windows() {
					tot := readTotalsBy(t, conn, db, "'"+w.Name+"'", fmt.Sprintf("bucket >= now() - %d", int64(w.Length.Seconds())))
					if tot[w.Name] == nil {
						tot[w.Name] = &indicator.Totals{}
					}
					oracle[w.Name] = tot[w.Name]
				}
				w, n, l := compareIndex(t, sink.ViewIndexWindow, tc.cfg, oracle,
					readIndexView(t, conn, db, sink.ViewIndexWindow, "`window`", comps))
				with, null, low = with+w, null+n, low+l
				checkExplainView(t, conn, db, tc.cfg, oracle)
			}
			t.Logf("%d rows with an Index, %d without, %d low-volume exclusions checked", with, null, low)
			if with == 0 || low == 0 {
				t.Errorf("dataset too tame: %d rows with an Index, %d low-volume exclusions", with, low)
			}
			if strings.HasPrefix(tc.name, "hand/default") && null == 0 {
				t.Errorf("hand dataset has no row without an Index")
			}
		})
	}
}

// checkExplainView compares the long explanation view with ComputeIndex.
func checkExplainView(t *testing.T, conn driver.Conn, db string, cfg indicator.IndexConfig, oracle map[string]*indicator.Totals) {
	t.Helper()
	rows, err := conn.Query(context.Background(), fmt.Sprintf(
		"SELECT `window`, position, component, title, value, volume, min_volume, included, score, weight, contribution, trust_index FROM %s.%s",
		db, sink.ViewIndexWindowComponents))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var win, comp, title string
		var pos uint32
		var value, score, index *float64
		var volume, minVolume, weight, contribution float64
		var included uint8
		if err := rows.Scan(&win, &pos, &comp, &title, &value, &volume, &minVolume, &included, &score, &weight, &contribution, &index); err != nil {
			t.Fatal(err)
		}
		n++
		want := indicator.ComputeIndex(cfg, *oracle[win])
		i := slices.IndexFunc(want.Components, func(c indicator.ComponentResult) bool { return c.Name == comp })
		if i < 0 {
			t.Errorf("explain %s: unknown component %s", win, comp)
			continue
		}
		cr := want.Components[i]
		d, _ := indicator.ByName(comp)
		if title != d.Title || minVolume != cr.MinVolume || !nearPtr(value, cr.Value) || !nearPtr(score, cr.Score) ||
			!near(weight, cr.Weight) || !near(contribution, cr.Contribution) || (included == 1) == cr.Excluded || !nearPtr(index, want.Value) {
			t.Errorf("explain %s %s: got title=%q value=%s score=%s weight=%v contribution=%v included=%d index=%s; want %+v index=%s",
				win, comp, title, fmtPtr(value), fmtPtr(score), weight, contribution, included, fmtPtr(index), cr, fmtPtr(want.Value))
		}
	}
	if want := len(indicator.Windows()) * len(componentNames(cfg)); n != want {
		t.Errorf("explain view has %d rows, want %d", n, want)
	}
}

// The config view lists the components that take part, with the effective
// settings ComputeIndex uses.
func TestIndexConfigView(t *testing.T) {
	cfg, err := indicator.ParseIndexComponents("opt_down_share:weight=0;sentiment_avg:good=0.25,bad=-0.75", indicator.DefaultIndexConfig())
	if err != nil {
		t.Fatal(err)
	}
	st, scfg := sinktest.Open(t, append(sink.IndicatorViews(), sink.IndexViews(cfg)...))
	rows, err := st.Conn().Query(context.Background(), fmt.Sprintf(
		"SELECT position, indicator, title, direction, weight, good, bad, min_volume FROM %s.trust_index_config ORDER BY position", scfg.Database))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	want := indicator.ComputeIndex(cfg, indicator.Totals{})
	var got []string
	for rows.Next() {
		var pos uint32
		var name, title, dir string
		var w, good, bad, minVol float64
		if err := rows.Scan(&pos, &name, &title, &dir, &w, &good, &bad, &minVol); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%d %s %s %v %v %v %v", pos, name, dir, w, good, bad, minVol))
	}
	var exp []string
	pos := 0
	for _, c := range want.Components {
		if c.ConfiguredWeight == 0 {
			continue
		}
		pos++
		d, _ := indicator.ByName(c.Name)
		exp = append(exp, fmt.Sprintf("%d %s %s %v %v %v %v", pos, c.Name, d.Direction, c.ConfiguredWeight, c.Good, c.Bad, c.MinVolume))
	}
	if !slices.Equal(got, exp) {
		t.Errorf("trust_index_config:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(exp, "\n"))
	}
}
