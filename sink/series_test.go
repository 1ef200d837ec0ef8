package sink_test

import (
	"context"
	"testing"
	"time"

	"github.com/trustpipe/trustpipe/aggregate/indicator"
	"github.com/trustpipe/trustpipe/aggregate/report"
	"github.com/trustpipe/trustpipe/aggregate/scenario"
	"github.com/trustpipe/trustpipe/sink/sinktest"
)

// typeCounts sums a Totals' events by event type.
func typeCounts(t indicator.Totals) map[string]uint64 {
	out := map[string]uint64{}
	for _, r := range t.Rows() {
		out[r.EventType] += r.Events
	}
	return out
}

func sameCounts(a, b map[string]uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// The overview's reads against the generator's own per-day totals: daily
// steps hold each day's valid events by type; hourly steps add up to the
// days; the campaigns add up to the range; a campaign filter selects
// exactly that campaign's totals (sentiment sums included).
func TestTotalsByStepAndCampaign(t *testing.T) {
	st, _ := sinktest.Open(t, nil)
	end := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
	loaded := sinktest.LoadScenario(t, st, scenario.Config{Name: "trust-spiral", Events: 6000, Days: 5, Seed: 7, End: end},
		sinktest.LoadOptions{})
	ctx := context.Background()
	p := report.Period{From: end.AddDate(0, 0, -5), To: end}

	days, err := st.TotalsByStep(ctx, p, report.Filter{}, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int64]map[string]uint64{}
	for _, d := range loaded.Stats.Days {
		m := map[string]uint64{}
		for typ, n := range d.Types {
			m[typ.String()] += uint64(n)
		}
		want[d.Day.Unix()] = m
	}
	if len(days) != len(want) || len(days) < 5 {
		t.Fatalf("%d daily steps, want %d (>= 5)", len(days), len(want))
	}
	for _, d := range days {
		if got := typeCounts(d.Totals); !sameCounts(got, want[d.Start.Unix()]) {
			t.Errorf("day %s: %v, want %v", d.Start.Format(time.DateOnly), got, want[d.Start.Unix()])
		}
	}

	hours, err := st.TotalsByStep(ctx, p, report.Filter{}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	perDay := map[int64]indicator.Totals{}
	for i, h := range hours {
		if i > 0 && !hours[i-1].Start.Before(h.Start) {
			t.Fatalf("hourly steps out of order at %s", h.Start)
		}
		if h.Start.Truncate(time.Hour) != h.Start {
			t.Fatalf("hourly step starts at %s", h.Start)
		}
		k := h.Start.Truncate(24 * time.Hour).Unix()
		perDay[k] = perDay[k].Merge(h.Totals)
	}
	for _, d := range days {
		if got := typeCounts(perDay[d.Start.Unix()]); !sameCounts(got, typeCounts(d.Totals)) {
			t.Errorf("hours of %s sum to %v, want %v", d.Start.Format(time.DateOnly), got, typeCounts(d.Totals))
		}
	}

	campaigns, err := st.TotalsByCampaign(ctx, p, report.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(campaigns) < 2 {
		t.Fatalf("%d campaigns, want several", len(campaigns))
	}
	var all, allDays indicator.Totals
	for _, c := range campaigns {
		all = all.Merge(c.Totals)
	}
	for _, d := range days {
		allDays = allDays.Merge(d.Totals)
	}
	if !sameCounts(typeCounts(all), typeCounts(allDays)) {
		t.Errorf("campaigns sum to %v, days to %v", typeCounts(all), typeCounts(allDays))
	}
	if uint64(loaded.Stats.Valid) != sumCounts(typeCounts(all)) {
		t.Errorf("campaigns hold %d events, the generator made %d", sumCounts(typeCounts(all)), loaded.Stats.Valid)
	}

	pick := campaigns[len(campaigns)-1]
	f := report.Filter{Campaign: &pick.Campaign}
	one, err := st.TotalsByStep(ctx, p, f, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	var merged indicator.Totals
	for _, d := range one {
		merged = merged.Merge(d.Totals)
	}
	if !sameCounts(typeCounts(merged), typeCounts(pick.Totals)) {
		t.Errorf("campaign %q filtered: %v, want %v", pick.Campaign, typeCounts(merged), typeCounts(pick.Totals))
	}
	d, _ := indicator.ByName(indicator.SentimentAvg)
	if a, b := d.Evaluate(merged), d.Evaluate(pick.Totals); a.Numerator != b.Numerator {
		t.Errorf("campaign %q sentiment sum %v, want %v", pick.Campaign, a.Numerator, b.Numerator)
	}

	if _, err := st.TotalsByStep(ctx, p, report.Filter{}, 1500*time.Millisecond); err == nil {
		t.Error("a step of 1.5 s was accepted")
	}
}

func sumCounts(m map[string]uint64) uint64 {
	var n uint64
	for _, v := range m {
		n += v
	}
	return n
}
