package indicator

import (
	"strconv"

	"github.com/trustpipe/trustpipe/aggregate/event"
)

// Direction says which way an indicator should move.
type Direction int8

const (
	// None: neither direction is "better"; used by click metrics, which are
	// shown next to trust but never scored.
	None Direction = iota
	// HigherIsBetter: a rising value means more trust.
	HigherIsBetter
	// LowerIsBetter: a rising value means less trust.
	LowerIsBetter
)

func (d Direction) String() string {
	switch d {
	case HigherIsBetter:
		return "higher"
	case LowerIsBetter:
		return "lower"
	}
	return "none"
}

// Kind separates trust indicators (scored in the Trust Index) from click
// metrics (the numbers marketing already optimises; compared against trust
// by DetectDivergence).
type Kind uint8

const (
	Trust Kind = iota
	Click
)

func (k Kind) String() string {
	if k == Click {
		return "click"
	}
	return "trust"
}

// Unit says how a value is read.
type Unit uint8

const (
	// Ratio: a dimensionless ratio, shown as a percentage.
	Ratio Unit = iota
	// Score: a mean of scores on the scale of the input (sentiment, [-1, 1]).
	Score
)

func (u Unit) String() string {
	if u == Score {
		return "score"
	}
	return "ratio"
}

// Definition is the one and only definition of an indicator. Views, gauges,
// dashboards and the report are generated from it.
type Definition struct {
	// Name is the stable identifier: JSON key, metric label, view column.
	Name        string
	Title       string
	Description string
	// Numerator is a signed sum of selectors (one positive term for every
	// indicator except consent_momentum).
	Numerator   []Term
	Denominator Selector
	Direction   Direction
	Kind        Kind
	Unit        Unit
	// Proportion marks indicators whose numerator counts events of the same
	// population as the denominator, so the value is (close to) a binomial
	// proportion and a Wilson interval is meaningful. False for means and
	// signed ratios.
	Proportion bool
	// Good and Bad are the Trust Index thresholds: a value at Good or better
	// scores 100, at Bad or worse 0, linear in between. Zero for click
	// metrics, which are not scored.
	Good, Bad float64
	// MinVolume is the smallest denominator at which the value is trusted
	// enough to score or alert on.
	MinVolume float64
}

// NumeratorSQL renders the numerator as a ClickHouse expression over
// trust_counts (see Selector.SQL).
func (d Definition) NumeratorSQL() string { return termsSQL(d.Numerator) }

// DenominatorSQL renders the denominator as a ClickHouse expression over
// trust_counts.
func (d Definition) DenominatorSQL() string { return d.Denominator.SQL() }

// Names of the indicators, in the order All returns them.
const (
	UnsubscribeRate               = "unsubscribe_rate"
	ComplaintRate                 = "complaint_rate"
	OptDownShare                  = "opt_down_share"
	PreferenceCenterRate          = "preference_center_rate"
	DirectTrafficShare            = "direct_traffic_share"
	SentimentAvg                  = "sentiment_avg"
	ConsentMomentum               = "consent_momentum"
	TooPersonalRate               = "too_personal_rate"
	ExplainedPersonalizationShare = "explained_personalization_share"
	ConsentCoverage               = "consent_coverage"
	TooFrequentRate               = "too_frequent_rate"
	NotRelevantRate               = "not_relevant_rate"
	BounceRate                    = "bounce_rate"
	DeliveryRate                  = "delivery_rate"
	OpenRate                      = "open_rate"
	CTR                           = "ctr"
	ClickToOpen                   = "click_to_open"
	FormFillRate                  = "form_fill_rate"
)

// Detail values the definitions select on, beyond those event defines.
const (
	// TrafficDirect is the traffic_source of a direct web session.
	TrafficDirect = "direct"
	// FeedbackTooPersonal is the feedback kind "too personal".
	FeedbackTooPersonal = "too_personal"
	// FeedbackTooFrequent and FeedbackNotRelevant are the feedback kinds
	// "too frequent" and "not relevant".
	FeedbackTooFrequent = "too_frequent"
	FeedbackNotRelevant = "not_relevant"
	// ChannelEmail is the channel mailbox providers judge: complaint rates
	// compared with their 0.1 % / 0.3 % lines count email only.
	ChannelEmail = "email"
)

// ConsentChangeDetail is the trust_counts.detail of a consent_change from
// tier from to tier to: "<from>-><to>", e.g. "1->3".
func ConsentChangeDetail(from, to uint8) string {
	return strconv.Itoa(int(from)) + "->" + strconv.Itoa(int(to))
}

// consentChanges lists the details of every consent change whose tiers
// satisfy keep, in (from, to) order. Enumerating the 16 possible strings keeps
// the SQL to a plain IN list instead of parsing "a->b" in ClickHouse.
func consentChanges(keep func(from, to uint8) bool) []string {
	var out []string
	for from := uint8(0); from <= event.MaxConsentTier; from++ {
		for to := uint8(0); to <= event.MaxConsentTier; to++ {
			if keep(from, to) {
				out = append(out, ConsentChangeDetail(from, to))
			}
		}
	}
	return out
}

// personalizedLevels are the personalization values that count as
// "personalized", with the lowest consent tier each one needs: basic
// personalization needs basic communication consent (1), behavioral needs
// behavioural tracking (2), predictive needs predictive modelling (3).
var personalizedLevels = []ConsentRule{
	{Personalization: "basic", MinTier: 1},
	{Personalization: "behavioral", MinTier: 2},
	{Personalization: "predictive", MinTier: 3},
}

func personalized() []string {
	out := make([]string, len(personalizedLevels))
	for i, c := range personalizedLevels {
		out[i] = c.Personalization
	}
	return out
}

// personalizedSends selects every personalized send.
func personalizedSends() Selector {
	return Selector{EventTypes: types(event.Send), Personalization: personalized()}
}

func types(ts ...event.Type) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.String()
	}
	return out
}

func count(ts ...event.Type) Selector { return Selector{EventTypes: types(ts...)} }

// All returns every indicator definition in a stable order: the trust
// indicators in DESIGN.md order, the click metrics, then the signals of
// issue 16 (signals.go). Each call builds
// fresh values, so callers may modify what they get.
//
// Thresholds (Good, Bad) and minimum volumes are the documented defaults of
// the Trust Index; see DefaultIndexConfig for the weights and the reasoning.
func All() []Definition {
	delivered := count(event.Delivered)
	// outcomes are the messages whose delivery outcome is known.
	outcomes := count(event.Delivered, event.Bounce)
	email := []string{ChannelEmail}
	humanOpens := Selector{EventTypes: types(event.Open), ExcludeDetails: []string{event.DetailMachine}}
	humanClicks := Selector{EventTypes: types(event.Click), ExcludeDetails: []string{event.DetailBot}}
	personalizedSends := personalizedSends()
	feedback := func(kind string) Selector {
		return Selector{EventTypes: types(event.Feedback), Details: []string{kind}}
	}
	// Consent changes between two known tiers: tier 0 is "unknown", so a
	// move out of (or into) it says nothing about the contact's trust and is
	// neither an upgrade nor a downgrade.
	known := func(keep func(f, t uint8) bool) Selector {
		return Selector{EventTypes: types(event.ConsentChange), Details: consentChanges(func(f, t uint8) bool { return f > 0 && t > 0 && keep(f, t) })}
	}
	return append([]Definition{
		{
			Name:        UnsubscribeRate,
			Title:       "Unsubscribe rate",
			Description: "Unsubscribes per delivered message. Leaving a channel entirely is the clearest sign of lost trust. Good at or below 0.2 %; 0.8 % or more is bad (0.5 %, the usual warning level, scores 50).",
			Numerator:   []Term{Plus(count(event.Unsubscribe))},
			Denominator: delivered,
			Direction:   LowerIsBetter, Kind: Trust, Unit: Ratio, Proportion: true,
			Good: 0.002, Bad: 0.008, MinVolume: 1000,
		},
		{
			Name:        ComplaintRate,
			Title:       "Complaint rate",
			Description: "Email spam complaints per delivered email (other channels are left out of both sides: mailbox providers judge email alone). Google's and Yahoo's 2024 sender requirements: keep it below 0.1 %, never reach 0.3 %; those are the good and bad thresholds.",
			Numerator:   []Term{Plus(Selector{EventTypes: types(event.Complaint), Channels: email})},
			Denominator: Selector{EventTypes: types(event.Delivered), Channels: email},
			Direction:   LowerIsBetter, Kind: Trust, Unit: Ratio, Proportion: true,
			Good: 0.001, Bad: 0.003, MinVolume: 2000,
		},
		{
			Name:        OptDownShare,
			Title:       "Opt-down share",
			Description: "Of the contacts who pulled back, the share who chose fewer messages instead of leaving: opt-downs / (opt-downs + unsubscribes). Good at 50 % or more, bad at 10 % or less.",
			Numerator:   []Term{Plus(count(event.OptDown))},
			Denominator: count(event.OptDown, event.Unsubscribe),
			Direction:   HigherIsBetter, Kind: Trust, Unit: Ratio, Proportion: true,
			Good: 0.5, Bad: 0.1, MinVolume: 30,
		},
		{
			Name:        PreferenceCenterRate,
			Title:       "Preference-centre engagement",
			Description: "Preference-centre visits per delivered message: contacts who tune what they receive instead of leaving. Good at 0.1 % or more, bad at 0.01 % or less.",
			Numerator:   []Term{Plus(count(event.PreferenceCenterVisit))},
			Denominator: delivered,
			Direction:   HigherIsBetter, Kind: Trust, Unit: Ratio, Proportion: true,
			Good: 0.001, Bad: 0.0001, MinVolume: 5000,
		},
		{
			Name:        DirectTrafficShare,
			Title:       "Direct-traffic share",
			Description: "Direct web sessions / all web sessions: buyers who come back on their own. Good at 30 % or more, bad at 10 % or less.",
			Numerator:   []Term{Plus(Selector{EventTypes: types(event.WebSession), Details: []string{TrafficDirect}})},
			Denominator: count(event.WebSession),
			Direction:   HigherIsBetter, Kind: Trust, Unit: Ratio, Proportion: true,
			Good: 0.3, Bad: 0.1, MinVolume: 100,
		},
		{
			Name:        SentimentAvg,
			Title:       "Buyer sentiment",
			Description: "Mean sentiment score reported by sales, in [-1, 1]. Good at 0.5 or more, bad at -0.5 or less (neutral scores 50).",
			Numerator:   []Term{Plus(Selector{Measure: ValueSum, EventTypes: types(event.Sentiment)})},
			Denominator: count(event.Sentiment),
			Direction:   HigherIsBetter, Kind: Trust, Unit: Score,
			Good: 0.5, Bad: -0.5, MinVolume: 10,
		},
		{
			Name:        ConsentMomentum,
			Title:       "Consent momentum",
			Description: "(Consent upgrades − downgrades) / consent changes between known tiers, in [-1, 1]; an upgrade raises the tier. Moves out of or into tier 0 (unknown) are neither: learning a tier is not a contact granting more. Good at +0.2 or more, bad at -0.2 or less (balanced scores 50).",
			Numerator: []Term{
				Plus(known(func(f, t uint8) bool { return t > f })),
				Minus(known(func(f, t uint8) bool { return t < f })),
			},
			Denominator: known(func(f, t uint8) bool { return true }),
			Direction:   HigherIsBetter, Kind: Trust, Unit: Ratio,
			Good: 0.2, Bad: -0.2, MinVolume: 30,
		},
		{
			Name:        TooPersonalRate,
			Title:       "\"Too personal\" feedback",
			Description: "\"Too personal\" feedback per delivered message: personalization that felt intrusive. Good at or below 0.02 %, bad at 0.1 % or more.",
			Numerator:   []Term{Plus(feedback(FeedbackTooPersonal))},
			Denominator: delivered,
			Direction:   LowerIsBetter, Kind: Trust, Unit: Ratio, Proportion: true,
			Good: 0.0002, Bad: 0.001, MinVolume: 5000,
		},
		{
			Name:        ExplainedPersonalizationShare,
			Title:       "Explained personalization",
			Description: "Personalized sends (basic, behavioral or predictive) that carry a documented reason / personalized sends. Good at 95 % or more, bad at 50 % or less.",
			Numerator:   []Term{Plus(personalizedWith(func(f event.SendFlags) bool { return f.Explained }))},
			Denominator: personalizedSends,
			Direction:   HigherIsBetter, Kind: Trust, Unit: Ratio, Proportion: true,
			Good: 0.95, Bad: 0.5, MinVolume: 100,
		},
		{
			Name:        ConsentCoverage,
			Title:       "Consent coverage",
			Description: "Personalized sends whose level is within the contact's consent tier (basic needs tier ≥ 1, behavioral ≥ 2, predictive 3) / personalized sends. Anything short of full coverage is personalization without consent: good at 99.5 % or more, bad at 95 % or less.",
			Numerator:   []Term{Plus(Selector{EventTypes: types(event.Send), Consent: personalizedLevels})},
			Denominator: personalizedSends,
			Direction:   HigherIsBetter, Kind: Trust, Unit: Ratio, Proportion: true,
			Good: 0.995, Bad: 0.95, MinVolume: 100,
		},
		{
			Name:        TooFrequentRate,
			Title:       "\"Too frequent\" feedback",
			Description: "\"Too frequent\" feedback per delivered message: the cadence, not the content, is pushing people away. Good at or below 0.05 %, bad at 0.2 % or more.",
			Numerator:   []Term{Plus(feedback(FeedbackTooFrequent))},
			Denominator: delivered,
			Direction:   LowerIsBetter, Kind: Trust, Unit: Ratio, Proportion: true,
			Good: 0.0005, Bad: 0.002, MinVolume: 5000,
		},
		{
			Name:        NotRelevantRate,
			Title:       "\"Not relevant\" feedback",
			Description: "\"Not relevant\" feedback per delivered message: targeting that misses. Good at or below 0.05 %, bad at 0.2 % or more.",
			Numerator:   []Term{Plus(feedback(FeedbackNotRelevant))},
			Denominator: delivered,
			Direction:   LowerIsBetter, Kind: Trust, Unit: Ratio, Proportion: true,
			Good: 0.0005, Bad: 0.002, MinVolume: 5000,
		},
		{
			Name:        BounceRate,
			Title:       "Bounce rate",
			Description: "Bounces / (delivered + bounced): the messages that never arrived, of those whose outcome is known. Not scored in the Index by default (a list-hygiene signal more than a trust one); good at or below 2 %, bad at 5 % or more.",
			Numerator:   []Term{Plus(count(event.Bounce))},
			Denominator: outcomes,
			Direction:   LowerIsBetter, Kind: Trust, Unit: Ratio, Proportion: true,
			Good: 0.02, Bad: 0.05, MinVolume: 1000,
		},
		{
			Name:        DeliveryRate,
			Title:       "Delivery rate",
			Description: "Delivered / (delivered + bounced); 1 − bounce rate. Not scored in the Index by default; good at 98 % or more, bad at 95 % or less.",
			Numerator:   []Term{Plus(delivered)},
			Denominator: outcomes,
			Direction:   HigherIsBetter, Kind: Trust, Unit: Ratio, Proportion: true,
			Good: 0.98, Bad: 0.95, MinVolume: 1000,
		},
		{
			Name:        OpenRate,
			Title:       "Open rate",
			Description: "Human opens (machine opens excluded) per delivered message. Repeat opens count each time, so it can exceed 100 %; the unique open rate (distinct openers) is beside it in the views and the report.",
			Numerator:   []Term{Plus(humanOpens)},
			Denominator: delivered,
			Direction:   None, Kind: Click, Unit: Ratio, Proportion: true,
			MinVolume: 100,
		},
		{
			Name:        CTR,
			Title:       "Click-through rate",
			Description: "Human clicks (bot and security-scanner clicks excluded) per delivered message.",
			Numerator:   []Term{Plus(humanClicks)},
			Denominator: delivered,
			Direction:   None, Kind: Click, Unit: Ratio, Proportion: true,
			MinVolume: 100,
		},
		{
			Name:        ClickToOpen,
			Title:       "Click-to-open rate",
			Description: "Human clicks per human open (bot clicks and machine opens excluded).",
			Numerator:   []Term{Plus(humanClicks)},
			Denominator: humanOpens,
			Direction:   None, Kind: Click, Unit: Ratio, Proportion: true,
			MinVolume: 100,
		},
		{
			Name:        FormFillRate,
			Title:       "Form-fill rate",
			Description: "Form submissions per delivered message.",
			Numerator:   []Term{Plus(count(event.FormFill))},
			Denominator: delivered,
			Direction:   None, Kind: Click, Unit: Ratio, Proportion: true,
			MinVolume: 100,
		},
	}, signals()...)
}

// Attributed reports whether the indicator is judged against the deliveries
// its events follow (DESIGN.md, "Attribution"): every event type on both
// sides belongs to a message (event.Type.FollowsMessage, or the delivery
// outcome itself) and no selector needs a dimension the cohort rows do not
// keep (personalization, consent tier). Such an indicator is evaluated a
// second time over cohort totals — per send-time cohort and per campaign —
// by the attributed views and gauges.
func (d Definition) Attributed() bool {
	sels := []Selector{d.Denominator}
	for _, t := range d.Numerator {
		sels = append(sels, t.Selector)
	}
	for _, s := range sels {
		if len(s.EventTypes) == 0 || len(s.Personalization) > 0 || len(s.Consent) > 0 || s.Measure != Events {
			return false
		}
		for _, name := range s.EventTypes {
			t, ok := event.ParseType(name)
			if !ok || !t.InCohort() {
				return false
			}
		}
	}
	return true
}

// AttributedDefinitions returns the definitions of All that are Attributed,
// in All order.
func AttributedDefinitions() []Definition {
	var out []Definition
	for _, d := range All() {
		if d.Attributed() {
			out = append(out, d)
		}
	}
	return out
}

// ByName returns the definition with the given name.
func ByName(name string) (Definition, bool) {
	for _, d := range All() {
		if d.Name == name {
			return d, true
		}
	}
	return Definition{}, false
}

// Names returns the indicator names in All order.
func Names() []string {
	all := All()
	out := make([]string, len(all))
	for i, d := range all {
		out[i] = d.Name
	}
	return out
}
