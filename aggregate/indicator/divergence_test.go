package indicator

import (
	"strings"
	"testing"
)

// campaign builds a window with 10000 deliveries, 3000 human opens, the
// given clicks and complaints, and 15 unsubscribes (0.15 %, score 100).
func campaign(clicks, complaints uint64) Totals {
	return Accumulate([]Row{
		{EventType: "delivered", Channel: "email", Events: 10000},
		{EventType: "open", Events: 3000},
		{EventType: "open", Detail: "machine", Events: 2000},
		{EventType: "click", Events: clicks},
		{EventType: "complaint", Channel: "email", Events: complaints},
		{EventType: "unsubscribe", Events: 15},
	})
}

func divCfg() DivergenceConfig {
	cfg := DefaultDivergenceConfig()
	cfg.Index = twoComponents() // complaint_rate 3, unsubscribe_rate 2
	return cfg
}

// Hand-computed Index values (weights 0.6 complaint, 0.4 unsubscribe,
// unsubscribe always scores 100): complaints 5 -> 0.05 % -> score 100 ->
// Index 100; 12 -> 0.12 % -> 90 -> 94; 11 -> 0.11 % -> 95 -> 97.
func TestDetectDivergence(t *testing.T) {
	baseline := campaign(300, 5) // ctr 3 %, click-to-open 10 %, Index 100
	cases := []struct {
		name      string
		cur       Totals
		flag      bool
		drop      float64
		improved  []string
		reasonHas string
	}{
		{"trap: clicks +10%, Index -6", campaign(330, 12), true, 6, []string{CTR, ClickToOpen},
			"ctr rose 10.0% and click_to_open rose 10.0% while the Trust Index fell 6.0 points (100.0 -> 94.0)"},
		{"boundary: clicks +5%, Index -3 exactly", campaign(315, 11), true, 3, []string{CTR, ClickToOpen}, "fell 3.0 points"},
		{"clicks up, trust steady", campaign(330, 5), false, 0, []string{CTR, ClickToOpen},
			"ctr rose 10.0% and click_to_open rose 10.0%, but the Trust Index did not fall by 3 points or more (change 0.0)"},
		{"trust down, clicks only +4%", campaign(312, 12), false, 6, nil,
			"the Trust Index fell 6.0 points, but no click metric rose by 5.0% or more"},
		{"trust down, clicks down", campaign(250, 12), false, 6, nil, "no click metric rose"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := DetectDivergence(divCfg(), baseline, c.cur)
			if d.Flag != c.flag {
				t.Errorf("flag = %v, want %v (%s)", d.Flag, c.flag, d.Reason)
			}
			if d.IndexDrop == nil || !approx(*d.IndexDrop, c.drop, 1e-9) {
				t.Errorf("drop = %v, want %v", deref(d.IndexDrop), c.drop)
			}
			var improved []string
			for _, m := range d.Clicks {
				if m.Improved {
					improved = append(improved, m.Name)
				}
			}
			if strings.Join(improved, ",") != strings.Join(c.improved, ",") {
				t.Errorf("improved = %v, want %v", improved, c.improved)
			}
			if !strings.Contains(d.Reason, c.reasonHas) {
				t.Errorf("reason %q\nwant it to contain %q", d.Reason, c.reasonHas)
			}
		})
	}
}

func TestDetectDivergenceEvidence(t *testing.T) {
	d := DetectDivergence(divCfg(), campaign(300, 5), campaign(330, 12))
	if len(d.Clicks) != 3 {
		t.Fatalf("clicks = %+v", d.Clicks)
	}
	// open_rate unchanged (3000/10000 both times): compared, not improved.
	o := d.Clicks[0]
	if o.Name != OpenRate || o.RelativeChange == nil || !approx(*o.RelativeChange, 0, 1e-12) || o.Improved {
		t.Errorf("open_rate = %+v", o)
	}
	ctr := d.Clicks[1]
	if ctr.Name != CTR || *ctr.Baseline != 0.03 || *ctr.Current != 0.033 || !approx(*ctr.RelativeChange, 0.1, 1e-12) {
		t.Errorf("ctr = %+v", ctr)
	}
	if *d.BaselineIndex != 100 || !approx(*d.CurrentIndex, 94, 1e-9) {
		t.Errorf("indexes %v -> %v", *d.BaselineIndex, *d.CurrentIndex)
	}
}

func TestDetectDivergenceGates(t *testing.T) {
	cfg := divCfg()
	// Too few deliveries for the click metrics (MinVolume 100) and for the
	// Index: nothing is compared, nothing flagged.
	tiny := func(clicks, complaints uint64) Totals {
		return Accumulate([]Row{{EventType: "delivered", Channel: "email", Events: 50}, {EventType: "open", Events: 20},
			{EventType: "click", Events: clicks}, {EventType: "complaint", Channel: "email", Events: complaints}})
	}
	d := DetectDivergence(cfg, tiny(2, 0), tiny(10, 5))
	if d.Flag || d.IndexDrop != nil || d.Reason != "no Trust Index in one of the periods, so no comparison" {
		t.Errorf("tiny windows: %+v", d)
	}
	for _, m := range d.Clicks {
		if m.Improved || m.RelativeChange != nil || !strings.HasPrefix(m.Note, "low volume") {
			t.Errorf("%s compared at low volume: %+v", m.Name, m)
		}
	}
	// Baseline without clicks: no relative change from 0.
	d = DetectDivergence(cfg, campaign(0, 5), campaign(300, 12))
	if d.Flag {
		t.Errorf("flagged from a zero baseline: %s", d.Reason)
	}
	if m := d.Clicks[1]; m.Note != "baseline is 0, no relative change" {
		t.Errorf("ctr note %q", m.Note)
	}
	// Thresholds are configuration: a 10-point drop requirement unflags
	// the 6-point trap.
	cfg.MinIndexDrop = 10
	if d := DetectDivergence(cfg, campaign(300, 5), campaign(330, 12)); d.Flag {
		t.Error("flagged below the configured drop")
	}
}

func TestDivergenceConfigValidate(t *testing.T) {
	if err := DefaultDivergenceConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultDivergenceConfig()
	if cfg.MinClickLift != 0.05 || cfg.MinIndexDrop != 3 || strings.Join(cfg.ClickMetrics, ",") != "open_rate,ctr,click_to_open" {
		t.Errorf("defaults changed: %+v", cfg)
	}
	cfg.ClickMetrics = []string{"complaint_rate", "nope"}
	cfg.MinClickLift = -1
	err := cfg.Validate()
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{"complaint_rate is not a click metric", `unknown click metric "nope"`, "min click lift -1"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}
