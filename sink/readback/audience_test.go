package readback

import (
	"strings"
	"testing"
	"time"

	"github.com/trustpipe/trustpipe/aggregate/indicator"
)

// TestAudienceGauges: the audience gauges compare the last 7 complete UTC
// days with the 7 before (the clock's partial day is left out), and
// trustpipe_shrinking_audience follows the rule: ctr 4 % -> 6 % while
// engaged contacts fall 3000 -> 2400 flags; the same ctr with the contacts
// holding does not; without engaged contacts in the earlier week the flag
// is absent.
func TestAudienceGauges(t *testing.T) {
	today := now.UTC().Truncate(day)
	curFrom, baseFrom := today.Add(-7*day), today.Add(-14*day)
	ctrRows := func(at time.Time, delivered, clicks uint64) []fakeRow {
		return []fakeRow{
			{bucket: at.Unix(), dims: dims{channel: "email"}, Row: indicator.Row{EventType: "delivered", Channel: "email", Events: delivered}},
			{bucket: at.Unix(), dims: dims{channel: "email"}, Row: indicator.Row{EventType: "click", Channel: "email", Events: clicks}},
		}
	}
	// The partial day holds a ctr collapse that must not count.
	rows := append(append(ctrRows(baseFrom.Add(3*day), 10000, 400), ctrRows(curFrom.Add(3*day), 10000, 600)...), ctrRows(today.Add(time.Hour), 10000, 1)...)
	cur := indicator.Audience{EngagedContacts: 2400, DeliveredContacts: 6000, Clicks: 600, Clickers: 300, TopDecileClicks: 150}
	tests := []struct {
		name string
		base indicator.Audience
		want []string
		not  []string
	}{
		{"shrinking", indicator.Audience{EngagedContacts: 3000, DeliveredContacts: 6000, Clicks: 400, Clickers: 350, TopDecileClicks: 70},
			[]string{"trustpipe_shrinking_audience 1", `trustpipe_audience_signal{signal="top_decile_click_share"} 0.25`,
				`trustpipe_audience_signal_baseline{signal="top_decile_click_share"} 0.175`, `trustpipe_audience_signal{signal="clicks_per_clicker"} 2`,
				`trustpipe_audience_count{count="engaged_contacts",period="baseline"} 3000`}, nil},
		{"holding", indicator.Audience{EngagedContacts: 2400, DeliveredContacts: 6000, Clicks: 400, Clickers: 350, TopDecileClicks: 70},
			[]string{"trustpipe_shrinking_audience 0"}, nil},
		{"no baseline", indicator.Audience{},
			[]string{`trustpipe_audience_count{count="clicks",period="baseline"} 0`}, []string{"trustpipe_shrinking_audience", `trustpipe_audience_signal_baseline{`}},
	}
	for _, tt := range tests {
		f := &fakeSource{rows: rows, audience: map[time.Time]indicator.Audience{curFrom: cur, baseFrom: tt.base}}
		h := newHarness(t, DefaultConfig(), f)
		h.refresh(t)
		out := h.exposition(t, "trustpipe_shrinking_audience", "trustpipe_audience_signal", "trustpipe_audience_signal_baseline", "trustpipe_audience_count")
		for _, w := range tt.want {
			if !strings.Contains(out, w+"\n") {
				t.Errorf("%s: exposition lacks %q:\n%s", tt.name, w, out)
			}
		}
		for _, w := range tt.not {
			if strings.Contains(out, "\n"+w) {
				t.Errorf("%s: exposition has %q:\n%s", tt.name, w, out)
			}
		}
	}
}
