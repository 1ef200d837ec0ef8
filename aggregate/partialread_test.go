package aggregate

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/trustpipe/trustpipe/aggregate/event"
)

// partialInput is the issue-12 scenario: 90 000 events over 3 partitions of
// 30 000 offsets, keyed by a few campaigns, types and minutes, so keys recur
// irregularly inside every block.
func partialInput() (evs [3][]*event.Event) {
	rng := rand.New(rand.NewPCG(12, 4321))
	types := []event.Type{event.Click, event.Open, event.Delivered, event.Send}
	for p := range evs {
		for range 30000 {
			evs[p] = append(evs[p], ev(types[rng.IntN(len(types))], fmt.Sprintf("c%d", rng.IntN(7)), t0.Add(time.Duration(rng.IntN(5))*time.Minute)))
		}
	}
	return evs
}

// read runs one read of every partition from offset `from` to the end, with
// a snapshot every `flushEvery` records (counted across partitions, which
// are read interleaved like a fetch does), and returns the snapshots.
func read(t *testing.T, evs [3][]*event.Event, from int64, flushEvery int) []*Snapshot {
	t.Helper()
	a := newAgg(t, 10000)
	var snaps []*Snapshot
	n := 0
	for off := from; off < int64(len(evs[0])); off++ {
		for p := range evs {
			a.Accept("t", int32(p), off, t0, evs[p][off])
			if n++; n%flushEvery == 0 {
				snaps = append(snaps, a.Snapshot())
			}
		}
	}
	return append(snaps, a.Snapshot())
}

// ledgerStore simulates ReplacingMergeTree for ledger rows.
type ledgerStore map[BlockRef]LedgerRow

func (s ledgerStore) apply(snap *Snapshot) {
	for _, r := range snap.Ledger {
		if old, ok := s[r.BlockRef]; !ok || r.Version >= old.Version {
			s[r.BlockRef] = r
		}
	}
}

// TestPartialRereadNeverReplacesCompleteRead: every partition's records
// below offset 4321 were deleted by retention after a complete read stored
// them; a consumer group that lost its offsets re-reads from the log start
// with another flush rhythm. Whatever the rhythms and whichever read is
// stored last, storage must keep the complete read's counts for every key
// and its ledger rows. The oracle is the input itself: 90 000 events.
func TestPartialRereadNeverReplacesCompleteRead(t *testing.T) {
	evs := partialInput()
	var want uint64
	for p := range evs {
		want += uint64(len(evs[p]))
	}
	rhythms := []struct{ complete, partial int }{
		{7000, 1000}, {1000, 7000}, {2500, 2500}, {333, 4999}, {90000, 97}, {97, 90000},
	}
	for _, r := range rhythms {
		complete := read(t, evs, 0, r.complete)
		partial := read(t, evs, 4321, r.partial)
		for _, order := range []string{"complete first", "partial first"} {
			t.Run(fmt.Sprintf("flush every %d then %d, %s", r.complete, r.partial, order), func(t *testing.T) {
				st, led := store{}, ledgerStore{}
				seq := append(append([]*Snapshot{}, complete...), partial...)
				if order == "partial first" {
					seq = append(append([]*Snapshot{}, partial...), complete...)
				}
				for _, s := range seq {
					st.apply(s)
					led.apply(s)
				}
				if got := st.total(); got != want {
					t.Fatalf("stored total = %d, want %d", got, want)
				}
				for ref, l := range led {
					// The last block stays open: no offset past it was read.
					wantFirst, wantComplete := ref.Block*10000, ref.Block < 2
					if l.Complete != wantComplete || l.FirstOffset != wantFirst || l.Consumed != 10000 {
						t.Errorf("ledger %v = first %d consumed %d complete %v, want the complete read's row (first %d, 10000 consumed, complete %v)", ref, l.FirstOffset, l.Consumed, l.Complete, wantFirst, wantComplete)
					}
				}
			})
		}
	}
}
