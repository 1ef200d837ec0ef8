package report

import (
	"math"
	"strings"
	"time"

	"github.com/trustpipe/trustpipe/aggregate/indicator"
)

// audience fills the page's audience section: the shrinking-audience
// verdict, the range's three audience signals, and per UTC day of the
// timeline the signals as lines (the shares on the left axis, clicks per
// clicker on the right).
func (p *pageData) audience(o Overview) {
	d := o.AudienceDivergence
	p.AudienceFlag, p.AudienceReason = d.Flag, upperFirst(d.Reason)+"."
	if a := o.Report.Audience; a != nil {
		var parts []string
		for i, s := range indicator.AudienceSignals() {
			parts = append(parts, s.Title+" "+audienceValue(s, a.Signals[i].Value))
		}
		p.Audience = strings.Join(parts, ", ") + " (" + count(a.Counts.Clickers) + " clickers, " + count(a.Counts.DeliveredContacts) + " delivered contacts)."
	}
	if len(o.Audience) == 0 {
		return
	}
	ax := timeAxis{}
	signals := indicator.AudienceSignals()
	lines := make([]line, len(signals))
	for i, s := range signals {
		lines[i] = line{name: s.Title, class: "l-click" + string(rune('0'+i)), right: s.PerContact}
		label := s.Title + " (left axis)"
		if s.PerContact {
			label = s.Title + " (right axis)"
		}
		p.AudienceLegend = append(p.AudienceLegend, legendItem{label, lines[i].class})
	}
	leftMax, rightMax := 0.0, 0.0
	for _, day := range o.Audience {
		label := day.Day
		if t, err := time.Parse(dayFormat, day.Day); err == nil {
			label = t.Format("Jan 2")
			if !t.Before(o.From.Truncate(24*time.Hour)) && ax.current == 0 && len(ax.labels) > 0 {
				ax.current = len(ax.labels)
			}
		}
		ax.labels = append(ax.labels, label)
		for i, s := range signals {
			v := s.Evaluate(day.Audience).Value
			lines[i].values = append(lines[i].values, v)
			if v != nil && s.PerContact {
				rightMax = math.Max(rightMax, *v)
			} else if v != nil {
				leftMax = math.Max(leftMax, *v)
			}
		}
	}
	p.AudienceChart = lineChart(narrow, "Audience signals per day", ax, lines, nil, niceMax(leftMax, 0.01), axisPercent,
		niceMax(rightMax, 1), fixed2)
}

// audienceValue renders a signal's value: shares as percentages, clicks
// per clicker as a number.
func audienceValue(s indicator.AudienceSignal, v *float64) string {
	if v == nil {
		return "-"
	}
	if s.PerContact {
		return fixed2(*v)
	}
	return axisPercent(math.Round(*v*1000) / 1000)
}

func fixed2(f float64) string { return fmt2(&f) }
