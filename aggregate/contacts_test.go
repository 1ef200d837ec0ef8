package aggregate

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/trustpipe/trustpipe/aggregate/event"
)

func newContactAgg(t *testing.T, block int64, limit int, horizon time.Duration) *Aggregator {
	t.Helper()
	a, err := New(Config{BucketSize: time.Minute, BlockSize: block, Contacts: ContactsConfig{MaxStates: limit, Horizon: horizon}})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

var c0 = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// cev is one event of a contact-state test: hours after c0.
type cev struct {
	typ     event.Type
	contact string
	channel string
	hours   float64
	source  string
	tier    uint8  // consent_tier claimed (send) or to_tier (consent_change)
	pers    string // personalization of a send
}

func (c cev) event(id int) *event.Event {
	ev := &event.Event{ID: fmt.Sprint(id), Type: c.typ, ContactID: c.contact, Channel: cmp.Or(c.channel, "email"),
		OccurredAt: c0.Add(time.Duration(c.hours * float64(time.Hour))), Source: c.source, CampaignID: "camp"}
	switch c.typ {
	case event.Send:
		ev.ConsentTier, ev.Personalization = c.tier, c.pers
		ev.Detail = ev.Flags().Detail()
	case event.ConsentChange:
		ev.ToTier = c.tier
		ev.Detail = fmt.Sprintf("0->%d", c.tier)
	}
	return ev
}

// sendFlags runs evs through a and returns each send's Detail by offset.
func sendFlags(a *Aggregator, evs []cev, from int64) map[int64]string {
	out := map[int64]string{}
	for off := from; off < int64(len(evs)); off++ {
		ev := evs[off].event(int(off))
		a.Accept("t", 0, off, c0, ev)
		if ev.Type == event.Send {
			out[off] = ev.Detail
		}
	}
	return out
}

func TestContactRules(t *testing.T) {
	send := func(h float64) cev {
		return cev{typ: event.Send, contact: "a", hours: h, source: "mailer", pers: "none"}
	}
	psend := func(h float64, tier uint8) cev {
		return cev{typ: event.Send, contact: "a", hours: h, source: "crm", tier: tier, pers: "predictive"}
	}
	unsub := func(h float64) cev { return cev{typ: event.Unsubscribe, contact: "a", hours: h, source: "prefs"} }
	consent := func(h float64, tier uint8) cev {
		return cev{typ: event.ConsentChange, contact: "a", hours: h, source: "cmp", tier: tier}
	}
	cases := []struct {
		name string
		evs  []cev
		want []string // Detail of each send, in order
	}{
		{"within the grace", []cev{unsub(0), send(47.9)}, []string{""}},
		{"after the grace", []cev{unsub(0), send(48), send(100)}, []string{"post_unsubscribe", "post_unsubscribe"}},
		{"other channel", []cev{unsub(0), {typ: event.Send, contact: "a", channel: "sms", hours: 50}}, []string{""}},
		{"other contact", []cev{unsub(0), {typ: event.Send, contact: "b", hours: 50}}, []string{""}},
		{"send dated before the unsubscribe", []cev{unsub(100), send(10)}, []string{""}},
		{"opt_up undoes it", []cev{unsub(0), {typ: event.OptUp, contact: "a", hours: 10}, send(50)}, []string{""}},
		{"opt_up dated before it does not", []cev{unsub(20), {typ: event.OptUp, contact: "a", hours: 10}, send(80)}, []string{"post_unsubscribe"}},
		{"the earliest standing unsubscribe counts", []cev{unsub(0), unsub(40), send(50)}, []string{"post_unsubscribe"}},
		{"unsubscribe read after the send", []cev{send(50), unsub(0)}, []string{""}},
		{"claim above the record", []cev{consent(0, 1), psend(1, 3)}, []string{"consent_mismatch"}},
		{"claim at the record", []cev{consent(0, 3), psend(1, 3)}, []string{""}},
		{"not personalized", []cev{consent(0, 1), {typ: event.Send, contact: "a", hours: 1, tier: 3, pers: "none"}}, []string{""}},
		{"no record", []cev{psend(1, 3)}, []string{""}},
		{"record of tier 0 (unknown)", []cev{consent(0, 0), psend(1, 3)}, []string{""}},
		{"record after the send", []cev{consent(5, 1), psend(1, 3)}, []string{""}},
		{"latest record by event time", []cev{consent(10, 3), consent(5, 1), psend(20, 3)}, []string{""}},
		{"downgrade then claim", []cev{consent(0, 3), consent(5, 1), psend(20, 2)}, []string{"consent_mismatch"}},
		{"both", []cev{consent(0, 1), unsub(0), psend(60, 3)}, []string{"post_unsubscribe+consent_mismatch"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := newContactAgg(t, 100, 100, 400*24*time.Hour)
			got := sendFlags(a, c.evs, 0)
			var details []string
			for off := range int64(len(c.evs)) {
				if d, ok := got[off]; ok {
					details = append(details, d)
				}
			}
			if !slices.Equal(details, c.want) {
				t.Errorf("send details %q, want %q", details, c.want)
			}
		})
	}
}

// TestContactBreachRows: a breach row names the sending source and the
// source of the record it breaches.
func TestContactBreachRows(t *testing.T) {
	a := newContactAgg(t, 100, 100, 400*24*time.Hour)
	sendFlags(a, []cev{
		{typ: event.Unsubscribe, contact: "a", source: "prefs"},
		{typ: event.ConsentChange, contact: "a", source: "cmp", tier: 1},
		{typ: event.Send, contact: "a", hours: 72, source: "blaster", tier: 2, pers: "basic"},
	}, 0)
	s := a.Snapshot()
	if len(s.ContactStates) != 1 {
		t.Fatalf("%d contact blocks, want 1", len(s.ContactStates))
	}
	b := s.ContactStates[0]
	if len(b.States) != 2 || b.States[0].Channel != "email" || b.States[1].Channel != "" || b.States[1].Tier != 1 {
		t.Errorf("states %+v", b.States)
	}
	want := []string{"blaster<-prefs", "blaster<-cmp"}
	var got []string
	for i := range b.BreachOffsets {
		got = append(got, b.BreachSource[i]+"<-"+b.BreachRecorded[i])
	}
	if !slices.Equal(got, want) || !slices.Equal(b.BreachKinds, []uint8{BreachPostUnsubscribe, BreachConsentMismatch}) {
		t.Errorf("breaches %q kinds %v, want %q", got, b.BreachKinds, want)
	}
	counted := 0
	for _, r := range s.Counts {
		if r.EventType == event.Send && r.Detail == "post_unsubscribe+consent_mismatch" {
			counted += int(r.Events)
		}
	}
	if counted != 1 {
		t.Errorf("the send is counted under its flags %d times, want 1", counted)
	}
}

// storedContacts answers the contact part of a HistoryQuery from the rows
// a run stored, as the sink does: the highest version per block; per key
// the latest state before q.Before; the ContactLimit keys changed last.
type storedContacts map[int64]ContactBlock

func (s storedContacts) apply(snap *Snapshot) {
	for _, r := range snap.ContactStates {
		if old, ok := s[r.Block]; !ok || r.Version >= old.Version {
			s[r.Block] = r
		}
	}
}

func (s storedContacts) load(q HistoryQuery) History {
	var h History
	type pos struct {
		block int64
		i     int
	}
	latest := map[contactKey]pos{}
	for blk, r := range s {
		for i, st := range r.States {
			if st.Offset >= q.Before {
				continue
			}
			h.Contacts.Newest = max(h.Contacts.Newest, st.Updated)
			k := contactKey{st.Contact, st.Channel}
			if p, ok := latest[k]; !ok || p.block < blk || (p.block == blk && p.i < i) {
				latest[k] = pos{blk, i}
			}
		}
	}
	var ps []pos
	for _, p := range latest {
		ps = append(ps, p)
	}
	slices.SortFunc(ps, func(x, y pos) int { return cmp.Or(cmp.Compare(x.block, y.block), cmp.Compare(x.i, y.i)) })
	if len(ps) > q.ContactLimit {
		ps = ps[len(ps)-q.ContactLimit:]
	}
	for _, p := range ps {
		h.Contacts.States = append(h.Contacts.States, s[p.block].States[p.i])
	}
	return h
}

// TestContactStateIsDeterministicAcrossReads checks, on random streams of
// unsubscribes, opt-ups, consent records and sends over few contacts —
// with a cap and a horizon small enough to forget often — that a read
// restarted at any block start or mid-block from the stored states flags
// every later send exactly as the uninterrupted read, and that the flags
// of a read with room for everything equal an oracle computed from the
// events alone.
func TestContactStateIsDeterministicAcrossReads(t *testing.T) {
	const block = 10
	types := []event.Type{event.Send, event.Send, event.Send, event.Unsubscribe, event.OptUp, event.ConsentChange}
	pers := []string{"none", "basic", "predictive"}
	var byCap, byHorizon uint64
	defer func() {
		if byCap == 0 || byHorizon == 0 {
			t.Errorf("forgot %d states by cap and %d by horizon: the test must exercise both", byCap, byHorizon)
		}
	}()
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 2))
		evs := make([]cev, 400)
		clock := 0.0
		for i := range evs {
			clock += rng.Float64() * 3
			h := clock
			if rng.IntN(10) == 0 {
				h -= rng.Float64() * 100 // out of order
			}
			evs[i] = cev{typ: types[rng.IntN(len(types))], contact: fmt.Sprint("c", rng.IntN(12)), channel: []string{"email", "sms"}[rng.IntN(2)],
				hours: h, source: fmt.Sprint("s", rng.IntN(3)), tier: uint8(rng.IntN(4)), pers: pers[rng.IntN(3)]}
		}
		if got, want := sendFlags(newContactAgg(t, block, 1000, 10000*time.Hour), evs, 0), contactOracle(evs); !mapsEqual(got, want) {
			t.Errorf("seed %d: flags differ from the oracle:\n got %v\nwant %v", seed, got, want)
		}

		limit, horizon := 2+rng.IntN(10), time.Duration(50+rng.IntN(200))*time.Hour
		if seed%2 == 0 {
			limit = 1000 // the horizon alone forgets
		}
		full := newContactAgg(t, block, limit, horizon)
		st := storedContacts{}
		want := map[int64]string{}
		for off := range int64(len(evs)) {
			for o, d := range sendFlags1(full, evs, off) {
				want[o] = d
			}
			if rng.IntN(7) == 0 {
				st.apply(full.Snapshot())
			}
		}
		st.apply(full.Snapshot())
		c, h := full.ContactsForgotten()
		byCap, byHorizon = byCap+c, byHorizon+h
		for _, start := range []int64{block, 5 * block, 5*block + 3, 17 * block, 29*block + 9} {
			a := newContactAgg(t, block, limit, horizon)
			if !a.NeedsHistory("t", 0, start) {
				t.Fatal("a new partition needs its history")
			}
			q := a.HistoryQuery("t", 0, start)
			a.Seed(q, st.load(q))
			if a.NeedsHistory("t", 0, start) {
				t.Fatal("a seeded partition needs no history")
			}
			for off, d := range sendFlags(a, evs, start) {
				if want[off] != d {
					t.Errorf("seed %d, restart at %d: send at %d is %q, want %q", seed, start, off, d, want[off])
				}
			}
		}
	}
}

func sendFlags1(a *Aggregator, evs []cev, off int64) map[int64]string {
	ev := evs[off].event(int(off))
	a.Accept("t", 0, off, c0, ev)
	if ev.Type != event.Send {
		return nil
	}
	return map[int64]string{off: ev.Detail}
}

func mapsEqual(a, b map[int64]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// contactOracle applies the documented rules to each send by scanning the
// events before it (nothing forgotten): the standing unsubscribe of its
// contact and channel, and the latest consent record by event time.
func contactOracle(evs []cev) map[int64]string {
	out := map[int64]string{}
	for i, s := range evs {
		if s.typ != event.Send {
			continue
		}
		var since int64
		standing := false
		recorded, recAt, haveRec := uint8(0), int64(0), false
		for _, e := range evs[:i] {
			if e.contact != s.contact {
				continue
			}
			at := secs(e.hours)
			switch {
			case e.typ == event.Unsubscribe && e.channel == s.channel:
				if !standing || at < since {
					since = at
				}
				standing = true
			case e.typ == event.OptUp && e.channel == s.channel && standing && at > since:
				standing = false
			case e.typ == event.ConsentChange && (!haveRec || at >= recAt):
				recorded, recAt, haveRec = e.tier, at, true
			}
		}
		at := secs(s.hours)
		f := event.SendFlags{
			PostUnsubscribe: standing && at >= since+48*3600,
			ConsentMismatch: haveRec && recorded > 0 && recAt <= at && s.tier > recorded && s.pers != "none",
		}
		out[int64(i)] = f.Detail()
	}
	return out
}

// secs is event time as the aggregator holds it: whole Unix seconds.
func secs(h float64) int64 { return c0.Add(time.Duration(h * float64(time.Hour))).Unix() }

// TestContactMemoryIsBounded: however many contacts unsubscribe, a
// partition holds at most MaxStates states, and what it forgot is counted.
// It logs the heap per state (the README's figure).
func TestContactMemoryIsBounded(t *testing.T) {
	const limit, n = 100_000, 300_000
	a := newContactAgg(t, 10_000, limit, 400*24*time.Hour)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range int64(n) {
		// a 64-hex-digit pseudonym, as the pipeline's
		ev := &event.Event{ID: fmt.Sprint(i), Type: event.Unsubscribe, ContactID: fmt.Sprintf("%064x", i), Channel: "email",
			Source: "prefs", OccurredAt: c0.Add(time.Duration(i) * time.Second)}
		a.Accept("t", 0, i, c0, ev)
		if i%10_000 == 9_999 {
			a.Snapshot() // stored and released, as the pipeline does
		}
	}
	a.Snapshot()
	runtime.GC()
	runtime.ReadMemStats(&after)
	if got := a.ContactStates(); got != limit {
		t.Errorf("%d states held, want the cap %d", got, limit)
	}
	if byCap, byHorizon := a.ContactsForgotten(); byCap != n-limit || byHorizon != 0 {
		t.Errorf("forgot %d by cap and %d by horizon, want %d and 0", byCap, byHorizon, n-limit)
	}
	t.Logf("%.0f bytes of heap per contact state", float64(after.HeapAlloc-before.HeapAlloc)/limit)
}
