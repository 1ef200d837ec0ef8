package aggregate

// recentSet is one partition's memory of recent keys (64-bit hashes) and a
// value per key: a FIFO of the hashes in offset order, and per hash its
// newest occurrence. It is the shape of every per-partition memory whose
// decisions must be the same on every read of the log (README,
// "Exactness"): an entry leaves the front when its block falls out of the
// remembered blocks or its record time out of the window relative to the
// newest record time remembered, both functions of the log alone, so a
// read seeded from storage (Aggregator.Seed) holds exactly what an
// uninterrupted read holds at the same offset. A dead entry stays until it
// reaches the front: lookup checks the window itself, so it is never
// matched.
//
// Dedup remembers counted event ids with no value (struct{}, which costs no
// memory); the message memory remembers sends with their facts
// (messages.go).
type recentSet[V any] struct {
	ids  map[uint64]seenAt
	fifo []uint64 // fifo[head:] are remembered, oldest first
	// times holds the record time of each fifo entry, so the front is
	// checked against the window without a map lookup per event.
	times    []uint32
	vals     []V // the value of each fifo entry
	head     int
	frontSeq uint32 // sequence number of fifo[head]
	marks    []blockMark
	// newest is the newest record time (Unix s) remembered in the
	// partition: it only grows, so an entry that fell out of the window
	// relative to it never matches again and can be forgotten.
	newest int64
}

type seenAt struct {
	seq  uint32 // position in the FIFO, to tell a superseded entry
	time uint32 // record time, Unix seconds
}

// blockMark is the sequence number of the first remembered entry of a block.
type blockMark struct {
	block int64
	seq   uint32
}

func newRecentSet[V any]() *recentSet[V] { return &recentSet[V]{ids: make(map[uint64]seenAt)} }

// len is the number of entries held (dead ones not yet dropped included).
func (d *recentSet[V]) len() int { return len(d.fifo) - d.head }

// lookup returns the value of hash h if it is remembered within window
// (seconds) before the newer of t and the newest record time remembered.
func (d *recentSet[V]) lookup(h uint64, t, window int64) (V, bool) {
	e, ok := d.ids[h]
	if !ok || int64(e.time) <= max(t, d.newest)-window {
		var zero V
		return zero, false
	}
	return d.vals[d.head+int(e.seq-d.frontSeq)], true
}

// remember adds hash h of block blk with record time t (Unix s) and value
// v; a later lookup of h finds this newest occurrence.
func (d *recentSet[V]) remember(blk int64, h uint64, t int64, v V) {
	seq := d.frontSeq + uint32(len(d.fifo)-d.head)
	if n := len(d.marks); n == 0 || d.marks[n-1].block != blk {
		d.marks = append(d.marks, blockMark{block: blk, seq: seq})
	}
	d.fifo = append(d.fifo, h)
	d.times = append(d.times, uint32(t))
	d.vals = append(d.vals, v)
	d.ids[h] = seenAt{seq: seq, time: uint32(t)}
	d.newest = max(d.newest, t)
}

// forget drops the entries of blocks before oldest and, from the front, the
// entries whose record time fell out of the window.
func (d *recentSet[V]) forget(oldest, window int64) {
	for len(d.marks) > 0 && d.marks[0].block < oldest {
		end := d.frontSeq + uint32(len(d.fifo)-d.head) // past the last entry
		if len(d.marks) > 1 {
			end = d.marks[1].seq
		}
		for int32(end-d.frontSeq) > 0 {
			d.pop()
		}
		d.marks = d.marks[1:]
	}
	// An entry superseded by a newer occurrence of its hash was out of the
	// window when that occurrence was remembered, or it is dead anyway, so
	// it leaves here too.
	for d.head < len(d.fifo) && int64(d.times[d.head]) <= d.newest-window {
		d.pop()
	}
	for len(d.marks) > 1 && int32(d.marks[1].seq-d.frontSeq) <= 0 {
		d.marks = d.marks[1:] // the block's entries all fell out of the window
	}
	if d.head == len(d.fifo) {
		d.marks = d.marks[:0]
	}
	if d.head >= 1024 && d.head*2 >= len(d.fifo) {
		n := copy(d.fifo, d.fifo[d.head:])
		copy(d.times, d.times[d.head:])
		copy(d.vals, d.vals[d.head:])
		d.fifo, d.times, d.vals, d.head = d.fifo[:n], d.times[:n], d.vals[:n], 0
	}
}

func (d *recentSet[V]) pop() {
	h := d.fifo[d.head]
	if e, ok := d.ids[h]; ok && e.seq == d.frontSeq {
		delete(d.ids, h)
	}
	d.head++
	d.frontSeq++
}
