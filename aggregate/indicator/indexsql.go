package indicator

import (
	"strconv"
	"strings"
)

// IndexExprs is the Trust Index of one configuration rendered as ClickHouse
// expressions: the SQL rendering of ComputeIndex, as NumeratorSQL and
// DenominatorSQL are the SQL rendering of Evaluate. Build it with IndexSQL.
//
// Every expression is self-contained: it refers only to the numerator and
// denominator expressions the caller supplied (never to an alias), so the
// expressions can be placed in any SELECT list, in any order, on their own.
type IndexExprs struct {
	// Index is the Trust Index, Nullable(Float64): the sum of the
	// contributions, NULL when no component qualifies.
	Index string
	// TotalWeight is the sum of the configured weights of the components that
	// qualify (Float64); 0 when none does.
	TotalWeight string
	// Included is the number of components that qualify (an integer).
	Included string
	// Components are in configuration order, one per configured component.
	Components []ComponentExprs
}

// ComponentExprs are one component's expressions, named as the fields of
// ComponentResult they render.
type ComponentExprs struct {
	Name string
	// Static is set when the component can never qualify whatever the data
	// (unknown or misconfigured indicator, listed twice, weight 0);
	// StaticReason is then ComputeIndex's exclusion reason. Its Included is
	// "0", Score NULL, Weight and Contribution 0; Value and Denominator are
	// still rendered for a weight-0 component (ComputeIndex evaluates it) and
	// are NULL and 0 for an invalid or repeated one.
	Static       bool
	StaticReason string
	// Value: Nullable(Float64), numerator / denominator, NULL when the
	// denominator is 0.
	Value string
	// Denominator: the denominator as Float64.
	Denominator string
	// Included: UInt8, 1 when the component qualifies: denominator > 0 and at
	// least the minimum volume.
	Included string
	// Score: Nullable(Float64), 0 at the bad threshold, 100 at the good one,
	// linear in between and clamped; NULL when not included.
	Score string
	// Weight: Float64, the renormalised weight (the included components'
	// weights sum to 1), 0 when not included.
	Weight string
	// Contribution: Float64, Weight * Score, 0 when not included.
	Contribution string

	// The effective settings the expressions use (definition defaults with
	// the component's overrides), as ComputeIndex reports them.
	ConfiguredWeight, Good, Bad, MinVolume float64
}

// nullFloat is a typed NULL, so that a column of a statically excluded
// component has the same type as one that can qualify.
const nullFloat = "CAST(NULL AS Nullable(Float64))"

// IndexSQL renders the Trust Index of cfg as ClickHouse expressions with
// exactly the semantics of ComputeIndex: the same exclusions (invalid,
// repeated, weight 0, no data, below minimum volume), the same linear,
// clamped score between bad and good (the direction is in the order of good
// and bad), the same renormalisation, and the same order of floating-point
// operations, so the SQL result equals ComputeIndex's bit for bit on the same
// numerators and denominators (the sums themselves may round differently when
// they are sums of floats, i.e. sentiment).
//
// num and den return, for an indicator name, a ClickHouse expression of its
// numerator and denominator over whatever rows the caller groups — typically
// a column of a pre-aggregated subquery, such as sum(x_num) of
// trust_indicators_hourly, or Definition.NumeratorSQL() over trust_counts.
// They are called only for indicators the configuration can evaluate.
//
// Only if(), least(), greatest(), arithmetic, comparisons, AND and CAST are
// used, so the expressions run on ClickHouse 18.16 and current releases.
func IndexSQL(cfg IndexConfig, num, den func(name string) string) IndexExprs {
	out := IndexExprs{Components: make([]ComponentExprs, len(cfg.Components))}
	type live struct {
		i        int
		included string
		weight   float64
		raw      string // unclamped-to-NULL score, meaningful when included
	}
	var lives []live
	seen := map[string]bool{}
	for i, c := range cfg.Components {
		ce := &out.Components[i]
		ce.Name, ce.ConfiguredWeight = c.Indicator, c.Weight
		r, err := resolve(c)
		ce.Good, ce.Bad, ce.MinVolume = r.good, r.bad, r.minVolume
		ce.Value, ce.Denominator = nullFloat, "toFloat64(0)"
		ce.Included, ce.Score, ce.Weight, ce.Contribution = "0", nullFloat, "toFloat64(0)", "toFloat64(0)"
		switch {
		case err != nil:
			ce.Static, ce.StaticReason = true, "invalid: "+err.Error()
			continue
		case seen[c.Indicator]:
			ce.Static, ce.StaticReason = true, "invalid: listed twice; only the first counts"
			continue
		}
		seen[c.Indicator] = true
		n, d := "("+num(c.Indicator)+")", "("+den(c.Indicator)+")"
		ce.Denominator = "toFloat64" + d
		ce.Value = "if(" + d + " = 0, NULL, " + n + " / " + d + ")"
		if c.Weight == 0 {
			ce.Static, ce.StaticReason = true, "weight is 0"
			continue
		}
		// ComputeIndex: excluded when the value is nil (denominator 0) or the
		// denominator is below the minimum volume.
		included := "(" + d + " != 0 AND " + d + " >= " + sqlFloat(r.minVolume) + ")"
		// score(): 100 * (v - bad) / (good - bad), clamped to [0, 100].
		raw := "least(greatest(100 * ((" + n + " / " + d + ") - " + sqlFloat(r.bad) + ") / (" +
			sqlFloat(r.good) + " - " + sqlFloat(r.bad) + "), 0.0), 100.0)"
		ce.Included = included
		ce.Score = "if(" + included + ", " + raw + ", NULL)"
		lives = append(lives, live{i: i, included: included, weight: c.Weight, raw: raw})
	}
	if len(lives) == 0 {
		out.Index, out.TotalWeight, out.Included = nullFloat, "toFloat64(0)", "0"
		return out
	}
	// total: the configured weights of the included components, summed in
	// configuration order (adding 0 for an excluded one changes nothing).
	terms := make([]string, len(lives))
	counts := make([]string, len(lives))
	for k, l := range lives {
		terms[k] = "if(" + l.included + ", " + sqlFloat(l.weight) + ", 0.0)"
		counts[k] = l.included
	}
	total := "(" + strings.Join(terms, " + ") + ")"
	contribs := make([]string, len(lives))
	for k, l := range lives {
		ce := &out.Components[l.i]
		w := "(" + sqlFloat(l.weight) + " / " + total + ")"
		ce.Weight = "if(" + l.included + ", " + w + ", 0.0)"
		ce.Contribution = "if(" + l.included + ", " + w + " * " + l.raw + ", 0.0)"
		contribs[k] = ce.Contribution
	}
	out.TotalWeight = total
	out.Included = "(" + strings.Join(counts, " + ") + ")"
	out.Index = "if(" + total + " = 0, NULL, " + strings.Join(contribs, " + ") + ")"
	return out
}

// sqlFloat renders f as a ClickHouse Float64 literal that parses back to
// exactly f (ClickHouse reads float literals with strtod): always with a
// decimal point or an exponent, so that it is typed Float64 and never an
// integer, and parenthesised when negative so that "x - (-0.5)" stays valid.
func sqlFloat(f float64) string {
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if !strings.ContainsAny(s, ".eE") {
		s += ".0"
	}
	if strings.HasPrefix(s, "-") {
		s = "(" + s + ")"
	}
	return s
}
