package scenario

import "github.com/trustpipe/trustpipe/aggregate/event"

// This file makes the consent records: consent_change events that move a
// contact's tier, which its later events carry, and which the contact
// state judges personalized sends against (unsubscribes.go: the contacts
// with a record are the intent sync's targets).

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
	if !c.recorded {
		c.recorded = true
		g.recorded = append(g.recorded, k)
	}
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
