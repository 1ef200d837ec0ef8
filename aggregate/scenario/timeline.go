package scenario

import (
	"math"
	"math/rand/v2"
	"time"

	"github.com/trustpipe/trustpipe/aggregate/event"
)

// nTypes sizes arrays indexed by event.Type (index 0, TypeInvalid, unused).
const nTypes = int(event.Feedback) + 1

// hourWeights is the diurnal shape of triggered activity by UTC hour:
// business hours dominate, nights are quiet but never empty.
var hourWeights = [24]float64{
	0.30, 0.25, 0.20, 0.20, 0.25, 0.35, 0.55, 0.80, 1.00, 1.10, 1.15, 1.10,
	1.00, 1.05, 1.10, 1.05, 0.95, 0.80, 0.65, 0.55, 0.50, 0.45, 0.40, 0.35,
}

// weekdayWeights by time.Weekday: B2B marketing is quiet at weekends.
var weekdayWeights = [7]float64{0.45, 1.0, 1.1, 1.1, 1.05, 0.9, 0.4}

// blastHour is the UTC hour of the daily email blast.
const blastHour = 9

// warmup is how far before the period sends are simulated (not emitted) so
// that the period starts with the follow-ups of earlier sends arriving, as a
// recording of a running programme does.
const warmup = 2 * 24 * time.Hour

// A kind is a follow-up of a send; each has its own delay distribution.
type kind uint8

const (
	kDelivered kind = iota
	kBounce
	kMachineOpen
	kOpen // human opens, repeats included
	kClick
	kBotClick
	kFormFill
	kUnsubscribe
	kOptDown
	kOptUp
	kPrefVisit
	kComplaint
	kFeedback
	nKinds
)

var kindTypes = [nKinds]event.Type{
	event.Delivered, event.Bounce, event.Open, event.Open, event.Click, event.Click, event.FormFill,
	event.Unsubscribe, event.OptDown, event.OptUp, event.PreferenceCenterVisit, event.Complaint, event.Feedback,
}

// delay is a log-normal delay after the send (median, shape).
type delay struct {
	median time.Duration
	sigma  float64
}

// maxDelay bounds follow-up delays; later reactions are not modelled.
const maxDelay = 7 * 24 * time.Hour

// delays: deliveries and bounces within seconds, machine opens and scanner
// clicks within minutes, human opens and clicks mostly within hours,
// unsubscribes hours later, complaints and feedback up to days later.
var delays = [nKinds]delay{
	kDelivered:   {4 * time.Second, 0.8},
	kBounce:      {20 * time.Second, 1.0},
	kMachineOpen: {3 * time.Minute, 1.0},
	kOpen:        {90 * time.Minute, 1.4},
	kClick:       {2 * time.Hour, 1.4},
	kBotClick:    {15 * time.Second, 1.0},
	kFormFill:    {2 * time.Hour, 1.4}, // drawn as the click's delay plus minutes
	kUnsubscribe: {5 * time.Hour, 1.3},
	kOptDown:     {8 * time.Hour, 1.3},
	kOptUp:       {24 * time.Hour, 1.0},
	kPrefVisit:   {6 * time.Hour, 1.3},
	kComplaint:   {12 * time.Hour, 1.5},
	kFeedback:    {20 * time.Hour, 1.2},
}

// draw returns a delay in nanoseconds; the rare draw beyond maxDelay is
// spread uniformly below it.
func (d delay) draw(rng *rand.Rand) int64 {
	x := float64(d.median) * math.Exp(d.sigma*rng.NormFloat64())
	if x > float64(maxDelay) {
		x = float64(maxDelay) * rng.Float64()
	}
	return int64(x)
}

// cdf is the share of delays below x nanoseconds (planning only).
func (d delay) cdf(x float64) float64 {
	if x <= 0 {
		return 0
	}
	if x >= float64(maxDelay) {
		return 1
	}
	return 0.5 * (1 + math.Erf(math.Log(x/float64(d.median))/(d.sigma*math.Sqrt2)))
}

// Repeat behaviour of people who open or click: each further open (click)
// follows with this probability, so openers open 1/(1-p) times on average.
const (
	repeatOpen  = 0.3
	repeatClick = 0.2
)

// channelMul scales the email rates of a profile for each channel: SMS has
// no opens and more clicks, ads and social posts are mostly impressions.
// Deliveries and bounces are not scaled.
var channelMul = [nChannels][nKinds]float64{
	chEmail:  {kMachineOpen: 1, kOpen: 1, kClick: 1, kBotClick: 1, kFormFill: 1, kUnsubscribe: 1, kOptDown: 1, kOptUp: 1, kPrefVisit: 1, kComplaint: 1, kFeedback: 1},
	chSMS:    {kClick: 1.4, kFormFill: 1, kUnsubscribe: 1, kOptDown: 0.3, kOptUp: 0.3, kPrefVisit: 0.2, kComplaint: 0.5, kFeedback: 0.3},
	chSales:  {kMachineOpen: 0.5, kOpen: 1.2, kClick: 0.8, kBotClick: 0.5, kFormFill: 1, kUnsubscribe: 0.8, kOptDown: 0.5, kOptUp: 1, kPrefVisit: 0.3, kComplaint: 0.3, kFeedback: 1.5},
	chSocial: {kClick: 0.4, kFormFill: 1, kUnsubscribe: 0.3, kOptUp: 0.5, kComplaint: 0.1, kFeedback: 0.5},
	chAds:    {kClick: 0.25, kBotClick: 0.5, kFormFill: 1, kFeedback: 0.2},
}

// expected returns the expected follow-ups of each kind per send on channel
// ch under rates r.
func (r *rates) expected(ch uint8) [nKinds]float64 {
	m := &channelMul[ch]
	d := r.Delivery
	var e [nKinds]float64
	e[kDelivered] = d
	e[kBounce] = 1 - d
	e[kMachineOpen] = d * r.Open * r.MachineOpen * m[kMachineOpen]
	e[kOpen] = d * r.Open * (1 - r.MachineOpen) * m[kOpen]
	e[kClick] = d * r.Click * m[kClick]
	e[kBotClick] = d * r.BotClick * m[kBotClick]
	e[kFormFill] = e[kClick] * r.FormFill * m[kFormFill]
	e[kUnsubscribe] = d * r.Unsubscribe * m[kUnsubscribe]
	e[kOptDown] = d * r.OptDown * m[kOptDown]
	e[kOptUp] = d * r.OptUp * m[kOptUp]
	e[kPrefVisit] = d * r.PrefVisit * m[kPrefVisit]
	e[kComplaint] = d * r.Complaint * m[kComplaint]
	e[kFeedback] = d * r.Feedback * m[kFeedback]
	return e
}

// indepTypes are the events that follow no send of their own.
var indepTypes = [3]event.Type{event.WebSession, event.Sentiment, event.ConsentChange}

// indepWeights returns the expected independent events per send.
func (r *rates) indepWeights() [3]float64 {
	return [3]float64{r.Web, r.Sentiment, r.Consent * r.Delivery}
}

// day is one UTC calendar day of the period with its rates and campaigns.
// Rates are constant within a day (and decided at send time for a send's
// follow-ups) so that drift shows as steps in daily series.
type day struct {
	start time.Time // UTC midnight
	r     rates
	// typeCum is the cumulative event-type mix of the day, for the live
	// tail (NextAt) only.
	typeCum [nTypes]float64
	campCum []float64 // cumulative weights of active campaigns (triggered sends)
	campIdx []int32
	blast   int32 // the campaign of the day's blast
	// Engagement: the audience (byRank[:audience]) and the factor that
	// keeps human opens and clicks per delivery at the profile's rates.
	audience int
	engNorm  float64
	// Complaint and too-personal feedback probabilities of a delivery:
	// base for every send, plus extra for sends beyond consent (scenarios
	// that attribute their excess to personalization beyond consent).
	complaint, complaintExtra     float64
	tooPersonal, tooPersonalExtra float64
	indepCum                      [3]float64
}

// slot is a stretch of at most one hour inside one day.
type slot struct {
	start, dur int64 // unix nanoseconds
	day        int32
	pre        bool // before the period: sends simulated, not emitted
	// expected blast sends, triggered sends and independent events
	blast, trig, indep float64
	// future is the expected number of in-period events from this slot
	// on: what the generator steers the remaining volume by.
	future float64
}

type timeline struct {
	begin, end int64 // the period, unix nanoseconds
	first      time.Time
	days       []day
	slots      []slot
}

// dayOf returns the index of the day holding unix time ns (clamped).
func (tl *timeline) dayOf(ns int64) int {
	return min(len(tl.days)-1, max(0, int((ns-tl.first.UnixNano())/int64(24*time.Hour))))
}

func newTimeline(cfg Config, def *scenarioDef, pop *population, rng *rand.Rand) *timeline {
	end := cfg.End.UnixNano()
	period := int64(cfg.Days) * int64(24*time.Hour)
	begin := end - period
	first := time.Unix(0, begin).UTC().Truncate(24 * time.Hour)
	tl := &timeline{begin: begin, end: end, first: first}

	// Days: every UTC calendar day that intersects [begin, end).
	var chShare [][nChannels]float64
	for d := first; d.UnixNano() < end; d = d.Add(24 * time.Hour) {
		lo := max(d.UnixNano(), begin)
		hi := min(d.Add(24*time.Hour).UnixNano(), end)
		f := (float64(lo+hi)/2 - float64(begin)) / float64(period) // mid-day as a fraction of the period
		s := min(1, max(0, (f-(1-def.drift))/def.drift))
		dy := day{start: d, r: def.from.at(&def.to, s)}
		var share [nChannels]float64
		var csum, bsum float64
		dy.blast = -1
		for i, c := range pop.campaigns {
			if f >= c.from && f < c.to {
				csum += c.weight
				dy.campCum = append(dy.campCum, csum)
				dy.campIdx = append(dy.campIdx, int32(i))
				share[c.channel] += c.weight
				// The blast goes out for an active email campaign, the
				// heaviest of a random draw.
				if w := c.weight * rng.Float64(); c.channel == chEmail && w > bsum {
					bsum, dy.blast = w, int32(i)
				}
			}
		}
		if len(dy.campIdx) == 0 { // the first campaign is always on
			dy.campCum, dy.campIdx = []float64{1}, []int32{0}
			share[pop.campaigns[0].channel] = 1
			csum = 1
		}
		if dy.blast < 0 {
			dy.blast = dy.campIdx[0]
		}
		for i := range share {
			share[i] /= csum
		}
		chShare = append(chShare, share)
		dy.setEngagement(pop)
		dy.setBlame(def)
		var isum float64
		for i, w := range dy.r.indepWeights() {
			isum += w
			dy.indepCum[i] = isum
		}
		dy.setTypeMix(share, pop.campaigns[dy.blast].channel)
		tl.days = append(tl.days, dy)
	}

	// Slots: hour-aligned stretches from warmup before the period to its
	// end, weighted by diurnal, weekly and scenario volume with some
	// day-to-day noise; the blast hour carries the day's blast.
	noise := make([]float64, len(tl.days))
	for i := range noise {
		noise[i] = math.Exp(rng.NormFloat64() * 0.07)
	}
	var hourSum float64
	for _, w := range hourWeights {
		hourSum += w
	}
	type perSend struct{ blast, trig [nKinds]float64 }
	expect := make([]perSend, len(tl.days))
	for i := range tl.days {
		dy := &tl.days[i]
		expect[i].blast = dy.r.expected(pop.campaigns[dy.blast].channel)
		for ch, sh := range chShare[i] {
			e := dy.r.expected(uint8(ch))
			for k := range e {
				expect[i].trig[k] += sh * e[k]
			}
		}
	}
	var total float64
	for lo := begin - int64(warmup); lo < end; {
		hi := min(time.Unix(0, lo).UTC().Truncate(time.Hour).Add(time.Hour).UnixNano(), end)
		if lo < begin && hi > begin {
			hi = begin
		}
		t := time.Unix(0, lo).UTC()
		di := tl.dayOf(lo)
		dy := &tl.days[di]
		hours := float64(hi-lo) / float64(time.Hour)
		dayW := weekdayWeights[t.Weekday()] * noise[di] * dy.r.Volume
		sl := slot{start: lo, dur: hi - lo, day: int32(di), pre: lo < begin}
		sl.trig = dayW * (1 - dy.r.BlastShare) * 24 * hourWeights[t.Hour()] / hourSum * hours
		if t.Hour() == blastHour {
			sl.blast = dayW * dy.r.BlastShare * 24 * hours
		}
		eb, et := 1.0, 1.0
		if sl.pre {
			eb, et = 0, 0
		} else {
			var iw float64
			for _, w := range dy.r.indepWeights() {
				iw += w
			}
			sl.indep = dayW * iw * 24 * hourWeights[t.Hour()] / hourSum * hours
		}
		// Follow-ups land in the period unless they fall before it (warm-up
		// sends) or after it (the last days' late reactions).
		mid := float64(lo+hi) / 2
		for k, dl := range delays {
			in := dl.cdf(float64(end)-mid) - dl.cdf(float64(begin)-mid)
			eb += expect[di].blast[k] * in
			et += expect[di].trig[k] * in
		}
		sl.future = sl.blast*eb + sl.trig*et + sl.indep // per unit of scale, for now
		total += sl.future
		tl.slots = append(tl.slots, sl)
		lo = hi
	}
	// Scale to the unique events the stream should hold and accumulate the
	// expected future volume from the end.
	scale := 0.0
	if total > 0 {
		scale = cfg.uniqueTarget() / total
	}
	var future float64
	for i := len(tl.slots) - 1; i >= 0; i-- {
		sl := &tl.slots[i]
		sl.blast *= scale
		sl.trig *= scale
		sl.indep *= scale
		future += sl.future * scale
		sl.future = future
	}
	return tl
}

// setEngagement sizes the engaged audience and the normalisation of human
// opens and clicks: deliveries go to the audience with probability
// Focus + (1-Focus)·Audience, and their expected engagement weight
// (prop / mean prop of the audience) must average 1 over all deliveries.
func (dy *day) setEngagement(pop *population) {
	n := len(pop.contacts)
	dy.audience = max(1, min(n, int(math.Round(dy.r.Audience*float64(n)))))
	mean := pop.propSum[dy.audience] / float64(dy.audience)
	share := dy.r.Focus + (1-dy.r.Focus)*float64(dy.audience)/float64(n)
	dy.engNorm = 1 / (mean * share)
}

// setBlame splits complaint and too-personal feedback probabilities into a
// base and an extra carried by sends beyond consent, when the scenario
// attributes its excess over the starting rate to them.
func (dy *day) setBlame(def *scenarioDef) {
	r := &dy.r
	dy.complaint = r.Complaint
	dy.tooPersonal = r.Feedback * r.FeedbackMix[2] / sum4(r.FeedbackMix)
	if !def.attributeBeyond || r.Beyond <= 0 {
		return
	}
	// Share of deliveries beyond consent: predictive sends to contacts
	// below tier 3 (three quarters of the initial audience).
	beyond := r.Beyond * (1 - consentTierWeights[3])
	baseC := min(dy.complaint, def.from.Complaint)
	baseT := min(dy.tooPersonal, def.from.Feedback*def.from.FeedbackMix[2]/sum4(def.from.FeedbackMix))
	dy.complaintExtra = (dy.complaint - baseC) / beyond
	dy.tooPersonalExtra = (dy.tooPersonal - baseT) / beyond
	dy.complaint, dy.tooPersonal = baseC, baseT
}

func sum4(a [4]float64) float64 { return a[0] + a[1] + a[2] + a[3] }

// setTypeMix sets the day's event-type mix for the live tail: the expected
// events of a day's sends (blast and triggered) and independent events.
func (dy *day) setTypeMix(share [nChannels]float64, blastCh uint8) {
	var w [nTypes]float64
	add := func(e [nKinds]float64, f float64) {
		w[event.Send] += f
		for k, x := range e {
			w[kindTypes[k]] += f * x
		}
	}
	add(dy.r.expected(blastCh), dy.r.BlastShare)
	for ch, sh := range share {
		add(dy.r.expected(uint8(ch)), (1-dy.r.BlastShare)*sh)
	}
	for i, x := range dy.r.indepWeights() {
		w[indepTypes[i]] += x
	}
	var sum float64
	for t := range w {
		sum += w[t]
		dy.typeCum[t] = sum
	}
	for t := range dy.typeCum {
		dy.typeCum[t] /= sum
	}
	dy.typeCum[nTypes-1] = 1 // guard against rounding
}
