package aggregate

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/trustpipe/trustpipe/aggregate/event"
)

func newDedupAgg(t *testing.T, block int64, window time.Duration, maxIDs int) *Aggregator {
	t.Helper()
	a, err := New(Config{BucketSize: time.Minute, BlockSize: block, Dedup: DedupConfig{Window: window, MaxIDs: maxIDs}})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// rec is one record of a test partition.
type rec struct {
	id     string
	at     time.Time // Kafka record timestamp
	reject bool
}

func (r rec) event() *event.Event {
	return &event.Event{ID: r.id, Type: event.Click, OccurredAt: r.at, ContactID: "c", Channel: "email"}
}

// feed reads recs from offset from on, returning the outcome per offset.
func feed(a *Aggregator, recs []rec, from int64) map[int64]Outcome {
	out := map[int64]Outcome{}
	for off := from; off < int64(len(recs)); off++ {
		r := recs[off]
		if r.reject {
			a.Reject("t", 0, off)
			continue
		}
		out[off] = a.Accept("t", 0, off, r.at, r.event())
	}
	return out
}

func TestDedupCases(t *testing.T) {
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	filler := func(n int, from int) []rec {
		out := make([]rec, n)
		for i := range out {
			out[i] = rec{id: fmt.Sprintf("f%d", from+i), at: base.Add(time.Duration(from+i) * time.Millisecond)}
		}
		return out
	}
	at := func(d time.Duration) time.Time { return base.Add(d) }
	cases := []struct {
		name   string
		window time.Duration
		maxIDs int
		recs   []rec
		// dups are the offsets that must be duplicates; every other
		// accepted offset must be counted.
		dups []int64
	}{
		{"re-sent right after", 24 * time.Hour, 1000,
			[]rec{{id: "a", at: at(0)}, {id: "a", at: at(0)}, {id: "b", at: at(0)}}, []int64{1}},
		{"re-sent thousands of offsets later", 24 * time.Hour, 1 << 20,
			append(append([]rec{{id: "a", at: at(0)}}, filler(5000, 1)...), rec{id: "a", at: at(time.Hour)}), []int64{5001}},
		{"re-sent after the window counts again", time.Hour, 1000,
			[]rec{{id: "a", at: at(0)}, {id: "a", at: at(59 * time.Minute)}, {id: "a", at: at(time.Hour)}, {id: "a", at: at(time.Hour + time.Second)}},
			[]int64{1, 3}},
		{"dedup off: every copy counts", 0, 0,
			[]rec{{id: "a", at: at(0)}, {id: "a", at: at(0)}}, nil},
		{"a rejected copy is not remembered", time.Hour, 1000,
			[]rec{{id: "a", at: at(0), reject: true}, {id: "a", at: at(0)}, {id: "a", at: at(0)}}, []int64{2}},
		{"an earlier record time is still a duplicate", time.Hour, 1000,
			[]rec{{id: "a", at: at(time.Hour)}, {id: "a", at: at(0)}}, []int64{1}},
		{"the window follows the newest counted time", time.Hour, 1000,
			// b at 2h moves the newest time on: a (at 0) is then out of the
			// window even for a copy carrying an early timestamp.
			[]rec{{id: "a", at: at(0)}, {id: "b", at: at(2 * time.Hour)}, {id: "a", at: at(time.Minute)}}, nil},
		{"past MaxIDs whole blocks an id is forgotten", 24 * time.Hour, 100, // block 100: 1 block back
			append(append([]rec{{id: "a", at: at(0)}}, filler(250, 1)...), rec{id: "a", at: at(0)}), nil},
		{"within MaxIDs blocks it is not", 24 * time.Hour, 101, // 2 blocks back
			append(append([]rec{{id: "a", at: at(0)}}, filler(250, 1)...), rec{id: "a", at: at(0)}), []int64{251}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := newDedupAgg(t, 100, c.window, c.maxIDs)
			got := feed(a, c.recs, 0)
			want := map[int64]bool{}
			for _, o := range c.dups {
				want[o] = true
			}
			var counted, dups uint64
			for off, o := range got {
				if (o == Duplicate) != want[off] {
					t.Errorf("offset %d: %v, want duplicate=%v", off, o, want[off])
				}
				if o == Counted {
					counted++
				} else {
					dups++
				}
			}
			snap := a.Snapshot()
			var events, ledgerDups, accepted uint64
			for _, r := range snap.Counts {
				events += r.Events
			}
			for _, l := range snap.Ledger {
				ledgerDups += l.Duplicates
				accepted += l.Accepted
				if l.Consumed != l.Accepted+l.Rejected {
					t.Errorf("ledger %+v: consumed != accepted + rejected", l)
				}
			}
			if events != counted || ledgerDups != dups || accepted-ledgerDups != events {
				t.Errorf("counted %d events (outcomes %d), ledger duplicates %d (outcomes %d), accepted %d", events, counted, ledgerDups, dups, accepted)
			}
			if c.window == 0 && len(snap.IDs) != 0 {
				t.Errorf("dedup off wrote %d id rows", len(snap.IDs))
			}
		})
	}
}

// oracle decides every offset straight from the definition of DedupConfig,
// comparing event ids as strings over the whole history (no hashing, no
// eviction): the reference the aggregator's bounded memory must match.
func oracle(recs []rec, block int64, window time.Duration, maxIDs int) map[int64]Outcome {
	k := (int64(maxIDs) + block - 1) / block
	w := int64(window / time.Second)
	out := map[int64]Outcome{}
	var newest int64
	var counted []int64
	for i, r := range recs {
		if r.reject {
			continue
		}
		off, t := int64(i), r.at.Unix()
		dup := false
		for _, j := range counted {
			if recs[j].id == r.id && j/block >= off/block-k && recs[j].at.Unix() > max(t, newest)-w {
				dup = true
			}
		}
		if dup {
			out[off] = Duplicate
			continue
		}
		out[off] = Counted
		counted = append(counted, off)
		newest = max(newest, t)
	}
	return out
}

// storedHistory answers a HistoryQuery from the rows a run stored, as the
// sink does from ClickHouse (highest version per offset; ledger watermarks).
type storedHistory struct {
	ids    map[int64]IDBlock // by block
	ledger map[int64]LedgerRow
}

func (s *storedHistory) apply(snap *Snapshot) {
	for _, r := range snap.IDs {
		if old, ok := s.ids[r.Block]; !ok || r.Version >= old.Version {
			s.ids[r.Block] = r
		}
	}
	for _, l := range snap.Ledger {
		if old, ok := s.ledger[l.Block]; !ok || l.Version >= old.Version {
			s.ledger[l.Block] = l
		}
	}
}

func (s *storedHistory) load(q HistoryQuery) History {
	var h History
	for b, l := range s.ledger {
		if b < q.Block {
			h.Watermark = max(h.Watermark, l.Watermark)
		}
	}
	var blocks []int64
	for b := range s.ids {
		blocks = append(blocks, b)
	}
	slices.Sort(blocks)
	for _, b := range blocks {
		r := s.ids[b]
		for i := range r.Offsets {
			off, t := r.Base+int64(r.Offsets[i]), int64(r.RecordTimes[i])
			if off >= q.FromOffset && off < q.Before && r.Duplicates[i] == 0 && t > h.Watermark-int64(q.Window/time.Second) {
				h.IDs = append(h.IDs, SeenID{Offset: off, Hash: r.Hashes[i], RecordTime: t})
			}
		}
	}
	return h
}

// TestDedupIsDeterministicAcrossReads checks, on random streams full of
// re-sent ids, out-of-order record times and rejects, that one read from
// the start matches the oracle, and that a read restarted at any block
// start — or mid-block — from the stored history decides every later offset
// the same way.
func TestDedupIsDeterministicAcrossReads(t *testing.T) {
	const block = 10
	window := 100 * time.Second
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 1))
		maxIDs := 1 + rng.IntN(40)
		recs := make([]rec, 300)
		clock := t0
		for i := range recs {
			clock = clock.Add(time.Duration(rng.IntN(3000)) * time.Millisecond)
			at := clock
			switch rng.IntN(50) {
			case 0, 1, 2, 3, 4:
				at = at.Add(-time.Duration(rng.IntN(200)) * time.Second) // out of order
			case 5:
				at = at.Add(150 * time.Second) // a clock far ahead moves the window on
			}
			recs[i] = rec{id: fmt.Sprintf("id%d", rng.IntN(60)), at: at, reject: rng.IntN(20) == 0}
		}
		want := oracle(recs, block, window, maxIDs)

		full := newDedupAgg(t, block, window, maxIDs)
		st := &storedHistory{ids: map[int64]IDBlock{}, ledger: map[int64]LedgerRow{}}
		got := map[int64]Outcome{}
		for off := range int64(len(recs)) {
			for o, v := range feed1(full, recs, off) {
				got[o] = v
			}
			if rng.IntN(7) == 0 {
				st.apply(full.Snapshot())
			}
		}
		st.apply(full.Snapshot())
		compare(t, fmt.Sprintf("seed %d, one read", seed), got, want, 0)

		for _, start := range []int64{block, 5 * block, 5*block + 3, 17 * block, 29*block + 9} {
			a := newDedupAgg(t, block, window, maxIDs)
			if !a.NeedsHistory("t", 0, start) {
				t.Fatal("a new partition needs its history")
			}
			q := a.HistoryQuery("t", 0, start)
			a.Seed(q, st.load(q))
			if a.NeedsHistory("t", 0, start) {
				t.Fatal("a seeded partition needs no history")
			}
			compare(t, fmt.Sprintf("seed %d, restart at %d", seed, start), feed(a, recs, start), want, start)
		}
	}
}

func feed1(a *Aggregator, recs []rec, off int64) map[int64]Outcome {
	r := recs[off]
	if r.reject {
		a.Reject("t", 0, off)
		return nil
	}
	return map[int64]Outcome{off: a.Accept("t", 0, off, r.at, r.event())}
}

func compare(t *testing.T, what string, got, want map[int64]Outcome, from int64) {
	t.Helper()
	for off, w := range want {
		if off >= from && got[off] != w {
			t.Errorf("%s: offset %d is %v, want %v", what, off, got[off], w)
		}
	}
}

// TestDedupReread checks that a partition handed back from an earlier
// offset needs its history again, and that a re-delivery is not a duplicate.
func TestDedupReread(t *testing.T) {
	a := newDedupAgg(t, 10, time.Hour, 100)
	r := rec{id: "a", at: t0}
	if o := a.Accept("t", 0, 0, r.at, r.event()); o != Counted {
		t.Fatalf("first: %v", o)
	}
	if o := a.Accept("t", 0, 0, r.at, r.event()); o != Redelivered {
		t.Fatalf("re-delivered offset: %v, want Redelivered", o)
	}
	a.Accept("t", 0, 15, r.at, r.event())
	if a.NeedsHistory("t", 0, 16) {
		t.Fatal("reading on needs no history")
	}
	if !a.NeedsHistory("t", 0, 3) {
		t.Fatal("a re-read from an earlier block needs its history")
	}
}

func TestDedupMemoryIsBounded(t *testing.T) {
	const block, maxIDs = 100, 250 // 3 blocks back + the current one
	a := newDedupAgg(t, block, 24*time.Hour, maxIDs)
	peak := 0
	for off := range int64(5000) {
		a.Accept("t", 0, off, t0, rec{id: fmt.Sprint(off), at: t0}.event())
		peak = max(peak, a.Remembered())
		if off%block == 0 {
			a.Snapshot()
		}
	}
	if peak > 4*block {
		t.Fatalf("remembered up to %d ids, bound is %d", peak, 4*block)
	}
	// Out of the window: ids leave as the newest record time moves on.
	a = newDedupAgg(t, block, time.Minute, maxIDs)
	for off := range int64(1000) {
		a.Accept("t", 0, off, t0.Add(time.Duration(off)*time.Second), rec{id: fmt.Sprint(off)}.event())
	}
	if n := a.Remembered(); n > 61 {
		t.Fatalf("remembered %d ids of a one-minute window at one id per second", n)
	}
}

func TestDedupConfigValidate(t *testing.T) {
	for _, c := range []DedupConfig{{Window: time.Millisecond, MaxIDs: 1}, {Window: time.Hour, MaxIDs: 0}, {Window: time.Hour, MaxIDs: maxDedupIDs + 1}} {
		if _, err := New(Config{BucketSize: time.Minute, BlockSize: 10, Dedup: c}); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}
