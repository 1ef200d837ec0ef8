package scenario

import (
	"time"

	"github.com/trustpipe/trustpipe/aggregate/event"
)

// Stats describes what a Generator has yielded so far. Tests use it as an
// oracle that is independent of the pipeline: it is counted while
// generating, not by decoding the records.
type Stats struct {
	Records int // records yielded (valid + invalid + duplicates)
	Valid   int // valid records, each event once
	// Duplicates are re-sent copies of valid records (Config.DuplicateRatio);
	// a pipeline that counts each event once counts Valid events, one that
	// does not counts Valid + Duplicates.
	Duplicates int
	Invalid    map[event.Reason]int // invalid records by the reason they are built to trigger
	// Days has one entry per UTC calendar day of the period, ascending,
	// counting valid events once (and their duplicates apart).
	Days []DayStats
}

// DetailKey is a (type, detail) pair, detail as in event.Event.Detail and
// trust_counts.detail.
type DetailKey struct {
	Type   event.Type
	Detail string
}

// DayStats counts the valid events of one UTC day.
type DayStats struct {
	Day    time.Time          // UTC midnight
	Events int                // valid events
	Types  map[event.Type]int // valid events by type
	// Details counts valid events with a non-empty detail (bounce and
	// feedback kinds, traffic sources, consent transitions, machine opens,
	// explained sends).
	Details map[DetailKey]int
	// Duplicates counts re-sent copies of the day's valid events by type.
	Duplicates map[event.Type]int
	ScoreSum   float64 // sum of sentiment scores
	// Sends by personalization: personalized (level other than none),
	// explained (with a reason) and covered (level within the consent tier:
	// basic needs tier >= 1, behavioral >= 2, predictive 3).
	PersonalizedSends, ExplainedSends, CoveredSends int
}

// Count returns the number of valid events of type t over all days.
func (s *Stats) Count(t event.Type) int {
	n := 0
	for i := range s.Days {
		n += s.Days[i].Types[t]
	}
	return n
}

// InvalidTotal returns the number of invalid records.
func (s *Stats) InvalidTotal() int {
	n := 0
	for _, v := range s.Invalid {
		n += v
	}
	return n
}

type dayStats struct {
	events  int
	types   [nTypes]int
	dups    [nTypes]int
	details map[DetailKey]int
	score   float64
	pers    int
	expl    int
	covered int
}

// count records g.ev as a valid event of day d.
func (g *Generator) count(d int) {
	ds := &g.stats[d]
	ev := &g.ev
	ds.events++
	ds.types[ev.Type]++
	if ev.Detail != "" {
		ds.details[DetailKey{ev.Type, ev.Detail}]++
	}
	switch ev.Type {
	case event.Sentiment:
		ds.score += ev.Score
	case event.Send:
		if lv := levelIndex(ev.Personalization); lv > levelNone {
			ds.pers++
			if ev.Reason != "" {
				ds.expl++
			}
			if uint8(lv) <= ev.ConsentTier {
				ds.covered++
			}
		}
	}
}

func levelIndex(s string) int {
	for i, n := range levelNames {
		if n == s {
			return i
		}
	}
	return levelNone
}

// Stats returns a snapshot of what has been generated so far.
func (g *Generator) Stats() Stats {
	st := Stats{Records: g.Done(), Invalid: make(map[event.Reason]int, len(g.invalid))}
	for r, n := range g.invalid {
		st.Invalid[r] = n
	}
	for i, ds := range g.stats {
		d := DayStats{
			Day:               g.tl.days[i].start,
			Events:            ds.events,
			Types:             map[event.Type]int{},
			Duplicates:        map[event.Type]int{},
			Details:           make(map[DetailKey]int, len(ds.details)),
			ScoreSum:          ds.score,
			PersonalizedSends: ds.pers,
			ExplainedSends:    ds.expl,
			CoveredSends:      ds.covered,
		}
		for t, n := range ds.types {
			if n > 0 {
				d.Types[event.Type(t)] = n
			}
		}
		for t, n := range ds.dups {
			if n > 0 {
				d.Duplicates[event.Type(t)] = n
				st.Duplicates += n
			}
		}
		for k, n := range ds.details {
			d.Details[k] = n
		}
		st.Days = append(st.Days, d)
	}
	st.Valid = st.Records - st.InvalidTotal() - st.Duplicates
	return st
}
