package indicator

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/trustpipe/trustpipe/aggregate/testkit"
)

// TestAudienceGolden evaluates the audience signals and the
// shrinking-audience rule over hand-built cases and compares with the
// reviewed testdata/audience.golden.json (regenerate with -update).
func TestAudienceGolden(t *testing.T) {
	email := func(typ, detail string, n uint64) Row {
		return Row{EventType: typ, Detail: detail, Channel: "email", Events: n}
	}
	period := func(delivered, clicks, bots uint64) Totals {
		return Accumulate([]Row{email("delivered", "", delivered), email("click", "", clicks), email("click", "bot", bots)})
	}
	reach := func(engaged, delivered uint64) Audience {
		return Audience{EngagedContacts: engaged, DeliveredContacts: delivered}
	}
	cases := []struct {
		Name              string
		Audience          Audience
		baseline, current Totals
		base, cur         Audience
	}{
		// The trust spiral: ctr 4 % -> 5 %, engaged contacts 5000 -> 4000;
		// a tenth of the clickers (20) make 300 of the 500 clicks.
		{"spiral", Audience{EngagedContacts: 4000, DeliveredContacts: 9000, Clicks: 500, Clickers: 200, TopDecileClicks: 300},
			period(10000, 400, 50), period(10000, 500, 900), reach(5000, 9000), reach(4000, 9000)},
		// Engaged contacts fall exactly 10 %: counts.
		{"reach_edge", Audience{EngagedContacts: 900, DeliveredContacts: 1000, Clicks: 105, Clickers: 105, TopDecileClicks: 11},
			period(1000, 100, 0), period(1000, 105, 0), reach(1000, 1000), reach(900, 1000)},
		// More people mailed, as many engage: the count holds, the rate
		// falls 20 % (the 14-day trust spiral's shape).
		{"rate_falls", Audience{EngagedContacts: 1000, DeliveredContacts: 5000, Clicks: 300, Clickers: 200, TopDecileClicks: 60},
			period(4000, 120, 0), period(6000, 300, 0), reach(1000, 4000), reach(1000, 5000)},
		// Mailing only the keen: the rate rises, the count falls 40 %.
		{"only_the_keen", Audience{EngagedContacts: 600, DeliveredContacts: 800, Clicks: 200, Clickers: 100, TopDecileClicks: 40},
			period(4000, 120, 0), period(800, 40, 0), reach(1000, 4000), reach(600, 800)},
		// Broad growth: ctr and reach both rise.
		{"healthy", Audience{EngagedContacts: 5500, DeliveredContacts: 9000, Clicks: 500, Clickers: 450, TopDecileClicks: 90},
			period(10000, 400, 0), period(10000, 500, 0), reach(5000, 9000), reach(5500, 9000)},
		// Reach falls but ctr is flat: a quiet list, not the trap.
		{"quiet", Audience{EngagedContacts: 3000, DeliveredContacts: 9000, Clicks: 400, Clickers: 300, TopDecileClicks: 60},
			period(10000, 400, 0), period(10000, 400, 0), reach(5000, 9000), reach(3000, 9000)},
		// ctr below its minimum volume, and nothing delivered or clicked.
		{"thin", Audience{EngagedContacts: 20}, period(50, 5, 0), period(50, 9, 0), reach(40, 0), reach(20, 0)},
		// No baseline contacts.
		{"no_baseline", Audience{}, period(1000, 40, 0), period(1000, 60, 0), reach(0, 0), reach(10, 100)},
	}
	type result struct {
		Name      string            `json:"name"`
		Signals   []Value           `json:"signals"`
		Shrinking ShrinkingAudience `json:"shrinking_audience"`
	}
	var out []result
	for _, c := range cases {
		r := result{Name: c.Name, Shrinking: DetectShrinkingAudience(DefaultDivergenceConfig(), c.baseline, c.current, c.base, c.cur)}
		for _, s := range AudienceSignals() {
			r.Signals = append(r.Signals, s.Evaluate(c.Audience))
		}
		out = append(out, r)
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	testkit.Golden(t, filepath.Join("testdata", "audience.golden.json"), append(b, '\n'))
}

// TestTopDecileClicks: the sum of the ceil(n/10) largest per-contact counts,
// hand-computed.
func TestTopDecileClicks(t *testing.T) {
	tests := []struct {
		name       string
		perContact []uint64
		top        uint64
	}{
		{"none", nil, 0},
		{"one clicker is its own top decile", []uint64{3}, 3},
		{"ten clickers: the keenest one", []uint64{1, 1, 1, 1, 9, 1, 1, 1, 1, 1}, 9},
		{"eleven clickers: ceil(11/10) = 2", []uint64{1, 1, 1, 1, 9, 1, 1, 1, 1, 1, 4}, 13},
		{"ties at the boundary add the same", []uint64{5, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, 9},
		{"twenty equal clickers", []uint64{2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2}, 4},
	}
	for _, tt := range tests {
		in := append([]uint64(nil), tt.perContact...)
		if got := TopDecileClicks(tt.perContact); got != tt.top {
			t.Errorf("%s: TopDecileClicks(%v) = %d, want %d", tt.name, tt.perContact, got, tt.top)
		}
		for i := range in {
			if in[i] != tt.perContact[i] {
				t.Fatalf("%s: TopDecileClicks reordered its input", tt.name)
			}
		}
	}
	for n, want := range map[uint64]uint64{0: 0, 1: 1, 9: 1, 10: 1, 11: 2, 20: 2, 21: 3, 1000: 100} {
		if got := TopClickers(n); got != want {
			t.Errorf("TopClickers(%d) = %d, want %d", n, got, want)
		}
	}
}

// Every signal names counts an Audience has (Count panics otherwise).
func TestAudienceSignalsNameCounts(t *testing.T) {
	a := Audience{EngagedContacts: 1, DeliveredContacts: 2, Clicks: 3, Clickers: 4, TopDecileClicks: 5}
	for _, s := range AudienceSignals() {
		if v := s.Evaluate(a); v.Value == nil {
			t.Errorf("%s: no value over %+v", s.Name, a)
		}
		if _, ok := ByName(s.Name); ok {
			t.Errorf("%s is also a trust_counts indicator: one name, one definition", s.Name)
		}
	}
}
