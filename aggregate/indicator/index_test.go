package indicator

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func f64(v float64) *float64 { return &v }

func findComponent(t *testing.T, idx Index, name string) ComponentResult {
	t.Helper()
	for _, c := range idx.Components {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no component %s", name)
	return ComponentResult{}
}

// TestIndexHandComputed works the Index out by hand:
//
//	complaint_rate   20/10000 = 0.002, good 0.001 bad 0.003 -> score 50, weight 3
//	unsubscribe_rate 50/10000 = 0.005, good 0.002 bad 0.008 -> score 50, weight 2
//	direct_traffic   400/1500,          good 0.3   bad 0.1   -> score 83.33, weight 1
//	sentiment_avg    20 reports < min_volume 50 -> excluded, weight 1 dropped
//
// renormalised weights 3/6, 2/6, 1/6; Index = 25 + 50/3 + 250/18 = 500/9.
func TestIndexHandComputed(t *testing.T) {
	cfg := IndexConfig{Components: []Component{
		{Indicator: ComplaintRate, Weight: 3},
		{Indicator: UnsubscribeRate, Weight: 2},
		{Indicator: DirectTrafficShare, Weight: 1},
		{Indicator: SentimentAvg, Weight: 1, MinVolume: f64(50)},
	}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	tot := Accumulate([]Row{
		{EventType: "delivered", Channel: "email", Events: 10000},
		{EventType: "complaint", Channel: "email", Events: 20},
		{EventType: "unsubscribe", Events: 50},
		{EventType: "web_session", Detail: "direct", Events: 400},
		{EventType: "web_session", Detail: "organic", Events: 1100},
		{EventType: "sentiment", Events: 20, ValueSum: -10},
	})
	idx := ComputeIndex(cfg, tot)
	if idx.Value == nil || !approx(*idx.Value, 500.0/9, 1e-9) {
		t.Fatalf("Index = %v, want %v", deref(idx.Value), 500.0/9)
	}
	want := []struct {
		name                  string
		score, weight, contri float64
	}{
		{ComplaintRate, 50, 0.5, 25},
		{UnsubscribeRate, 50, 1.0 / 3, 50.0 / 3},
		{DirectTrafficShare, 250.0 / 3, 1.0 / 6, 250.0 / 18},
	}
	for _, w := range want {
		c := findComponent(t, idx, w.name)
		if c.Excluded || c.Score == nil || !approx(*c.Score, w.score, 1e-9) || !approx(c.Weight, w.weight, 1e-12) || !approx(c.Contribution, w.contri, 1e-9) {
			t.Errorf("%s = %+v (score %v), want score %v weight %v contribution %v", w.name, c, deref(c.Score), w.score, w.weight, w.contri)
		}
	}
	s := findComponent(t, idx, SentimentAvg)
	if !s.Excluded || s.Score != nil || s.Weight != 0 || s.Contribution != 0 ||
		s.ExcludedReason != "low volume: denominator 20 below minimum 50" || s.Value == nil || *s.Value != -0.5 {
		t.Errorf("sentiment_avg = %+v", s)
	}
}

func TestScoreClampAndDirection(t *testing.T) {
	cases := []struct{ v, good, bad, want float64 }{
		{0.002, 0.001, 0.003, 50},   // lower is better, midway
		{0.0005, 0.001, 0.003, 100}, // better than good
		{0.01, 0.001, 0.003, 0},     // worse than bad
		{0.2, 0.3, 0.1, 50},         // higher is better, midway
		{0.9, 0.3, 0.1, 100},
		{0.05, 0.3, 0.1, 0},
		{0, 0.5, -0.5, 50}, // neutral sentiment
		{0.001, 0.001, 0.003, 100},
		{0.003, 0.001, 0.003, 0},
	}
	for _, c := range cases {
		if got := score(c.v, c.good, c.bad); !approx(got, c.want, 1e-9) {
			t.Errorf("score(%v, good %v, bad %v) = %v, want %v", c.v, c.good, c.bad, got, c.want)
		}
	}
}

func TestIndexExclusions(t *testing.T) {
	cfg := IndexConfig{Components: []Component{
		{Indicator: ComplaintRate, Weight: 3},
		{Indicator: OptDownShare, Weight: 1},                                      // no opt-downs/unsubscribes: no data
		{Indicator: "nope", Weight: 1},                                            // unknown
		{Indicator: CTR, Weight: 1},                                               // click metric
		{Indicator: SentimentAvg, Weight: 0},                                      // disabled
		{Indicator: UnsubscribeRate, Weight: 1, Good: f64(0.01), Bad: f64(0.001)}, // thresholds reversed
		{Indicator: ComplaintRate, Weight: 5},                                     // duplicate
	}}
	tot := Accumulate([]Row{{EventType: "delivered", Channel: "email", Events: 4000}, {EventType: "complaint", Channel: "email", Events: 8}}) // 0.002 -> 50
	idx := ComputeIndex(cfg, tot)
	if idx.Value == nil || !approx(*idx.Value, 50, 1e-9) {
		t.Fatalf("Index = %v, want 50 (only complaint_rate counts)", deref(idx.Value))
	}
	if c := idx.Components[0]; c.Excluded || c.Weight != 1 {
		t.Errorf("complaint_rate should carry all the weight: %+v", c)
	}
	// Coverage: six components have a positive weight (3+1+1+1+1+5 = 12);
	// only complaint_rate (3) is used.
	if want := (Coverage{Used: 1, Configured: 6, WeightShare: 0.25}); idx.Coverage != want {
		t.Errorf("coverage = %+v, want %+v", idx.Coverage, want)
	}
	if got, want := idx.Coverage.String(), "1/6 components, 25 % of weight"; got != want {
		t.Errorf("coverage text = %q, want %q", got, want)
	}
	reasons := map[int]string{
		1: "no data: denominator is 0",
		2: `invalid: unknown indicator "nope"`,
		3: "invalid: ctr is a click metric",
		4: "weight is 0",
		5: "invalid: lower is better for unsubscribe_rate, so good (0.01) must be below bad (0.001)",
		6: "invalid: listed twice",
	}
	for i, want := range reasons {
		c := idx.Components[i]
		if !c.Excluded || !strings.HasPrefix(c.ExcludedReason, want) || c.Weight != 0 || c.Contribution != 0 {
			t.Errorf("component %d (%s): excluded=%v reason %q, want prefix %q", i, c.Name, c.Excluded, c.ExcludedReason, want)
		}
	}
	// Validate finds the same problems.
	err := cfg.Validate()
	if err == nil {
		t.Fatal("Validate accepted a broken config")
	}
	for _, want := range []string{"unknown indicator", "click metric", "good (0.01) must be below bad", "listed twice"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate error lacks %q: %v", want, err)
		}
	}
}

func TestIndexEmpty(t *testing.T) {
	idx := ComputeIndex(DefaultIndexConfig(), Totals{})
	if idx.Value != nil {
		t.Fatalf("empty window has Index %v", *idx.Value)
	}
	for _, c := range idx.Components {
		if !c.Excluded || c.ExcludedReason == "" {
			t.Errorf("%s not excluded in an empty window", c.Name)
		}
	}
}

// Property: included weights sum to 1, contributions sum to the Index, every
// score is within [0, 100] — for many random windows.
func TestIndexContributionsSum(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	cfg := DefaultIndexConfig()
	for i := range cfg.Components {
		cfg.Components[i].MinVolume = f64(float64(rng.IntN(3000)))
	}
	checked := 0
	for range 500 {
		idx := ComputeIndex(cfg, randomTotals(rng, 1+rng.IntN(300)))
		if idx.Value == nil {
			continue
		}
		checked++
		var wsum, csum float64
		for _, c := range idx.Components {
			if c.Excluded {
				continue
			}
			if *c.Score < 0 || *c.Score > 100 || !approx(c.Contribution, c.Weight**c.Score, 1e-12) {
				t.Fatalf("bad component %+v", c)
			}
			wsum += c.Weight
			csum += c.Contribution
		}
		if !approx(wsum, 1, 1e-12) || csum != *idx.Value || *idx.Value < -1e-9 || *idx.Value > 100+1e-9 {
			t.Fatalf("weights sum %v, contributions %v, Index %v", wsum, csum, *idx.Value)
		}
	}
	if checked < 100 {
		t.Fatalf("only %d windows had an Index; the property was hardly tested", checked)
	}
}

func TestDefaultIndexConfig(t *testing.T) {
	cfg := DefaultIndexConfig()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{
		ComplaintRate: 3, UnsubscribeRate: 2, ConsentCoverage: 2, OptDownShare: 1, TooPersonalRate: 1,
		ConsentMomentum: 1, ExplainedPersonalizationShare: 1, DirectTrafficShare: 1, SentimentAvg: 1,
		PreferenceCenterRate: 0.5, TooFrequentRate: 0.5, NotRelevantRate: 0.5,
	}
	if len(cfg.Components) != len(want) {
		t.Fatalf("%d components, want %d", len(cfg.Components), len(want))
	}
	for _, c := range cfg.Components {
		if w, ok := want[c.Indicator]; !ok || w != c.Weight {
			t.Errorf("%s weight %v, want %v", c.Indicator, c.Weight, w)
		}
	}
}

func TestParseIndexComponents(t *testing.T) {
	got, err := ParseIndexComponents(" complaint_rate : weight=3, good=0.0005 ,bad=0.002;unsubscribe_rate:weight=2.5;sentiment_avg:min_volume=5;", DefaultIndexConfig())
	if err != nil {
		t.Fatal(err)
	}
	c := got.Components[0]
	if c.Indicator != ComplaintRate || c.Weight != 3 || *c.Good != 0.0005 || *c.Bad != 0.002 || c.MinVolume != nil {
		t.Errorf("complaint_rate = %+v", c)
	}
	if c := got.Components[1]; c.Indicator != UnsubscribeRate || c.Weight != 2.5 || c.Good != nil {
		t.Errorf("unsubscribe_rate = %+v", c)
	}
	for _, c := range got.Components {
		if c.Indicator == SentimentAvg && (c.Weight != 1 || c.MinVolume == nil || *c.MinVolume != 5) {
			t.Errorf("sentiment_avg = %+v (weight must stay at its default)", c)
		}
	}
	// The base is not modified.
	if base := DefaultIndexConfig(); base.Components[0].Good != nil {
		t.Fatal("base modified")
	}
	// A component not in base is appended.
	small := IndexConfig{Components: []Component{{Indicator: ComplaintRate, Weight: 1}}}
	got, err = ParseIndexComponents("too_personal_rate:weight=2", small)
	if err != nil || len(got.Components) != 2 || got.Components[1].Indicator != TooPersonalRate || got.Components[1].Weight != 2 {
		t.Fatalf("append: %+v, %v", got, err)
	}
	// Empty input: base unchanged.
	if got, err := ParseIndexComponents("  ", small); err != nil || got.String() != small.String() {
		t.Fatalf("empty: %+v, %v", got, err)
	}
	// Round trip through String.
	cfg, err := ParseIndexComponents("complaint_rate:weight=3,good=0.0005,bad=0.002,min_volume=100", DefaultIndexConfig())
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.String()
	if !strings.HasPrefix(s, "complaint_rate:weight=3,good=0.0005,bad=0.002,min_volume=100;unsubscribe_rate:weight=2;") {
		t.Fatalf("String = %s", s)
	}
	back, err := ParseIndexComponents(s, IndexConfig{})
	if err != nil || back.String() != s {
		t.Fatalf("round trip: %v\n%s\n%s", err, s, back.String())
	}
}

func TestParseIndexComponentsErrors(t *testing.T) {
	small := IndexConfig{Components: []Component{{Indicator: ComplaintRate, Weight: 1}}}
	cases := []struct{ in, want string }{
		{"complaint_rate", `"complaint_rate": expected name:key=value`},
		{":weight=1", "missing indicator name"},
		{"nope:weight=1", `unknown indicator "nope" (known: unsubscribe_rate, complaint_rate,`},
		{"complaint_rate:weight=x", `weight: "x" is not a finite number`},
		{"complaint_rate:weight=NaN", `weight: "NaN" is not a finite number`},
		{"complaint_rate:good=Inf", `good: "Inf" is not a finite number`},
		{"complaint_rate:weight=-1", "weight -1 must be >= 0"},
		{"complaint_rate:min_volume=-5", "min_volume -5 must be >= 0"},
		{"complaint_rate:colour=1", `unknown key "colour"`},
		{"complaint_rate:weight=1,weight=2", "weight given twice"},
		{"complaint_rate:weight=1;complaint_rate:weight=2", "complaint_rate is configured twice"},
		{"complaint_rate:", "no settings after ':'"},
		{"complaint_rate:weight", `"weight" is not key=value`},
		{"complaint_rate:weight=", `"weight=" is not key=value`},
		{"sentiment_avg:good=1", "sentiment_avg is not a default component, so it needs weight="},
		{"ctr:weight=1", "ctr is a click metric"},
		{"complaint_rate:good=0.005", "good (0.005) must be below bad (0.003)"},
		{"opt_down_share:weight=1,good=0.1,bad=0.5", "good (0.1) must be above bad (0.5)"},
		{"complaint_rate:weight=0", "no component has a positive weight"},
	}
	for _, c := range cases {
		_, err := ParseIndexComponents(c.in, small)
		if err == nil {
			t.Errorf("%q: accepted", c.in)
			continue
		}
		if !strings.Contains(err.Error(), c.want) || !errors.Is(err, ErrIndexComponents) {
			t.Errorf("%q: error %q, want it to contain %q", c.in, err, c.want)
		}
	}
}

func TestComputeIndexNoNaN(t *testing.T) {
	// A degenerate but accepted override (min_volume 0) with a value exactly
	// at a threshold must still give finite numbers.
	cfg, err := ParseIndexComponents("complaint_rate:weight=1,min_volume=0", IndexConfig{})
	if err != nil {
		t.Fatal(err)
	}
	idx := ComputeIndex(cfg, Accumulate([]Row{{EventType: "delivered", Channel: "email", Events: 1000}, {EventType: "complaint", Channel: "email", Events: 3}}))
	if idx.Value == nil || math.IsNaN(*idx.Value) || *idx.Value != 0 {
		t.Fatalf("Index = %v, want 0", deref(idx.Value))
	}
}
