package aggregate

import (
	"strings"

	"github.com/trustpipe/trustpipe/aggregate/event"
	"github.com/trustpipe/trustpipe/aggregate/indicator"
)

// AccountKey is one account, UTC day and measure (indicator.AccountMeasures)
// of the per-account counts: account-based marketing judges a company, so
// its deliveries, pullbacks and sentiment are kept per account.
type AccountKey struct {
	Day     int64  // Unix seconds of the UTC day start (of occurred_at)
	Account string // pseudonym, never a raw id
	Measure string
}

// AccountRow is a cumulative count for an AccountKey within a block,
// versioned like CountRow, so re-reads and replays replace it exactly.
type AccountRow struct {
	AccountKey
	BlockRef
	Events     uint64
	ValueNanos int64 // sum of sentiment scores in ScoreScale units
	Version    int64
}

// AccountContactRow records that a pseudonymized contact of an account
// pulled back (indicator.IsPullback measure) on a UTC day; storage counts
// distinct contacts, which the account alarm rule is about. A set row: a
// re-read writes the same row again.
type AccountContactRow struct {
	Day     int64
	Account string
	Measure string
	Contact string
}

type accountEntry struct {
	key   AccountKey
	n     uint64
	nanos int64
	dirty bool
}

// accountState is a block's account rows.
type accountState struct {
	index       map[AccountKey]int32
	entries     []accountEntry
	dirty       []int32
	contacts    map[AccountContactRow]struct{}
	newContacts []AccountContactRow
}

func newAccountState() accountState {
	return accountState{index: make(map[AccountKey]int32), contacts: make(map[AccountContactRow]struct{})}
}

// addAccount counts ev on its account (the pipeline has pseudonymized
// AccountID and ContactID) and returns the rows it made pending.
func (s *accountState) add(ev *event.Event, day int64) (pending int) {
	m := indicator.AccountMeasure(ev)
	if m == "" {
		return 0
	}
	key := AccountKey{Day: day, Account: ev.AccountID, Measure: m}
	i, ok := s.index[key]
	if !ok {
		key.Account = strings.Clone(key.Account) // decoded strings alias the record
		i = int32(len(s.entries))
		s.entries = append(s.entries, accountEntry{key: key})
		s.index[key] = i
	}
	e := &s.entries[i]
	e.n++
	if ev.Type == event.Sentiment {
		e.nanos += scoreUnits(ev.Score)
	}
	if !e.dirty {
		e.dirty = true
		s.dirty = append(s.dirty, i)
		pending++
	}
	if ev.ContactID == "" || !indicator.IsPullback(m) {
		return pending
	}
	row := AccountContactRow{Day: day, Account: ev.AccountID, Measure: m, Contact: ev.ContactID}
	if _, seen := s.contacts[row]; seen {
		return pending
	}
	row.Account, row.Contact = strings.Clone(row.Account), strings.Clone(row.Contact)
	s.contacts[row] = struct{}{}
	s.newContacts = append(s.newContacts, row)
	return pending + 1
}

func (s *accountState) pendingRows() int { return len(s.dirty) + len(s.newContacts) }

// snapshot appends the rows changed since the last snapshot.
func (s *accountState) snapshot(snap *Snapshot, ref BlockRef, version int64) {
	for _, i := range s.dirty {
		e := &s.entries[i]
		e.dirty = false
		snap.Accounts = append(snap.Accounts, AccountRow{AccountKey: e.key, BlockRef: ref, Events: e.n, ValueNanos: e.nanos, Version: version})
	}
	s.dirty = s.dirty[:0]
	snap.AccountContacts = append(snap.AccountContacts, s.newContacts...)
	s.newContacts = s.newContacts[:0]
}

func (s *accountState) reset() {
	clear(s.index)
	clear(s.contacts)
	s.entries, s.dirty, s.newContacts = s.entries[:0], s.dirty[:0], s.newContacts[:0]
}
