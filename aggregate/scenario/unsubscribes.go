package scenario

import (
	"time"

	"github.com/trustpipe/trustpipe/aggregate/event"
)

// This file keeps the programme honest about unsubscribes, and lets the
// ignored-unsubscribes scenario break the rule on purpose: a send to a
// contact who unsubscribed from its channel is replaced by a send to the
// next contact who did not, except the legacy platform's, which mails
// contacts who unsubscribed more than two days before; and an intent-data
// sync claims consent tier 3 for contacts whose consent record says less.

// The sources of the sends that should not have happened.
const (
	sourceLegacy = "legacy-esp"  // ignores unsubscribes recorded elsewhere
	sourceIntent = "intent-sync" // claims a consent tier the record does not give
)

// Rogue sends (sent.rogue bits).
const (
	rogueUnsubscribed uint8 = 1 << iota // to a contact unsubscribed from its channel
	rogueOverclaim                      // claims tier 3 above the recorded tier
)

// unsubGrace is how long after an unsubscribe a send is still excused
// (aggregate.UnsubscribeGrace); the legacy platform mails only contacts
// unsubscribed for longer, so each of its sends is a breach.
const unsubGrace = int64(48 * time.Hour)

// unsubState is when a contact unsubscribed from a channel (the earliest
// standing unsubscribe) and when it last opted up there, Unix ns.
type unsubState struct{ at, optUp int64 }

func unsubKey(k int32, ch uint8) uint64 { return uint64(k)<<8 | uint64(ch) }

// noteFollowUp records a scheduled unsubscribe or opt-up of send s.
func (g *Generator) noteFollowUp(s sent, k kind, at int64) {
	if at < g.tl.begin || at >= g.tl.end {
		return // not emitted
	}
	key := unsubKey(s.contact, g.pop.campaigns[s.campaign].channel)
	u, ok := g.unsubs[key]
	switch {
	case k == kUnsubscribe && (!ok || at < u.at):
		if !ok {
			g.unsubList = append(g.unsubList, key)
		}
		u.at = at
		g.unsubs[key] = u
	case k == kOptUp && ok && at > u.at:
		u.optUp = max(u.optUp, at)
		g.unsubs[key] = u
	}
}

// unsubscribedSince reports whether contact k stands unsubscribed from ch
// at t since at least t-grace.
func (g *Generator) unsubscribedSince(k int32, ch uint8, t, grace int64) bool {
	u, ok := g.unsubs[unsubKey(k, ch)]
	return ok && u.at <= t-grace && !(u.optUp > u.at && u.optUp <= t)
}

// honour replaces recipient k of a send on ch at t by the next contact not
// unsubscribed from ch with the same consent tier, mailbox provider and
// place in or out of the day's engaged audience: those decide which random
// numbers the send and its follow-ups draw, so honouring unsubscribes
// changes who receives a message but not the stream's random draws — and
// none of the other scenarios' rates.
func (g *Generator) honour(dy *day, k int32, ch uint8, t int64) int32 {
	n := int32(len(g.pop.contacts))
	want := &g.pop.contacts[k]
	inAudience := want.rank < int32(dy.audience)
	for i, c := int32(0), k; i < n; i, c = i+1, (c+1)%n {
		x := &g.pop.contacts[c]
		if x.tier == want.tier && x.mailbox == want.mailbox && (x.rank < int32(dy.audience)) == inAudience && !g.unsubscribedSince(c, ch, t, 0) {
			return c
		}
	}
	return k // everyone like k left the channel: k it is
}

// rogue decides whether a send of campaign ci at t is one that should not
// have happened, and to whom: a contact unsubscribed from the campaign's
// channel for longer than the grace (the legacy platform), or a contact
// whose recorded consent tier is below 3 (the intent sync). ok is false
// for an ordinary send. No random number is drawn unless the day's rates
// have rogue sends, so the streams of the other scenarios do not change.
func (g *Generator) rogue(dy *day, ci int32, t int64) (k int32, bits uint8, ok bool) {
	r := &dy.r
	if r.IgnoreUnsub <= 0 && r.Overclaim <= 0 {
		return 0, 0, false
	}
	ch := g.pop.campaigns[ci].channel
	if g.chance(r.IgnoreUnsub) && len(g.unsubList) > 0 {
		for range 32 { // a few tries; a miss makes an ordinary send
			key := g.unsubList[g.rng.IntN(len(g.unsubList))]
			if k := int32(key >> 8); uint8(key) == ch && g.unsubscribedSince(k, ch, t, unsubGrace) {
				return k, rogueUnsubscribed, true
			}
		}
	}
	if g.chance(r.Overclaim) && len(g.recorded) > 0 {
		for range 32 { // a few tries; a miss makes an ordinary send
			k := g.recorded[g.rng.IntN(len(g.recorded))]
			if c := &g.pop.contacts[k]; c.tier > 0 && c.tier < event.MaxConsentTier && !g.unsubscribedSince(k, ch, t, 0) {
				return k, rogueOverclaim, true
			}
		}
	}
	return 0, 0, false
}

// markRogue gives a rogue send's event its source and claimed tier.
func (g *Generator) markRogue(s sent) {
	switch {
	case s.rogue&rogueUnsubscribed != 0:
		g.ev.Source = sourceLegacy
	case s.rogue&rogueOverclaim != 0:
		g.ev.Source = sourceIntent
		g.ev.ConsentTier = event.MaxConsentTier
	}
}
