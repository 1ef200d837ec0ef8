package indicator

import (
	"cmp"
	"math"
	"slices"
	"strconv"
)

// Change explains how the Trust Index moved between two periods.
type Change struct {
	Prev  *float64 `json:"prev"`
	Cur   *float64 `json:"cur"`
	Delta *float64 `json:"delta"` // Cur − Prev; nil unless both exist
	// Components are sorted by absolute impact (|Delta|), largest first.
	// Their Deltas sum to the Index delta (up to float rounding), because
	// each Index value is the sum of its contributions.
	Components []ComponentChange `json:"components"`
	Summary    string            `json:"summary"`
}

// ComponentChange is one component's part in a Change.
type ComponentChange struct {
	Name             string   `json:"name"`
	PrevValue        *float64 `json:"prev_value"`
	CurValue         *float64 `json:"cur_value"`
	PrevScore        *float64 `json:"prev_score"`
	CurScore         *float64 `json:"cur_score"`
	PrevWeight       float64  `json:"prev_weight"` // renormalised
	CurWeight        float64  `json:"cur_weight"`
	PrevContribution float64  `json:"prev_contribution"`
	CurContribution  float64  `json:"cur_contribution"`
	// Delta is CurContribution − PrevContribution, in Index points. It
	// includes the effect of renormalisation when another component was
	// left out or came back in.
	Delta float64 `json:"delta"`
	// When the component counts in both periods, Delta splits exactly into
	// ValueEffect = PrevWeight × (CurScore − PrevScore), what its own value
	// did, and WeightEffect = CurScore × (CurWeight − PrevWeight), what the
	// renormalisation did because other components were left out or came
	// back. Both are 0 otherwise.
	ValueEffect  float64 `json:"value_effect"`
	WeightEffect float64 `json:"weight_effect"`
	Excluded     bool    `json:"excluded"` // excluded in the current period
	Sentence     string  `json:"sentence"`
}

// ExplainChange compares two Index values (usually the previous and the
// current window, computed with the same IndexConfig) and says, per
// component, how many points it moved the Index and why, e.g.
//
//	complaint_rate rose from 0.08% to 0.31%, costing 12.4 points
//
// A component present in only one of the Indexes is treated as excluded
// ("not configured") in the other.
func ExplainChange(prev, cur Index) Change {
	ch := Change{Prev: prev.Value, Cur: cur.Value}
	if prev.Value != nil && cur.Value != nil {
		d := *cur.Value - *prev.Value
		ch.Delta = &d
	}
	p, c := firstByName(prev), firstByName(cur)
	var names []string
	for _, cs := range [][]ComponentResult{prev.Components, cur.Components} {
		for _, r := range cs {
			if !slices.Contains(names, r.Name) {
				names = append(names, r.Name)
			}
		}
	}
	for _, name := range names {
		pr, ok := p[name]
		if !ok {
			pr = ComponentResult{Name: name, Excluded: true, ExcludedReason: "not configured"}
		}
		cr, ok := c[name]
		if !ok {
			cr = ComponentResult{Name: name, Excluded: true, ExcludedReason: "not configured"}
		}
		cc := ComponentChange{
			Name:      name,
			PrevValue: pr.Value, CurValue: cr.Value,
			PrevScore: pr.Score, CurScore: cr.Score,
			PrevWeight: pr.Weight, CurWeight: cr.Weight,
			PrevContribution: pr.Contribution, CurContribution: cr.Contribution,
			Delta:    cr.Contribution - pr.Contribution,
			Excluded: cr.Excluded,
		}
		if !pr.Excluded && !cr.Excluded {
			cc.ValueEffect = pr.Weight * (*cr.Score - *pr.Score)
			cc.WeightEffect = *cr.Score * (cr.Weight - pr.Weight)
		}
		cc.Sentence = sentence(pr, cr, cc)
		ch.Components = append(ch.Components, cc)
	}
	slices.SortStableFunc(ch.Components, func(a, b ComponentChange) int {
		if c := cmp.Compare(math.Abs(b.Delta), math.Abs(a.Delta)); c != 0 {
			return c
		}
		return cmp.Compare(a.Name, b.Name)
	})
	ch.Summary = summary(ch)
	return ch
}

func firstByName(idx Index) map[string]ComponentResult {
	m := make(map[string]ComponentResult, len(idx.Components))
	for _, r := range idx.Components {
		if _, dup := m[r.Name]; !dup {
			m[r.Name] = r
		}
	}
	return m
}

func sentence(pr, cr ComponentResult, cc ComponentChange) string {
	name, delta := cr.Name, cc.Delta
	switch {
	case pr.Excluded && cr.Excluded:
		return name + " was left out in both periods (" + cr.ExcludedReason + ")"
	case cr.Excluded:
		return name + " was left out (" + cr.ExcludedReason + "), " + effect(delta) +
			"; the remaining weights were renormalised"
	case pr.Excluded:
		return name + " counts again at " + formatValue(name, cr.Value) + ", " + effect(delta)
	}
	from, to := formatValue(name, pr.Value), formatValue(name, cr.Value)
	if from == to {
		if points(delta) == "0.0" {
			return name + " was unchanged at " + to + ", " + effect(delta)
		}
		return name + " was unchanged at " + to + ", but its weight changed as other components were left out or came back, " + effect(delta)
	}
	verb := "rose"
	if *cr.Value < *pr.Value {
		verb = "fell"
	}
	s := name + " " + verb + " from " + from + " to " + to + ", " + effect(delta)
	if points(cc.WeightEffect) != "0.0" {
		s += " (" + signedPoints(cc.ValueEffect) + " from the value, " + signedPoints(cc.WeightEffect) +
			" from reweighting as other components were left out or came back)"
	}
	return s
}

func signedPoints(d float64) string {
	p := points(d)
	switch {
	case p == "0.0":
		return "0.0"
	case d < 0:
		return "-" + p
	}
	return "+" + p
}

// effect phrases a contribution delta in Index points.
func effect(delta float64) string {
	p := points(delta)
	switch {
	case p == "0.0":
		return "with no visible effect on the Index"
	case delta < 0:
		return "costing " + p + " points"
	default:
		return "adding " + p + " points"
	}
}

func points(delta float64) string { return strconv.FormatFloat(math.Abs(delta), 'f', 1, 64) }

// FormatValue renders an indicator value for people: ratios as percentages
// with two decimals (three below 0.01 %), scores with two decimals, nil as
// "n/a". The report and the explanations share it so numbers read alike.
func FormatValue(name string, v *float64) string { return formatValue(name, v) }

func formatValue(name string, v *float64) string {
	if v == nil {
		return "n/a"
	}
	d, ok := ByName(name)
	if ok && d.Unit == Score {
		return strconv.FormatFloat(*v, 'f', 2, 64)
	}
	pct := *v * 100
	prec := 2
	if pct != 0 && math.Abs(pct) < 0.01 {
		prec = 3
	}
	return strconv.FormatFloat(pct, 'f', prec, 64) + "%"
}

func summary(ch Change) string {
	switch {
	case ch.Prev == nil && ch.Cur == nil:
		return "No Trust Index in either period: no component had enough data."
	case ch.Prev == nil:
		return "Trust Index is " + fmt1(*ch.Cur) + "; there was none in the previous period (no component had enough data)."
	case ch.Cur == nil:
		return "No Trust Index in the current period (no component had enough data); it was " + fmt1(*ch.Prev) + "."
	}
	d := *ch.Delta
	var s string
	switch p := points(d); {
	case p == "0.0":
		s = "Trust Index was unchanged at " + fmt1(*ch.Cur)
	case d < 0:
		s = "Trust Index fell from " + fmt1(*ch.Prev) + " to " + fmt1(*ch.Cur) + " (-" + p + " points)"
	default:
		s = "Trust Index rose from " + fmt1(*ch.Prev) + " to " + fmt1(*ch.Cur) + " (+" + p + " points)"
	}
	if len(ch.Components) > 0 && points(ch.Components[0].Delta) != "0.0" {
		s += "; " + ch.Components[0].Name + " moved it most"
	}
	return s + "."
}

func fmt1(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) }
