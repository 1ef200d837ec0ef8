package aggregate

import "hash/maphash"

// keyIndex numbers the distinct keys of one block (count keys, cohort
// keys, engaged contacts, unique rows) in the order they first came, and
// finds a key's number again.
//
// It looks keys up by a 64-bit hash rather than by the key itself: a
// backfill's block has nearly a key per event, and a map slot holding a
// composite key of several strings (100 bytes and more) made the block
// indexes the largest part of the heap and of its cache misses; a slot of
// hash and number is 12 bytes. The keys themselves are kept once, in keys.
// Two keys with the same hash are told apart by comparing the stored key,
// and a key whose hash an earlier key already has is numbered in a small
// map of whole keys (collided), so lookups are exact whatever the hashes.
type keyIndex[K comparable] struct {
	seed     maphash.Seed
	byHash   map[uint64]int32
	collided map[K]int32
	keys     []K
}

func newKeyIndex[K comparable](seed maphash.Seed) keyIndex[K] {
	return keyIndex[K]{seed: seed, byHash: make(map[uint64]int32)}
}

// find returns k's number, and whether k is known; when it is not, the
// hash returned lets add skip hashing it again.
func (x *keyIndex[K]) find(k K) (i int32, h uint64, ok bool) {
	h = maphash.Comparable(x.seed, k)
	i, ok = x.findHashed(k, h)
	return i, h, ok
}

// findHashed is find of a key whose hash is h.
func (x *keyIndex[K]) findHashed(k K, h uint64) (int32, bool) {
	i, ok := x.byHash[h]
	if !ok || x.keys[i] == k {
		return i, ok
	}
	i, ok = x.collided[k]
	return i, ok
}

// add numbers k, which find did not know, under its hash h. k must own its
// memory (see stringTable.id): it is kept until reset.
func (x *keyIndex[K]) add(k K, h uint64) int32 {
	i := int32(len(x.keys))
	x.keys = append(x.keys, k)
	if _, taken := x.byHash[h]; !taken {
		x.byHash[h] = i
		return i
	}
	if x.collided == nil {
		x.collided = make(map[K]int32)
	}
	x.collided[k] = i
	return i
}

// len is the number of keys.
func (x *keyIndex[K]) len() int { return len(x.keys) }

// reset forgets every key, keeping the grown capacity for the next block.
func (x *keyIndex[K]) reset() {
	clear(x.byHash)
	x.collided = nil
	clear(x.keys) // drop the strings the keys hold
	x.keys = x.keys[:0]
}
