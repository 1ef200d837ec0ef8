package sink_test

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trustpipe/trustpipe/aggregate"
	"github.com/trustpipe/trustpipe/aggregate/event"
	"github.com/trustpipe/trustpipe/aggregate/indicator"
	"github.com/trustpipe/trustpipe/aggregate/report"
	"github.com/trustpipe/trustpipe/sink"
	"github.com/trustpipe/trustpipe/sink/sinktest"
)

// The read API's tests write hand-made rows with Store.Write and compare
// every read with sums over the same rows computed here in Go: the oracle
// shares nothing with the SQL under test.

var readT0 = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// readFixture is a count row as the oracle sees it: its bucket offset from
// readT0 and the fields a read may select on.
type readFixture struct {
	at                time.Duration
	typ               event.Type
	detail            string
	campaign, channel string
	events            uint64
	nanos             int64
	stale             bool // an older version of a block's row: must never count
}

var readRows = []readFixture{
	{at: 0, typ: event.Delivered, campaign: "spring", channel: "email", events: 10},
	{at: time.Hour, typ: event.Open, campaign: "spring", channel: "email", events: 4},
	{at: time.Hour, typ: event.Open, campaign: "spring", channel: "email", events: 99, stale: true},
	{at: 2 * time.Hour, typ: event.Click, campaign: "autumn", channel: "sms", events: 3},
	{at: 2 * time.Hour, typ: event.Sentiment, campaign: "autumn", channel: "sms", events: 2, nanos: 1_250_000_001},
	{at: 26 * time.Hour, typ: event.Sentiment, campaign: "", channel: "email", events: 1, nanos: -333_333_333},
	{at: 26 * time.Hour, typ: event.Delivered, campaign: "winter", channel: "email", events: 3},
	{at: 27 * time.Hour, typ: event.Delivered, campaign: "other", channel: "email", events: 50},
	{at: 27 * time.Hour, typ: event.Delivered, campaign: strings.Repeat("x", 9), channel: "email", events: 60},
	{at: 49 * time.Hour, typ: event.Unsubscribe, campaign: "spring", channel: "sms", events: 7},
}

// writeReadFixture stores readRows, each in a block of its own (a stale row
// shares the block of the row before it, with a lower version).
func writeReadFixture(t *testing.T) *sink.Store {
	t.Helper()
	st, _ := sinktest.Open(t, nil)
	var snap aggregate.Snapshot
	block := int64(0)
	for _, r := range readRows {
		version := int64(100)
		if r.stale {
			version = 50
		} else {
			block++
		}
		snap.Counts = append(snap.Counts, aggregate.CountRow{
			Key:      aggregate.Key{Bucket: readT0.Add(r.at).Unix(), EventType: r.typ, Detail: r.detail, CampaignID: r.campaign, Channel: r.channel},
			BlockRef: aggregate.BlockRef{Topic: "t", Partition: 0, Block: block},
			Counts:   aggregate.Counts{Events: r.events, ValueNanos: r.nanos},
			Version:  version,
		})
	}
	day := func(d int) int64 { return readT0.AddDate(0, 0, d).Unix() }
	snap.Contacts = []aggregate.ContactRow{
		{Day: day(0), CampaignID: "spring", Channel: "email", Contact: "a"},
		{Day: day(0), CampaignID: "autumn", Channel: "sms", Contact: "b"},
		{Day: day(1), CampaignID: "spring", Channel: "email", Contact: "a"},
		{Day: day(1), CampaignID: "spring", Channel: "email", Contact: "c"},
		{Day: day(2), CampaignID: "spring", Channel: "sms", Contact: "d"},
	}
	snap.Ledger = []aggregate.LedgerRow{
		{BlockRef: aggregate.BlockRef{Topic: "t", Partition: 0, Block: 0}, FirstOffset: 0, LastOffset: 9, Consumed: 10, Accepted: 9, Rejected: 1, Complete: true, Version: 9},
		{BlockRef: aggregate.BlockRef{Topic: "t", Partition: 0, Block: 0}, FirstOffset: 0, LastOffset: 4, Consumed: 5, Accepted: 5, Version: 4},
		{BlockRef: aggregate.BlockRef{Topic: "t", Partition: 1, Block: 2}, FirstOffset: 20, LastOffset: 25, Consumed: 6, Accepted: 6, Version: 25},
	}
	if err := st.Write(context.Background(), &snap); err != nil {
		t.Fatal(err)
	}
	return st
}

// oracleTotals sums the fixture's current rows that keep says to, summing
// sentiment nano-units as integers before the one division.
func oracleTotals(keep func(readFixture) bool) indicator.Totals {
	type key struct{ typ, detail, channel string }
	events, nanos := map[key]uint64{}, map[key]int64{}
	var order []key
	for _, r := range readRows {
		if r.stale || !keep(r) {
			continue
		}
		k := key{r.typ.String(), r.detail, r.channel}
		if _, ok := events[k]; !ok {
			order = append(order, k)
		}
		events[k] += r.events
		nanos[k] += r.nanos
	}
	var t indicator.Totals
	for _, k := range order {
		t.Add(indicator.Row{EventType: k.typ, Detail: k.detail, Channel: k.channel, Events: events[k], ValueSum: float64(nanos[k]) / aggregate.ScoreScale})
	}
	return t
}

func between(from, to time.Duration) func(readFixture) bool {
	return func(r readFixture) bool { return r.at >= from && r.at < to }
}

func period(from, to time.Duration) report.Period {
	return report.Period{From: readT0.Add(from), To: readT0.Add(to)}
}

func ptr(s string) *string { return &s }

func TestReadAPI(t *testing.T) {
	st := writeReadFixture(t)
	ctx := context.Background()

	t.Run("Totals", func(t *testing.T) {
		for _, tc := range []struct {
			name   string
			p      report.Period
			f      report.Filter
			oracle func(readFixture) bool
		}{
			{"everything", period(0, 72*time.Hour), report.Filter{}, between(0, 72*time.Hour)},
			{"to is exclusive", period(0, 2*time.Hour), report.Filter{}, between(0, 2*time.Hour)},
			{"from is inclusive", period(26*time.Hour, 72*time.Hour), report.Filter{}, between(26*time.Hour, 72*time.Hour)},
			{"campaign", period(0, 72*time.Hour), report.Filter{Campaign: ptr("spring")},
				func(r readFixture) bool { return r.campaign == "spring" }},
			{"empty campaign is a value", period(0, 72*time.Hour), report.Filter{Campaign: ptr("")},
				func(r readFixture) bool { return r.campaign == "" }},
			{"two dimensions", period(0, 72*time.Hour), report.Filter{Campaign: ptr("spring"), Channel: ptr("sms")},
				func(r readFixture) bool { return r.campaign == "spring" && r.channel == "sms" }},
			{"nothing", period(100*time.Hour, 200*time.Hour), report.Filter{}, between(100*time.Hour, 200*time.Hour)},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, err := st.Totals(ctx, tc.p, tc.f)
				if err != nil {
					t.Fatal(err)
				}
				if want := oracleTotals(tc.oracle); !reflect.DeepEqual(got.Rows(), want.Rows()) {
					t.Errorf("Totals = %+v, want %+v", got.Rows(), want.Rows())
				}
			})
		}
	})

	t.Run("Reach", func(t *testing.T) {
		r, err := st.Reach(ctx, period(time.Hour, 25*time.Hour), report.Filter{}, true)
		if err != nil {
			t.Fatal(err)
		}
		// Days 0 and 1 are touched: contacts a, b, c; a engaged on both.
		want := report.Reach{FirstDay: readT0, LastDay: readT0.AddDate(0, 0, 1), Contacts: 3,
			Days: []report.DayReach{{Day: "2026-11-01", Contacts: 2}, {Day: "2026-11-02", Contacts: 2}}}
		if !reflect.DeepEqual(r, want) {
			t.Errorf("Reach = %+v, want %+v", r, want)
		}
		r, err = st.Reach(ctx, period(0, 72*time.Hour), report.Filter{Channel: ptr("sms")}, false)
		if err != nil {
			t.Fatal(err)
		}
		if r.Contacts != 2 || r.Days != nil {
			t.Errorf("sms reach = %+v, want 2 contacts (b, d) and no days", r)
		}
	})

	t.Run("Consumed", func(t *testing.T) {
		// Block 0's final row (10) replaces its earlier one (5).
		if n, err := st.Consumed(ctx); err != nil || n != 16 {
			t.Errorf("Consumed = %d, %v; want 16", n, err)
		}
	})

	t.Run("SegmentTotals", func(t *testing.T) {
		bounds := []time.Time{readT0.Add(48 * time.Hour), readT0.Add(26 * time.Hour), readT0.Add(time.Hour), readT0}
		segs, newest, err := st.SegmentTotals(ctx, bounds)
		if err != nil {
			t.Fatal(err)
		}
		for i, keep := range []func(readFixture) bool{between(26*time.Hour, 48*time.Hour), between(time.Hour, 26*time.Hour), between(0, time.Hour)} {
			if want := oracleTotals(keep); !reflect.DeepEqual(segs[i].Rows(), want.Rows()) {
				t.Errorf("segment %d = %+v, want %+v", i, segs[i].Rows(), want.Rows())
			}
		}
		if want := readT0.Add(27 * time.Hour); !newest.Equal(want) {
			t.Errorf("newest = %s, want %s (the 49h bucket is after the last bound)", newest, want)
		}
		one, _, err := st.SegmentTotals(ctx, bounds[2:])
		if err != nil || len(one) != 1 || !reflect.DeepEqual(one[0].Rows(), segs[2].Rows()) {
			t.Errorf("a single segment = %v, %v; want it equal to the last of three", one, err)
		}
		if _, newest, err := st.SegmentTotals(ctx, []time.Time{readT0, readT0.Add(-time.Hour)}); err != nil || !newest.IsZero() {
			t.Errorf("empty segment: newest %s, %v; want the zero time", newest, err)
		}
		if _, _, err := st.SegmentTotals(ctx, []time.Time{readT0, readT0.Add(time.Hour)}); err == nil {
			t.Error("ascending bounds accepted")
		}
	})

	t.Run("TopValues", func(t *testing.T) {
		all := period(0, 72*time.Hour)
		for _, tc := range []struct {
			name     string
			n        int
			exclude  []string
			maxBytes int
			want     []string
		}{
			// By events: xxxxxxxxx 60, other 50, spring 21, autumn 5, winter 3.
			{"all", 10, nil, 128, []string{"xxxxxxxxx", "other", "spring", "autumn", "winter"}},
			{"limit", 2, nil, 128, []string{"xxxxxxxxx", "other"}},
			{"exclude and length", 10, []string{"other"}, 8, []string{"spring", "autumn", "winter"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, err := st.TopValues(ctx, "campaign_id", all, tc.n, tc.exclude, tc.maxBytes)
				if err != nil || !slices.Equal(got, tc.want) {
					t.Errorf("TopValues = %q, %v; want %q", got, err, tc.want)
				}
			})
		}
		if _, err := st.TopValues(ctx, "contact", all, 1, nil, 1); err == nil {
			t.Error("a non-dimension column accepted")
		}
	})

	t.Run("SplitTotals", func(t *testing.T) {
		split := readT0.Add(2 * time.Hour)
		cur, base, err := st.SplitTotals(ctx, "campaign_id", []string{"spring", "autumn"}, split, period(time.Hour, 30*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		in := func(campaigns ...string) func(readFixture) bool {
			return func(r readFixture) bool { return slices.Contains(campaigns, r.campaign) }
		}
		others := func(r readFixture) bool { return r.campaign != "spring" && r.campaign != "autumn" }
		and := func(a, b func(readFixture) bool) func(readFixture) bool {
			return func(r readFixture) bool { return a(r) && b(r) }
		}
		for i, group := range []func(readFixture) bool{others, in("spring"), in("autumn")} {
			if want := oracleTotals(and(group, between(2*time.Hour, 30*time.Hour))); !reflect.DeepEqual(cur[i].Rows(), want.Rows()) {
				t.Errorf("cur[%d] = %+v, want %+v", i, cur[i].Rows(), want.Rows())
			}
			if want := oracleTotals(and(group, between(time.Hour, 2*time.Hour))); !reflect.DeepEqual(base[i].Rows(), want.Rows()) {
				t.Errorf("base[%d] = %+v, want %+v", i, base[i].Rows(), want.Rows())
			}
		}
	})

	t.Run("LedgerBlocks", func(t *testing.T) {
		p0 := sink.LedgerBlock{LedgerPartition: sink.LedgerPartition{Topic: "t", Partition: 0}, Block: 0, First: 0, Last: 9}
		p1 := sink.LedgerBlock{LedgerPartition: sink.LedgerPartition{Topic: "t", Partition: 1}, Block: 2, First: 20, Last: 25}
		for _, c := range []struct {
			name   string
			floors map[sink.LedgerPartition]int64
			want   []sink.LedgerBlock
		}{
			{"no floors: every block", nil, []sink.LedgerBlock{p0, p1}},
			{"a floor at the block keeps it", map[sink.LedgerPartition]int64{p1.LedgerPartition: 2}, []sink.LedgerBlock{p0, p1}},
			{"a floor above the block drops it", map[sink.LedgerPartition]int64{p1.LedgerPartition: 3}, []sink.LedgerBlock{p0}},
			{"floors above every block", map[sink.LedgerPartition]int64{p0.LedgerPartition: 1, p1.LedgerPartition: 3}, nil},
			{"a partition without a floor is read whole", map[sink.LedgerPartition]int64{p0.LedgerPartition: 0, {Topic: "u", Partition: 1}: 5}, []sink.LedgerBlock{p0, p1}},
		} {
			t.Run(c.name, func(t *testing.T) {
				got, err := st.LedgerBlocks(ctx, c.floors)
				if err != nil {
					t.Fatal(err)
				}
				slices.SortFunc(got, func(a, b sink.LedgerBlock) int { return int(a.Partition - b.Partition) })
				if !slices.Equal(got, c.want) {
					t.Errorf("LedgerBlocks(%v) = %+v, want %+v", c.floors, got, c.want)
				}
			})
		}
	})
}

// TestDropDatabase: the database and its tables are gone afterwards.
func TestDropDatabase(t *testing.T) {
	st := writeReadFixture(t)
	ctx := context.Background()
	if err := st.DropDatabase(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Consumed(ctx); err == nil || !strings.Contains(err.Error(), "read ingest_ledger") {
		t.Errorf("Consumed after DropDatabase = %v, want a read error", err)
	}
	if err := st.DropDatabase(ctx); err != nil {
		t.Errorf("dropping a missing database: %v", err)
	}
}
