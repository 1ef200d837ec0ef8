package aggregate

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/trustpipe/trustpipe/aggregate/event"
)

// ContactsConfig turns on the per-contact memory behind the "sends that
// should not have happened" signals (README, "Contact state"): which
// contacts unsubscribed from which channel, and the consent tier their
// consent records last gave them, so a later send can be judged against
// them (SendFlags.PostUnsubscribe, SendFlags.ConsentMismatch).
//
// The memory is per partition and keyed by the contact's pseudonym, so it
// sees a contact's events only if they share a partition: producers key
// records by contact id (CONTRACT.md §1). A contact whose unsubscribe sits
// in another partition or topic is not known to the partition of its
// sends; such sends are never flagged (the signals then undercount).
//
// Every decision is a function of the partition's log: the state at an
// offset follows from the state-changing events at lower offsets, and what
// is forgotten is decided by offsets and event times, never by a clock. The
// state after each change is stored per block (ContactBlock), so a read
// starting anywhere loads it back (HistoryQuery, Seed) and decides exactly
// as an uninterrupted read.
type ContactsConfig struct {
	// MaxStates caps the states remembered per partition (one per contact
	// and channel it unsubscribed from, one per contact with a consent
	// record): beyond it the state changed longest ago, by offset, is
	// forgotten. Zero turns the memory, and both signals, off.
	MaxStates int
	// Horizon forgets a state whose last change happened (event time) this
	// long before the partition's newest state change: an unsubscribe not
	// repeated for longer is no longer held against sends.
	Horizon time.Duration
}

// DefaultContactsConfig remembers up to 100 000 states per partition
// (about 32 MB: 320 bytes a state with 64-character pseudonyms, measured
// by TestContactMemoryIsBounded) for 400 days, the default maximum event
// age. Only contacts who unsubscribed or have a consent record take a
// state, so 100 000 per partition covers a database of millions.
func DefaultContactsConfig() ContactsConfig {
	return ContactsConfig{MaxStates: 100_000, Horizon: 400 * 24 * time.Hour}
}

// Enabled reports whether sends are judged against contact state.
func (c ContactsConfig) Enabled() bool { return c.MaxStates > 0 }

// The errors ContactsConfig validation wraps.
var (
	ErrContactStates  = fmt.Errorf("the contact state limit must be from 0 (off) to %d", maxContactStates)
	ErrContactHorizon = errors.New("the contact state horizon must be at least 1h")
)

// maxContactStates keeps the memory of one partition below a few GiB.
const maxContactStates = 10_000_000

func (c ContactsConfig) validate() error {
	if c.MaxStates < 0 || c.MaxStates > maxContactStates {
		return fmt.Errorf("%w: got %d", ErrContactStates, c.MaxStates)
	}
	if c.Enabled() && c.Horizon < time.Hour {
		return fmt.Errorf("%w: got %s", ErrContactHorizon, c.Horizon)
	}
	return nil
}

// UnsubscribeGrace is how long after an unsubscribe a send on its channel
// is still excused: mailbox providers require unsubscribes to be honoured
// within two days (Google's and Yahoo's 2024 sender requirements).
const UnsubscribeGrace = 48 * time.Hour

// Breach kinds (ContactBlock.BreachKinds).
const (
	BreachPostUnsubscribe uint8 = 1 // a send after the contact's unsubscribe grace ran out
	BreachConsentMismatch uint8 = 2 // a personalized send claiming a tier above the recorded one
)

// ContactState is the state of one key after a change: an unsubscribe
// state (Channel set) or a consent state (Channel empty).
type ContactState struct {
	Offset  int64
	Contact string // pseudonym
	// Channel is the channel unsubscribed from; "" for the consent state.
	Channel string
	// Since is, for an unsubscribe state, the event time (Unix s) of the
	// earliest unsubscribe not undone since (0: undone by an opt_up); for
	// the consent state, the event time of the consent_change recorded.
	Since uint32
	// Updated is the event time of the change itself: what Horizon counts from.
	Updated uint32
	// Source is the source of the unsubscribe or consent_change recorded.
	Source string
	// Tier is the consent state's recorded tier (to_tier).
	Tier uint8
}

// ContactBlock holds the contact-state changes and the breaches found in
// one block, in offset order, as far as one read got: one stored row per
// (topic, partition, block), cumulative and versioned like the count rows
// (see IDBlock), so a re-read rewrites the same row. The breaches are
// where the per-source breakdown comes from (the unsubscribe's source is
// no trust_counts dimension); the changes are what a later read loads.
type ContactBlock struct {
	BlockRef
	Base    int64 // Block × BlockSize; offsets are relative to it
	States  []ContactState
	Version int64
	// One entry per breach, parallel arrays.
	BreachOffsets  []uint32
	BreachKinds    []uint8
	BreachTimes    []uint32 // the send's occurred_at, Unix s
	BreachCampaign []string
	BreachChannel  []string
	BreachSource   []string // the sending source
	BreachRecorded []string // the unsubscribe's or the consent record's source
}

// shared returns the block so far for a snapshot (see IDBlock.shared).
func (b *ContactBlock) shared(version int64) ContactBlock {
	n, m := len(b.States), len(b.BreachOffsets)
	return ContactBlock{BlockRef: b.BlockRef, Base: b.Base, States: b.States[:n:n], Version: version,
		BreachOffsets: b.BreachOffsets[:m:m], BreachKinds: b.BreachKinds[:m:m], BreachTimes: b.BreachTimes[:m:m],
		BreachCampaign: b.BreachCampaign[:m:m], BreachChannel: b.BreachChannel[:m:m], BreachSource: b.BreachSource[:m:m],
		BreachRecorded: b.BreachRecorded[:m:m]}
}

// ContactHistory is what a read starting at HistoryQuery.Before loads: the
// newest Updated of every state change stored before it, and the latest
// state of each of the ContactLimit keys changed last before it, in the
// order of those changes (offset, then position in the block).
type ContactHistory struct {
	Newest uint32
	States []ContactState
}

type contactKey struct {
	contact, channel string
}

// contactEntry is one remembered state, linked in the order of the changes
// (least recent first) so the cap forgets the one changed longest ago.
type contactEntry struct {
	key            contactKey
	since, updated uint32
	source         string
	tier           uint8
	prev, next     *contactEntry
}

// contactState is one partition's contact memory.
type contactState struct {
	keys       map[contactKey]*contactEntry
	head, tail *contactEntry // head: changed longest ago
	// newest is the newest Updated of any change: expiry counts from it,
	// so it only grows and an expired state never comes back.
	newest uint32
}

func newContactState() *contactState {
	return &contactState{keys: make(map[contactKey]*contactEntry)}
}

// live returns the state of k unless it is absent or past the horizon.
func (s *contactState) live(k contactKey, horizon uint32) *contactEntry {
	e := s.keys[k]
	if e == nil || s.expired(e, horizon) {
		return nil
	}
	return e
}

func (s *contactState) expired(e *contactEntry, horizon uint32) bool {
	return s.newest >= horizon && e.updated <= s.newest-horizon
}

// set stores st as the latest state of its key, most recent in the order,
// and forgets beyond the cap and, from the front, past the horizon. It
// returns how many states it forgot by cap and by horizon.
func (s *contactState) set(st *ContactState, limit int, horizon uint32) (capped, aged uint64) {
	k := contactKey{st.Contact, st.Channel}
	e := s.keys[k]
	if e != nil {
		s.unlink(e)
	} else {
		k.contact, k.channel = strings.Clone(k.contact), strings.Clone(k.channel)
		e = &contactEntry{key: k}
		s.keys[k] = e
	}
	e.since, e.updated, e.source, e.tier = st.Since, st.Updated, strings.Clone(st.Source), st.Tier
	s.push(e)
	s.newest = max(s.newest, st.Updated)
	for len(s.keys) > limit {
		s.drop(s.head)
		capped++
	}
	for s.head != nil && s.expired(s.head, horizon) {
		s.drop(s.head)
		aged++
	}
	return capped, aged
}

func (s *contactState) push(e *contactEntry) {
	e.prev, e.next = s.tail, nil
	if s.tail != nil {
		s.tail.next = e
	} else {
		s.head = e
	}
	s.tail = e
}

func (s *contactState) unlink(e *contactEntry) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		s.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		s.tail = e.prev
	}
	e.prev, e.next = nil, nil
}

func (s *contactState) drop(e *contactEntry) {
	s.unlink(e)
	delete(s.keys, e.key)
}

// judgeContact applies a counted event to its partition's contact memory:
// it flags a send that breaches a remembered state (rewriting its Detail)
// and records the breach, or records the state an unsubscribe, an opt_up
// undoing one, or a consent_change leaves.
//
// The rules, all in event time (occurred_at):
//   - An unsubscribe makes the contact unsubscribed from its channel since
//     its time, or since an earlier unsubscribe still standing.
//   - An opt_up on that channel later than the standing unsubscribe undoes
//     it (the contact asked for messages again).
//   - A send on the channel is a post-unsubscribe send when it is
//     UnsubscribeGrace or more after the standing unsubscribe.
//   - A consent_change records its to_tier, unless a consent_change with a
//     later event time was recorded before it.
//   - A personalized send (basic, behavioral or predictive) is a consent
//     mismatch when it claims a consent_tier above the recorded tier, the
//     record being at or before the send. The recorded tier, not the tier
//     other events carry, is the reference: those tiers are claims of the
//     systems that emitted them — the very claims being checked — while a
//     consent_change is the consent system's own record. A contact without
//     a record, or with a record of tier 0 (unknown), is not judged.
func (a *Aggregator) judgeContact(b *blockState, offset int64, ev *event.Event) {
	s := a.lastPart.contacts
	if s == nil || ev.ContactID == "" {
		return
	}
	horizon := uint32(a.cfg.Contacts.Horizon / time.Second)
	at := uint32(recordSecs(ev.OccurredAt))
	switch ev.Type {
	case event.Send:
		var breach [2]*contactEntry
		if u := s.live(contactKey{ev.ContactID, ev.Channel}, horizon); u != nil && u.since > 0 &&
			int64(at) >= int64(u.since)+int64(UnsubscribeGrace/time.Second) {
			breach[0] = u
		}
		if c := s.live(contactKey{ev.ContactID, ""}, horizon); c != nil && c.tier > 0 && c.since <= at &&
			ev.ConsentTier > c.tier && personalizedLevel(ev.Personalization) {
			breach[1] = c
		}
		if breach[0] == nil && breach[1] == nil {
			return
		}
		f := ev.Flags()
		f.PostUnsubscribe, f.ConsentMismatch = breach[0] != nil, breach[1] != nil
		ev.Detail = f.Detail()
		for i, e := range breach {
			if e != nil {
				a.recordBreach(b, offset, BreachPostUnsubscribe+uint8(i), at, ev, e.source)
			}
		}
	case event.Unsubscribe:
		st := ContactState{Contact: ev.ContactID, Channel: ev.Channel, Since: at, Updated: at, Source: ev.Source}
		if u := s.live(contactKey{ev.ContactID, ev.Channel}, horizon); u != nil && u.since > 0 && u.since <= at {
			st.Since, st.Source = u.since, u.source // the earlier unsubscribe still stands
		}
		a.recordState(b, s, offset, &st)
	case event.OptUp:
		if u := s.live(contactKey{ev.ContactID, ev.Channel}, horizon); u != nil && u.since > 0 && at > u.since {
			a.recordState(b, s, offset, &ContactState{Contact: ev.ContactID, Channel: ev.Channel, Updated: at, Source: ev.Source})
		}
	case event.ConsentChange:
		st := ContactState{Contact: ev.ContactID, Since: at, Updated: at, Source: ev.Source, Tier: ev.ToTier}
		if c := s.live(contactKey{ev.ContactID, ""}, horizon); c != nil && c.since > at {
			st.Since, st.Source, st.Tier = c.since, c.source, c.tier // a later record was already read
		}
		a.recordState(b, s, offset, &st)
	}
}

// personalizedLevel reports whether a send's personalization counts as
// personalized (indicator: personalized sends are basic, behavioral or
// predictive).
func personalizedLevel(p string) bool {
	return p != "" && p != "none"
}

// recordState applies a state change and stores it in block b.
func (a *Aggregator) recordState(b *blockState, s *contactState, offset int64, st *ContactState) {
	capped, aged := s.set(st, a.cfg.Contacts.MaxStates, uint32(a.cfg.Contacts.Horizon/time.Second))
	a.forgotCap += capped
	a.forgotAge += aged
	st.Offset = offset
	st.Contact, st.Channel, st.Source = strings.Clone(st.Contact), strings.Clone(st.Channel), strings.Clone(st.Source)
	b.states.States = append(b.states.States, *st)
	a.markStates(b)
}

func (a *Aggregator) recordBreach(b *blockState, offset int64, kind uint8, at uint32, ev *event.Event, recorded string) {
	c := &b.states
	c.BreachOffsets = append(c.BreachOffsets, uint32(offset-c.Base))
	c.BreachKinds = append(c.BreachKinds, kind)
	c.BreachTimes = append(c.BreachTimes, at)
	c.BreachCampaign = append(c.BreachCampaign, strings.Clone(ev.CampaignID))
	c.BreachChannel = append(c.BreachChannel, strings.Clone(ev.Channel))
	c.BreachSource = append(c.BreachSource, strings.Clone(ev.Source))
	c.BreachRecorded = append(c.BreachRecorded, recorded)
	a.markStates(b)
}

func (a *Aggregator) markStates(b *blockState) {
	if !b.statesDirty {
		b.statesDirty = true
		a.pending++
	}
}

// seedContacts builds a partition's contact memory from its stored history.
func (a *Aggregator) seedContacts(h ContactHistory) *contactState {
	s := newContactState()
	s.newest = h.Newest
	horizon := uint32(a.cfg.Contacts.Horizon / time.Second)
	for i := range h.States {
		st := h.States[i]
		// Forgetting while seeding is no news: the read that stored these
		// states counted it.
		s.set(&st, a.cfg.Contacts.MaxStates, horizon)
	}
	return s
}

// ContactStates is the number of contact states held, over all partitions
// (expired ones not yet dropped included): what the memory is
// proportional to, about 320 bytes each.
func (a *Aggregator) ContactStates() int {
	n := 0
	for _, p := range a.partitions {
		if p.contacts != nil {
			n += len(p.contacts.keys)
		}
	}
	return n
}

// ContactsForgotten counts the contact states forgotten so far because
// the cap was reached and because they passed the horizon. A state
// forgotten by the cap may still matter: the sends it would have flagged
// are then not flagged (raise the cap).
func (a *Aggregator) ContactsForgotten() (byCap, byHorizon uint64) { return a.forgotCap, a.forgotAge }
