package scenario

import "math"

// rates is one day's rate profile. Funnel rates are relative to the previous
// funnel step so that a scenario can change one behaviour (say, clicks)
// without silently changing another (say, deliveries); everything else is
// relative to delivered messages, the denominator of the trust indicators in
// DESIGN.md, so the numbers below read directly as the indicators' values.
type rates struct {
	Volume      float64 // multiplier of the day's event volume
	Delivery    float64 // delivered / send
	HardBounce  float64 // hard bounces / bounces
	Open        float64 // opens / delivered, machine opens included
	MachineOpen float64 // machine opens / opens
	Click       float64 // human clicks / delivered (CTR; bot clicks apart)
	BotClick    float64 // bot and security-scanner clicks / delivered
	FormFill    float64 // form fills / human clicks

	Unsubscribe float64 // unsubscribes / delivered
	OptDown     float64 // opt-downs / delivered
	OptUp       float64 // opt-ups / delivered
	PrefVisit   float64 // preference-centre visits / delivered
	Complaint   float64 // complaints / delivered

	Consent   float64 // consent changes / delivered
	ConsentUp float64 // upgrades / consent changes

	Feedback    float64    // feedback / delivered
	FeedbackMix [4]float64 // shares of not_relevant, too_frequent, too_personal, helpful

	Web        float64    // web sessions / send
	Identified float64    // web sessions with a known contact / web sessions
	Traffic    [6]float64 // shares of direct, organic, paid, email, social, referral

	Sentiment     float64 // sales sentiment reports / send
	SentimentMean float64 // mean score (sd 0.3, clamped to [-1, 1])

	// Beyond is the probability that a send uses predictive personalization
	// whatever the contact's consent tier (the "creepy" lever). Leak is the
	// probability that a send ignores the tier cap by mistake, which keeps
	// consent coverage realistically just under 100 %.
	Beyond, Leak float64
	// Explained is the share of personalized sends that carry a reason.
	Explained float64

	// Audience is the share of contacts (the most engaged first) who still
	// open and click at all; Focus is the share of sends re-targeted at
	// that audience (optimising for clicks). Together they model the
	// spiral: CTR rises while the engaged audience shrinks. The audience
	// drifts geometrically (by the same factor every day), not linearly.
	Audience, Focus float64
	// BlastShare is the share of a day's sends that go out in its email
	// blast, in one hour; the rest are triggered around the clock.
	BlastShare float64
	// MergeDefect and BrokenLink are the shares of the broken campaign's
	// sends whose render check found an unresolved merge tag or a broken
	// personalized link (see Generator.defects); 0 for a sound programme.
	MergeDefect, BrokenLink float64
	// AccountTrouble (0 to 1) is how far the troubled accounts of the
	// account-pullback scenario have gone wrong; AccountMood is the share
	// of deliveries to its mood accounts followed by a sales sentiment
	// report (see accounts.go). 0 for every other scenario.
	AccountTrouble, AccountMood float64
	// Provenance (see Generator.lineage; 0 for all three: no send names
	// its inputs). Unnamed is the share of personalized sends that name
	// no inputs; Intent the share of personalized sends that also use a
	// third-party intent feed; Visible the share of
	// personalized sends that show the buyer their reason.
	Unnamed, Intent, Visible float64
	// IgnoreUnsub is the share of sends the legacy platform makes to
	// contacts who unsubscribed from the channel more than two days
	// before; Overclaim the share of sends the intent sync makes with a
	// claimed consent tier 3 to contacts whose consent record says less
	// (unsubscribes.go). 0 for an honest programme, which mails nobody
	// who unsubscribed.
	IgnoreUnsub, Overclaim float64
}

func lerp(a, b, s float64) float64 { return a + (b-a)*s }

// at interpolates between r (s=0) and to (s=1).
func (r *rates) at(to *rates, s float64) rates {
	out := rates{
		Volume:         lerp(r.Volume, to.Volume, s),
		Delivery:       lerp(r.Delivery, to.Delivery, s),
		HardBounce:     lerp(r.HardBounce, to.HardBounce, s),
		Open:           lerp(r.Open, to.Open, s),
		MachineOpen:    lerp(r.MachineOpen, to.MachineOpen, s),
		Click:          lerp(r.Click, to.Click, s),
		BotClick:       lerp(r.BotClick, to.BotClick, s),
		FormFill:       lerp(r.FormFill, to.FormFill, s),
		Unsubscribe:    lerp(r.Unsubscribe, to.Unsubscribe, s),
		OptDown:        lerp(r.OptDown, to.OptDown, s),
		OptUp:          lerp(r.OptUp, to.OptUp, s),
		PrefVisit:      lerp(r.PrefVisit, to.PrefVisit, s),
		Complaint:      lerp(r.Complaint, to.Complaint, s),
		Consent:        lerp(r.Consent, to.Consent, s),
		ConsentUp:      lerp(r.ConsentUp, to.ConsentUp, s),
		Feedback:       lerp(r.Feedback, to.Feedback, s),
		Web:            lerp(r.Web, to.Web, s),
		Identified:     lerp(r.Identified, to.Identified, s),
		Sentiment:      lerp(r.Sentiment, to.Sentiment, s),
		SentimentMean:  lerp(r.SentimentMean, to.SentimentMean, s),
		Beyond:         lerp(r.Beyond, to.Beyond, s),
		Leak:           lerp(r.Leak, to.Leak, s),
		Explained:      lerp(r.Explained, to.Explained, s),
		Audience:       r.Audience * math.Pow(to.Audience/r.Audience, s), // by the same factor every day
		Focus:          lerp(r.Focus, to.Focus, s),
		BlastShare:     lerp(r.BlastShare, to.BlastShare, s),
		MergeDefect:    lerp(r.MergeDefect, to.MergeDefect, s),
		BrokenLink:     lerp(r.BrokenLink, to.BrokenLink, s),
		AccountTrouble: lerp(r.AccountTrouble, to.AccountTrouble, s),
		AccountMood:    lerp(r.AccountMood, to.AccountMood, s),
		Unnamed:        lerp(r.Unnamed, to.Unnamed, s),
		Intent:         lerp(r.Intent, to.Intent, s),
		Visible:        lerp(r.Visible, to.Visible, s),
		IgnoreUnsub:    lerp(r.IgnoreUnsub, to.IgnoreUnsub, s),
		Overclaim:      lerp(r.Overclaim, to.Overclaim, s),
	}
	for i := range out.FeedbackMix {
		out.FeedbackMix[i] = lerp(r.FeedbackMix[i], to.FeedbackMix[i], s)
	}
	for i := range out.Traffic {
		out.Traffic[i] = lerp(r.Traffic[i], to.Traffic[i], s)
	}
	return out
}

// healthyRates are the stable email rates of a well-run programme (other
// channels scale them, see channelMul): B2B email benchmarks (97 % delivery,
// ~25 % opens, 3.5 % human clicks), unsubscribes around 0.2 % and complaints
// well under the mailbox providers' 0.1 % line, more people opting down than
// leaving, about a third of web sessions direct, half of the day's sends in
// its blast.
var healthyRates = rates{
	Volume: 1, Delivery: 0.97, HardBounce: 0.3,
	Open: 0.25, MachineOpen: 0.2, Click: 0.035, BotClick: 0.006, FormFill: 0.12,
	Unsubscribe: 0.002, OptDown: 0.004, OptUp: 0.0012, PrefVisit: 0.008, Complaint: 0.0003,
	Consent: 0.002, ConsentUp: 0.65,
	Feedback: 0.004, FeedbackMix: [4]float64{0.25, 0.20, 0.05, 0.50},
	Web: 0.4, Identified: 0.35, Traffic: [6]float64{0.35, 0.25, 0.15, 0.12, 0.08, 0.05},
	Sentiment: 0.003, SentimentMean: 0.35,
	Beyond: 0, Leak: 0.02, Explained: 0.9,
	Audience: 1, Focus: 0, BlastShare: 0.5,
}

func init() {
	spiral := healthyRates
	spiral.Volume = 1.5 // the programme sends more to hit its click target
	spiral.Delivery = 0.95
	spiral.Open = 0.29
	spiral.MachineOpen = 0.25
	spiral.Click = 0.055 // clicks keep rising: the dashboards look great
	spiral.FormFill = 0.10
	spiral.Unsubscribe = 0.010 // 5x: people leave instead of opting down
	spiral.OptDown = 0.0015
	spiral.OptUp = 0.0004
	spiral.PrefVisit = 0.006
	spiral.Complaint = 0.005 // past the 0.3 % line mailbox providers act on
	spiral.Consent = 0.003
	spiral.ConsentUp = 0.30
	spiral.Feedback = 0.007
	spiral.FeedbackMix = [4]float64{0.30, 0.30, 0.30, 0.10}
	spiral.Traffic = [6]float64{0.15, 0.25, 0.27, 0.18, 0.09, 0.06}
	spiral.SentimentMean = -0.3
	spiral.Explained = 0.85
	spiral.Audience = 0.02 // the engaged audience shrinks to the loyal few ...
	spiral.Focus = 0.45    // ... whom the click-optimised programme re-targets

	creepy := healthyRates
	creepy.Volume = 1.1
	creepy.Open = 0.27
	creepy.Click = 0.045 // predictive targeting "works" on clicks
	creepy.Unsubscribe = 0.004
	creepy.OptDown = 0.005
	creepy.Complaint = 0.004
	creepy.Consent = 0.004
	creepy.ConsentUp = 0.25 // people withdraw tracking consent
	creepy.Feedback = 0.007
	creepy.FeedbackMix = [4]float64{0.20, 0.10, 0.50, 0.20}
	creepy.Traffic = [6]float64{0.28, 0.25, 0.19, 0.14, 0.08, 0.06}
	creepy.SentimentMean = 0.05
	creepy.Beyond = 0.55    // predictive sends regardless of consent tier
	creepy.Explained = 0.45 // ... mostly without a documented reason

	broken := healthyRates
	broken.MergeDefect = 0.8 // a template change breaks "Hi [FirstName]"
	broken.BrokenLink = 0.15 // ... and some personalized links with it

	// Provenance: every personalized send names its inputs and half show
	// their reason; then a third-party intent feed is wired into most
	// behavioral and predictive sends, some pipelines stop naming inputs,
	// and fewer reasons are shown.
	named := healthyRates
	named.Unnamed, named.Intent, named.Visible = 0.02, 0, 0.5
	named.Complaint = 0.001 // enough complaints per group to compare
	named.FeedbackMix = [4]float64{0.25, 0.20, 0.15, 0.40}
	intent := named
	intent.Unnamed, intent.Intent, intent.Visible = 0.2, 0.7, 0.3

	register(&scenarioDef{
		name:        "intent-data",
		description: "last third of the period: a third-party intent feed personalizes most personalized sends, mostly beyond the consent tier; their complaints and too-personal feedback run 5x, halved where the buyer sees the reason; fewer sends name their inputs or show their reason",
		from:        named, to: intent, drift: 1.0 / 3,
	})
	register(&scenarioDef{
		name:        "broken-merge-tag",
		description: "last 3 days: one campaign's template breaks, most of its sends show an unresolved merge tag and some a broken personalized link, and its unsubscribes (8x) and complaints (3x) follow; the rest of the programme stays healthy",
		from:        healthyRates, to: broken, drift: 3.0 / 28,
	})
	rogue := healthyRates
	rogue.IgnoreUnsub = 0.015 // a legacy platform mails people who left weeks ago
	rogue.Overclaim = 0.02    // an intent sync claims tier 3 for everyone it targets

	register(&scenarioDef{
		name:        "ignored-unsubscribes",
		description: "last week: a legacy email platform (source legacy-esp) keeps mailing contacts who unsubscribed more than 48 h before (~1.5 % of sends), and an intent-data sync (source intent-sync) sends predictive messages claiming consent tier 3 to contacts whose consent record says less (~2 % of sends); the rest of the programme honours unsubscribes",
		from:        healthyRates, to: rogue, drift: 7.0 / 28,
	})
	register(&scenarioDef{
		name:        "healthy",
		description: "stable rates: ~0.2% unsubscribes and ~0.03% email complaints of the deliveries they follow, opt-downs exceed unsubscribes, ~35% direct traffic",
		from:        healthyRates, to: healthyRates, drift: 1.0 / 3,
	})
	register(&scenarioDef{
		name:        "trust-spiral",
		description: "second half of the period: CTR rises while the engaged audience (distinct openers and clickers) shrinks week over week, unsubscribes replace opt-downs, complaints pass 0.3%, too-personal feedback grows, direct traffic and sentiment fall",
		from:        healthyRates, to: spiral, drift: 1.0 / 2,
	})
	register(&scenarioDef{
		name:        "creepy-personalization",
		description: "last third of the period: predictive personalization sent beyond consent tier, mostly unexplained, drives complaints and too-personal feedback; consent coverage falls",
		from:        healthyRates, to: creepy, drift: 1.0 / 3, attributeBeyond: true,
	})
}
