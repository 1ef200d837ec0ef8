package scenario

// The send facts the issue-16 signals read (render-check defects,
// provenance) and what they do to the send's follow-ups.

// Render-check defects of a send (sent.defect bits).
const (
	defectMergeTag uint8 = 1 << iota // an unresolved merge tag
	defectLink                       // a broken personalized link
)

// Follow-ups of a defective send: a buyer who reads "Hi [FirstName]" leaves
// and complains more often. The multipliers apply to the day's rates.
const (
	defectUnsubscribeMul = 8
	defectComplaintMul   = 3
)

// Provenance of a personalized send (sent.lineage bits).
const (
	lineageNamed   uint8 = 1 << iota // properties.inputs names its inputs
	lineageIntent                    // a third-party intent feed was used
	lineageVisible                   // the reason is shown to the buyer
)

// Follow-ups of a send by its provenance: buyers recognise data they never
// gave (intent data) and complain or say "too personal" more often; seeing
// why the message is personalized takes part of that back. The multipliers
// apply to the day's complaint and "too personal" rates.
const (
	intentComplaintMul  = 4
	visibleComplaintMul = 0.5
)

// inputsByLevel are the inputs a send names, by personalization level and
// whether it used the intent feed (shared slices: events never modify them).
var inputsByLevel = [4][2][]string{
	levelBasic:      {{"crm"}, {"crm", "third_party_intent"}},
	levelBehavioral: {{"crm", "web_behaviour"}, {"crm", "web_behaviour", "third_party_intent"}},
	levelPredictive: {{"crm", "enrichment", "model:propensity-v2"}, {"crm", "third_party_intent", "model:propensity-v2"}},
}

// defects decides the render-check defects of a send of campaign ci. Only
// the broken campaign has any, so one campaign's numbers tell the story; no
// random number is drawn on days without defects, so the streams of the
// other scenarios do not change.
func (g *Generator) defects(dy *day, ci int32) uint8 {
	r := &dy.r
	if r.MergeDefect <= 0 && r.BrokenLink <= 0 {
		return 0
	}
	if g.broken < 0 {
		g.broken = dy.blast
	}
	if ci != g.broken {
		return 0
	}
	var d uint8
	if g.chance(r.MergeDefect) {
		d |= defectMergeTag
	}
	if g.chance(r.BrokenLink) {
		d |= defectLink
	}
	return d
}

// lineage decides the provenance of a send at personalization level
// level. No random number is drawn in scenarios without provenance rates,
// so their streams do not change.
func (g *Generator) lineage(dy *day, level uint8) uint8 {
	r := &dy.r
	if level == levelNone || (r.Unnamed <= 0 && r.Intent <= 0 && r.Visible <= 0) {
		return 0
	}
	var l uint8
	if !g.chance(r.Unnamed) {
		l |= lineageNamed
	}
	if g.chance(r.Intent) {
		l |= lineageIntent // used, whether named or not
	}
	if g.chance(r.Visible) {
		l |= lineageVisible
	}
	return l
}
