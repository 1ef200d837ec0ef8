package report

import (
	"fmt"
	"html/template"
	"math"
	"strconv"
	"strings"

	"github.com/trustpipe/trustpipe/aggregate/indicator"
)

// The page's charts, drawn as inline SVG from the report's numbers: no
// script, no image, nothing fetched. Each chart has a viewBox and scales to
// its card; text is sized in viewBox units, so the chart's width bounds how
// small it gets on a phone. Colours never carry meaning alone: the Index
// bands also differ in lightness and pattern (see the page's <defs>), and
// lines differ in dash as well as hue.

// Chart widths in viewBox units: a chart in a half-width card, and one
// spanning the page (wider, not scaled up, so its text stays the size of
// the others').
const (
	narrow = 560
	wide   = 1100
)

const (
	plotTop    = 22
	plotBottom = 30 // room for the time axis labels
	plotLeft   = 46
	plotRight  = 46 // room for a right axis
	labelWidth = 190
	barRow     = 24
)

type svg struct {
	b strings.Builder
	w int // viewBox width
}

func (s *svg) f(format string, a ...any) { fmt.Fprintf(&s.b, format, a...) }

func esc(s string) string { return template.HTMLEscapeString(s) }

// begin opens a chart; label is its accessible name.
func (s *svg) begin(w, h int, label string) {
	s.w = w
	s.f(`<svg class="chart" viewBox="0 0 %d %d" role="img" aria-label="%s"><title>%s</title>`, w, h, esc(label), esc(label))
}

func (s *svg) end() template.HTML {
	s.b.WriteString("</svg>")
	return template.HTML(s.b.String()) // every text in it went through esc
}

func (s *svg) text(x, y float64, anchor, class, t string) {
	s.f(`<text x="%.1f" y="%.1f" text-anchor="%s" class="%s">%s</text>`, x, y, anchor, class, esc(t))
}

// axisTicks is the number of intervals of a value axis.
const axisTicks = 4

// niceMax is the top of a value axis holding v (at least min): axisTicks
// times 1, 2 or 5 × a power of ten, so every tick is a round number.
func niceMax(v, min float64) float64 {
	if v <= min || math.IsNaN(v) {
		v = min
	}
	step := v / axisTicks
	p := math.Pow(10, math.Floor(math.Log10(step)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= step*(1-1e-12) {
			return axisTicks * m * p
		}
	}
	return axisTicks * 10 * p
}

// timeAxis describes the x slots of a time chart.
type timeAxis struct {
	labels []string
	// current is the first slot of the report's range; slots before it are
	// the comparison period, drawn shaded. 0: no shading.
	current int
}

// frame draws the plot area's gridlines and left axis (0..max, with fmt
// for tick labels), the shaded comparison slots and the time labels, and
// returns the mappings of slot and value to coordinates.
type frame struct {
	h, top, bottom, left, right float64
	n                           int
}

func newFrame(w, h, n int, rightAxis bool) frame {
	r := float64(w - 12)
	if rightAxis {
		r = float64(w - plotRight)
	}
	return frame{h: float64(h), top: plotTop, bottom: float64(h - plotBottom), left: plotLeft, right: r, n: n}
}

func (fr frame) slotW() float64 { return (fr.right - fr.left) / float64(max(fr.n, 1)) }

// x is the centre of slot i.
func (fr frame) x(i int) float64 { return fr.left + (float64(i)+0.5)*fr.slotW() }

func (fr frame) y(v, max float64) float64 {
	if max <= 0 {
		max = 1
	}
	return fr.bottom - (fr.bottom-fr.top)*math.Min(math.Max(v/max, 0), 1)
}

func (s *svg) axes(fr frame, ax timeAxis, leftMax float64, leftFmt func(float64) string, rightMax float64, rightFmt func(float64) string) {
	if ax.current > 0 {
		s.f(`<rect class="before" x="%.1f" y="%.1f" width="%.1f" height="%.1f"/>`, fr.left, fr.top, float64(ax.current)*fr.slotW(), fr.bottom-fr.top)
		s.text(fr.left+4, fr.top-8, "start", "note", "compared period")
		s.text(fr.x(ax.current)-fr.slotW()/2+4, fr.top-8, "start", "note", "this report")
	}
	for i := 0; i <= axisTicks; i++ {
		v := leftMax * float64(i) / axisTicks
		y := fr.y(v, leftMax)
		s.f(`<line class="grid" x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f"/>`, fr.left, fr.right, y, y)
		s.text(fr.left-5, y+4, "end", "tick", leftFmt(v))
		if rightFmt != nil {
			s.text(fr.right+5, y+4, "start", "tick", rightFmt(rightMax*float64(i)/axisTicks))
		}
	}
	every := (len(ax.labels) + 7) / 8 // at most about eight labels
	for i, l := range ax.labels {
		if i%max(every, 1) == 0 {
			s.text(fr.x(i), fr.h-12, "middle", "tick", l)
		}
	}
}

// line is one series of a line chart.
type line struct {
	name, class string
	values      []*float64
	right       bool // on the right axis
}

// refLine is a horizontal reference line with a label.
type refLine struct {
	value        float64
	label, class string
}

// lineChart draws lines over time slots, on a left axis and optionally a
// right one; a gap in a series (nil) breaks its line.
func lineChart(w int, label string, ax timeAxis, lines []line, refs []refLine, leftMax float64, leftFmt func(float64) string,
	rightMax float64, rightFmt func(float64) string) template.HTML {
	var s svg
	h := 240
	s.begin(w, h, label)
	fr := newFrame(w, h, len(ax.labels), rightFmt != nil)
	s.axes(fr, ax, leftMax, leftFmt, rightMax, rightFmt)
	for _, r := range refs {
		y := fr.y(r.value, leftMax)
		s.f(`<line class="ref %s" x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f"/>`, r.class, fr.left, fr.right, y, y)
		s.text(fr.right-4, y-4, "end", "reflabel "+r.class, r.label)
	}
	for _, l := range lines {
		m := leftMax
		if l.right {
			m = rightMax
		}
		var d strings.Builder
		pen := "M"
		for i, v := range l.values {
			if v == nil {
				pen = "M"
				continue
			}
			fmt.Fprintf(&d, "%s%.1f %.1f ", pen, fr.x(i), fr.y(*v, m))
			pen = "L"
		}
		s.f(`<path class="line %s" d="%s"><title>%s</title></path>`, l.class, strings.TrimSpace(d.String()), esc(l.name))
		for i, v := range l.values { // points, so a single-slot run shows
			if v != nil && (i == 0 || l.values[i-1] == nil) && (i == len(l.values)-1 || l.values[i+1] == nil) {
				s.f(`<circle class="dot %s" cx="%.1f" cy="%.1f" r="3"/>`, l.class, fr.x(i), fr.y(*v, m))
			}
		}
	}
	return s.end()
}

// stack is one bar of a stacked bar chart: its segments bottom up.
type stack struct {
	title    string
	segments []segment
}

type segment struct {
	value float64
	class string
}

// stackedBars draws one stacked bar per time slot on a 0..max axis.
func stackedBars(w int, label string, ax timeAxis, bars []stack, refs []refLine, maxV float64, fmtV func(float64) string) template.HTML {
	var s svg
	h := 240
	s.begin(w, h, label)
	fr := newFrame(w, h, len(ax.labels), false)
	s.axes(fr, ax, maxV, fmtV, 0, nil)
	bw := fr.slotW() * 0.72
	for i, b := range bars {
		base := 0.0
		s.f(`<g><title>%s</title>`, esc(b.title))
		for _, sg := range b.segments {
			if sg.value <= 0 {
				continue
			}
			y0, y1 := fr.y(base, maxV), fr.y(base+sg.value, maxV)
			s.f(`<rect class="%s" x="%.1f" y="%.1f" width="%.1f" height="%.1f"/>`, sg.class, fr.x(i)-bw/2, y1, bw, y0-y1)
			base += sg.value
		}
		s.b.WriteString("</g>")
	}
	for _, r := range refs {
		y := fr.y(r.value, maxV)
		s.f(`<line class="ref %s" x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f"/>`, r.class, fr.left, fr.right, y, y)
		s.text(fr.right-4, y-4, "end", "reflabel "+r.class, r.label)
	}
	return s.end()
}

// hbar is one row of a horizontal bar chart.
type hbar struct {
	label string
	value float64
	text  string // the value as printed next to the bar
	class string
}

// hbars draws labelled horizontal bars from a zero line; negative values go
// left. Rows are drawn in the given order; refs are vertical reference
// lines.
func hbars(w int, label string, rows []hbar, refs []refLine) template.HTML {
	var s svg
	h := plotTop + len(rows)*barRow + 8
	s.begin(w, h, label)
	lo, hi := 0.0, 0.0
	for _, r := range rows {
		lo, hi = math.Min(lo, r.value), math.Max(hi, r.value)
	}
	for _, r := range refs {
		lo, hi = math.Min(lo, r.value), math.Max(hi, r.value)
	}
	if hi-lo == 0 {
		hi = 1
	}
	left, right := float64(labelWidth), float64(w-70)
	if lo < 0 {
		left += 56 // room for the value text of negative bars
	}
	x := func(v float64) float64 { return left + (right-left)*(v-lo)/(hi-lo) }
	for i, r := range rows {
		y := float64(plotTop + i*barRow)
		s.text(8, y+15, "start", "label", r.label)
		x0, x1 := x(0), x(r.value)
		if x1 < x0 {
			x0, x1 = x1, x0
		}
		s.f(`<rect class="%s" x="%.1f" y="%.1f" width="%.1f" height="%d"><title>%s: %s</title></rect>`,
			r.class, x0, y+3, math.Max(x1-x0, 1), barRow-8, esc(r.label), esc(r.text))
		if r.value < 0 {
			s.text(x0-4, y+15, "end", "value", r.text)
		} else {
			s.text(x1+4, y+15, "start", "value", r.text)
		}
	}
	s.f(`<line class="zero" x1="%.1f" x2="%.1f" y1="%d" y2="%d"/>`, x(0), x(0), plotTop-4, h-6)
	for _, r := range refs {
		s.f(`<line class="ref %s" x1="%.1f" x2="%.1f" y1="%d" y2="%d"><title>%s</title></line>`, r.class, x(r.value), x(r.value),
			plotTop-4, h-6, esc(r.label))
	}
	return s.end()
}

// bandGauge draws the 0–100 Index scale with its three bands and markers
// for the current and the compared value.
func bandGauge(cur, prev *float64) template.HTML {
	var s svg
	h := 74
	s.begin(narrow, h, "Trust Index on its 0 to 100 scale: at risk below 50, watch below 70, healthy from 70")
	left, right := 12.0, float64(narrow-12)
	x := func(v float64) float64 { return left + (right-left)*v/100 }
	for _, b := range []struct {
		from, to    float64
		class, name string
	}{{0, indicator.IndexAtRisk, "band-at-risk", "at risk"}, {indicator.IndexAtRisk, indicator.IndexHealthy, "band-watch", "watch"},
		{indicator.IndexHealthy, 100, "band-healthy", "healthy"}} {
		s.f(`<rect class="%s" x="%.1f" y="22" width="%.1f" height="22"/>`, b.class, x(b.from), x(b.to)-x(b.from))
		s.text((x(b.from)+x(b.to))/2, 64, "middle", "tick", b.name)
	}
	for _, v := range []float64{0, indicator.IndexAtRisk, indicator.IndexHealthy, 100} {
		s.text(x(v), 16, "middle", "tick", strconv.FormatFloat(v, 'g', -1, 64))
	}
	if prev != nil {
		s.f(`<path class="marker-prev" d="M%.1f 46 l-6 10 h12 z"><title>compared period %s</title></path>`, x(*prev), fixed1(*prev))
	}
	if cur != nil {
		s.f(`<rect class="marker" x="%.1f" y="17" width="4" height="32"><title>now %s</title></rect>`, x(*cur)-2, fixed1(*cur))
	}
	return s.end()
}
