package scenario

import (
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
)

// ringSize bounds the memory of recent sends that follow-up events
// (deliveries, opens, clicks, unsubscribes, ...) are attributed to; a few
// thousand sends is a few minutes to hours of traffic, like real funnels.
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
	// that timestamp offset look-ups (replays by time) find it.
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

// sent is a send that later events are attributed to.
type sent struct {
	contact  int32
	campaign int32
	level    uint8
}

// Generator yields the records of one scenario run:
//
//	for r, ok := g.Next(); ok; r, ok = g.Next() { ... }
//
// See the package documentation; it is not safe for concurrent use.
type Generator struct {
	cfg  Config
	pop  *population
	tl   *timeline
	rng  *rand.Rand // events
	irng *rand.Rand // invalid-record decisions

	// position in the timeline
	total   int     // records Next yields
	emitted int     // records Next has yielded
	live    int     // records NextAt has yielded
	slot    int     // current slot
	left    int     // events left in the current slot
	x       float64 // last order statistic in the slot, in [0, 1)

	// Rings of recent sends that follow-up events are attributed to.
	recent     [ringSize]sent
	nRecent    int
	recentNext int
	beyond     [ringSize]sent // sends personalized beyond consent
	nBeyond    int
	beyondNext int

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
		total:   cfg.Events,
		invalid: map[event.Reason]int{},
	}
	g.pop = newPopulation(cfg, rand.New(rand.NewPCG(seed, streamPopulation)))
	g.tl = newTimeline(cfg, def, g.pop, rand.New(rand.NewPCG(seed, streamTimeline)))
	g.stats = make([]dayStats, len(g.tl.days))
	for i := range g.stats {
		g.stats[i].details = map[DetailKey]int{}
	}
	g.slot = -1
	// Warm up the memory of recent sends with sends from before the period
	// so the very first events already have a funnel to belong to.
	for range ringSize {
		g.makeSend(&g.tl.days[0])
	}
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
	for g.left == 0 {
		g.slot++
		g.left = g.tl.slots[g.slot].n
		g.x = 0
	}
	sl := &g.tl.slots[g.slot]
	// Sequential generation of sorted uniforms: the minimum of k uniforms on
	// [x, 1) is 1-(1-x)·U^(1/k). Times are therefore ordered without holding
	// a slot's events in memory.
	g.x = 1 - (1-g.x)*math.Pow(1-g.rng.Float64(), 1/float64(g.left))
	g.left--
	ns := sl.start + int64(g.x*float64(sl.dur))
	ns -= ns % int64(time.Millisecond) // Kafka timestamps have millisecond precision
	g.emitted++
	return g.record(time.Unix(0, ns).UTC(), int(sl.day)), true
}

// NextAt yields one more record, beyond Total, with event time t and the
// rates of the period's last day: the live tail of a demo after its history.
// Use it once Next has returned false, with non-decreasing t (the caller's
// clock, so the generator itself never reads one). Its valid events are
// counted in Stats under t's UTC day.
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
	g.live++
	return g.record(t, d)
}

// record generates the event at time t with the rates of day d, encodes it
// and, with probability InvalidRatio, breaks it.
func (g *Generator) record(t time.Time, d int) Record {
	dy := &g.tl.days[d]
	typ := g.pickType(dy)
	g.fill(typ, t, dy)
	g.buf = event.AppendJSON(g.buf[:0], &g.ev)
	rec := Record{Value: g.buf, Time: t, Type: typ}
	if g.ev.ContactID != "" {
		g.key = append(g.key[:0], g.ev.ContactID...)
		rec.Key = g.key
	}
	if g.cfg.InvalidRatio > 0 && g.irng.Float64() < g.cfg.InvalidRatio {
		rec.Value, rec.Invalid = g.makeInvalid(rec.Value, typ)
		g.invalid[rec.Invalid]++
		return rec
	}
	g.count(d)
	return rec
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

// fill builds the event of type typ at time t into g.ev.
func (g *Generator) fill(typ event.Type, t time.Time, dy *day) {
	ev := &g.ev
	*ev = event.Event{Type: typ, OccurredAt: t, ID: g.newID()}
	r := &dy.r
	switch typ {
	case event.Send:
		s := g.makeSend(dy)
		g.attribute(s)
		ev.Personalization = levelNames[s.level]
		if s.level > levelNone && g.rng.Float64() < r.Explained {
			rs := reasons[s.level]
			ev.Reason = rs[g.rng.IntN(len(rs))]
			ev.Detail = event.DetailExplained
		}
	case event.Delivered, event.FormFill, event.Unsubscribe, event.OptDown,
		event.OptUp, event.PreferenceCenterVisit:
		g.attribute(g.pickRecent(typ == event.FormFill))
	case event.Click:
		g.attribute(g.pickRecent(true))
	case event.Bounce:
		g.attribute(g.pickRecent(false))
		ev.Detail = "soft"
		if g.rng.Float64() < r.HardBounce {
			ev.Detail = "hard"
		}
	case event.Open:
		machine := g.rng.Float64() < r.MachineOpen
		g.attribute(g.pickRecent(!machine)) // machines open everything; people open what interests them
		if machine {
			ev.Detail = event.DetailMachine
		}
	case event.Complaint:
		g.attribute(g.pickBlame(dy))
	case event.Feedback:
		kind := pick(g.rng, r.FeedbackMix[:])
		if kind == 2 { // too_personal
			g.attribute(g.pickBlame(dy))
		} else {
			g.attribute(g.pickRecent(kind == 3))
		}
		ev.Detail = event.FeedbackKinds[kind]
	case event.ConsentChange:
		g.consentChange(r)
	case event.WebSession:
		ev.Channel = channelWeb
		ev.Source = sourceWeb
		ev.Detail = event.TrafficSources[pick(g.rng, r.Traffic[:])]
		if g.rng.Float64() < r.Identified {
			c := g.pickContact(true)
			g.contactFields(c)
		}
	case event.Sentiment:
		s := g.pickRecent(false)
		g.contactFields(s.contact)
		ev.Channel = channelSales
		ev.Source = sourceSales
		score := r.SentimentMean + 0.3*g.rng.NormFloat64()
		ev.Score = math.Round(min(1, max(-1, score))*100) / 100
	}
}

// makeSend chooses a campaign and a recipient and the personalization level,
// and remembers the send for later attribution.
func (g *Generator) makeSend(dy *day) sent {
	u := g.rng.Float64() * dy.campCum[len(dy.campCum)-1]
	ci := dy.campIdx[len(dy.campIdx)-1]
	for i, c := range dy.campCum {
		if u < c {
			ci = dy.campIdx[i]
			break
		}
	}
	c := &g.pop.campaigns[ci]
	var k int32
	if c.segment >= 0 && len(g.pop.bySegment[c.segment]) > 0 && g.rng.Float64() < 0.85 {
		list := g.pop.bySegment[c.segment]
		k = list[g.rng.IntN(len(list))]
	} else {
		k = int32(g.rng.IntN(len(g.pop.contacts)))
	}
	tier := g.pop.contacts[k].tier
	level := c.level
	if level > tier && g.rng.Float64() >= dy.r.Leak {
		level = tier // personalization capped by consent: tier n covers level n
	}
	if dy.r.Beyond > 0 && g.rng.Float64() < dy.r.Beyond {
		level = levelPredictive
	}
	s := sent{contact: k, campaign: ci, level: level}
	g.recent[g.recentNext] = s
	g.recentNext = (g.recentNext + 1) % ringSize
	g.nRecent = min(g.nRecent+1, ringSize)
	if level > tier {
		g.beyond[g.beyondNext] = s
		g.beyondNext = (g.beyondNext + 1) % ringSize
		g.nBeyond = min(g.nBeyond+1, ringSize)
	}
	return s
}

// pickRecent picks a recent send; engaged=true favours contacts with a high
// engagement propensity (opens, clicks and form fills come from the same
// engaged minority).
func (g *Generator) pickRecent(engaged bool) sent {
	s := g.recent[g.rng.IntN(g.nRecent)]
	if engaged {
		for range 4 {
			if g.rng.Float32() < g.pop.contacts[s.contact].prop {
				break
			}
			s = g.recent[g.rng.IntN(g.nRecent)]
		}
	}
	return s
}

// pickBlame picks the send a complaint or "too personal" feedback is about:
// in a scenario that attributes its excess to personalization beyond
// consent, that share comes from such sends.
func (g *Generator) pickBlame(dy *day) sent {
	if dy.attrib > 0 && g.nBeyond > 0 && g.rng.Float64() < dy.attrib {
		return g.beyond[g.rng.IntN(g.nBeyond)]
	}
	return g.pickRecent(false)
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

// attribute sets the contact and campaign dimensions of a follow-up event
// from the send it belongs to.
func (g *Generator) attribute(s sent) {
	c := &g.pop.campaigns[s.campaign]
	g.contactFields(s.contact)
	g.ev.CampaignID = c.id
	g.ev.Channel = c.channel
	g.ev.Source = c.source
	g.ev.Personalization = levelNames[s.level]
}

func (g *Generator) contactFields(k int32) {
	c := &g.pop.contacts[k]
	g.ev.ContactID = c.id
	g.ev.AccountID = g.pop.accounts[c.account]
	g.ev.Segment = segments[c.segment]
	g.ev.ConsentTier = c.tier
}

// consentChange moves a contact's tier up or down by one (from unknown, up
// to basic or behavioural) and records it; later events carry the new tier.
func (g *Generator) consentChange(r *rates) {
	up := g.rng.Float64() < r.ConsentUp
	var k int32
	for range 8 { // find a contact that can move that way
		k = g.pickContact(false)
		t := g.pop.contacts[k].tier
		if (up && t < event.MaxConsentTier) || (!up && t >= 2) {
			break
		}
	}
	c := &g.pop.contacts[k]
	from := c.tier
	to := from
	switch {
	case up && from == 0:
		to = 1 + uint8(g.rng.IntN(2))
	case up && from < event.MaxConsentTier:
		to = from + 1
	case !up && from >= 2:
		to = from - 1
	case from > 0: // no contact found to move that way: move the other way
		to = from - 1
	default:
		to = 1
	}
	g.contactFields(k)
	c.tier = to
	g.ev.Channel = channelWeb
	g.ev.Source = sourceConsent
	g.ev.ConsentTier = to
	g.ev.FromTier, g.ev.ToTier = from, to
	g.ev.Detail = tierPair(from, to)
}

// tierPairs[from][to] is the consent_change detail "<from>-><to>".
var tierPairs = func() (p [event.MaxConsentTier + 1][event.MaxConsentTier + 1]string) {
	for f := range p {
		for t := range p[f] {
			p[f][t] = string([]byte{'0' + byte(f), '-', '>', '0' + byte(t)})
		}
	}
	return p
}()

func tierPair(from, to uint8) string { return tierPairs[from][to] }

// newID returns a random (version 4 layout) UUID from the event stream:
// unique in practice, and reproducible for a seed.
func (g *Generator) newID() string {
	const hex = "0123456789abcdef"
	a, b := g.rng.Uint64(), g.rng.Uint64()
	a = a&^(0xf<<12) | 0x4<<12 // version 4
	b = b&^(0x3<<62) | 0x2<<62 // RFC 4122 variant
	var raw [16]byte
	for i := range 8 {
		raw[i] = byte(a >> (56 - 8*i))
		raw[8+i] = byte(b >> (56 - 8*i))
	}
	j := 0
	for i, x := range raw {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			g.idBuf[j] = '-'
			j++
		}
		g.idBuf[j], g.idBuf[j+1] = hex[x>>4], hex[x&0xf]
		j += 2
	}
	return string(g.idBuf[:])
}
