package report

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/trustpipe/trustpipe/aggregate/indicator"
)

// The HTML page: the overview as one self-contained file (inline CSS and
// SVG, no script, nothing fetched — its Content-Security-Policy forbids
// it), readable on a laptop and a phone. Numbers are formatted as in the
// terminal table; every figure is one of the Overview's, so the page, the
// table and the JSON always agree.

//go:embed page.html.tmpl
var pageTemplate string

var page = template.Must(template.New("page").Parse(pageTemplate))

// WriteHTML writes the overview as an HTML page.
func (o Overview) WriteHTML(w io.Writer) error {
	if err := page.Execute(w, o.pageData()); err != nil {
		return fmt.Errorf("render the HTML report: %w", err)
	}
	return nil
}

// CSP is the page's Content-Security-Policy: nothing may be loaded except
// the page's own inline styles and data: images. Servers of the page send
// it as a header too.
const CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

type pageData struct {
	CSP, BandRule                       string
	Span, Filter, Compared, Events      string
	Empty                               bool
	Message                             string
	Index, IndexExact, Band, BandLabel  string
	PrevIndex, Delta, Why, Coverage     string
	Gauge, Moved                        template.HTML
	Components                          []componentRow
	Excluded                            []excludedRow
	Step                                string
	OverTime, ClicksVsTrust, Complaints template.HTML
	ContribLegend, ClickLegend          []legendItem
	ComplaintNow, ComplaintPrev         string
	ComplaintGood, ComplaintBad         string
	Flag                                bool
	DivReason, DivRule                  string
	DivChart                            template.HTML
	Clicks                              []clickRow
	Consent                             string
	ConsentChart                        template.HTML
	Reach                               string
	ReachChart                          template.HTML
	AudienceFlag                        bool
	Audience, AudienceReason            string
	AudienceChart                       template.HTML
	AudienceLegend                      []legendItem
	Campaigns                           []campaignRow
	CampaignChart                       template.HTML
	CampaignsLeft                       int
	Accounts                            *accountsPage
	ProvenanceAvailable                 bool
	Provenance                          []provenanceRow
	ProvenanceChart                     template.HTML
	Unattributed                        string
}

type componentRow struct{ Title, Value, Score, Weight, Contribution, Class string }

type excludedRow struct{ Title, Value, Reason string }

type legendItem struct{ Label, Class string }

type clickRow struct{ Title, Baseline, Current, Change, Note string }

type campaignRow struct {
	Campaign, Delivered, Index, Band, VsSelection, Impact string
	Complaint, Unsubscribe, OptDown, Click                string
}

// maxRankedBars is how many campaigns the ranking chart draws (the table
// lists them all).
const maxRankedBars = 12

func title(name string) string {
	if d, ok := indicator.ByName(name); ok {
		return d.Title
	}
	return name
}

var bandLabels = map[string]string{"at-risk": "at risk", "watch": "watch", "healthy": "healthy", "none": "no Index"}

func (o Overview) pageData() pageData {
	r := o.Report
	how := "the period just before"
	if r.Comparison.Mode == CompareRange {
		how = "chosen with --compare-to"
	}
	p := pageData{
		CSP: CSP,
		BandRule: "at risk below " + strconv.FormatFloat(indicator.IndexAtRisk, 'g', -1, 64) + ", watch below " +
			strconv.FormatFloat(indicator.IndexHealthy, 'g', -1, 64) + ", healthy from " + strconv.FormatFloat(indicator.IndexHealthy, 'g', -1, 64),
		Span:     span(r.From, r.To),
		Filter:   r.Filter.String(),
		Compared: span(r.Comparison.From, r.Comparison.To) + ", " + how,
		Events:   count(r.Events) + " (compared period: " + count(r.Comparison.Events) + ")",
		Empty:    r.Empty,
		Message:  upperFirst(r.Message) + ".",
	}
	idx := r.TrustIndex
	p.Index, p.Band = index(idx.Value), indicator.Band(idx.Value)
	p.BandLabel = bandLabels[p.Band]
	if idx.Value != nil {
		p.IndexExact = strconv.FormatFloat(*idx.Value, 'g', -1, 64)
	}
	p.PrevIndex = index(r.Comparison.TrustIndex.Value)
	if r.Change.Delta != nil {
		p.Delta = signedPoints(*r.Change.Delta)
	}
	p.Why = o.why()
	p.Gauge = bandGauge(idx.Value, r.Comparison.TrustIndex.Value)
	p.coverage(o)
	p.moved(r)
	p.timeline(o)
	p.divergence(r)
	p.consent(r)
	p.reach(r)
	p.audience(o)
	p.campaigns(o)
	p.Accounts = accountsSection(r.Accounts)
	p.provenance(r)
	return p
}

// componentClass is the colour class of a component, by its position in the
// Index configuration.
func componentClass(i int) string { return "c" + strconv.Itoa(i%10) }

func (p *pageData) coverage(o Overview) {
	idx := o.TrustIndex
	scored := 0
	for i, c := range idx.Components {
		if c.Excluded {
			p.Excluded = append(p.Excluded, excludedRow{title(c.Name), indicator.FormatValue(c.Name, c.Value), c.ExcludedReason})
			continue
		}
		scored++
		p.Components = append(p.Components, componentRow{title(c.Name), indicator.FormatValue(c.Name, c.Value), fixed1(*c.Score),
			fixed1(100*c.Weight) + "%", fixed1(c.Contribution), componentClass(i)})
	}
	p.Coverage = fmt.Sprintf("%d of %d components scored", scored, len(idx.Components))
	if len(p.Excluded) > 0 {
		p.Coverage += "; the others were left out and the weights renormalised to sum to 100%"
	}
}

// why is the sentence a leader can read aloud: where the Index stands,
// how far it moved and what moved it most, and whether clicks rose while
// trust fell.
func (o Overview) why() string {
	r := o.Report
	if r.Empty {
		return upperFirst(r.Message) + "."
	}
	v := r.TrustIndex.Value
	if v == nil {
		return "There is not enough data for a Trust Index in this range: every component was left out (see below)."
	}
	s := "The Trust Index is " + fixed1(*v) + ", " + bandLabels[indicator.Band(v)]
	if d := r.Change.Delta; d != nil {
		switch p := fixed1(math.Abs(*d)); {
		case p == "0.0":
			s += ", unchanged from the compared period"
		case *d < 0:
			s += ": it fell " + p + " points from " + index(r.Change.Prev)
		default:
			s += ": it rose " + p + " points from " + index(r.Change.Prev)
		}
		if len(r.Change.Components) > 0 && fixed1(math.Abs(r.Change.Components[0].Delta)) != "0.0" {
			c := r.Change.Components[0]
			rest, _ := strings.CutPrefix(c.Sentence, c.Name)
			s += "; the biggest mover: the " + strings.ToLower(title(c.Name)) + rest
		}
	}
	s += "."
	if r.Divergence.Flag {
		var best *indicator.ClickMove
		for i, m := range r.Divergence.Clicks {
			if m.Improved && (best == nil || *m.RelativeChange > *best.RelativeChange) {
				best = &r.Divergence.Clicks[i]
			}
		}
		s += " Meanwhile clicks rose (" + strings.ToLower(title(best.Name)) + " " + signedPct(*best.RelativeChange) +
			"): the programme is buying clicks with trust."
	}
	return s
}

func (p *pageData) moved(r Report) {
	var rows []hbar
	for _, c := range r.Change.Components {
		if math.Abs(c.Delta) < 0.05 {
			continue
		}
		class := "up"
		if c.Delta < 0 {
			class = "down"
		}
		rows = append(rows, hbar{title(c.Name), c.Delta, signedPoints(c.Delta), class})
	}
	if len(rows) > 0 {
		p.Moved = hbars(narrow, "Index points each component added or cost since the compared period", rows, nil)
	}
}

func (p *pageData) timeline(o Overview) {
	ax := timeAxis{}
	layout := "Jan 2"
	p.Step = "day"
	if o.Step < 24*time.Hour {
		layout, p.Step = "15:04", "hour"
	}
	for i, pt := range o.Timeline {
		ax.labels = append(ax.labels, pt.Start.Format(layout))
		if pt.Current && ax.current == 0 && i > 0 && !o.Timeline[i-1].Current {
			ax.current = i
		}
	}
	// Index over time, stacked by component contribution.
	var bars []stack
	var indexLine []*float64
	for _, pt := range o.Timeline {
		b := stack{title: pt.Start.Format(layout) + ": Trust Index " + index(pt.Index.Value)}
		for i, c := range pt.Index.Components {
			if !c.Excluded {
				b.segments = append(b.segments, segment{c.Contribution, componentClass(i)})
			}
		}
		bars = append(bars, b)
		indexLine = append(indexLine, pt.Index.Value)
	}
	for i, c := range o.Index.Components {
		if c.Weight > 0 {
			p.ContribLegend = append(p.ContribLegend, legendItem{title(c.Indicator), componentClass(i)})
		}
	}
	points := func(f float64) string { return strconv.FormatFloat(f, 'f', 0, 64) }
	bandRefs := []refLine{{indicator.IndexHealthy, "healthy from " + points(indicator.IndexHealthy), "ref-healthy"},
		{indicator.IndexAtRisk, "at risk below " + points(indicator.IndexAtRisk), "ref-at-risk"}}
	p.OverTime = stackedBars(wide, "Trust Index per "+p.Step+", stacked by component contribution", ax, bars, bandRefs, 100, points)

	// Click metrics (right axis) against the Index (left axis).
	lines := []line{{name: "Trust Index", class: "l-index", values: indexLine}}
	p.ClickLegend = []legendItem{{"Trust Index (left axis)", "l-index"}}
	clickMax := 0.0
	for i, name := range []string{indicator.OpenRate, indicator.CTR, indicator.ClickToOpen} {
		l := line{name: title(name), class: "l-click" + strconv.Itoa(i), right: true}
		for _, pt := range o.Timeline {
			v := pt.Indicators.Get(name)
			l.values = append(l.values, v)
			if v != nil {
				clickMax = math.Max(clickMax, *v)
			}
		}
		lines = append(lines, l)
		p.ClickLegend = append(p.ClickLegend, legendItem{title(name) + " (right axis)", l.class})
	}
	p.ClicksVsTrust = lineChart(narrow, "Trust Index and click metrics per "+p.Step, ax, lines, nil, 100, points,
		niceMax(clickMax, 0.01), axisPercent)

	// Complaint rate against the mailbox providers' lines.
	cd, _ := indicator.ByName(indicator.ComplaintRate)
	comp := line{name: cd.Title, class: "l-complaint"}
	hi := cd.Bad
	for _, pt := range o.Timeline {
		v := pt.Indicators.Get(cd.Name)
		comp.values = append(comp.values, v)
		if v != nil {
			hi = math.Max(hi, *v)
		}
	}
	p.ComplaintGood, p.ComplaintBad = indicator.FormatValue(cd.Name, &cd.Good), indicator.FormatValue(cd.Name, &cd.Bad)
	p.ComplaintNow = indicator.FormatValue(cd.Name, o.Indicators.Get(cd.Name))
	p.ComplaintPrev = indicator.FormatValue(cd.Name, o.Comparison.Indicators.Get(cd.Name))
	refs := []refLine{{cd.Good, "keep below " + p.ComplaintGood, "ref-watch"}, {cd.Bad, "never reach " + p.ComplaintBad, "ref-at-risk"}}
	p.Complaints = lineChart(narrow, "Complaint rate per "+p.Step+" against the 0.1% and 0.3% mailbox-provider lines", ax,
		[]line{comp}, refs, niceMax(hi*1.1, 0.001), axisPercent, 0, nil)
}

// axisPercent labels a ratio axis tick as a percentage, without float
// noise (0.0015 is "0.15%", not "0.15000000000000002%").
func axisPercent(f float64) string {
	return strconv.FormatFloat(math.Round(f*1e8)/1e6, 'f', -1, 64) + "%"
}

func (p *pageData) divergence(r Report) {
	d := r.Divergence
	p.Flag, p.DivReason = d.Flag, d.Reason
	c := r.DivergenceConfig
	p.DivRule = fmt.Sprintf("Flags when any of %s rises by %s or more while the Index falls by %s points or more.",
		strings.Join(c.ClickMetrics, ", "), strconv.FormatFloat(100*c.MinClickLift, 'g', -1, 64)+"%",
		strconv.FormatFloat(c.MinIndexDrop, 'g', -1, 64))
	var rows []hbar
	for _, m := range d.Clicks {
		ch := "-"
		if m.RelativeChange != nil {
			ch = signedPct(*m.RelativeChange)
			class := "neutral"
			if m.Improved {
				class = "lift"
			}
			rows = append(rows, hbar{title(m.Name), 100 * *m.RelativeChange, ch, class})
		}
		note := m.Note
		if m.Improved {
			note = "improved"
		}
		p.Clicks = append(p.Clicks, clickRow{title(m.Name), indicator.FormatValue(m.Name, m.Baseline),
			indicator.FormatValue(m.Name, m.Current), ch, note})
	}
	if r.Change.Delta != nil {
		rows = append(rows, hbar{"Trust Index (points)", *r.Change.Delta, signedPoints(*r.Change.Delta), "index"})
	}
	p.DivChart = hbars(narrow, "Change of each click metric (percent) and of the Trust Index (points) against the compared period", rows,
		[]refLine{{value: 100 * c.MinClickLift, label: "click lift that counts", class: "ref-watch"},
			{value: -c.MinIndexDrop, label: "Index drop that counts", class: "ref-at-risk"}})
}

func (p *pageData) consent(r Report) {
	m := r.ConsentMigration
	p.Consent = fmt.Sprintf("%s changes: %s upgrades, %s downgrades (compared period: %s, %s up, %s down)",
		count(m.Total), count(m.Upgrades), count(m.Downgrades), count(m.PreviousTotal), count(m.PreviousUpgrades), count(m.PreviousDowngrades))
	var rows []hbar
	for _, t := range m.Transitions {
		dir := "down"
		if t.To > t.From {
			dir = "up"
		}
		label := fmt.Sprintf("tier %d → %d", t.From, t.To)
		rows = append(rows,
			hbar{label + " now", float64(t.Events), count(t.Events), dir},
			hbar{label + " before", float64(t.PreviousEvents), count(t.PreviousEvents), dir + " before"})
	}
	if len(rows) > 0 {
		p.ConsentChart = hbars(narrow, "Consent changes by tier transition, this period and the compared one", rows, nil)
	}
}

func (p *pageData) reach(r Report) {
	e := r.EngagedReach
	p.Reach = count(e.Contacts) + " distinct contacts on " + dayRange(e.FirstDay, e.LastDay) +
		" (compared period " + dayRange(e.PreviousFirstDay, e.PreviousLastDay) + ": " + count(e.PreviousContacts)
	if e.Change != nil {
		p.Reach += ", " + signedPct(*e.Change)
	}
	p.Reach += ")"
	if len(e.Days) == 0 {
		return
	}
	ax := timeAxis{}
	var bars []stack
	hi := 0.0
	for _, d := range e.Days {
		label := d.Day
		if t, err := time.Parse(dayFormat, d.Day); err == nil {
			label = t.Format("Jan 2")
		}
		ax.labels = append(ax.labels, label)
		bars = append(bars, stack{title: d.Day + ": " + count(d.Contacts) + " contacts", segments: []segment{{float64(d.Contacts), "reach"}}})
		hi = math.Max(hi, float64(d.Contacts))
	}
	p.ReachChart = stackedBars(narrow, "Distinct engaged contacts per day", ax, bars, nil, niceMax(hi, 1),
		func(f float64) string { return count(uint64(math.Round(f))) })
}

func (p *pageData) campaigns(o Overview) {
	var rows []hbar
	for _, c := range o.Ranking {
		cr := campaignRow{
			Campaign: c.Campaign, Delivered: number(c.Delivered), Index: index(c.Index), Band: indicator.Band(c.Index),
			VsSelection: "n/a", Impact: "n/a",
			Complaint:   indicator.FormatValue(indicator.ComplaintRate, c.Complaint),
			Unsubscribe: indicator.FormatValue(indicator.UnsubscribeRate, c.Unsubscribe),
			OptDown:     indicator.FormatValue(indicator.OptDownShare, c.OptDown),
			Click:       indicator.FormatValue(indicator.CTR, c.Click),
		}
		if cr.Campaign == "" {
			cr.Campaign = "(no campaign)"
		}
		if c.VsSelection != nil {
			cr.VsSelection = signedPoints(*c.VsSelection)
		}
		if c.Impact != nil {
			cr.Impact = signedImpact(*c.Impact)
			if len(rows) < maxRankedBars {
				class := "up"
				if *c.Impact < 0 {
					class = "down"
				}
				rows = append(rows, hbar{cr.Campaign, *c.Impact, cr.Impact, class})
			}
		}
		p.Campaigns = append(p.Campaigns, cr)
	}
	if len(rows) > 0 {
		p.CampaignChart = hbars(narrow, "Trust impact of each campaign, in Index points, most harmful first", rows, nil)
	}
}

// signedImpact formats a trust impact with two decimals, as the drill-down
// dashboard does.
func signedImpact(f float64) string {
	s := strconv.FormatFloat(f, 'f', 2, 64)
	switch {
	case s == "-0.00":
		return "0.00"
	case f > 0 && s != "0.00":
		return "+" + s
	}
	return s
}
