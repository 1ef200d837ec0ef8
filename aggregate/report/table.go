package report

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/trustpipe/trustpipe/aggregate/indicator"
)

// WriteTable writes the report as a terminal table (plain text, no colour,
// fixed-width columns), in this order: header, indicators, Trust Index with
// its components, what moved the Index, divergence, consent migration,
// engaged reach, direct-traffic growth, the rates per channel, and the
// attributed, unique-engagement and per-provider complaint figures, and the
// accounts in alarm and the provenance section. An empty range prints the
// header and says so.
func (r Report) WriteTable(w io.Writer) error {
	bw := bufio.NewWriter(w)
	p := &printer{w: bw}
	r.header(p)
	if r.Empty {
		p.line("")
		p.line(upperFirst(r.Message) + ".")
		if r.Comparison.Events > 0 {
			p.line(fmt.Sprintf("The compared period, %s to %s UTC, had %s events.", r.Comparison.From.Format(timeLayout),
				r.Comparison.To.Format(timeLayout), count(r.Comparison.Events)))
		}
		p.line("Check the range and the filters, and that `trustpipe run` writes to this database.")
	} else {
		r.indicatorTables(p)
		r.indexTable(p)
		r.moved(p)
		r.divergence(p)
		r.consent(p)
		r.reach(p)
		r.meaning(p)
		r.accounts(p)
		r.provenance(p)
	}
	if p.err != nil {
		return p.err
	}
	return bw.Flush()
}

// printer collects the first write error, so rendering code stays linear.
type printer struct {
	w   io.Writer
	err error
}

func (p *printer) line(s string) {
	if p.err == nil {
		_, p.err = io.WriteString(p.w, s+"\n")
	}
}

// table prints rows as aligned columns, indented by two spaces.
func (p *printer) table(rows [][]string) {
	if p.err != nil {
		return
	}
	tw := tabwriter.NewWriter(p.w, 0, 0, 2, ' ', 0)
	for _, row := range rows {
		if _, err := io.WriteString(tw, "  "+strings.Join(row, "\t")+"\n"); err != nil {
			p.err = err
			return
		}
	}
	p.err = tw.Flush()
}

const timeLayout = "2006-01-02 15:04"

func span(from, to time.Time) string {
	return from.UTC().Format(timeLayout) + " to " + to.UTC().Format(timeLayout) + " UTC (" + length(to.Sub(from)) + ")"
}

// length renders a range's length in whole days or hours when it is one,
// else as a Go duration.
func length(d time.Duration) string {
	plural := func(n time.Duration, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return strconv.FormatInt(int64(n), 10) + " " + unit + "s"
	}
	switch {
	case d > 0 && d%(24*time.Hour) == 0:
		return plural(d/(24*time.Hour), "day")
	case d > 0 && d%time.Hour == 0:
		return plural(d/time.Hour, "hour")
	}
	return d.String()
}

func (r Report) header(p *printer) {
	p.line("TRUST REPORT  " + span(r.From, r.To))
	p.line("Filter:        " + r.Filter.String())
	how := "the period just before"
	if r.Comparison.Mode == CompareRange {
		how = "chosen with --compare-to"
	}
	p.line("Compared with: " + span(r.Comparison.From, r.Comparison.To) + ", " + how)
	p.line("Events:        " + count(r.Events) + " (compared period: " + count(r.Comparison.Events) + ")")
	if r.Duplicates > 0 {
		p.line("Duplicates:    " + count(r.Duplicates) + " re-sent records not counted again (same event_id; any campaign, channel, segment, source)")
	}
}

func (r Report) indicatorTables(p *printer) {
	lowVolume := false
	for _, kind := range []struct {
		title, kind string
	}{
		{"TRUST INDICATORS", indicator.Trust.String()},
		{"CLICK METRICS", indicator.Click.String()},
	} {
		p.line("")
		p.line(kind.title)
		rows := [][]string{{"INDICATOR", "VALUE", "95% INTERVAL", "VOLUME (NUM / DEN)", "PREVIOUS", "BETTER"}}
		for _, d := range r.IndicatorDetails {
			if d.Kind != kind.kind {
				continue
			}
			v := indicator.FormatValue(d.Name, d.Value.Value)
			if d.Value.Value != nil && !d.Sufficient {
				v += " *"
				lowVolume = true
			}
			interval := "-"
			if d.Low != nil && d.High != nil {
				interval = indicator.FormatValue(d.Name, d.Low) + " - " + indicator.FormatValue(d.Name, d.High)
			}
			rows = append(rows, []string{d.Name, v, interval,
				number(d.Numerator) + " / " + number(d.Denominator),
				indicator.FormatValue(d.Name, d.Previous), d.Direction})
		}
		p.table(rows)
	}
	if lowVolume {
		p.line("  * below the indicator's minimum volume: shown, but not scored in the Index nor alerted on")
	}
}

func (r Report) indexTable(p *printer) {
	p.line("")
	idx := r.TrustIndex
	head := "TRUST INDEX   " + index(idx.Value) + "   [" + idx.Coverage.String() + "]"
	if r.Change.Delta != nil {
		head += "   (compared period " + index(r.Comparison.TrustIndex.Value) + ", " + signedPoints(*r.Change.Delta) + " points)"
	} else {
		head += "   (compared period " + index(r.Comparison.TrustIndex.Value) + ")"
	}
	p.line(head)
	rows := [][]string{{"COMPONENT", "VALUE", "SCORE", "WEIGHT", "CONTRIBUTION", "GOOD", "BAD"}}
	var excluded []indicator.ComponentResult
	for _, c := range idx.Components {
		if c.Excluded {
			excluded = append(excluded, c)
			continue
		}
		rows = append(rows, []string{c.Name, indicator.FormatValue(c.Name, c.Value), fixed1(*c.Score),
			fixed1(100*c.Weight) + "%", fixed1(c.Contribution),
			indicator.FormatValue(c.Name, &c.Good), indicator.FormatValue(c.Name, &c.Bad)})
	}
	if len(rows) > 1 {
		p.table(rows)
	} else {
		p.line("  no component has enough data for an Index")
	}
	if len(excluded) > 0 {
		p.line("  Left out (the other weights are renormalised to sum to 100%):")
		ex := [][]string{}
		for _, c := range excluded {
			ex = append(ex, []string{"  " + c.Name, indicator.FormatValue(c.Name, c.Value), c.ExcludedReason})
		}
		p.table(ex)
	}
}

func (r Report) moved(p *printer) {
	p.line("")
	p.line("WHAT MOVED THE INDEX")
	p.line("  " + r.Change.Summary)
	rows := [][]string{}
	still := 0
	for _, c := range r.Change.Components {
		if math.Abs(c.Delta) < 0.05 {
			still++
			continue
		}
		rows = append(rows, []string{signedPoints(c.Delta), c.Sentence})
	}
	if len(rows) > 0 {
		p.table(rows)
	}
	if still > 0 && len(rows) > 0 {
		p.line(fmt.Sprintf("  %d other component(s) did not move it (less than 0.05 points)", still))
	}
}

func (r Report) divergence(p *printer) {
	p.line("")
	p.line("DIVERGENCE (click metrics up while the Trust Index falls; baseline: the compared period)")
	d := r.Divergence
	if d.Flag {
		p.line("  FLAGGED: " + d.Reason)
	} else {
		p.line("  not flagged: " + d.Reason)
	}
	rows := [][]string{{"CLICK METRIC", "BASELINE", "CURRENT", "CHANGE", "NOTE"}}
	for _, m := range d.Clicks {
		ch := "-"
		if m.RelativeChange != nil {
			ch = signedPct(*m.RelativeChange)
		}
		note := m.Note
		if m.Improved {
			note = "improved"
		}
		rows = append(rows, []string{m.Name, indicator.FormatValue(m.Name, m.Baseline), indicator.FormatValue(m.Name, m.Current), ch, note})
	}
	p.table(rows)
	c := r.DivergenceConfig
	p.line(fmt.Sprintf("  Flags when any of %s rises by %s or more while the Index falls by %s points or more.",
		strings.Join(c.ClickMetrics, ", "), strconv.FormatFloat(100*c.MinClickLift, 'g', -1, 64)+"%",
		strconv.FormatFloat(c.MinIndexDrop, 'g', -1, 64)))
}

func (r Report) consent(p *printer) {
	p.line("")
	m := r.ConsentMigration
	p.line(fmt.Sprintf("CONSENT MIGRATION   %s changes: %s upgrades, %s downgrades (compared period: %s, %s up, %s down)",
		count(m.Total), count(m.Upgrades), count(m.Downgrades), count(m.PreviousTotal), count(m.PreviousUpgrades), count(m.PreviousDowngrades)))
	if len(m.Transitions) == 0 {
		p.line("  no consent changes in either period")
		return
	}
	rows := [][]string{{"FROM TIER", "TO TIER", "EVENTS", "PREVIOUS"}}
	for _, t := range m.Transitions {
		rows = append(rows, []string{strconv.Itoa(int(t.From)), strconv.Itoa(int(t.To)), count(t.Events), count(t.PreviousEvents)})
	}
	p.table(rows)
}

func (r Report) reach(p *printer) {
	p.line("")
	e := r.EngagedReach
	line := "ENGAGED REACH   " + count(e.Contacts) + " distinct contacts on " + dayRange(e.FirstDay, e.LastDay) +
		" (compared period " + dayRange(e.PreviousFirstDay, e.PreviousLastDay) + ": " + count(e.PreviousContacts)
	if e.Change != nil {
		line += ", " + signedPct(*e.Change)
	}
	p.line(line + ")")
	p.line("  contacts with a human open, click, form fill, web session, preference-centre visit or opt-up;")
	p.line("  counted per whole UTC day, and a contact active on several days counts once in the total")
	if a := r.Audience; a != nil {
		for i, s := range indicator.AudienceSignals() {
			v := a.Signals[i]
			p.line(fmt.Sprintf("  %-22s %s (%s %s / %s %s)", s.Name, fmt2(v.Value),
				count(a.Counts.Count(s.Numerator)), strings.ReplaceAll(s.Numerator, "_", " "),
				count(a.Counts.Count(s.Denominator)), strings.ReplaceAll(s.Denominator, "_", " ")))
		}
	}
	d := r.AudienceDivergence
	verdict := "no"
	if d.Flag {
		verdict = "YES"
	}
	p.line("  SHRINKING AUDIENCE (ctr up by " + strconv.FormatFloat(100*r.DivergenceConfig.MinClickLift, 'g', -1, 64) +
		"% or more while engaged contacts or engaged_reach_rate fall by " + strconv.FormatFloat(100*r.DivergenceConfig.MinReachDrop, 'g', -1, 64) +
		"% or more): " + verdict + " - " + d.Reason)
	if len(e.Days) == 0 {
		return
	}
	rows := [][]string{{"DAY", "CONTACTS"}}
	for _, d := range e.Days {
		rows = append(rows, []string{d.Day, count(d.Contacts)})
	}
	p.table(rows)
}

func dayRange(first, last string) string {
	if first == last {
		return first
	}
	return first + " to " + last
}

// count formats a count with thousands separators: 1234567 -> "1,234,567".
func count(n uint64) string {
	s := strconv.FormatUint(n, 10)
	if len(s) <= 3 {
		return s
	}
	var b strings.Builder
	lead := len(s) % 3
	if lead > 0 {
		b.WriteString(s[:lead])
	}
	for i := lead; i < len(s); i += 3 {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(s[i : i+3])
	}
	return b.String()
}

// number formats a numerator or denominator: integers with separators
// (negative ones too, for consent momentum), others with two decimals.
func number(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		if f < 0 {
			return "-" + count(uint64(-f))
		}
		return count(uint64(f))
	}
	return strconv.FormatFloat(f, 'f', 2, 64)
}

func fixed1(f float64) string {
	s := strconv.FormatFloat(f, 'f', 1, 64)
	if s == "-0.0" {
		return "0.0"
	}
	return s
}

func index(v *float64) string {
	if v == nil {
		return "n/a"
	}
	return fixed1(*v)
}

func signedPoints(d float64) string {
	s := fixed1(d)
	if s != "0.0" && d > 0 {
		return "+" + s
	}
	return s
}

func signedPct(f float64) string {
	s := fixed1(100 * f)
	if s != "0.0" && f > 0 {
		s = "+" + s
	}
	return s + "%"
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// fmt2 renders a ratio with two decimals, "-" without a value.
func fmt2(v *float64) string {
	if v == nil {
		return "-"
	}
	return strconv.FormatFloat(*v, 'f', 2, 64)
}
