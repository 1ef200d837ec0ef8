package aggregate

import (
	"reflect"
	"testing"

	"github.com/trustpipe/trustpipe/aggregate/event"
)

// TestRetainDropsOnlyRevokedPartitions: partitions the predicate rejects
// lose their blocks, pending rows and commits; kept ones are untouched, and
// a dropped partition read again starts afresh (a new owner would re-read
// it from its block start).
func TestRetainDropsOnlyRevokedPartitions(t *testing.T) {
	a := newAgg(t, 10)
	for p := int32(0); p < 3; p++ {
		for off := int64(0); off < 13; off++ { // block 0 complete, block 1 open
			a.Accept("t", p, off, t0, ev(event.Click, "c", t0))
		}
	}
	a.Accept("u", 0, 0, t0, ev(event.Click, "c", t0))
	before := a.Pending()

	dropped := a.Retain(func(p Partition) bool { return p == Partition{"t", 1} })
	if want := []Partition{{"t", 0}, {"t", 2}, {"u", 0}}; !reflect.DeepEqual(dropped, want) {
		t.Fatalf("dropped %v, want %v", dropped, want)
	}
	if got, want := a.Partitions(), []Partition{{"t", 1}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("Partitions() = %v, want %v", got, want)
	}
	if a.Pending() >= before || a.Pending() <= 0 {
		t.Fatalf("pending %d after retain, was %d: only t/1's rows should remain", a.Pending(), before)
	}
	snap := a.Snapshot()
	if len(snap.Commits) != 1 || snap.Commits[0] != (Position{Topic: "t", Partition: 1, Offset: 9}) {
		t.Fatalf("commits %v, want only t/1 up to 9", snap.Commits)
	}
	for _, r := range snap.Ledger {
		if r.Topic != "t" || r.Partition != 1 {
			t.Fatalf("ledger row of dropped partition %s/%d", r.Topic, r.Partition)
		}
	}
	// Read again from the block start (as a new owner would): counted afresh.
	if got := a.Accept("t", 0, 10, t0, ev(event.Click, "c", t0)); got != Counted {
		t.Fatalf("re-read of a dropped partition: %v, want Counted", got)
	}
	if a.Rereads() != 0 {
		t.Fatalf("rereads %d: a dropped partition read again is a fresh read", a.Rereads())
	}
}
