package aggregate

import (
	"hash/maphash"
	"testing"
)

// TestKeyIndexCollisions numbers keys under forced hashes — several keys
// per hash, as a 64-bit collision would give — and checks every key finds
// its own number, and unknown keys none, against a plain map of whole keys.
func TestKeyIndexCollisions(t *testing.T) {
	x := newKeyIndex[Key](maphash.MakeSeed())
	want := map[Key]int32{}
	key := func(i int) Key { return Key{Bucket: int64(i), CampaignID: "c", Channel: "email"} }
	hash := func(i int) uint64 { return uint64(i % 3) } // keys 0, 3, 6, … share a hash
	for i := range 10 {
		k := key(i)
		if _, ok := x.findHashed(k, hash(i)); ok {
			t.Fatalf("key %d found before it was added", i)
		}
		want[k] = x.add(k, hash(i))
	}
	for round := range 2 {
		for i := range 12 {
			got, ok := x.findHashed(key(i), hash(i))
			w, known := want[key(i)]
			if ok != known || got != w {
				t.Errorf("round %d, key %d: got number %d (found %v), want %d (found %v)", round, i, got, ok, w, known)
			}
		}
		if x.len() != len(want) {
			t.Fatalf("len = %d, want %d", x.len(), len(want))
		}
		x.reset()
		if x.len() != 0 || len(x.byHash) != 0 || len(x.collided) != 0 {
			t.Fatalf("reset left keys: %d keys, %d hashes, %d collided", x.len(), len(x.byHash), len(x.collided))
		}
		clear(want)
		for i := range 10 {
			want[key(i)] = x.add(key(i), hash(i))
		}
	}
}
