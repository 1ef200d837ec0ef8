package indicator

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trustpipe/trustpipe/aggregate/testkit"
)

// goldenCase is testdata/cases/NAME.input.json.
type goldenCase struct {
	Description string `json:"description"`
	// Config is an optional TRUSTPIPE_INDEX_COMPONENTS override applied to
	// DefaultIndexConfig.
	Config   string `json:"config,omitempty"`
	Baseline []Row  `json:"baseline"`
	Current  []Row  `json:"current"`
}

// goldenResult is testdata/cases/NAME.golden.json: everything the report
// shows for the case.
type goldenResult struct {
	Description   string     `json:"description"`
	Indicators    []Value    `json:"indicators"`
	BaselineIndex Index      `json:"baseline_index"`
	CurrentIndex  Index      `json:"current_index"`
	Change        Change     `json:"change"`
	Divergence    Divergence `json:"divergence"`
	Config        string     `json:"config"`
}

// TestGoldenCases runs every case under testdata/cases through the whole
// pipeline (indicators, Index, explanation, divergence) and compares with the
// reviewed output. Regenerate with `go test -update` and review the diff.
func TestGoldenCases(t *testing.T) {
	inputs, err := filepath.Glob(filepath.Join("testdata", "cases", "*.input.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(inputs) < 5 {
		t.Fatalf("found %d golden cases, expected at least 5", len(inputs))
	}
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".input.json")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			var c goldenCase
			if err := json.Unmarshal(raw, &c); err != nil {
				t.Fatal(err)
			}
			cfg, err := ParseIndexComponents(c.Config, DefaultIndexConfig())
			if err != nil {
				t.Fatal(err)
			}
			base, cur := Accumulate(c.Baseline), Accumulate(c.Current)
			bi, ci := ComputeIndex(cfg, base), ComputeIndex(cfg, cur)
			dcfg := DefaultDivergenceConfig()
			dcfg.Index = cfg
			res := goldenResult{
				Description:   c.Description,
				Config:        cfg.String(),
				Indicators:    EvaluateAll(cur),
				BaselineIndex: bi,
				CurrentIndex:  ci,
				Change:        ExplainChange(bi, ci),
				Divergence:    DetectDivergence(dcfg, base, cur),
			}
			out, err := json.MarshalIndent(res, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			testkit.Golden(t, filepath.Join("testdata", "cases", name+".golden.json"), append(out, '\n'))
		})
	}
}

// Independent checks on two golden cases, computed by hand from their input
// files, so a wrong golden file cannot pass review unnoticed.
func TestGoldenCasesHandChecked(t *testing.T) {
	load := func(name string) goldenCase {
		raw, err := os.ReadFile(filepath.Join("testdata", "cases", name+".input.json"))
		if err != nil {
			t.Fatal(err)
		}
		var c goldenCase
		if err := json.Unmarshal(raw, &c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	// healthy: with the default config, every component scores 100 except
	//   direct_traffic_share 400/1500 = 0.2667 -> (0.2667-0.1)/0.2 = 83.33
	//   sentiment_avg 6.4/20 = 0.32 -> (0.32+0.5)/1 = 82
	//   consent_coverage 5990/6000 = 0.99833 -> 100 (above 0.995)
	//   too_frequent_rate, not_relevant_rate: no such feedback -> 100
	// weights total 14.5: Index = (12.5*100 + 83.33 + 82) / 14.5 = 97.609...
	// All 12 configured components are used: coverage 12/12.
	c := load("healthy")
	idx := ComputeIndex(DefaultIndexConfig(), Accumulate(c.Current))
	want := (12.5*100 + 250.0/3 + 82) / 14.5
	if idx.Coverage != (Coverage{Used: 12, Configured: 12, WeightShare: 1}) {
		t.Errorf("healthy coverage = %+v, want 12/12, all weight", idx.Coverage)
	}
	if idx.Value == nil || !approx(*idx.Value, want, 1e-9) {
		t.Errorf("healthy Index = %v, want %v", deref(idx.Value), want)
	}
	// channel_mix: complaint_rate = 70 email complaints / 20000 email
	// deliveries = 0.35 % (the 2 SMS complaints and 60000 SMS deliveries
	// are left out); ctr = 800 human clicks / 80000; consent momentum over
	// known tiers only = (20 - 10) / 30; bounce rate = 400 / 80400.
	c = load("channel_mix")
	wantMix := map[string]float64{ComplaintRate: 70.0 / 20000, CTR: 800.0 / 80000, ConsentMomentum: 10.0 / 30,
		BounceRate: 400.0 / 80400, TooFrequentRate: 30.0 / 80000, NotRelevantRate: 12.0 / 80000}
	for _, v := range EvaluateAll(Accumulate(c.Current)) {
		if w, ok := wantMix[v.Name]; ok && (v.Value == nil || !approx(*v.Value, w, 1e-15)) {
			t.Errorf("channel_mix %s = %v, want %v", v.Name, deref(v.Value), w)
		}
	}
	// empty: no Index, every indicator null.
	c = load("empty")
	if idx := ComputeIndex(DefaultIndexConfig(), Accumulate(c.Current)); idx.Value != nil {
		t.Errorf("empty Index = %v", *idx.Value)
	}
	// click_trap: ctr 594/10000 vs 450/10000 -> 594/450 = 1.32, +32 %;
	// open_rate 3300 vs 3000 human opens, +10 %; click_to_open
	// (594/3300) / (450/3000) = 0.18 / 0.15, +20 %.
	c = load("click_trap")
	d := DetectDivergence(DefaultDivergenceConfig(), Accumulate(c.Baseline), Accumulate(c.Current))
	if !d.Flag {
		t.Fatalf("click_trap not flagged: %s", d.Reason)
	}
	rel := map[string]float64{OpenRate: 0.1, CTR: 0.32, ClickToOpen: 0.2}
	for _, m := range d.Clicks {
		if m.RelativeChange == nil || !approx(*m.RelativeChange, rel[m.Name], 1e-12) || !m.Improved {
			t.Errorf("%s: %+v, want relative change %v", m.Name, m, rel[m.Name])
		}
	}
}
