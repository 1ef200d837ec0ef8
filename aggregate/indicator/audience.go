package indicator

import (
	"fmt"
	"slices"
)

// Names of the audience signals (issue 16, "the shrinking, self-selected
// audience"). They are not trust_counts ratios: their terms are distinct
// contacts and per-contact click counts, which only the contact-level
// tables hold, so they are evaluated from an Audience rather than a Totals.
const (
	EngagedReachRate    = "engaged_reach_rate"
	ClicksPerClicker    = "clicks_per_clicker"
	TopDecileClickShare = "top_decile_click_share"
)

// Audience holds the contact-level counts of a period. A campaign team
// optimising on CTR can "win" by mailing ever fewer, ever keener people: the
// rates per delivery rise while the audience that still engages shrinks.
// These counts are what makes that visible. The JSON names are also the
// columns of the audience views (sink), which AudienceSignals name.
type Audience struct {
	// EngagedContacts: distinct contacts with a human open, click, form
	// fill, web session, preference-centre visit or opt-up.
	EngagedContacts uint64 `json:"engaged_contacts"`
	// DeliveredContacts: distinct contacts with a delivery.
	DeliveredContacts uint64 `json:"delivered_contacts"`
	// Clicks: human clicks (bot clicks excluded, as in ctr).
	Clicks uint64 `json:"clicks"`
	// Clickers: distinct contacts with a human click.
	Clickers uint64 `json:"clickers"`
	// TopDecileClicks: the human clicks of the TopClickers(Clickers)
	// contacts with the most human clicks (TopDecileClicks).
	TopDecileClicks uint64 `json:"top_decile_clicks"`
}

// AudienceSignal is the one definition of an audience signal: a ratio of
// two Audience counts. The report and the read-back evaluate it in Go
// (Evaluate); the audience views carry its two counts as columns named
// Numerator and Denominator, and the dashboards divide their sums.
type AudienceSignal struct {
	Name, Title, Description string
	// Numerator and Denominator name the Audience counts (their JSON
	// names, the audience views' columns).
	Numerator, Denominator string
	// PerContact: the value is a count per contact (clicks per clicker),
	// not a share; shown as a number, not a percentage.
	PerContact bool
}

// AudienceSignals returns the audience signal definitions, in report
// order. Each call builds fresh values.
func AudienceSignals() []AudienceSignal {
	return []AudienceSignal{
		{Name: EngagedReachRate, Title: "Engaged reach",
			Description: "Distinct engaged contacts (human open, click, form fill, web session, preference-centre visit, opt-up) / distinct delivered contacts. Falls when fewer of the people reached still engage, however the per-delivery rates move.",
			Numerator:   "engaged_contacts", Denominator: "delivered_contacts"},
		{Name: ClicksPerClicker, Title: "Clicks per clicker",
			Description: "Human clicks / distinct human clickers. Rises when the clicks come from fewer, keener contacts.",
			Numerator:   "clicks", Denominator: "clickers", PerContact: true},
		{Name: TopDecileClickShare, Title: "Top-decile click share",
			Description: "Human clicks of the top 10 % of clickers (the ceil(n/10) with the most clicks in the period) / human clicks. Rises when a CTR lift is carried by a self-selected core.",
			Numerator:   "top_decile_clicks", Denominator: "clicks"},
	}
}

// AudienceSignalByName returns the audience signal called name.
func AudienceSignalByName(name string) (AudienceSignal, bool) {
	i := slices.IndexFunc(AudienceSignals(), func(s AudienceSignal) bool { return s.Name == name })
	if i < 0 {
		return AudienceSignal{}, false
	}
	return AudienceSignals()[i], true
}

// Count returns the Audience count with the JSON (column) name col.
func (a Audience) Count(col string) uint64 {
	switch col {
	case "engaged_contacts":
		return a.EngagedContacts
	case "delivered_contacts":
		return a.DeliveredContacts
	case "clicks":
		return a.Clicks
	case "clickers":
		return a.Clickers
	case "top_decile_clicks":
		return a.TopDecileClicks
	}
	panic("indicator: no audience count " + col) // a definition names a count that does not exist
}

// Evaluate computes the signal over a: Numerator / Denominator, with no
// value when the denominator is 0.
func (s AudienceSignal) Evaluate(a Audience) Value {
	n, d := a.Count(s.Numerator), a.Count(s.Denominator)
	v := Value{Name: s.Name, Numerator: float64(n), Denominator: float64(d)}
	if d > 0 {
		r := float64(n) / float64(d)
		v.Value = &r
	}
	v.Sufficient = v.Value != nil
	return v
}

// Evaluate returns the audience signal called name over a.
func (a Audience) Evaluate(name string) Value {
	s, ok := AudienceSignalByName(name)
	if !ok {
		panic("indicator: no audience signal " + name)
	}
	return s.Evaluate(a)
}

// TopClickers is the size of the top decile of n clickers: ceil(n/10), so
// any clicker at all has a top decile (one contact up to ten clickers).
// Rounding up rather than to nearest keeps the share meaningful for small
// audiences: with 5 clickers the top decile is the keenest one, not nobody.
func TopClickers(n uint64) uint64 { return (n + 9) / 10 }

// TopDecileClicks is the Go rendering of top_decile_click_share's numerator:
// the sum of the TopClickers(len(perContact)) largest per-contact click
// counts. Ties at the boundary need no rule: whichever of the tied
// contacts is taken, they add the same count, so the sum is the same.
func TopDecileClicks(perContact []uint64) uint64 {
	c := slices.Clone(perContact)
	slices.SortFunc(c, func(a, b uint64) int {
		switch {
		case a > b:
			return -1
		case a < b:
			return 1
		}
		return 0
	})
	var sum uint64
	for _, n := range c[:TopClickers(uint64(len(c)))] {
		sum += n
	}
	return sum
}

// TopDecileClicksSQL renders TopDecileClicks as a ClickHouse aggregate over
// the column col of a query with one row per clicker and its click count:
// the counts sorted descending, the first ceil(count()/10) summed. It uses
// only groupArray, arrayReverseSort, arraySlice, arraySum and intDiv, which
// ClickHouse 18.16 and current releases have.
func TopDecileClicksSQL(col string) string {
	return "arraySum(arraySlice(arrayReverseSort(groupArray(" + col + ")), 1, intDiv(count() + 9, 10)))"
}

// EngagedReach is engaged_reach_rate: distinct engaged contacts / distinct
// delivered contacts. It can exceed 1 (a contact engaging through the web
// without a delivery in the period).
func (a Audience) EngagedReach() Value { return a.Evaluate(EngagedReachRate) }

// ShrinkingAudience is the result of DetectShrinkingAudience, with its
// evidence.
type ShrinkingAudience struct {
	// Flag: ctr rose by MinClickLift or more while the distinct engaged
	// contacts or engaged_reach_rate fell by MinReachDrop or more
	// (relative).
	Flag             bool      `json:"flag"`
	CTR              ClickMove `json:"ctr"`
	BaselineContacts uint64    `json:"baseline_engaged_contacts"`
	CurrentContacts  uint64    `json:"current_engaged_contacts"`
	// ReachChange is CurrentContacts / BaselineContacts − 1; nil without
	// baseline contacts.
	ReachChange *float64 `json:"reach_change"`
	// BaselineRate and CurrentRate are engaged_reach_rate in the two
	// periods; RateChange is Current / Baseline − 1, nil unless both exist
	// and the baseline is above 0.
	BaselineRate *float64 `json:"baseline_engaged_reach_rate"`
	CurrentRate  *float64 `json:"current_engaged_reach_rate"`
	RateChange   *float64 `json:"engaged_reach_rate_change"`
	Reason       string   `json:"reason"`
}

// DetectShrinkingAudience is the second divergence rule: CTR up while
// engaged reach falls. The Trust Index rule catches buyers pulling back
// (complaints, unsubscribes); this one catches them simply going quiet,
// which no negative signal shows: the rate per delivery improves because
// the people who stopped engaging were also stopped being mailed or stopped
// opening.
//
// Engaged reach falls when either of its two measures falls by
// MinReachDrop: the distinct engaged contacts (the periods have the same
// length, so a programme that mails only its keenest contacts shows here,
// even though its engaged_reach_rate stays high), or engaged_reach_rate (a
// programme that keeps mailing as many people, or more, while fewer of them
// engage shows here, even though sending more props the count up). ctr is
// compared as in DetectDivergence (volume-gated, baseline above 0).
func DetectShrinkingAudience(cfg DivergenceConfig, baseline, current Totals, base, cur Audience) ShrinkingAudience {
	s := ShrinkingAudience{BaselineContacts: base.EngagedContacts, CurrentContacts: cur.EngagedContacts,
		BaselineRate: base.EngagedReach().Value, CurrentRate: cur.EngagedReach().Value}
	s.CTR = DetectDivergence(DivergenceConfig{Index: cfg.Index, ClickMetrics: []string{CTR}, MinClickLift: cfg.MinClickLift}, baseline, current).Clicks[0]
	if base.EngagedContacts > 0 {
		ch := float64(cur.EngagedContacts)/float64(base.EngagedContacts) - 1
		s.ReachChange = &ch
	}
	if s.BaselineRate != nil && s.CurrentRate != nil && *s.BaselineRate > 0 {
		ch := *s.CurrentRate / *s.BaselineRate - 1
		s.RateChange = &ch
	}
	dropped := func(ch *float64) bool { return ch != nil && -*ch >= cfg.MinReachDrop-tolerance }
	var fell []string
	if dropped(s.ReachChange) {
		fell = append(fell, fmt.Sprintf("distinct engaged contacts %d -> %d (%s)", s.BaselineContacts, s.CurrentContacts, pct1(*s.ReachChange)))
	}
	if dropped(s.RateChange) {
		fell = append(fell, "engaged_reach_rate "+fmt3(*s.BaselineRate)+" -> "+fmt3(*s.CurrentRate)+" ("+pct1(*s.RateChange)+")")
	}
	s.Flag = s.CTR.Improved && len(fell) > 0
	switch {
	case s.Flag:
		s.Reason = "ctr rose " + pct1(*s.CTR.RelativeChange) + " while " + joinAnd(fell) + " fell"
	case s.ReachChange == nil && s.RateChange == nil:
		s.Reason = "no engaged contacts in the comparison period, so no comparison"
	case !s.CTR.Improved && s.CTR.Note != "":
		s.Reason = "ctr not compared (" + s.CTR.Note + ")"
	case !s.CTR.Improved:
		s.Reason = "ctr did not rise by " + pct1(cfg.MinClickLift) + " or more"
	default:
		s.Reason = "ctr rose " + pct1(*s.CTR.RelativeChange) + fmt.Sprintf(", but neither distinct engaged contacts (%d -> %d) nor engaged_reach_rate fell by %s or more",
			s.BaselineContacts, s.CurrentContacts, pct1(cfg.MinReachDrop))
	}
	return s
}

func fmt3(f float64) string { return fmt.Sprintf("%.3f", f) }
