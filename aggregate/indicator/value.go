package indicator

import "math"

// Value is an indicator evaluated over a Totals.
type Value struct {
	Name        string  `json:"name"`
	Numerator   float64 `json:"numerator"`
	Denominator float64 `json:"denominator"`
	// Value is Numerator / Denominator; nil (JSON null) when the denominator
	// is 0 or the result is not finite, so callers never see NaN.
	Value *float64 `json:"value"`
	// Low and High bound the Wilson score 95 % interval of a Proportion
	// indicator; nil for other indicators, without data, or when the
	// numerator exceeds the denominator (e.g. several opens per delivery),
	// where the value is not a proportion.
	Low  *float64 `json:"low,omitempty"`
	High *float64 `json:"high,omitempty"`
	// Sufficient: the value exists and the denominator reaches the
	// definition's MinVolume. Alerts gate on it so that "trust dropped" is
	// not confused with "too little data".
	Sufficient bool `json:"sufficient"`
}

// Evaluate computes the indicator over t. It is the Go rendering of
// NumeratorSQL / DenominatorSQL.
func (d Definition) Evaluate(t Totals) Value {
	v := Value{
		Name:        d.Name,
		Numerator:   t.sumTerms(d.Numerator),
		Denominator: t.Sum(d.Denominator),
	}
	if v.Denominator == 0 {
		return v
	}
	r := v.Numerator / v.Denominator
	if math.IsNaN(r) || math.IsInf(r, 0) {
		return v
	}
	v.Value = &r
	v.Sufficient = v.Denominator >= d.MinVolume
	if d.Proportion && v.Numerator >= 0 && v.Numerator <= v.Denominator {
		lo, hi := Wilson(v.Numerator, v.Denominator)
		v.Low, v.High = &lo, &hi
	}
	return v
}

// EvaluateAll evaluates every definition of All over t, in All order.
func EvaluateAll(t Totals) []Value {
	defs := All()
	out := make([]Value, len(defs))
	for i, d := range defs {
		out[i] = d.Evaluate(t)
	}
	return out
}

// z95 is the two-sided 95 % standard-normal quantile.
const z95 = 1.959963984540054

// Wilson returns the Wilson score 95 % interval for k successes in n trials
// (0 <= k <= n, n > 0). It is used instead of the normal approximation
// because trust rates are small (complaints ~0.1 %) and windows can be
// short: the normal interval collapses to [0, 0] at k = 0 and dips below 0,
// while Wilson stays inside [0, 1] and is honest about small samples.
// For n <= 0 it returns (0, 1).
func Wilson(k, n float64) (low, high float64) {
	if n <= 0 {
		return 0, 1
	}
	p := k / n
	z2 := z95 * z95
	den := 1 + z2/n
	center := (p + z2/(2*n)) / den
	half := z95 / den * math.Sqrt(p*(1-p)/n+z2/(4*n*n))
	low, high = center-half, center+half
	// Clamp rounding noise at the ends (k = 0 or k = n).
	return max(low, 0), min(high, 1)
}
