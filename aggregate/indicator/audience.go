package indicator

import "fmt"

// Names of the audience signals (issue 16, "the shrinking, self-selected
// audience"). They are not trust_counts ratios: their denominators are
// distinct contacts, which only the contact-level tables hold, so they are
// evaluated from an Audience rather than a Totals.
const (
	EngagedReachRate = "engaged_reach_rate"
	ClicksPerClicker = "clicks_per_clicker"
)

// Audience holds the distinct-contact counts of a period. A campaign team
// optimising on CTR can "win" by mailing ever fewer, ever keener people: the
// rates per delivery rise while the audience that still engages shrinks.
// These counts are what makes that visible.
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
}

// HumanClicks is ctr's numerator over t: the clicks clicks_per_clicker
// divides, so both indicators count the same clicks.
func HumanClicks(t Totals) uint64 {
	d, _ := ByName(CTR)
	return uint64(t.sumTerms(d.Numerator))
}

// ratio returns n/d as a Value, with no value when d is 0.
func ratio(name string, n, d uint64) Value {
	v := Value{Name: name, Numerator: float64(n), Denominator: float64(d)}
	if d > 0 {
		r := float64(n) / float64(d)
		v.Value = &r
	}
	v.Sufficient = v.Value != nil
	return v
}

// EngagedReach is engaged_reach_rate: distinct engaged contacts / distinct
// delivered contacts. It falls when fewer of the people reached still
// engage, however the per-delivery rates move. It can exceed 1 (a contact
// engaging through the web without a delivery in the period).
func (a Audience) EngagedReach() Value {
	return ratio(EngagedReachRate, a.EngagedContacts, a.DeliveredContacts)
}

// PerClicker is clicks_per_clicker: human clicks / distinct human clickers.
// It rises when the clicks come from fewer, keener contacts: a CTR lift
// carried by a self-selected core rather than a broad audience.
func (a Audience) PerClicker() Value {
	return ratio(ClicksPerClicker, a.Clicks, a.Clickers)
}

// ShrinkingAudience is the result of DetectShrinkingAudience, with its
// evidence.
type ShrinkingAudience struct {
	// Flag: ctr rose by MinClickLift or more while the distinct engaged
	// contacts fell by MinReachDrop or more (relative).
	Flag             bool      `json:"flag"`
	CTR              ClickMove `json:"ctr"`
	BaselineContacts uint64    `json:"baseline_engaged_contacts"`
	CurrentContacts  uint64    `json:"current_engaged_contacts"`
	// ReachChange is CurrentContacts / BaselineContacts − 1; nil without
	// baseline contacts.
	ReachChange *float64 `json:"reach_change"`
	Reason      string   `json:"reason"`
}

// DetectShrinkingAudience is the second divergence rule: CTR up while
// engaged reach falls. The Trust Index rule catches buyers pulling back
// (complaints, unsubscribes); this one catches them simply going quiet,
// which no negative signal shows: the rate per delivery improves because
// the people who stopped engaging were also stopped being mailed or stopped
// opening. It compares distinct engaged contacts, not the rate, because the
// periods have the same length and a shrinking list shrinks both sides of
// the rate. ctr is compared as in DetectDivergence (volume-gated, baseline
// above 0).
func DetectShrinkingAudience(cfg DivergenceConfig, baseline, current Totals, baseContacts, curContacts uint64) ShrinkingAudience {
	s := ShrinkingAudience{BaselineContacts: baseContacts, CurrentContacts: curContacts}
	s.CTR = DetectDivergence(DivergenceConfig{Index: cfg.Index, ClickMetrics: []string{CTR}, MinClickLift: cfg.MinClickLift}, baseline, current).Clicks[0]
	if baseContacts > 0 {
		ch := float64(curContacts)/float64(baseContacts) - 1
		s.ReachChange = &ch
	}
	fell := s.ReachChange != nil && -*s.ReachChange >= cfg.MinReachDrop-tolerance
	s.Flag = s.CTR.Improved && fell
	reach := fmt.Sprintf("distinct engaged contacts %d -> %d", baseContacts, curContacts)
	switch {
	case s.Flag:
		s.Reason = "ctr rose " + pct1(*s.CTR.RelativeChange) + " while " + reach + " (" + pct1(*s.ReachChange) + ")"
	case s.ReachChange == nil:
		s.Reason = "no engaged contacts in the comparison period, so no comparison"
	case !s.CTR.Improved && s.CTR.Note != "":
		s.Reason = "ctr not compared (" + s.CTR.Note + ")"
	case !s.CTR.Improved:
		s.Reason = "ctr did not rise by " + pct1(cfg.MinClickLift) + " or more"
	default:
		s.Reason = "ctr rose " + pct1(*s.CTR.RelativeChange) + ", but " + reach + " did not fall by " + pct1(cfg.MinReachDrop) + " or more"
	}
	return s
}
