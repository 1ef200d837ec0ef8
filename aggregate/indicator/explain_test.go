package indicator

import (
	"math"
	"math/rand/v2"
	"testing"
)

// twoComponents: complaint_rate (weight 3) and unsubscribe_rate (weight 2)
// with default thresholds.
func twoComponents() IndexConfig {
	return IndexConfig{Components: []Component{
		{Indicator: ComplaintRate, Weight: 3},
		{Indicator: UnsubscribeRate, Weight: 2},
	}}
}

func window(delivered, complaints, unsubscribes uint64) Totals {
	return Accumulate([]Row{
		{EventType: "delivered", Channel: "email", Events: delivered},
		{EventType: "complaint", Channel: "email", Events: complaints},
		{EventType: "unsubscribe", Events: unsubscribes},
	})
}

// Hand-computed: previous complaints 8/10000 = 0.08 % (score 100), current
// 31/10000 = 0.31 % (score 0, worse than bad); unsubscribes 0.20 % both
// times (score 100). Index 0.6*100 + 0.4*100 = 100 -> 0.6*0 + 0.4*100 = 40.
func TestExplainChangeHandComputed(t *testing.T) {
	cfg := twoComponents()
	prev := ComputeIndex(cfg, window(10000, 8, 20))
	cur := ComputeIndex(cfg, window(10000, 31, 20))
	ch := ExplainChange(prev, cur)
	if ch.Delta == nil || !approx(*ch.Delta, -60, 1e-9) {
		t.Fatalf("delta = %v, want -60", deref(ch.Delta))
	}
	want := []struct {
		name     string
		delta    float64
		sentence string
	}{
		{ComplaintRate, -60, "complaint_rate rose from 0.08% to 0.31%, costing 60.0 points"},
		{UnsubscribeRate, 0, "unsubscribe_rate was unchanged at 0.20%, with no visible effect on the Index"},
	}
	if len(ch.Components) != len(want) {
		t.Fatalf("%d components", len(ch.Components))
	}
	for i, w := range want {
		c := ch.Components[i]
		if c.Name != w.name || !approx(c.Delta, w.delta, 1e-9) || c.Sentence != w.sentence {
			t.Errorf("component %d = %s %v %q\nwant %s %v %q", i, c.Name, c.Delta, c.Sentence, w.name, w.delta, w.sentence)
		}
	}
	if want := "Trust Index fell from 100.0 to 40.0 (-60.0 points); complaint_rate moved it most."; ch.Summary != want {
		t.Errorf("summary %q\nwant    %q", ch.Summary, want)
	}
	// And back: the improvement is explained as a gain.
	back := ExplainChange(cur, prev)
	if s := back.Components[0].Sentence; s != "complaint_rate fell from 0.31% to 0.08%, adding 60.0 points" {
		t.Errorf("reverse sentence %q", s)
	}
}

// When a component drops below its minimum volume, its contribution goes
// and the others' weights grow: the explanation must say both, and the
// deltas must still add up to the Index delta.
func TestExplainChangeRenormalisation(t *testing.T) {
	cfg := twoComponents()
	// prev: complaint 0.2 % (score 50), unsubscribe 0.2 % (score 100):
	//       0.6*50 + 0.4*100 = 70.
	// cur: 1000 delivered < complaint min volume 2000 -> only unsubscribe,
	//      which needs 1000: 2/1000 = 0.2 %, score 100, weight 1 -> 100.
	prev := ComputeIndex(cfg, window(10000, 20, 20))
	cur := ComputeIndex(cfg, window(1000, 2, 2))
	ch := ExplainChange(prev, cur)
	if ch.Delta == nil || !approx(*ch.Delta, 30, 1e-9) {
		t.Fatalf("delta = %v, want 30", deref(ch.Delta))
	}
	want := map[string]struct {
		delta    float64
		sentence string
	}{
		UnsubscribeRate: {60, "unsubscribe_rate was unchanged at 0.20%, but its weight changed as other components were left out or came back, adding 60.0 points"},
		ComplaintRate:   {-30, "complaint_rate was left out (low volume: denominator 1000 below minimum 2000), costing 30.0 points; the remaining weights were renormalised"},
	}
	var sum float64
	for i, c := range ch.Components {
		w := want[c.Name]
		if !approx(c.Delta, w.delta, 1e-9) || c.Sentence != w.sentence {
			t.Errorf("%s: %v %q\nwant %v %q", c.Name, c.Delta, c.Sentence, w.delta, w.sentence)
		}
		if i == 0 && c.Name != UnsubscribeRate {
			t.Errorf("largest mover should come first, got %s", c.Name)
		}
		sum += c.Delta
	}
	if !approx(sum, *ch.Delta, 1e-9) {
		t.Errorf("component deltas sum to %v, Index delta %v", sum, *ch.Delta)
	}
	if !ch.Components[1].Excluded || ch.Components[0].Excluded {
		t.Error("Excluded flags wrong")
	}
	// unsubscribe_rate's +60 is all reweighting: score 100 × (1 − 0.4).
	if u := ch.Components[0]; !approx(u.ValueEffect, 0, 1e-12) || !approx(u.WeightEffect, 60, 1e-9) {
		t.Errorf("effects: value %v weight %v, want 0 and 60", u.ValueEffect, u.WeightEffect)
	}
	// Coming back in.
	back := ExplainChange(cur, prev)
	for _, c := range back.Components {
		if c.Name == ComplaintRate && c.Sentence != "complaint_rate counts again at 0.20%, adding 30.0 points" {
			t.Errorf("return sentence %q", c.Sentence)
		}
	}
}

func TestExplainChangeMissingIndex(t *testing.T) {
	cfg := twoComponents()
	empty := ComputeIndex(cfg, Totals{})
	full := ComputeIndex(cfg, window(10000, 20, 20))
	cases := []struct {
		prev, cur Index
		summary   string
	}{
		{empty, empty, "No Trust Index in either period: no component had enough data."},
		{empty, full, "Trust Index is 70.0; there was none in the previous period (no component had enough data)."},
		{full, empty, "No Trust Index in the current period (no component had enough data); it was 70.0."},
		{full, full, "Trust Index was unchanged at 70.0."},
	}
	for i, c := range cases {
		ch := ExplainChange(c.prev, c.cur)
		if ch.Summary != c.summary {
			t.Errorf("case %d: %q\nwant %q", i, ch.Summary, c.summary)
		}
		if (ch.Delta != nil) != (c.prev.Value != nil && c.cur.Value != nil) {
			t.Errorf("case %d: delta %v", i, deref(ch.Delta))
		}
	}
	ch := ExplainChange(empty, empty)
	if s := ch.Components[0].Sentence; s != "complaint_rate was left out in both periods (no data: denominator is 0)" {
		t.Errorf("sentence %q", s)
	}
	// Components only configured on one side.
	other := ComputeIndex(IndexConfig{Components: []Component{{Indicator: UnsubscribeRate, Weight: 1}}}, window(10000, 20, 20))
	ch = ExplainChange(full, other)
	for _, c := range ch.Components {
		if c.Name == ComplaintRate && c.Sentence != "complaint_rate was left out (not configured), costing 30.0 points; the remaining weights were renormalised" {
			t.Errorf("sentence %q", c.Sentence)
		}
	}
}

func TestFormatValue(t *testing.T) {
	cases := []struct {
		name string
		v    *float64
		want string
	}{
		{ComplaintRate, f64(0.0008), "0.08%"},
		{ComplaintRate, f64(0.00003), "0.003%"},
		{ComplaintRate, f64(0), "0.00%"},
		{ConsentMomentum, f64(-0.125), "-12.50%"},
		{SentimentAvg, f64(0.32), "0.32"},
		{SentimentAvg, nil, "n/a"},
		{"unknown", f64(0.5), "50.00%"},
		{OpenRate, f64(math.Round(1.5*1e6) / 1e6), "150.00%"},
	}
	for _, c := range cases {
		if got := FormatValue(c.name, c.v); got != c.want {
			t.Errorf("FormatValue(%s, %v) = %q, want %q", c.name, deref(c.v), got, c.want)
		}
	}
}

// Property: for random pairs of windows the component deltas add up to the
// Index delta, and value and weight effects add up to each component delta.
func TestExplainChangeAddsUp(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	cfg := DefaultIndexConfig()
	for i := range cfg.Components {
		cfg.Components[i].MinVolume = f64(float64(rng.IntN(2000)))
	}
	checked := 0
	for range 300 {
		prev := ComputeIndex(cfg, randomTotals(rng, 1+rng.IntN(300)))
		cur := ComputeIndex(cfg, randomTotals(rng, 1+rng.IntN(300)))
		ch := ExplainChange(prev, cur)
		if ch.Delta == nil {
			continue
		}
		checked++
		var sum float64
		for _, c := range ch.Components {
			sum += c.Delta
			if c.ValueEffect != 0 || c.WeightEffect != 0 {
				if !approx(c.ValueEffect+c.WeightEffect, c.Delta, 1e-9) {
					t.Fatalf("%s: effects %v + %v != delta %v", c.Name, c.ValueEffect, c.WeightEffect, c.Delta)
				}
			}
			if c.Sentence == "" {
				t.Fatalf("%s: no sentence", c.Name)
			}
		}
		if !approx(sum, *ch.Delta, 1e-9) {
			t.Fatalf("deltas sum to %v, Index delta %v", sum, *ch.Delta)
		}
		for i := 1; i < len(ch.Components); i++ {
			if math.Abs(ch.Components[i].Delta) > math.Abs(ch.Components[i-1].Delta) {
				t.Fatal("components not sorted by impact")
			}
		}
	}
	if checked < 100 {
		t.Fatalf("only %d pairs had both Indexes", checked)
	}
}
