package report

import (
	"cmp"
	"slices"
	"time"

	"github.com/trustpipe/trustpipe/aggregate/indicator"
)

// The overview is what the HTML page shows beyond the report: the Trust
// Index and the indicators over time, and the campaigns ranked by their
// trust impact. Like the rest of the report it is computed here, from
// totals, with package indicator — the page only draws it.

// Bucket is the trust_counts totals of one time step [Start, End).
type Bucket struct {
	Start  time.Time
	Totals indicator.Totals
}

// CampaignTotals is the totals of one campaign_id ("" for events without a
// campaign) over the report's range and filter.
type CampaignTotals struct {
	Campaign string
	Totals   indicator.Totals
}

// OverviewInput is what BuildOverview needs besides the report.
type OverviewInput struct {
	// Span and Step are the timeline's range and step, from TimelineSpan.
	Span Period
	Step time.Duration
	// Series holds the steps that have data; the others are empty.
	Series []Bucket
	// Campaigns holds the range's totals per campaign under the filter.
	Campaigns []CampaignTotals
	// Audience holds the audience counts per UTC day of Span (nil under a
	// segment or source filter).
	Audience []DayAudience
}

// Overview is the report with its timeline and campaign ranking.
type Overview struct {
	Report
	Span     Period
	Step     time.Duration
	Timeline []Point
	// Ranking is RankCampaigns of the range's campaigns.
	Ranking []CampaignRank
	// Index is the configuration the Index values were computed with.
	Index indicator.IndexConfig
	// Audience is OverviewInput.Audience.
	Audience []DayAudience
}

// Point is one step of the timeline.
type Point struct {
	Start, End time.Time
	Index      indicator.Index
	Indicators Values // indicator.All order
	// Current is true when the step lies in the report's range (not in the
	// comparison period shown before it).
	Current bool
}

// CampaignRank is one campaign of the ranking, as in the drill-down
// dashboard's "Campaigns ranked by trust impact" table.
type CampaignRank struct {
	Campaign string
	// Delivered is the delivered messages (CTR's denominator).
	Delivered float64
	// Index is the campaign's own Trust Index; nil without enough volume.
	Index *float64
	// VsSelection is Index − the Index of the whole selection.
	VsSelection *float64
	// Impact is the trust impact (see RankCampaigns).
	Impact                                 *float64
	Complaint, Unsubscribe, OptDown, Click *float64
}

// TimelineSpan chooses the timeline of a report: the comparison period and
// the range when the comparison is the period just before (so the chart
// shows the change the report explains), else the range alone; in steps of
// a day when the span is three days or longer, else of an hour. The span
// is widened to whole steps.
func TimelineSpan(period, comparison Period, mode string) (Period, time.Duration) {
	span := period
	if mode == ComparePrevious && comparison.To.Equal(period.From) {
		span.From = comparison.From
	}
	step := time.Hour
	if span.To.Sub(span.From) >= 3*24*time.Hour {
		step = 24 * time.Hour
	}
	return Period{From: floorStep(span.From, step), To: ceilStep(span.To, step)}, step
}

// floorStep truncates t to a multiple of step since the Unix epoch: UTC
// hours and days, the buckets sink's series read groups by.
func floorStep(t time.Time, step time.Duration) time.Time {
	s := int64(step / time.Second)
	u := t.Unix()
	u -= ((u % s) + s) % s
	return time.Unix(u, 0).UTC()
}

func ceilStep(t time.Time, step time.Duration) time.Time {
	f := floorStep(t, step)
	if f.Before(t) {
		return f.Add(step)
	}
	return f
}

// BuildOverview evaluates the timeline and ranking of r with the Index
// configuration cfg (the one r was built with).
func BuildOverview(r Report, cfg indicator.IndexConfig, in OverviewInput) Overview {
	o := Overview{Report: r, Span: in.Span, Step: in.Step, Index: cfg, Audience: in.Audience}
	byStart := map[int64]indicator.Totals{}
	for _, b := range in.Series {
		k := b.Start.Unix()
		byStart[k] = byStart[k].Merge(b.Totals)
	}
	for t := in.Span.From; in.Step > 0 && t.Before(in.Span.To); t = t.Add(in.Step) {
		tot := byStart[t.Unix()]
		end := t.Add(in.Step)
		o.Timeline = append(o.Timeline, Point{
			Start: t, End: end,
			Index:      indicator.ComputeIndex(cfg, tot),
			Indicators: Values(indicator.EvaluateAll(tot)),
			Current:    !t.Before(floorStep(r.From, in.Step)),
		})
	}
	o.Ranking = RankCampaigns(cfg, r.TrustIndex.Value, in.Campaigns)
	return o
}

func delivered(t indicator.Totals) float64 {
	d, _ := indicator.ByName(indicator.CTR)
	return d.Evaluate(t).Denominator
}

// RankCampaigns is the one definition of the campaign trust ranking, shown
// by the report page and by the drill-down dashboard's "Campaigns ranked by
// trust impact" table (whose SQL, generated in dashboards/grafana, follows
// this rule and is checked against it on ClickHouse):
//
//	impact = (campaign Index − selection Index) × campaign delivered / selection delivered
//
// where selection is the Index of the whole selection (all the campaigns
// given) and delivered is CTR's denominator; impact is roughly the Index
// points the campaign moves the selection by. It is absent when the
// campaign or the selection has no Index, or nothing was delivered.
// Campaigns are listed most harmful first: by impact ascending (campaigns
// without an impact last), then by delivered descending, then by
// campaign_id in byte order ("" is events without a campaign).
func RankCampaigns(cfg indicator.IndexConfig, selection *float64, campaigns []CampaignTotals) []CampaignRank {
	all := selection
	var allDelivered float64
	merged := map[string]indicator.Totals{}
	for _, c := range campaigns {
		merged[c.Campaign] = merged[c.Campaign].Merge(c.Totals)
		allDelivered += delivered(c.Totals)
	}
	out := make([]CampaignRank, 0, len(merged))
	for name, t := range merged {
		vals := Values(indicator.EvaluateAll(t))
		cr := CampaignRank{
			Campaign:    name,
			Delivered:   delivered(t),
			Index:       indicator.ComputeIndex(cfg, t).Value,
			Complaint:   vals.Get(indicator.ComplaintRate),
			Unsubscribe: vals.Get(indicator.UnsubscribeRate),
			OptDown:     vals.Get(indicator.OptDownShare),
			Click:       vals.Get(indicator.CTR),
		}
		if cr.Index != nil && all != nil {
			vs := *cr.Index - *all
			cr.VsSelection = &vs
			if allDelivered > 0 {
				imp := vs * cr.Delivered / allDelivered
				cr.Impact = &imp
			}
		}
		out = append(out, cr)
	}
	slices.SortFunc(out, func(a, b CampaignRank) int {
		switch {
		case a.Impact == nil && b.Impact != nil:
			return 1
		case a.Impact != nil && b.Impact == nil:
			return -1
		case a.Impact != nil && *a.Impact != *b.Impact:
			return cmp.Compare(*a.Impact, *b.Impact)
		case a.Delivered != b.Delivered:
			return cmp.Compare(b.Delivered, a.Delivered)
		}
		return cmp.Compare(a.Campaign, b.Campaign)
	})
	return out
}
