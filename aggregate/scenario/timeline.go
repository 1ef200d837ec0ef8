package scenario

import (
	"math"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/trustpipe/trustpipe/aggregate/event"
)

// nTypes sizes arrays indexed by event.Type (index 0, TypeInvalid, unused).
const nTypes = int(event.Feedback) + 1

// hourWeights is the diurnal shape of activity by UTC hour: business hours
// dominate, nights are quiet but never empty.
var hourWeights = [24]float64{
	0.30, 0.25, 0.20, 0.20, 0.25, 0.35, 0.55, 0.80, 1.00, 1.10, 1.15, 1.10,
	1.00, 1.05, 1.10, 1.05, 0.95, 0.80, 0.65, 0.55, 0.50, 0.45, 0.40, 0.35,
}

// weekdayWeights by time.Weekday: B2B marketing is quiet at weekends.
var weekdayWeights = [7]float64{0.45, 1.0, 1.1, 1.1, 1.05, 0.9, 0.4}

// day is one UTC calendar day of the period with its rates, the cumulative
// distribution of event types and the campaigns active that day. Rates are
// constant within a day so that drift shows as steps in daily series.
type day struct {
	start   time.Time // UTC midnight
	s       float64   // drift progress in [0, 1]
	r       rates
	typeCum [nTypes]float64 // cumulative type weights, normalised to 1
	campCum []float64       // cumulative weights of active campaigns
	campIdx []int32
	attrib  float64 // share of complaints/too_personal attributed to beyond-consent sends
}

// slot is a stretch of at most one hour inside one day holding n events.
// Slots are hour-aligned so the diurnal profile is applied exactly.
type slot struct {
	start, dur int64 // unix nanoseconds
	n          int
	day        int32
}

type timeline struct {
	days  []day
	slots []slot
}

// typeWeights returns the expected events of each type per send.
func (r *rates) typeWeights() [nTypes]float64 {
	var w [nTypes]float64
	d := r.Delivery
	w[event.Send] = 1
	w[event.Delivered] = d
	w[event.Bounce] = 1 - d
	w[event.Open] = d * r.Open
	w[event.Click] = d * r.Click
	w[event.FormFill] = d * r.Click * r.FormFill
	w[event.Unsubscribe] = d * r.Unsubscribe
	w[event.OptDown] = d * r.OptDown
	w[event.OptUp] = d * r.OptUp
	w[event.PreferenceCenterVisit] = d * r.PrefVisit
	w[event.Complaint] = d * r.Complaint
	w[event.ConsentChange] = d * r.Consent
	w[event.WebSession] = r.Web
	w[event.Sentiment] = r.Sentiment
	w[event.Feedback] = d * r.Feedback
	return w
}

func newTimeline(cfg Config, def *scenarioDef, pop *population, rng *rand.Rand) *timeline {
	end := cfg.End.UnixNano()
	period := int64(cfg.Days) * int64(24*time.Hour)
	begin := end - period
	tl := &timeline{}

	// Days: every UTC calendar day that intersects [begin, end).
	first := time.Unix(0, begin).UTC().Truncate(24 * time.Hour)
	for d := first; d.UnixNano() < end; d = d.Add(24 * time.Hour) {
		lo := max(d.UnixNano(), begin)
		hi := min(d.Add(24*time.Hour).UnixNano(), end)
		f := (float64(lo+hi)/2 - float64(begin)) / float64(period) // mid-day as a fraction of the period
		s := min(1, max(0, (f-(1-def.drift))/def.drift))
		dy := day{start: d, s: s, r: def.from.at(&def.to, s)}
		w := dy.r.typeWeights()
		var sum float64
		for t := range w {
			sum += w[t]
			dy.typeCum[t] = sum
		}
		for t := range dy.typeCum {
			dy.typeCum[t] /= sum
		}
		dy.typeCum[nTypes-1] = 1 // guard against rounding
		if def.attributeBeyond && dy.r.Complaint > def.from.Complaint {
			dy.attrib = 1 - def.from.Complaint/dy.r.Complaint
		}
		var csum float64
		for i, c := range pop.campaigns {
			if f >= c.from && f < c.to {
				csum += c.weight
				dy.campCum = append(dy.campCum, csum)
				dy.campIdx = append(dy.campIdx, int32(i))
			}
		}
		if len(dy.campIdx) == 0 { // the first campaign is always on
			dy.campCum, dy.campIdx = []float64{1}, []int32{0}
		}
		tl.days = append(tl.days, dy)
	}

	// Slots: hour-aligned stretches, weighted by diurnal, weekly and
	// scenario volume, with some day-to-day noise.
	noise := make([]float64, len(tl.days))
	perSend := make([]float64, len(tl.days)) // events per send on that day
	for i := range noise {
		noise[i] = math.Exp(rng.NormFloat64() * 0.07)
		w := tl.days[i].r.typeWeights()
		for _, x := range w {
			perSend[i] += x
		}
	}
	var weights []float64
	var total float64
	for lo := begin; lo < end; {
		hi := min(time.Unix(0, lo).UTC().Truncate(time.Hour).Add(time.Hour).UnixNano(), end)
		t := time.Unix(0, lo).UTC()
		di := int32(t.Sub(first) / (24 * time.Hour))
		dy := &tl.days[di]
		w := float64(hi-lo) / float64(time.Hour) * hourWeights[t.Hour()] * weekdayWeights[t.Weekday()] *
			noise[di] * dy.r.Volume * perSend[di]
		tl.slots = append(tl.slots, slot{start: lo, dur: hi - lo, day: di})
		weights = append(weights, w)
		total += w
		lo = hi
	}
	apportion(cfg.Events, weights, total, tl.slots)
	return tl
}

// apportion distributes n events over slots in proportion to weights with the
// largest-remainder method, so the slot counts sum to exactly n.
func apportion(n int, weights []float64, total float64, slots []slot) {
	type rem struct {
		frac float64
		i    int
	}
	rems := make([]rem, len(slots))
	left := n
	for i, w := range weights {
		q := float64(n) * w / total
		k := int(q)
		slots[i].n = k
		left -= k
		rems[i] = rem{q - float64(k), i}
	}
	sort.Slice(rems, func(a, b int) bool {
		if rems[a].frac != rems[b].frac {
			return rems[a].frac > rems[b].frac
		}
		return rems[a].i < rems[b].i
	})
	for i := 0; left > 0; i = (i + 1) % len(rems) {
		slots[rems[i].i].n++
		left--
	}
	// Floating-point rounding can push the floors past n; take the excess
	// back from the smallest remainders.
	for i := len(rems) - 1; left < 0; i = (i - 1 + len(rems)) % len(rems) {
		if slots[rems[i].i].n > 0 {
			slots[rems[i].i].n--
			left++
		}
	}
}
