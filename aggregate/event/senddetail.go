package event

import "strings"

// SendFlags are the facts about one send that its Detail records. Storage
// groups by Detail, so whatever an indicator needs to know about a send
// without a table of its own must be in these flags; there are at most 144
// combinations (Visible implies Explained, InputBeyondConsent implies
// Lineage), which keeps trust_counts rows bounded.
type SendFlags struct {
	// Explained: the send carries a documented personalization reason.
	Explained bool
	// Visible: that reason is shown to the buyer (properties.reason_visible).
	Visible bool
	// MergeDefect: the render check left at least one merge tag unresolved
	// (properties.unresolved_tokens > 0): the buyer sees "[FirstName]" or an
	// empty greeting. A fallback value (fallback_tokens) is the designed
	// graceful path and is not a defect.
	MergeDefect bool
	// BrokenLink: at least one personalized link failed the render check
	// (properties.broken_links > 0).
	BrokenLink bool
	// Lineage: the send names the inputs of its personalization
	// (properties.inputs).
	Lineage bool
	// InputBeyondConsent: at least one of those inputs needs a higher
	// consent tier than the send's consent_tier (InputConsentTier).
	InputBeyondConsent bool
	// PostUnsubscribe and ConsentMismatch are not in the record: the
	// aggregator sets them from the contact's state in the partition
	// (aggregate.ContactsConfig). PostUnsubscribe: the contact
	// unsubscribed from the send's channel 48 h or more before it.
	// ConsentMismatch: a personalized send claims a consent_tier above the
	// contact's recorded one.
	PostUnsubscribe bool
	ConsentMismatch bool
}

// The parts of a send's Detail, joined with "+" in this order. A send with
// only a reason keeps the v1 Detail DetailExplained, so rows stored before
// the flags existed still mean the same.
const (
	sendPartVisible     = "visible"
	sendPartMergeDefect = "merge_defect"
	sendPartBrokenLink  = "broken_link"
	sendPartLineage     = "lineage"
	sendPartBeyond      = "input_beyond_consent"
	sendPartPostUnsub   = "post_unsubscribe"
	sendPartMismatch    = "consent_mismatch"
)

// Detail returns the trust_counts.detail of a send with these flags: ""
// for none, else the set parts joined with "+", e.g. "explained+visible",
// "merge_defect+broken_link", "explained+lineage+input_beyond_consent". It
// does not allocate (the decoder calls it on
// every send).
func (f SendFlags) Detail() string { return sendDetailTable[f.bits()] }

func (f SendFlags) bits() int {
	b := 0
	lineage := f.Lineage || f.InputBeyondConsent
	for i, set := range []bool{f.Explained || f.Visible, f.Visible, f.MergeDefect, f.BrokenLink, lineage, f.InputBeyondConsent,
		f.PostUnsubscribe, f.ConsentMismatch} {
		if set {
			b |= 1 << i
		}
	}
	return b
}

// sendDetailTable holds the Detail of every flag combination, indexed by
// SendFlags.bits: the parts whose bit is set, in sendParts order.
var sendDetailTable = func() (t [1 << sendFlagCount]string) {
	sendParts := [sendFlagCount]string{DetailExplained, sendPartVisible, sendPartMergeDefect, sendPartBrokenLink,
		sendPartLineage, sendPartBeyond, sendPartPostUnsub, sendPartMismatch}
	for b := range t {
		var parts []string
		for i, p := range sendParts {
			if b&(1<<i) != 0 {
				parts = append(parts, p)
			}
		}
		t[b] = strings.Join(parts, "+")
	}
	return t
}()

// Flags returns the flags of a decoded send.
func (ev *Event) Flags() SendFlags {
	return SendFlags{
		Explained:   ev.Reason != "",
		Visible:     ev.ReasonVisible,
		MergeDefect: ev.UnresolvedTokens > 0,
		BrokenLink:  ev.BrokenLinks > 0,
		Lineage:     len(ev.Inputs) > 0,
		InputBeyondConsent: func() bool {
			for _, in := range ev.Inputs {
				if InputConsentTier(in) > ev.ConsentTier {
					return true
				}
			}
			return false
		}(),
	}
}

// InputConsentTier is the lowest consent tier (CONTRACT.md: 1 basic
// communication, 2 behavioural tracking, 3 predictive modelling) under
// which a send may use the input tag (one of InputTags or "model:<id>"):
//
//   - crm (what the contact told the company, or did with it) is covered by
//     the basic communication consent a personalized send needs anyway: 1;
//   - web_behaviour is behavioural tracking: 2;
//   - enrichment (third-party firmographic or demographic data appended to
//     the record) profiles the contact beyond what they gave, as tracking
//     does, but predicts nothing: 2;
//   - third_party_intent (another company's observation of the contact's
//     research) and model:<id> (a prediction about the contact) are
//     predictive modelling: 3.
func InputConsentTier(tag string) uint8 {
	switch tag {
	case "crm":
		return 1
	case "web_behaviour", "enrichment":
		return 2
	}
	return MaxConsentTier // third_party_intent, model:<id>
}

// sendFlagCount is the number of SendFlags.
const sendFlagCount = 8

// SendDetails lists the Detail of every possible send whose flags satisfy
// keep, in a fixed order (of SendFlags.bits). Indicators select sends by
// these lists (a plain IN in SQL) instead of parsing the string in
// ClickHouse.
func SendDetails(keep func(SendFlags) bool) []string {
	var out []string
	for b := range 1 << sendFlagCount {
		f := SendFlags{Explained: b&1 != 0, Visible: b&2 != 0, MergeDefect: b&4 != 0, BrokenLink: b&8 != 0,
			Lineage: b&16 != 0, InputBeyondConsent: b&32 != 0, PostUnsubscribe: b&64 != 0, ConsentMismatch: b&128 != 0}
		if f.Visible && !f.Explained {
			continue // a visible reason is a reason
		}
		if f.InputBeyondConsent && !f.Lineage {
			continue // inputs beyond consent are named inputs
		}
		if keep(f) {
			out = append(out, f.Detail())
		}
	}
	return out
}
