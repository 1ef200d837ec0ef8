package aggregate

import (
	"fmt"
	"testing"
	"time"

	"github.com/trustpipe/trustpipe/aggregate/event"
	"github.com/trustpipe/trustpipe/aggregate/indicator"
)

// accountStore simulates the two account tables: ReplacingMergeTree by
// version for the counts, a set for the pullback contacts.
type accountStore struct {
	rows     map[string]AccountRow
	contacts map[AccountContactRow]bool
}

func (s *accountStore) apply(snap *Snapshot) {
	for _, r := range snap.Accounts {
		id := fmt.Sprintf("%v|%v", r.AccountKey, r.BlockRef)
		if old, ok := s.rows[id]; !ok || r.Version >= old.Version {
			s.rows[id] = r
		}
	}
	for _, c := range snap.AccountContacts {
		s.contacts[c] = true
	}
}

// sums returns events and nanos per (day, account, measure).
func (s *accountStore) sums() map[AccountKey][2]int64 {
	out := map[AccountKey][2]int64{}
	for _, r := range s.rows {
		v := out[r.AccountKey]
		out[r.AccountKey] = [2]int64{v[0] + int64(r.Events), v[1] + r.ValueNanos}
	}
	return out
}

// accountEvents: two accounts over two days; which events count under
// which measure is the indicator's definition, checked here by hand.
func accountEvents() []*event.Event {
	day2 := t0.Add(24 * time.Hour)
	mk := func(typ event.Type, account, contact string, at time.Time) *event.Event {
		e := ev(typ, "cmp", at)
		e.AccountID, e.ContactID = account, contact
		return e
	}
	tooPersonal := mk(event.Feedback, "A", "a2", t0)
	tooPersonal.Detail = "too_personal"
	helpful := mk(event.Feedback, "A", "a2", t0)
	helpful.Detail = "helpful"
	predictive := mk(event.Send, "B", "b1", day2)
	predictive.Personalization = "predictive"
	basic := mk(event.Send, "B", "b1", day2)
	basic.Personalization = "basic"
	sour := mk(event.Sentiment, "B", "b1", day2)
	sour.Score = -0.25
	sweet := mk(event.Sentiment, "B", "b2", day2)
	sweet.Score = 0.5
	return []*event.Event{
		mk(event.Delivered, "A", "a1", t0), mk(event.Delivered, "A", "a2", t0),
		mk(event.Unsubscribe, "A", "a1", t0), mk(event.Unsubscribe, "A", "a1", t0), // one contact, twice
		mk(event.OptDown, "A", "a2", t0), mk(event.Complaint, "A", "a3", day2),
		tooPersonal, helpful, predictive, basic, sour, sweet,
		mk(event.Click, "A", "a1", t0),    // no account measure
		mk(event.Delivered, "", "x1", t0), // no account
	}
}

// TestAccountRowsExactUnderRereads: whatever the flush rhythm, restarts and
// re-deliveries, storage holds each account measure's events once, and the
// pullback contacts as a set.
func TestAccountRowsExactUnderRereads(t *testing.T) {
	evs := accountEvents()
	n := int64(len(evs))
	d1, d2 := t0.Truncate(24*time.Hour).Unix(), t0.Truncate(24*time.Hour).Add(24*time.Hour).Unix()
	want := map[AccountKey][2]int64{
		{d1, "A", indicator.AccountDelivered}:      {2, 0},
		{d1, "A", indicator.AccountUnsubscribe}:    {2, 0},
		{d1, "A", indicator.AccountOptDown}:        {1, 0},
		{d2, "A", indicator.AccountComplaint}:      {1, 0},
		{d1, "A", indicator.AccountTooPersonal}:    {1, 0},
		{d2, "B", indicator.AccountPredictiveSend}: {1, 0},
		{d2, "B", indicator.AccountSentiment}:      {2, 250_000_000},
	}
	wantContacts := map[AccountContactRow]bool{
		{d1, "A", indicator.AccountUnsubscribe, "a1"}: true,
		{d1, "A", indicator.AccountOptDown, "a2"}:     true,
		{d2, "A", indicator.AccountComplaint, "a3"}:   true,
		{d1, "A", indicator.AccountTooPersonal, "a2"}: true,
	}
	scripts := map[string][]int64{"straight": nil, "restart from block start": {-1, 0, 1, 2, 3, 4, 5, -1}, "re-delivery": {4, 5}}
	for name, extra := range scripts {
		t.Run(name, func(t *testing.T) {
			a := newAgg(t, 4)
			st := &accountStore{rows: map[string]AccountRow{}, contacts: map[AccountContactRow]bool{}}
			script := []int64{0, 1, 2, 3, 4, 5, -1}
			script = append(script, extra...)
			for off := int64(6); off < n; off++ {
				script = append(script, off)
			}
			for _, off := range append(script, -1) {
				if off < 0 {
					st.apply(a.Snapshot())
					continue
				}
				a.Accept("t", 0, off, t0, evs[off])
			}
			got := st.sums()
			if len(got) != len(want) {
				t.Errorf("%d account keys stored, want %d: %v", len(got), len(want), got)
			}
			for k, w := range want {
				if got[k] != w {
					t.Errorf("%v: events, nanos %v, want %v", k, got[k], w)
				}
			}
			if len(st.contacts) != len(wantContacts) {
				t.Errorf("pullback contacts %v, want %v", st.contacts, wantContacts)
			}
			for c := range wantContacts {
				if !st.contacts[c] {
					t.Errorf("pullback contact %v missing", c)
				}
			}
		})
	}
}
