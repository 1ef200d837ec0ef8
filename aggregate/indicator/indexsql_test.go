package indicator

import (
	"math"
	"strconv"
	"strings"
	"testing"
)

func TestSQLFloat(t *testing.T) {
	cases := []struct {
		in   float64
		want string
	}{
		{3, "3.0"},
		{0.5, "0.5"},
		{0.001, "0.001"},
		{-0.5, "(-0.5)"},
		{-2, "(-2.0)"},
		{1e6, "1e+06"},
		{2000, "2000.0"},
		{0.995, "0.995"},
		{1e-05, "1e-05"},
	}
	for _, c := range cases {
		got := sqlFloat(c.in)
		if got != c.want {
			t.Errorf("sqlFloat(%v) = %q, want %q", c.in, got, c.want)
		}
		back, err := strconv.ParseFloat(strings.Trim(got, "()"), 64)
		if err != nil || back != c.in {
			t.Errorf("sqlFloat(%v) = %q does not parse back exactly (%v, %v)", c.in, got, back, err)
		}
	}
}

// The static decisions of IndexSQL (which components can never qualify, and
// why) are ComputeIndex's, reason for reason.
func TestIndexSQLStaticExclusions(t *testing.T) {
	good, bad := 0.9, 0.5
	cfg := IndexConfig{Components: []Component{
		{Indicator: ComplaintRate, Weight: 3},
		{Indicator: "no_such_indicator", Weight: 1},
		{Indicator: CTR, Weight: 1},
		{Indicator: ComplaintRate, Weight: 2},
		{Indicator: OptDownShare, Weight: 0},
		{Indicator: UnsubscribeRate, Weight: 1, Good: &good, Bad: &bad}, // lower is better, but good > bad
		{Indicator: SentimentAvg, Weight: math.Inf(1)},
	}}
	var asked []string
	col := func(suffix string) func(string) string {
		return func(name string) string { asked = append(asked, name); return name + suffix }
	}
	exprs := IndexSQL(cfg, col("_num"), col("_den"))
	idx := ComputeIndex(cfg, Totals{})
	if len(exprs.Components) != len(idx.Components) {
		t.Fatalf("%d components, want %d", len(exprs.Components), len(idx.Components))
	}
	for i, ce := range exprs.Components {
		cr := idx.Components[i]
		wantStatic := cr.ExcludedReason != "no data: denominator is 0"
		if ce.Name != cr.Name || ce.Static != wantStatic {
			t.Errorf("component %d: %s static=%v, want %s static=%v", i, ce.Name, ce.Static, cr.Name, wantStatic)
		}
		if ce.Static && ce.StaticReason != cr.ExcludedReason {
			t.Errorf("component %d: reason %q, want %q", i, ce.StaticReason, cr.ExcludedReason)
		}
		if ce.Good != cr.Good || ce.Bad != cr.Bad || ce.MinVolume != cr.MinVolume || ce.ConfiguredWeight != cr.ConfiguredWeight {
			t.Errorf("component %d: settings %v/%v/%v/%v, want %v/%v/%v/%v", i,
				ce.Good, ce.Bad, ce.MinVolume, ce.ConfiguredWeight, cr.Good, cr.Bad, cr.MinVolume, cr.ConfiguredWeight)
		}
		if ce.Static && (ce.Included != "0" || ce.Contribution != "toFloat64(0)" || ce.Score != nullFloat) {
			t.Errorf("component %d: static but included=%s score=%s contribution=%s", i, ce.Included, ce.Score, ce.Contribution)
		}
	}
	// Only valid, first-listed components are evaluated: no SQL is asked for
	// an unknown name or a click metric.
	for _, name := range asked {
		if name != ComplaintRate && name != OptDownShare {
			t.Errorf("asked for the SQL of %s", name)
		}
	}
	// complaint_rate is the only one that can qualify.
	if !strings.Contains(exprs.Index, "complaint_rate_den") || strings.Contains(exprs.Index, "opt_down_share") {
		t.Errorf("index expression: %s", exprs.Index)
	}
}

func TestIndexSQLNothingCanQualify(t *testing.T) {
	exprs := IndexSQL(IndexConfig{Components: []Component{{Indicator: ComplaintRate, Weight: 0}}},
		func(n string) string { return n + "_num" }, func(n string) string { return n + "_den" })
	if exprs.Index != nullFloat || exprs.Included != "0" || exprs.TotalWeight != "toFloat64(0)" {
		t.Errorf("got %+v", exprs)
	}
	if got := exprs.Components[0].Value; got != "if((complaint_rate_den) = 0, NULL, (complaint_rate_num) / (complaint_rate_den))" {
		t.Errorf("value of a weight-0 component: %s", got)
	}
}
