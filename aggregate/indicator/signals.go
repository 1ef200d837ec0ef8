package indicator

import "github.com/trustpipe/trustpipe/aggregate/event"

// Names of the signals no marketing platform measures yet (issue 16), in
// the order All returns them after the click metrics.
const (
	MergeDefectRate          = "merge_defect_rate"
	BrokenLinkRate           = "broken_link_rate"
	LineageCoverage          = "lineage_coverage"
	InputConsentCoverage     = "input_consent_coverage"
	VisibleExplanationShare  = "visible_explanation_share"
	PostUnsubscribeSendRate  = "post_unsubscribe_send_rate"
	ConsentClaimMismatchRate = "consent_claim_mismatch_share"
)

// sendsWith selects the sends whose flags satisfy keep (event.SendDetails).
func sendsWith(keep func(event.SendFlags) bool) Selector {
	return Selector{EventTypes: types(event.Send), Details: event.SendDetails(keep)}
}

// personalizedWith selects the personalized sends whose flags satisfy keep.
func personalizedWith(keep func(event.SendFlags) bool) Selector {
	s := sendsWith(keep)
	s.Personalization = personalized()
	return s
}

// signals returns the definitions of the personalization QA and provenance
// signals and of the sends that should not have happened (the
// contact-state flags, aggregate.ContactsConfig). They are trust
// indicators with thresholds (what "good" looks like is known) but not
// Trust Index components by default: a defect rate says a campaign is
// broken before the buyers' reactions show it, and is alerted on per
// campaign, where stopping the blast still helps; the provenance shares say
// whether personalization can be accounted for, which a buyer's trust rests
// on but no reaction measures directly; a send after an unsubscribe is a
// breach whatever the buyers do next.
func signals() []Definition {
	sends := count(event.Send)
	named := func(f event.SendFlags) bool { return f.Lineage }
	return []Definition{
		{
			Name:        MergeDefectRate,
			Title:       "Merge-tag defects",
			Description: "Sends whose render check left a merge tag unresolved (properties.unresolved_tokens > 0: the buyer reads \"[FirstName]\" or an empty greeting) / sends. A fallback value is not a defect. Good at or below 0.1 %, bad at 1 % or more.",
			Numerator:   []Term{Plus(sendsWith(func(f event.SendFlags) bool { return f.MergeDefect }))},
			Denominator: sends,
			Direction:   LowerIsBetter, Kind: Trust, Unit: Ratio, Proportion: true,
			Good: 0.001, Bad: 0.01, MinVolume: 200,
		},
		{
			Name:        BrokenLinkRate,
			Title:       "Broken personalized links",
			Description: "Sends with at least one personalized link that failed the render check (properties.broken_links > 0) / sends. Good at or below 0.1 %, bad at 1 % or more.",
			Numerator:   []Term{Plus(sendsWith(func(f event.SendFlags) bool { return f.BrokenLink }))},
			Denominator: sends,
			Direction:   LowerIsBetter, Kind: Trust, Unit: Ratio, Proportion: true,
			Good: 0.001, Bad: 0.01, MinVolume: 200,
		},
		{
			Name:        LineageCoverage,
			Title:       "Personalization lineage",
			Description: "Personalized sends (basic, behavioral or predictive) that name the inputs of their personalization (properties.inputs) / personalized sends. Without lineage nobody can say which data a message used, nor check it against consent. Good at 95 % or more, bad at 50 % or less.",
			Numerator:   []Term{Plus(personalizedWith(named))},
			Denominator: personalizedSends(),
			Direction:   HigherIsBetter, Kind: Trust, Unit: Ratio, Proportion: true,
			Good: 0.95, Bad: 0.5, MinVolume: 100,
		},
		{
			Name:        InputConsentCoverage,
			Title:       "Input consent coverage",
			Description: "Personalized sends naming their inputs whose every input is covered by the send's consent_tier (crm needs tier 1, web_behaviour and enrichment tier 2, third_party_intent and model:<id> tier 3) / personalized sends naming their inputs. Sends without lineage are left out of both sides (lineage_coverage counts them): an input used without its consent is personalization without consent, so good at 99.5 % or more, bad at 95 % or less.",
			Numerator:   []Term{Plus(personalizedWith(func(f event.SendFlags) bool { return f.Lineage && !f.InputBeyondConsent }))},
			Denominator: personalizedWith(named),
			Direction:   HigherIsBetter, Kind: Trust, Unit: Ratio, Proportion: true,
			Good: 0.995, Bad: 0.95, MinVolume: 100,
		},
		{
			Name:        VisibleExplanationShare,
			Title:       "Visible explanations",
			Description: "Personalized sends whose reason is shown to the buyer (properties.reason_visible) / personalized sends: of explained_personalization_share's denominator, the share the buyer can see the reason of (so never above it). Good at 80 % or more, bad at 20 % or less.",
			Numerator:   []Term{Plus(personalizedWith(func(f event.SendFlags) bool { return f.Visible }))},
			Denominator: personalizedSends(),
			Direction:   HigherIsBetter, Kind: Trust, Unit: Ratio, Proportion: true,
			Good: 0.8, Bad: 0.2, MinVolume: 100,
		},
		{
			Name:        PostUnsubscribeSendRate,
			Title:       "Sends after unsubscribe",
			Description: "Sends on a channel to contacts who unsubscribed from that channel 48 h or more earlier (event time; mailbox providers require unsubscribes honoured within 2 days), whichever source system recorded the unsubscribe / sends. Every such send is a breach: good at 0, bad at 0.1 % or more.",
			Numerator:   []Term{Plus(sendsWith(func(f event.SendFlags) bool { return f.PostUnsubscribe }))},
			Denominator: sends,
			Direction:   LowerIsBetter, Kind: Trust, Unit: Ratio, Proportion: true,
			Good: 0, Bad: 0.001, MinVolume: 200,
		},
		{
			Name:        ConsentClaimMismatchRate,
			Title:       "Consent claims above the record",
			Description: "Personalized sends (basic, behavioral or predictive) whose claimed consent_tier is above the tier the contact's latest consent_change recorded / personalized sends. Contacts without a recorded tier are not judged. Good at 0, bad at 1 % or more.",
			Numerator:   []Term{Plus(personalizedWith(func(f event.SendFlags) bool { return f.ConsentMismatch }))},
			Denominator: personalizedSends(),
			Direction:   LowerIsBetter, Kind: Trust, Unit: Ratio, Proportion: true,
			Good: 0, Bad: 0.01, MinVolume: 100,
		},
	}
}
