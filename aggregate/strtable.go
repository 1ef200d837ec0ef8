package aggregate

import "strings"

// stringTable interns the string dimensions of one block's keys into small
// numbers, so the block can index its keys by a packed key of numbers
// (packedKey) that holds no pointers: a backfill's block has nearly a key
// per event, and keys of six strings each were the largest pointer-dense
// item of the heap, which the garbage collector scanned on every cycle. A
// dimension value takes few distinct values across a block's keys, so the
// table is small and each value is cloned once per block, not once per key.
//
// The table belongs to one block and is reset with it (blockState is
// reused, see Aggregator.release): it never holds more entries than six
// per count key of the block (every new entry comes from a new key), so
// adversarial input — a distinct campaign_id per event — grows it no more
// than it grows the block's keys, and the block's end frees it. A table
// shared across blocks would instead need an eviction rule, and numbers
// that could change under a key still being counted.
type stringTable struct {
	ids keyIndex[string]
}

// id returns s's number, adding a clone of s when it is new. Decoded events
// alias the fetched record's bytes (zero-copy), so a stored string would
// otherwise keep a whole record alive — about 64 KiB per distinct value
// with large records. Only new entries are cloned: a known string
// allocates nothing. The empty string, common in optional dimensions, is 0
// without a lookup; entries number from 1.
func (t *stringTable) id(s string) int32 {
	if s == "" {
		return 0
	}
	i, h, ok := t.ids.find(s)
	if !ok {
		i = t.ids.add(strings.Clone(s), h)
	}
	return i + 1
}

// str is the string numbered id. It shares the table's memory, which stays
// valid after reset: reset only drops the table's references.
func (t *stringTable) str(id int32) string {
	if id == 0 {
		return ""
	}
	return t.ids.keys[id-1]
}

// reset forgets every entry, keeping the grown capacity.
func (t *stringTable) reset() { t.ids.reset() }
