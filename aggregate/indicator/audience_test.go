package indicator

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/trustpipe/trustpipe/aggregate/testkit"
)

// TestAudienceGolden evaluates engaged_reach_rate, clicks_per_clicker and
// the shrinking-audience rule over hand-built cases and compares with the
// reviewed testdata/audience.golden.json (regenerate with -update).
func TestAudienceGolden(t *testing.T) {
	email := func(typ, detail string, n uint64) Row {
		return Row{EventType: typ, Detail: detail, Channel: "email", Events: n}
	}
	period := func(delivered, clicks, bots uint64) Totals {
		return Accumulate([]Row{email("delivered", "", delivered), email("click", "", clicks), email("click", "bot", bots)})
	}
	cases := []struct {
		Name                        string
		Audience                    Audience
		baseline, current           Totals
		BaselineReach, CurrentReach uint64
	}{
		// The trust spiral: ctr 4 % -> 5 %, engaged contacts 5000 -> 4000.
		{"spiral", Audience{EngagedContacts: 4000, DeliveredContacts: 9000, Clicks: 500, Clickers: 200}, period(10000, 400, 50), period(10000, 500, 900), 5000, 4000},
		// Engaged contacts fall exactly 10 %: counts.
		{"reach_edge", Audience{EngagedContacts: 900, DeliveredContacts: 1000, Clicks: 105, Clickers: 105}, period(1000, 100, 0), period(1000, 105, 0), 1000, 900},
		// Broad growth: ctr and reach both rise.
		{"healthy", Audience{EngagedContacts: 5500, DeliveredContacts: 9000, Clicks: 500, Clickers: 450}, period(10000, 400, 0), period(10000, 500, 0), 5000, 5500},
		// Reach falls but ctr is flat: a quiet list, not the trap.
		{"quiet", Audience{EngagedContacts: 3000, DeliveredContacts: 9000, Clicks: 400, Clickers: 300}, period(10000, 400, 0), period(10000, 400, 0), 5000, 3000},
		// ctr below its minimum volume, and nothing delivered or clicked.
		{"thin", Audience{EngagedContacts: 20}, period(50, 5, 0), period(50, 9, 0), 40, 20},
		// No baseline contacts.
		{"no_baseline", Audience{}, period(1000, 40, 0), period(1000, 60, 0), 0, 10},
	}
	type result struct {
		Name             string            `json:"name"`
		EngagedReachRate Value             `json:"engaged_reach_rate"`
		ClicksPerClicker Value             `json:"clicks_per_clicker"`
		Shrinking        ShrinkingAudience `json:"shrinking_audience"`
	}
	var out []result
	for _, c := range cases {
		out = append(out, result{c.Name, c.Audience.EngagedReach(), c.Audience.PerClicker(),
			DetectShrinkingAudience(DefaultDivergenceConfig(), c.baseline, c.current, c.BaselineReach, c.CurrentReach)})
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	testkit.Golden(t, filepath.Join("testdata", "audience.golden.json"), append(b, '\n'))
}

// TestHumanClicks: clicks_per_clicker counts ctr's clicks (bots excluded).
func TestHumanClicks(t *testing.T) {
	tot := Accumulate([]Row{{EventType: "click", Events: 7}, {EventType: "click", Detail: "bot", Events: 90}, {EventType: "open", Events: 3}})
	if got := HumanClicks(tot); got != 7 {
		t.Errorf("HumanClicks = %d, want 7", got)
	}
}
