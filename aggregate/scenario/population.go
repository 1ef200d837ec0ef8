package scenario

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
)

// The population (contacts, accounts, campaigns) is drawn from its own random
// stream, so the same seed gives the same people and campaigns in every
// scenario: comparing scenarios compares behaviour, not audiences.

var segments = []string{
	"enterprise", "mid-market", "smb", "public-sector",
	"healthcare", "financial-services", "developers", "partners",
}

// segmentWeights skews the audience like a B2B database: many SMB and
// mid-market contacts, few partners.
var segmentWeights = []float64{0.14, 0.2, 0.22, 0.07, 0.1, 0.12, 0.1, 0.05}

// Systems of record for contacts; the contact id carries the system's prefix.
var (
	contactSources  = []string{"marketo", "hubspot", "salesforce"}
	contactPrefixes = []string{"mkto-", "hs-", "sfdc-"}
	contactSrcW     = []float64{0.45, 0.35, 0.2}
)

// consentTierWeights is the initial distribution of consent tiers 0..3
// (0 = unknown, e.g. imported lists).
var consentTierWeights = []float64{0.05, 0.30, 0.40, 0.25}

// Personalization levels, indexed like event.Personalization; a level's
// index is also the minimum consent tier that covers it.
const (
	levelNone = iota
	levelBasic
	levelBehavioral
	levelPredictive
)

var levelNames = []string{"none", "basic", "behavioral", "predictive"}

var levelWeights = []float64{0.25, 0.35, 0.25, 0.15}

// reasons are documented personalization reasons per level; sends without a
// reason are the "unexplained" ones.
var reasons = [][]string{
	levelNone:       nil,
	levelBasic:      {"uses your name and company", "you subscribed to this newsletter", "matches the region in your profile"},
	levelBehavioral: {"you viewed the pricing page", "you attended the related webinar", "you downloaded the buyer's guide", "you used this product feature last week"},
	levelPredictive: {"predicted interest from similar accounts", "your lead score reached the sales-ready threshold", "intent data shows research on this topic"},
}

var themes = []string{
	"newsletter", "webinar", "product-launch", "nurture", "event-invite",
	"renewal", "onboarding", "case-study", "pricing", "trial-expiry",
}

// Campaign channels (indexed like channelMul) and the system that sends on
// each; email campaigns send from their system's own sending domain.
const (
	chEmail = iota
	chSMS
	chSales
	chSocial
	chAds
	nChannels
)

var (
	campaignChannels = [nChannels]string{"email", "sms", "sales", "social", "ads"}
	campaignChanW    = []float64{0.60, 0.12, 0.10, 0.08, 0.10}
	emailSources     = []string{"marketo", "hubspot"}
	sendingDomains   = map[string]string{"marketo": "news.acme-cloud.com", "hubspot": "mail.acme-cloud.com"}
	channelSource    = [nChannels]string{chSMS: "twilio", chSales: "salesforce", chSocial: "linkedin", chAds: "google-ads"}
)

// Mailbox providers of the contacts' addresses (event.MailboxProviders
// order), B2B-skewed towards Microsoft; botClickW weighs each provider's
// share of security-scanner clicks (corporate gateways click every link).
var (
	mailboxWeights = []float64{0.30, 0.04, 0.45, 0.06, 0.15}
	botClickW      = []float64{0.3, 0.3, 2, 0.3, 2}
)

// Sources of events that do not come from a campaign.
const (
	sourceWeb     = "web"
	sourceConsent = "onetrust"
	sourceSales   = "salesforce"
	channelWeb    = "web"
	channelSales  = "sales"
)

type contact struct {
	id      string
	account int32
	segment uint8
	tier    uint8 // current consent tier; consent_change events move it
	// recorded: a consent_change of the contact was emitted.
	recorded bool
	mailbox  uint8   // index into event.MailboxProviders
	prop     float32 // engagement propensity in (0, 1]: who opens and clicks
	rank     int32   // position in population.byRank (0 = most engaged)
}

type campaign struct {
	id      string
	channel uint8 // chEmail, ...
	source  string
	domain  string // sending domain of email campaigns
	level   uint8
	segment int // -1: all segments
	weight  float64
	// active window as fractions of the period; campaigns come and go.
	from, to float64
}

type population struct {
	contacts  []contact
	bySegment [][]int32
	accounts  []string
	campaigns []campaign
	// byRank lists contacts from the most engaged down; propSum[k] is the
	// sum of prop over byRank[:k] (the engaged audience of size k).
	byRank  []int32
	propSum []float64
	// botNorm normalises botClickW to a mean of 1 over the contacts.
	botNorm float64
}

func newPopulation(cfg Config, rng *rand.Rand) *population {
	p := &population{
		contacts:  make([]contact, cfg.Contacts),
		bySegment: make([][]int32, len(segments)),
		accounts:  make([]string, cfg.Accounts),
	}
	for i := range p.accounts {
		p.accounts[i] = accountID(i)
	}
	for i := range p.contacts {
		src := pick(rng, contactSrcW)
		seg := pick(rng, segmentWeights)
		u := rng.Float64()
		c := contact{
			id: contactPrefixes[src] + pad(100000+i*7+rng.IntN(7), 7),
			// u² skews contacts towards low account indices: a few large
			// accounts with many contacts, a long tail of small ones.
			account: int32(float64(cfg.Accounts) * u * u),
			segment: uint8(seg),
			tier:    uint8(pick(rng, consentTierWeights)),
			// Engagement is heavy-tailed: most contacts rarely engage.
			prop:    float32(0.05 + 0.95*math.Pow(rng.Float64(), 2)),
			mailbox: uint8(pick(rng, mailboxWeights)),
		}
		p.contacts[i] = c
		p.bySegment[seg] = append(p.bySegment[seg], int32(i))
	}
	p.byRank = make([]int32, len(p.contacts))
	for i := range p.byRank {
		p.byRank[i] = int32(i)
	}
	slices.SortStableFunc(p.byRank, func(a, b int32) int { return cmp.Compare(p.contacts[b].prop, p.contacts[a].prop) })
	p.propSum = make([]float64, len(p.contacts)+1)
	for k, i := range p.byRank {
		p.contacts[i].rank = int32(k)
		p.propSum[k+1] = p.propSum[k] + float64(p.contacts[i].prop)
		p.botNorm += botClickW[p.contacts[i].mailbox]
	}
	p.botNorm /= float64(max(1, len(p.contacts)))
	p.campaigns = make([]campaign, cfg.Campaigns)
	alwaysOn := max(1, cfg.Campaigns/4)
	for i := range p.campaigns {
		ch := uint8(pick(rng, campaignChanW))
		src := channelSource[ch]
		if ch == chEmail {
			src = emailSources[rng.IntN(len(emailSources))]
		}
		c := campaign{
			id:      "cmp-" + pad(i+1, 3) + "-" + themes[rng.IntN(len(themes))],
			channel: ch,
			source:  src,
			domain:  sendingDomains[src],
			level:   uint8(pick(rng, levelWeights)),
			segment: -1,
			weight:  math.Exp(rng.NormFloat64() * 0.8),
			from:    -1, to: 2,
		}
		if rng.Float64() < 0.7 {
			c.segment = pick(rng, segmentWeights)
		}
		if i >= alwaysOn {
			c.from = -0.2 + 1.1*rng.Float64()
			c.to = c.from + 0.15 + 0.65*rng.Float64()
		}
		p.campaigns[i] = c
	}
	return p
}

// pick returns an index drawn with the given (unnormalised) weights.
func pick(rng *rand.Rand, w []float64) int {
	var sum float64
	for _, x := range w {
		sum += x
	}
	u := rng.Float64() * sum
	for i, x := range w {
		if u < x {
			return i
		}
		u -= x
	}
	return len(w) - 1
}

// pad formats n in decimal with at least width digits.
func pad(n, width int) string {
	s := strconv.Itoa(n)
	for len(s) < width {
		s = "0" + s
	}
	return s
}
