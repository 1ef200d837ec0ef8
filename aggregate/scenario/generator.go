package scenario

import (
	"container/heap"
	"math"
	"math/rand/v2"
	"time"

	"github.com/trustpipe/trustpipe/aggregate/event"
)

// Independent random streams (second PCG word) so that changing one aspect
// (say, the invalid ratio) leaves the others untouched.
const (
	streamPopulation = 0x706f70756c617469 // "populati"
	streamTimeline   = 0x74696d656c696e65 // "timeline"
	streamEvents     = 0x6576656e74737472 // "eventstr"
	streamInvalid    = 0x696e76616c696473 // "invalids"
	streamDuplicates = 0x6475706c69636174 // "duplicat"
)

// ringSize bounds the memory of recent sends that live follow-up events
// (NextAt) are attributed to.
const ringSize = 4096

// Record is one generated Kafka record.
//
// Key and Value are owned by the Generator and valid only until the next
// call to Next (like bufio.Scanner.Bytes); use Clone to keep them.
type Record struct {
	// Key is the contact id, the partitioning key; nil for anonymous web
	// sessions.
	Key []byte
	// Value is the JSON event (or, for an invalid record, its broken form).
	Value []byte
	// Time is the event time, to be used as the Kafka record timestamp so
	// that timestamp offset look-ups (replays by time) find it. Times are
	// non-decreasing except for duplicates, which repeat an earlier record.
	Time time.Time
	// Type is the type of the generated event (of the event an invalid
	// record was derived from).
	Type event.Type
	// Invalid is the rejection reason the record is built to trigger; empty
	// for a valid record.
	Invalid event.Reason
}

// Clone returns a copy of r whose byte slices are not shared with the
// Generator.
func (r Record) Clone() Record {
	if r.Key != nil {
		r.Key = append([]byte(nil), r.Key...)
	}
	r.Value = append([]byte(nil), r.Value...)
	return r
}

// sent is a send that follow-up events belong to.
type sent struct {
	at       int64  // unix nanoseconds, millisecond precision
	msg      uint64 // message sequence number: the message_id
	contact  int32
	campaign int32
	level    uint8
	defect   uint8 // defect* bits: what the send's render check found
	lineage  uint8 // lineage* bits: what personalized it, what the buyer sees
	rogue    uint8 // rogue* bits: a send that should not have happened
}

// pending is an event scheduled for emission: a send, a follow-up of s, or
// an independent event (s unused).
type pending struct {
	at  int64
	seq uint64 // tie-break: equal times keep scheduling order
	s   sent
	typ event.Type
	det uint8 // detail code
}

func (a *pending) before(b *pending) bool { return a.at < b.at || (a.at == b.at && a.seq < b.seq) }

// Detail codes of pending events.
const (
	detNone uint8 = iota
	detMachine
	detBot
	detHard
	detSoft
	detAccount  // a sales report on a mood account's contact (accounts.go)
	detFeedback // + index into event.FeedbackKinds
)

// A dup is a re-sent record waiting for its position in the stream.
type dup struct {
	pos int // index in the stream at which it is emitted
	rec Record
	day int
}

type dupQueue []dup

func (q dupQueue) Len() int           { return len(q) }
func (q dupQueue) Less(i, j int) bool { return q[i].pos < q[j].pos }
func (q dupQueue) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *dupQueue) Push(x any)        { *q = append(*q, x.(dup)) }
func (q *dupQueue) Pop() any {
	old := *q
	d := old[len(old)-1]
	*q = old[:len(old)-1]
	return d
}

// Generator yields the records of one scenario run:
//
//	for r, ok := g.Next(); ok; r, ok = g.Next() { ... }
//
// Sends are generated hour by hour (the daily blast in its hour, triggered
// sends around the clock), each with its follow-ups (delivery or bounce,
// opens, clicks, unsubscribes, complaints, ...) scheduled after it with
// their own delay distributions; Next emits the scheduled events in time
// order. The volume of the hours still to generate is steered so the stream
// holds exactly Config.Events records; whatever the plan misses by at the
// very end is filled with web sessions or cut.
//
// See the package documentation; it is not safe for concurrent use.
type Generator struct {
	cfg  Config
	pop  *population
	tl   *timeline
	rng  *rand.Rand // events
	irng *rand.Rand // invalid-record decisions
	drng *rand.Rand // duplicate decisions

	total   int // records Next yields
	emitted int // records Next has yielded
	live    int // records NextAt has yielded
	unique  int // planned records Next has yielded (duplicates and fill aside)
	target  float64

	slot   int       // next slot to generate
	queue  []pending // min-heap by (at, seq)
	seq    uint64
	msgSeq uint64
	dups   dupQueue
	// broken is the campaign whose template breaks (scenarios with
	// render-check defects): the blast campaign of the first day whose
	// rates have any, -1 before.
	broken int32
	// unsubs are the scheduled unsubscribes (and later opt-ups) by contact
	// and channel, unsubList their keys, recorded the contacts with an
	// emitted consent_change (unsubscribes.go).
	unsubs    map[uint64]unsubState
	unsubList []uint64
	recorded  []int32

	// fill, once the schedule is exhausted: sorted uniforms on [fillFrom, end)
	fillFrom, lastAt int64
	fillX            float64

	// Ring of recently emitted sends that live (NextAt) follow-ups belong to.
	recent     [ringSize]sent
	nRecent    int
	recentNext int

	ev         event.Event // the event behind the current record
	idBuf      [36]byte
	key, buf   []byte // the current record's key and value
	invalidBuf []byte

	stats      []dayStats           // valid events by day
	invalid    map[event.Reason]int // invalid records by reason
	invalidCum []float64            // cumulative weights of invalidKinds
}

// New validates cfg and prepares a generator. It fails on an unknown
// scenario (listing the valid names) and on out-of-range sizes.
func New(cfg Config) (*Generator, error) {
	cfg, def, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	seed := uint64(cfg.Seed)
	g := &Generator{
		cfg:     cfg,
		rng:     rand.New(rand.NewPCG(seed, streamEvents)),
		irng:    rand.New(rand.NewPCG(seed, streamInvalid)),
		drng:    rand.New(rand.NewPCG(seed, streamDuplicates)),
		total:   cfg.Events,
		target:  cfg.uniqueTarget(),
		invalid: map[event.Reason]int{},
		broken:  -1,
		unsubs:  map[uint64]unsubState{},
	}
	g.pop = newPopulation(cfg, rand.New(rand.NewPCG(seed, streamPopulation)))
	g.tl = newTimeline(cfg, def, g.pop, rand.New(rand.NewPCG(seed, streamTimeline)))
	g.stats = make([]dayStats, len(g.tl.days))
	for i := range g.stats {
		g.stats[i].details = map[DetailKey]int{}
	}
	g.lastAt = g.tl.begin
	g.initInvalid()
	return g, nil
}

// Total is the number of records Next yields in all (Config.Events).
func (g *Generator) Total() int { return g.total }

// Done is the number of records yielded so far by Next and NextAt.
func (g *Generator) Done() int { return g.emitted + g.live }

// Remaining is the number of records Next will still yield before the
// history is complete (live records aside).
func (g *Generator) Remaining() int { return g.total - g.emitted }

// Config returns the configuration with defaults applied.
func (g *Generator) Config() Config { return g.cfg }

// Next returns the next record, or false when all Config.Events records have
// been yielded.
func (g *Generator) Next() (Record, bool) {
	if g.emitted >= g.total {
		return Record{}, false
	}
	cur := g.emitted
	g.emitted++
	if len(g.dups) > 0 && g.dups[0].pos <= cur {
		return g.emitDup(), true
	}
	// Generate hours until the earliest scheduled event is certain to come
	// before anything a later hour could schedule.
	for g.slot < len(g.tl.slots) && (len(g.queue) == 0 || g.queue[0].at >= g.tl.slots[g.slot].start) {
		g.genSlot()
	}
	if len(g.queue) > 0 {
		p := g.popMin()
		g.unique++
		g.lastAt = p.at
		return g.record(&p, g.tl.dayOf(p.at), true), true
	}
	if len(g.dups) > 0 {
		return g.emitDup(), true
	}
	// The schedule fell short of Events: web sessions at sorted uniform
	// times after the last event (the minimum of k uniforms on [x, 1) is
	// 1-(1-x)·U^(1/k)).
	if g.fillX == 0 {
		g.fillFrom = g.lastAt
	}
	k := float64(g.total - cur)
	g.fillX = 1 - (1-g.fillX)*math.Pow(1-g.rng.Float64(), 1/k)
	at := ms(g.fillFrom + int64(g.fillX*float64(g.tl.end-g.fillFrom)))
	p := pending{at: min(max(at, g.lastAt), g.tl.end-int64(time.Millisecond)), typ: event.WebSession}
	return g.record(&p, g.tl.dayOf(p.at), true), true
}

func ms(ns int64) int64 { return ns - ns%int64(time.Millisecond) }

// genSlot generates the sends and independent events of the next slot and
// schedules them with their follow-ups.
func (g *Generator) genSlot() {
	sl := &g.tl.slots[g.slot]
	g.slot++
	dy := &g.tl.days[sl.day]
	// Steer: scale this hour so that what is already scheduled plus what
	// the remaining hours are expected to bring meets the target.
	f := 1.0
	if sl.future > 0 {
		f = min(4, max(0, (g.target-float64(g.unique+len(g.queue)))/sl.future))
	}
	for range g.round(sl.blast * f) {
		g.send(sl, dy, dy.blast)
	}
	for range g.round(sl.trig * f) {
		g.send(sl, dy, g.pickCampaign(dy))
	}
	for range g.round(sl.indep * f) {
		u := g.rng.Float64() * dy.indepCum[len(dy.indepCum)-1]
		typ := indepTypes[len(indepTypes)-1]
		for i, c := range dy.indepCum {
			if u < c {
				typ = indepTypes[i]
				break
			}
		}
		g.push(pending{at: ms(sl.start + int64(g.rng.Float64()*float64(sl.dur))), typ: typ})
	}
}

// round rounds x stochastically, so expectations are kept.
func (g *Generator) round(x float64) int {
	n := math.Floor(x)
	if g.rng.Float64() < x-n {
		n++
	}
	return int(n)
}

// send makes one send of campaign ci in slot sl and schedules it (inside
// the period) and its follow-ups.
func (g *Generator) send(sl *slot, dy *day, ci int32) {
	at := ms(sl.start + int64(g.rng.Float64()*float64(sl.dur)))
	s := g.makeSend(dy, ci, at)
	s.defect = g.defects(dy, ci)
	s.lineage = g.lineage(dy, s.level)
	if !sl.pre {
		g.push(pending{at: at, s: s, typ: event.Send})
	}
	g.followUps(s, dy)
}

// followUps decides what happens after send s, with the rates of its day,
// and schedules each follow-up after its delay.
func (g *Generator) followUps(s sent, dy *day) {
	r := &dy.r
	c := &g.pop.campaigns[s.campaign]
	k := &g.pop.contacts[s.contact]
	m := &channelMul[c.channel]
	if g.rng.Float64() >= r.Delivery {
		det := detSoft
		if g.rng.Float64() < r.HardBounce {
			det = detHard
		}
		g.later(s.at, s, kBounce, det)
		return
	}
	g.later(s.at, s, kDelivered, detNone)
	g.accountSentiment(s, r)
	if g.chance(r.Open * r.MachineOpen * m[kMachineOpen]) {
		g.later(s.at, s, kMachineOpen, detMachine)
	}
	// People: only the engaged audience opens and clicks, in proportion to
	// their propensity.
	if k.rank < int32(dy.audience) {
		w := float64(k.prop) * dy.engNorm
		if g.chance(r.Open * (1 - r.MachineOpen) * m[kOpen] * (1 - repeatOpen) * w) {
			g.later(s.at, s, kOpen, detNone)
			for g.rng.Float64() < repeatOpen {
				g.later(s.at, s, kOpen, detNone)
			}
		}
		if g.chance(r.Click * m[kClick] * (1 - repeatClick) * w) {
			at := g.later(s.at, s, kClick, detNone)
			for g.rng.Float64() < repeatClick {
				g.later(s.at, s, kClick, detNone)
			}
			if g.chance(r.FormFill * m[kFormFill]) {
				g.later(at, s, kFormFill, detNone)
			}
		}
	}
	if g.chance(r.BotClick * m[kBotClick] * botClickW[k.mailbox] / g.pop.botNorm) {
		g.later(s.at, s, kBotClick, detBot)
	}
	for _, x := range [...]struct {
		k    kind
		rate float64
	}{{kUnsubscribe, r.Unsubscribe}, {kOptDown, r.OptDown}, {kOptUp, r.OptUp}, {kPrefVisit, r.PrefVisit}} {
		if x.k == kUnsubscribe && s.defect != 0 {
			x.rate *= defectUnsubscribeMul
		}
		if x.k == kUnsubscribe || x.k == kOptDown {
			x.rate *= g.pullbackMul(r, s.contact)
		}
		if g.chance(x.rate * m[x.k]) {
			g.noteFollowUp(s, x.k, g.later(s.at, s, x.k, detNone))
		}
	}
	beyond := s.level > k.tier
	complaint, tooPersonal := dy.complaint, dy.tooPersonal
	if beyond {
		complaint += dy.complaintExtra
		tooPersonal += dy.tooPersonalExtra
	}
	if s.defect != 0 {
		complaint *= defectComplaintMul
	}
	complaint *= g.pullbackMul(r, s.contact)
	if s.lineage&lineageIntent != 0 {
		complaint, tooPersonal = complaint*intentComplaintMul, tooPersonal*intentComplaintMul
	}
	if s.lineage&lineageVisible != 0 {
		complaint, tooPersonal = complaint*visibleComplaintMul, tooPersonal*visibleComplaintMul
	}
	if g.chance(complaint * m[kComplaint]) {
		g.later(s.at, s, kComplaint, detNone)
	}
	if g.chance(tooPersonal * m[kFeedback]) {
		g.later(s.at, s, kFeedback, detFeedback+2)
	}
	mix := r.FeedbackMix
	other := r.Feedback * (1 - mix[2]/sum4(mix))
	if g.chance(other * m[kFeedback]) {
		mix[2] = 0
		g.later(s.at, s, kFeedback, detFeedback+uint8(pick(g.rng, mix[:])))
	}
}

func (g *Generator) chance(p float64) bool { return p > 0 && g.rng.Float64() < p }

// later schedules follow-up k of s after its delay from t (the send, or the
// click a form fill follows) if it falls in the period, and returns its
// time.
func (g *Generator) later(t int64, s sent, k kind, det uint8) int64 {
	var d int64
	if k == kFormFill {
		d = delay{6 * time.Minute, 0.8}.draw(g.rng)
	} else {
		d = delays[k].draw(g.rng)
	}
	at := ms(t + d)
	if at >= g.tl.begin && at < g.tl.end {
		g.push(pending{at: at, s: s, typ: kindTypes[k], det: det})
	}
	return at
}

func (g *Generator) push(p pending) {
	p.seq = g.seq
	g.seq++
	q := append(g.queue, p)
	for i := len(q) - 1; i > 0; {
		j := (i - 1) / 2
		if !q[i].before(&q[j]) {
			break
		}
		q[i], q[j] = q[j], q[i]
		i = j
	}
	g.queue = q
}

func (g *Generator) popMin() pending {
	q := g.queue
	top := q[0]
	n := len(q) - 1
	q[0] = q[n]
	q = q[:n]
	for i := 0; ; {
		j := 2*i + 1
		if j >= n {
			break
		}
		if j+1 < n && q[j+1].before(&q[j]) {
			j++
		}
		if !q[j].before(&q[i]) {
			break
		}
		q[i], q[j] = q[j], q[i]
		i = j
	}
	g.queue = q
	return top
}

// NextAt yields one more record, beyond Total, with event time t and the
// rates of the period's last day: the live tail of a demo after its history.
// Use it once Next has returned false, with non-decreasing t (the caller's
// clock, so the generator itself never reads one). Live follow-ups belong
// to recently emitted sends (their delay is the time since); there are no
// duplicates. Its valid events are counted in Stats under t's UTC day.
func (g *Generator) NextAt(t time.Time) Record {
	t = t.UTC().Truncate(time.Millisecond)
	last := len(g.tl.days) - 1
	d := max(0, last+int(t.Truncate(24*time.Hour).Sub(g.tl.days[last].start)/(24*time.Hour)))
	for len(g.tl.days) <= d {
		dy := g.tl.days[len(g.tl.days)-1]
		dy.start = dy.start.Add(24 * time.Hour)
		g.tl.days = append(g.tl.days, dy)
		g.stats = append(g.stats, dayStats{details: map[DetailKey]int{}})
	}
	dy := &g.tl.days[d]
	g.live++
	p := pending{at: t.UnixNano(), typ: g.pickType(dy)}
	switch p.typ {
	case event.WebSession, event.Sentiment, event.ConsentChange:
	default:
		if p.typ == event.Send || g.nRecent == 0 {
			p.typ = event.Send
			p.s = g.makeSend(dy, g.pickCampaign(dy), p.at)
			p.s.defect = g.defects(dy, p.s.campaign)
			p.s.lineage = g.lineage(dy, p.s.level)
			break
		}
		p.s = g.recent[g.rng.IntN(g.nRecent)]
		p.det = g.liveDetail(p.typ, &dy.r)
	}
	return g.record(&p, d, false)
}

// liveDetail decides the detail of a live follow-up of type typ.
func (g *Generator) liveDetail(typ event.Type, r *rates) uint8 {
	switch typ {
	case event.Bounce:
		if g.rng.Float64() < r.HardBounce {
			return detHard
		}
		return detSoft
	case event.Open:
		if g.rng.Float64() < r.MachineOpen {
			return detMachine
		}
	case event.Click:
		if g.rng.Float64()*(r.Click+r.BotClick) < r.BotClick {
			return detBot
		}
	case event.Feedback:
		return detFeedback + uint8(pick(g.rng, r.FeedbackMix[:]))
	}
	return detNone
}

// record builds the event p (of day d), encodes it and, with probability
// InvalidRatio, breaks it; a valid history record is re-sent later with
// probability DuplicateRatio.
func (g *Generator) record(p *pending, d int, history bool) Record {
	g.build(p, &g.tl.days[d])
	g.buf = event.AppendJSON(g.buf[:0], &g.ev)
	rec := Record{Value: g.buf, Time: time.Unix(0, p.at).UTC(), Type: p.typ}
	if g.ev.ContactID != "" {
		g.key = append(g.key[:0], g.ev.ContactID...)
		rec.Key = g.key
	}
	if p.typ == event.Send {
		g.recent[g.recentNext] = p.s
		g.recentNext = (g.recentNext + 1) % ringSize
		g.nRecent = min(g.nRecent+1, ringSize)
	}
	if g.cfg.InvalidRatio > 0 && g.irng.Float64() < g.cfg.InvalidRatio {
		rec.Value, rec.Invalid = g.makeInvalid(rec.Value, p.typ)
		g.invalid[rec.Invalid]++
		return rec
	}
	g.count(d)
	if history && g.cfg.DuplicateRatio > 0 && g.drng.Float64() < g.cfg.DuplicateRatio {
		// A producer retry: right after the original (the acknowledgement
		// was lost), or thousands of records later (a retried batch).
		lag := 1 + g.drng.IntN(3)
		if far := 2000 + g.drng.IntN(6001); g.drng.Float64() < 0.5 && g.emitted-1+far < g.total {
			lag = far
		}
		heap.Push(&g.dups, dup{pos: g.emitted - 1 + lag, rec: rec.Clone(), day: d})
	}
	return rec
}

// emitDup yields the earliest due re-sent record.
func (g *Generator) emitDup() Record {
	dp := heap.Pop(&g.dups).(dup)
	g.stats[dp.day].dups[dp.rec.Type]++
	return dp.rec
}

func (g *Generator) pickType(dy *day) event.Type {
	u := g.rng.Float64()
	// 16 entries: a linear scan beats a binary search here.
	for t := 1; t < nTypes; t++ {
		if u < dy.typeCum[t] {
			return event.Type(t)
		}
	}
	return event.Type(nTypes - 1)
}

// build fills g.ev with the event p, using the rates of its day.
func (g *Generator) build(p *pending, dy *day) {
	ev := &g.ev
	*ev = event.Event{Type: p.typ, OccurredAt: time.Unix(0, p.at).UTC(), ID: g.newID()}
	r := &dy.r
	switch p.typ {
	case event.ConsentChange:
		g.consentChange(r)
	case event.WebSession:
		ev.Channel = channelWeb
		ev.Source = sourceWeb
		ev.Detail = event.TrafficSources[pick(g.rng, r.Traffic[:])]
		if g.rng.Float64() < r.Identified {
			g.contactFields(g.visitor(dy))
		}
	case event.Sentiment:
		ev.Channel = channelSales
		ev.Source = sourceSales
		if p.det == detAccount {
			g.contactFields(p.s.contact)
			ev.Score = g.accountScore(r)
			break
		}
		g.contactFields(g.pickContact(false))
		score := r.SentimentMean + 0.3*g.rng.NormFloat64()
		ev.Score = math.Round(min(1, max(-1, score))*100) / 100
	case event.Send:
		g.attribute(p.s)
		if p.s.level > levelNone && (g.rng.Float64() < r.Explained || p.s.lineage&lineageVisible != 0) {
			rs := reasons[p.s.level]
			ev.Reason = rs[g.rng.IntN(len(rs))]
			ev.ReasonVisible = p.s.lineage&lineageVisible != 0
		}
		if p.s.lineage&lineageNamed != 0 {
			intent := 0
			if p.s.lineage&lineageIntent != 0 {
				intent = 1
			}
			ev.Inputs = inputsByLevel[p.s.level][intent]
		}
		// The render check's counts, derived from the message number so
		// that no random number is drawn for them.
		if p.s.defect&defectMergeTag != 0 {
			ev.UnresolvedTokens = 1 + uint32(p.s.msg%3)
		}
		if p.s.defect&defectLink != 0 {
			ev.BrokenLinks = 1 + uint32(p.s.msg%2)
		}
		g.markRogue(p.s)
		ev.Detail = ev.Flags().Detail()
	case event.FormFill, event.OptUp:
		// Not follow-ups in the contract (a form fill follows a click, an
		// opt-up the contact's own visit): the campaign, no message.
		g.attribute(p.s)
		ev.MessageID = ""
	default:
		g.attribute(p.s)
		ev.SentAt = time.Unix(0, p.s.at).UTC()
		switch {
		case p.det == detMachine:
			ev.Detail = event.DetailMachine
		case p.det == detBot:
			ev.Detail = event.DetailBot
		case p.det == detHard:
			ev.Detail = "hard"
		case p.det == detSoft:
			ev.Detail = "soft"
		case p.det >= detFeedback:
			ev.Detail = event.FeedbackKinds[p.det-detFeedback]
		}
	}
}

// pickCampaign picks an active campaign of the day for a triggered send.
func (g *Generator) pickCampaign(dy *day) int32 {
	u := g.rng.Float64() * dy.campCum[len(dy.campCum)-1]
	for i, c := range dy.campCum {
		if u < c {
			return dy.campIdx[i]
		}
	}
	return dy.campIdx[len(dy.campIdx)-1]
}

// makeSend chooses the recipient of a send of campaign ci at time at, and
// its personalization level.
func (g *Generator) makeSend(dy *day, ci int32, at int64) sent {
	c := &g.pop.campaigns[ci]
	var k int32
	switch {
	case dy.r.Focus > 0 && g.rng.Float64() < dy.r.Focus:
		// Re-targeted at the engaged audience, whatever the segment.
		k = g.pop.byRank[g.rng.IntN(dy.audience)]
	case c.segment >= 0 && len(g.pop.bySegment[c.segment]) > 0 && g.rng.Float64() < 0.85:
		list := g.pop.bySegment[c.segment]
		k = list[g.rng.IntN(len(list))]
	default:
		k = int32(g.rng.IntN(len(g.pop.contacts)))
	}
	if rk, bits, ok := g.rogue(dy, ci, at); ok {
		level := c.level
		if bits&rogueOverclaim != 0 {
			level = levelPredictive
		}
		g.msgSeq++
		return sent{at: at, msg: g.msgSeq, contact: rk, campaign: ci, level: level, rogue: bits}
	}
	k = g.honour(dy, k, c.channel, at)
	tier := g.pop.contacts[k].tier
	level := c.level
	if level > tier && g.rng.Float64() >= dy.r.Leak {
		level = tier // personalization capped by consent: tier n covers level n
	}
	if dy.r.Beyond > 0 && g.rng.Float64() < dy.r.Beyond {
		level = levelPredictive
	}
	level = g.accountLevel(dy, k, level)
	g.msgSeq++
	return sent{at: at, msg: g.msgSeq, contact: k, campaign: ci, level: level}
}

// pickContact picks a contact, optionally favouring engaged ones.
func (g *Generator) pickContact(engaged bool) int32 {
	k := int32(g.rng.IntN(len(g.pop.contacts)))
	if engaged {
		for range 4 {
			if g.rng.Float32() < g.pop.contacts[k].prop {
				break
			}
			k = int32(g.rng.IntN(len(g.pop.contacts)))
		}
	}
	return k
}

// visitor picks the known contact of an identified web session. Only the
// engaged audience still visits: a contact who stopped opening and clicking
// has stopped coming to the site too, so in the trust spiral the visitors
// shrink to the same loyal few as the openers and clickers, and the
// distinct engaged contacts, which count both, fall with them. A contact
// outside the audience is replaced by one inside it, chosen by rank, so the
// random stream (and every other scenario, whose audience is everyone) is
// unchanged.
func (g *Generator) visitor(dy *day) int32 {
	k := g.pickContact(true)
	if r := int(g.pop.contacts[k].rank); r >= dy.audience {
		k = g.pop.byRank[r%dy.audience]
	}
	return k
}

// attribute sets the contact, campaign and message dimensions of a send or
// follow-up event from the send; email events name the recipient's mailbox
// provider and the sending domain.
func (g *Generator) attribute(s sent) {
	c := &g.pop.campaigns[s.campaign]
	g.contactFields(s.contact)
	ev := &g.ev
	ev.CampaignID = c.id
	ev.Channel = campaignChannels[c.channel]
	ev.Source = c.source
	ev.Personalization = levelNames[s.level]
	ev.MessageID = messageID(s.msg)
	if c.channel == chEmail {
		ev.MailboxProvider = event.MailboxProviders[g.pop.contacts[s.contact].mailbox]
		ev.SendingDomain = c.domain
	}
}

func (g *Generator) contactFields(k int32) {
	c := &g.pop.contacts[k]
	g.ev.ContactID = c.id
	g.ev.AccountID = g.pop.accounts[c.account]
	g.ev.Segment = segments[c.segment]
	g.ev.ConsentTier = c.tier
}
