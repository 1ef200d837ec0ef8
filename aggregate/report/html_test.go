package report

import (
	"bytes"
	"math"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trustpipe/trustpipe/aggregate/indicator"
	"github.com/trustpipe/trustpipe/aggregate/testkit"
)

// spiralRows is one campaign's trust_counts on day i of 14 of a drifting
// programme: complaints, unsubscribes and unexplained predictive sends rise
// day by day while opens and clicks rise too. "spring-launch" drifts
// fastest.
func spiralRows(i int, campaign string) []indicator.Row {
	k := uint64(i)
	w := uint64(1) // drift factor of the campaign
	switch campaign {
	case "spring-launch":
		w = 3
	case "":
		w = 0
	}
	return []indicator.Row{
		row("delivered", "", "", 0, 3000),
		row("complaint", "", "", 0, 1+w*k/2),
		row("unsubscribe", "", "", 0, 4+w*k),
		row("opt_down", "", "", 0, 12-k/2),
		row("preference_center_visit", "", "", 0, 6),
		row("web_session", "direct", "", 0, 70-2*k),
		row("web_session", "organic", "", 0, 140),
		sentiment(4, 1.6-0.2*float64(i)),
		row("consent_change", "1->2", "", 1, 6-k/3),
		row("consent_change", "2->1", "", 2, 1+k/2),
		row("feedback", "too_personal", "", 1, w*k/3),
		row("send", "explained", "basic", 1, 900-20*k),
		row("send", "", "predictive", 1, 20*k*w),
		row("send", "", "none", 0, 2000),
		row("open", "", "", 0, 900+25*k),
		row("open", "machine", "", 0, 250),
		row("click", "", "", 0, 110+9*k),
		row("form_fill", "", "", 0, 9),
	}
}

// spiralOverview is a consistent fixture: the report's totals, the daily
// series and the campaign totals are all sums of the same per-day,
// per-campaign rows.
func spiralOverview(t *testing.T) Overview {
	t.Helper()
	start := day("2026-11-06")
	campaigns := []string{"spring-launch", "newsletter", ""}
	in := Input{
		Period:         Period{start.AddDate(0, 0, 7), start.AddDate(0, 0, 14)},
		Comparison:     Period{start, start.AddDate(0, 0, 7)},
		ComparisonMode: ComparePrevious,
		Reach:          reach("2026-11-13", "2026-11-19", 5200, 1400, 1380, 1300, 1290, 1200, 1150, 1100),
		BaselineReach:  reach("2026-11-06", "2026-11-12", 5600),
		Divergence:     indicator.DefaultDivergenceConfig(),
		Provenance:     trapProvenance(),
	}
	var oi OverviewInput
	oi.Span, oi.Step = TimelineSpan(in.Period, in.Comparison, in.ComparisonMode)
	perCampaign := map[string]indicator.Totals{}
	for i := range 14 {
		var dayTotals indicator.Totals
		for _, c := range campaigns {
			ct := indicator.Accumulate(spiralRows(i, c))
			dayTotals = dayTotals.Merge(ct)
			if i >= 7 {
				perCampaign[c] = perCampaign[c].Merge(ct)
			}
		}
		oi.Series = append(oi.Series, Bucket{Start: start.AddDate(0, 0, i), Totals: dayTotals})
		if i >= 7 {
			in.Current = in.Current.Merge(dayTotals)
		} else {
			in.Baseline = in.Baseline.Merge(dayTotals)
		}
	}
	for _, c := range campaigns {
		oi.Campaigns = append(oi.Campaigns, CampaignTotals{Campaign: c, Totals: perCampaign[c]})
	}
	// The audience shrinks while its clicks concentrate: day i has 1000 −
	// 40i engaged of 3000 delivered contacts, 100 + 8i clicks from 80 − 3i
	// clickers, the top tenth making 20 + 3i of them.
	for i := range 14 {
		k := uint64(i)
		oi.Audience = append(oi.Audience, DayAudience{Day: start.AddDate(0, 0, i).Format(dayFormat),
			Audience: indicator.Audience{EngagedContacts: 1000 - 40*k, DeliveredContacts: 3000, Clicks: 100 + 8*k, Clickers: 80 - 3*k, TopDecileClicks: 20 + 3*k}})
	}
	in.BaselineAudience = &indicator.Audience{EngagedContacts: 5600, DeliveredContacts: 8000, Clicks: 900, Clickers: 500, TopDecileClicks: 200}
	in.Audience = &indicator.Audience{EngagedContacts: 5200, DeliveredContacts: 9000, Clicks: 1200, Clickers: 400, TopDecileClicks: 360}
	return BuildOverview(Build(in), in.Divergence.Index, oi)
}

// The page of a fixed input, byte for byte (regenerate with -update after
// looking at it in a browser), and of an empty range.
func TestHTMLGolden(t *testing.T) {
	empty := cases(t)["empty"]
	for name, o := range map[string]Overview{
		"spiral": spiralOverview(t),
		"empty":  BuildOverview(Build(empty), empty.Divergence.Index, OverviewInput{}),
	} {
		t.Run(name, func(t *testing.T) {
			var b bytes.Buffer
			if err := o.WriteHTML(&b); err != nil {
				t.Fatal(err)
			}
			testkit.Golden(t, filepath.Join("testdata", name+".html"), b.Bytes())
		})
	}
}

// What the page must hold whatever its styling: the Index as the report
// computes it, the divergence verdict, a chart in every section, and
// nothing that could be fetched.
func TestHTMLContent(t *testing.T) {
	o := spiralOverview(t)
	var b bytes.Buffer
	if err := o.WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	if o.TrustIndex.Value == nil || !o.Divergence.Flag {
		t.Fatalf("fixture: Index %v, divergence %v; want an Index and a flag", o.TrustIndex.Value, o.Divergence.Flag)
	}
	for _, want := range []string{
		`data-value="` + strconv.FormatFloat(*o.TrustIndex.Value, 'g', -1, 64) + `"`,
		`>` + fixed1(*o.TrustIndex.Value) + `<small>`,
		`data-flag="true"`, `>FLAGGED<`, `id="audience-flag">SHRINKING<`, `Top-decile click share 30%`,
		`<meta http-equiv="Content-Security-Policy" content="default-src &#39;none&#39;; style-src &#39;unsafe-inline&#39;; img-src data:">`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	sections := regexp.MustCompile(`(?s)<section id="([a-z-]+)"[^>]*>(.*?)</section>`).FindAllStringSubmatch(page, -1)
	var ids []string
	for _, s := range sections {
		ids = append(ids, s[1])
		if !strings.Contains(s[2], `<svg class="chart"`) {
			t.Errorf("section %s has no chart", s[1])
		}
	}
	if got, want := strings.Join(ids, " "), "now over-time clicks-vs-trust complaints divergence consent reach audience campaigns provenance"; got != want {
		t.Errorf("sections %q, want %q", got, want)
	}
	if m := regexp.MustCompile(`(?i)(https?:|//[a-z0-9]|url\((?:[^#)]))`).FindString(page); m != "" {
		t.Errorf("page references something outside itself: %q", m)
	}
}

// The timeline covers the comparison period and the range in whole steps;
// its Index per step is ComputeIndex of that step's totals; the ranking
// follows the drill-down's impact rule, most harmful first.
func TestOverview(t *testing.T) {
	o := spiralOverview(t)
	if len(o.Timeline) != 14 || o.Step != 24*time.Hour {
		t.Fatalf("%d steps of %v, want 14 days", len(o.Timeline), o.Step)
	}
	for i, p := range o.Timeline {
		if want := i >= 7; p.Current != want {
			t.Errorf("step %d current %v, want %v", i, p.Current, want)
		}
		var tot indicator.Totals
		for _, c := range []string{"spring-launch", "newsletter", ""} {
			tot = tot.Merge(indicator.Accumulate(spiralRows(i, c)))
		}
		want := indicator.ComputeIndex(indicator.DefaultIndexConfig(), tot).Value
		if p.Index.Value == nil || *p.Index.Value != *want {
			t.Errorf("step %d Index %v, want %v", i, p.Index.Value, *want)
		}
	}
	// Impact by hand: (campaign Index − selection Index) × delivered share;
	// every campaign delivers 3000 a day, so each share is 1/3.
	if len(o.Ranking) != 3 {
		t.Fatalf("%d ranked campaigns, want 3", len(o.Ranking))
	}
	for i, c := range o.Ranking {
		want := (*c.Index - *o.TrustIndex.Value) / 3
		if c.Delivered != 21000 || math.Abs(*c.Impact-want) > 1e-9 {
			t.Errorf("%q: delivered %v impact %v, want 21000 and %v", c.Campaign, c.Delivered, *c.Impact, want)
		}
		if i > 0 && *o.Ranking[i-1].Impact > *c.Impact {
			t.Errorf("ranking not most harmful first at %q", c.Campaign)
		}
	}
	if o.Ranking[0].Campaign != "spring-launch" {
		t.Errorf("most harmful campaign %q, want spring-launch", o.Ranking[0].Campaign)
	}
}

func TestTimelineSpan(t *testing.T) {
	h := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, c := range []struct {
		name             string
		period, compared Period
		mode             string
		want             Period
		step             time.Duration
	}{
		{"previous week: both weeks, daily", Period{h("2026-11-13T00:00:00Z"), h("2026-11-20T00:00:00Z")},
			Period{h("2026-11-06T00:00:00Z"), h("2026-11-13T00:00:00Z")}, ComparePrevious,
			Period{h("2026-11-06T00:00:00Z"), h("2026-11-20T00:00:00Z")}, 24 * time.Hour},
		{"unaligned range widened to whole days", Period{h("2026-11-10T09:30:00Z"), h("2026-11-19T17:10:00Z")},
			Period{h("2026-11-01T01:50:00Z"), h("2026-11-10T09:30:00Z")}, ComparePrevious,
			Period{h("2026-11-01T00:00:00Z"), h("2026-11-20T00:00:00Z")}, 24 * time.Hour},
		{"explicit comparison: the range alone", Period{h("2026-11-13T00:00:00Z"), h("2026-11-20T00:00:00Z")},
			Period{h("2026-10-01T00:00:00Z"), h("2026-10-08T00:00:00Z")}, CompareRange,
			Period{h("2026-11-13T00:00:00Z"), h("2026-11-20T00:00:00Z")}, 24 * time.Hour},
		{"short range: hourly", Period{h("2026-11-19T06:15:00Z"), h("2026-11-19T12:00:00Z")},
			Period{h("2026-11-19T00:30:00Z"), h("2026-11-19T06:15:00Z")}, ComparePrevious,
			Period{h("2026-11-19T00:00:00Z"), h("2026-11-19T12:00:00Z")}, time.Hour},
	} {
		got, step := TimelineSpan(c.period, c.compared, c.mode)
		if got != c.want || step != c.step {
			t.Errorf("%s: %v..%v step %v, want %v..%v step %v", c.name, got.From, got.To, step, c.want.From, c.want.To, c.step)
		}
	}
}
