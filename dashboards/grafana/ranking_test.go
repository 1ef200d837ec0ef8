package grafana_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/trustpipe/trustpipe/aggregate/indicator"
	"github.com/trustpipe/trustpipe/aggregate/report"
	"github.com/trustpipe/trustpipe/dashboards/grafana"
)

// checkRankingPanel proves the drill-down's "Campaigns ranked by trust
// impact" table and the report page's ranking are one rule: on the same
// whole hours and selection, the panel's rows (campaign, delivered, trust
// impact, in the panel's order) equal report.RankCampaigns of sink's
// TotalsByCampaign — what the page is built from — with the selection's
// Index computed from the same totals.
//
// The range is whole hours: the panel's $__timeFilter(hour) keeps the hours
// starting in [from, to], the report's reads the buckets in [From, To), so
// the panel gets to = To − 1 s.
func checkRankingPanel(t *testing.T, ctx context.Context, db testDB, panels []query, sels map[string]map[string]varValue) {
	i := slices.IndexFunc(panels, func(q query) bool { return q.id == grafana.UIDDrilldown+"/Campaigns ranked by trust impact/A" })
	if i < 0 {
		t.Fatal("no ranking panel query")
	}
	q := panels[i]
	period := report.Period{From: db.from.Truncate(time.Hour).Add(time.Hour), To: db.to.Truncate(time.Hour)}
	panelDB := db
	panelDB.from, panelDB.to = period.From, period.To.Add(-time.Second)

	segHex := sels["combination"]["segment"].values[0]
	seg, err := hex.DecodeString(segHex)
	if err != nil {
		t.Fatalf("segment %q: %v", segHex, err)
	}
	segment := string(seg)
	oneSegment := map[string]varValue{}
	for k, v := range sels["all"] {
		oneSegment[k] = v
	}
	oneSegment["segment"] = sels["combination"]["segment"]

	cfg := indicator.DefaultIndexConfig()
	for _, c := range []struct {
		name   string
		vars   map[string]varValue
		filter report.Filter
	}{
		{"all", sels["all"], report.Filter{}},
		{"segment " + segment, oneSegment, report.Filter{Segment: &segment}},
	} {
		campaigns, err := db.store.TotalsByCampaign(ctx, period, c.filter)
		if err != nil {
			t.Fatalf("[%s] TotalsByCampaign: %v", c.name, err)
		}
		var sel indicator.Totals
		for _, ct := range campaigns {
			sel = sel.Merge(ct.Totals)
		}
		want := report.RankCampaigns(cfg, indicator.ComputeIndex(cfg, sel).Value, campaigns)

		cols, rows, _, err := panelDB.run(ctx, q, c.vars)
		if err != nil {
			t.Fatalf("%s [%s]: %v", q.id, c.name, err)
		}
		ci, di, ii := slices.Index(cols, "Campaign"), slices.Index(cols, "Delivered"), slices.Index(cols, "Trust impact")
		if ci < 0 || di < 0 || ii < 0 {
			t.Fatalf("%s: columns %v lack Campaign, Delivered or Trust impact", q.id, cols)
		}
		if len(rows) != len(want) {
			t.Errorf("%s [%s]: %d campaigns, RankCampaigns %d", q.id, c.name, len(rows), len(want))
		}
		withImpact := 0
		for k := range min(len(rows), len(want)) {
			w := want[k]
			wname := w.Campaign
			if wname == "" {
				wname = "(no campaign)"
			}
			got := fmt.Sprint(rows[k][ci])
			delivered := count(rows[k][di])
			impact := asFloat(rows[k][ii])
			if got != wname || !nearPtr(delivered, &w.Delivered) || !nearPtr(impact, w.Impact) {
				t.Errorf("%s [%s] #%d: %s delivered %s impact %s; RankCampaigns %s delivered %v impact %s",
					q.id, c.name, k+1, got, fmtPtr(delivered), fmtPtr(impact), wname, w.Delivered, fmtPtr(w.Impact))
			}
			if w.Impact != nil {
				withImpact++
			}
		}
		// The check must compare impacts, not only absent ones.
		if withImpact < 2 {
			t.Errorf("%s [%s]: only %d campaigns with an impact; the comparison proves nothing", q.id, c.name, withImpact)
		}
		t.Logf("%s [%s]: %d campaigns (%d with an impact) agree with RankCampaigns", q.id, c.name, len(want), withImpact)
	}
}

// count reads an integer column (Delivered is a sum of UInt64 counts).
func count(v any) *float64 {
	var f float64
	switch x := v.(type) {
	case uint64:
		f = float64(x)
	case int64:
		f = float64(x)
	default:
		return asFloat(v)
	}
	return &f
}
