package indicator

import "github.com/trustpipe/trustpipe/aggregate/event"

// Names of the signals no marketing platform measures yet (issue 16), in
// the order All returns them after the click metrics.
const (
	MergeDefectRate          = "merge_defect_rate"
	BrokenLinkRate           = "broken_link_rate"
	PostUnsubscribeSendRate  = "post_unsubscribe_send_rate"
	ConsentClaimMismatchRate = "consent_claim_mismatch_share"
)

// sendsWith selects the sends whose flags satisfy keep (event.SendDetails).
func sendsWith(keep func(event.SendFlags) bool) Selector {
	return Selector{EventTypes: types(event.Send), Details: event.SendDetails(keep)}
}

// signals returns the definitions of the personalization QA signals and
// of the sends that should not have happened (the contact-state flags,
// aggregate.ContactsConfig). They
// are trust indicators with thresholds (what "good" looks like is known)
// but not Trust Index components by default: a defect rate says a campaign
// is broken before the buyers' reactions show it, and is alerted on per
// campaign, where stopping the blast still helps.
func signals() []Definition {
	sends := count(event.Send)
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
			Numerator: []Term{Plus(Selector{EventTypes: types(event.Send), Personalization: personalized(),
				Details: event.SendDetails(func(f event.SendFlags) bool { return f.ConsentMismatch })})},
			Denominator: Selector{EventTypes: types(event.Send), Personalization: personalized()},
			Direction:   LowerIsBetter, Kind: Trust, Unit: Ratio, Proportion: true,
			Good: 0, Bad: 0.01, MinVolume: 100,
		},
	}
}
