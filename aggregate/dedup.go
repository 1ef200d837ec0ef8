package aggregate

import (
	"fmt"
	"math"
	"time"

	"github.com/cespare/xxhash/v2"
)

// DedupConfig makes each event count once per event_id (README, "Exactness").
//
// A valid event is a duplicate when an event with the same event_id (its
// 64-bit xxhash) was counted in the same partition, at a lower offset, in
// one of the last MaxIDs/BlockSize blocks (rounded up) before the event's
// block or in that block, and that earlier event's Kafka record time is
// within Window before the newer of the event's own record time and the
// newest record time counted so far in the partition. Every term depends
// only on the log and on decisions about lower offsets, so every read of an
// offset — after a crash, a rebalance or in a replay — makes the same
// decision, provided the ids counted before the read's first offset are
// loaded (Aggregator.NeedsHistory, Seed).
type DedupConfig struct {
	// Window is how long, in record time, an event_id stays counted. Zero
	// disables deduplication (and the id rows it stores).
	Window time.Duration
	// MaxIDs bounds the ids remembered per partition: ids counted more than
	// ceil(MaxIDs/BlockSize) whole blocks before the current block are
	// forgotten even within the window, and a re-sent event then counts
	// again. Memory per partition is at most (that many blocks + 1) ×
	// BlockSize ids.
	MaxIDs int
}

// DefaultDedupConfig is a 24-hour window and up to a million ids per partition.
func DefaultDedupConfig() DedupConfig {
	return DedupConfig{Window: 24 * time.Hour, MaxIDs: 1_000_000}
}

// Enabled reports whether duplicates are detected.
func (c DedupConfig) Enabled() bool { return c.Window > 0 }

func (c DedupConfig) validate() error {
	if c.Window == 0 {
		return nil
	}
	if c.Window < time.Second {
		return fmt.Errorf("%w: got %s", ErrDedupWindow, c.Window)
	}
	if c.MaxIDs < 1 || c.MaxIDs > maxDedupIDs {
		return fmt.Errorf("%w: got %d", ErrDedupMaxIDs, c.MaxIDs)
	}
	return nil
}

// maxDedupIDs keeps sequence numbers of remembered ids (uint32) unique
// within the remembered range, with room for one more block.
const maxDedupIDs = 1 << 30

// Outcome is what Accept did with an event.
type Outcome uint8

const (
	// Redelivered: the offset was already processed in the current block;
	// nothing was counted.
	Redelivered Outcome = iota
	// Counted: the event was counted.
	Counted
	// Duplicate: the event is valid, but its event_id was already counted
	// within the window; it is accounted for in the ledger (as accepted and
	// as a duplicate) but not counted again.
	Duplicate
)

// IDHash is the 64-bit hash under which an event_id is remembered. Two
// different ids with the same hash are taken for one: with n ids remembered
// in a partition, a new id is wrongly taken for a duplicate with
// probability n/2^64 (5e-14 at a million ids).
func IDHash(id string) uint64 { return xxhash.Sum64String(id) }

// IDBlock holds the dedup decisions about the valid events of one block, in
// offset order, as far as one read of it got: the arrays of one stored row
// per (topic, partition, block). Like a count row it is cumulative and
// carries the block's version, so storage keeps the highest version and a
// re-read rewrites the same row; a later read starting after the block
// loads what was counted in it (HistoryQuery). One row per block rather
// than per event keeps a backfill's dedup inserts small.
type IDBlock struct {
	BlockRef
	// Base is the block's nominal first offset (Block × BlockSize);
	// Offsets are relative to it.
	Base        int64
	Offsets     []uint32
	Hashes      []uint64
	RecordTimes []uint32 // Unix seconds of the Kafka record timestamps
	Duplicates  []uint8  // 1: valid, not counted (its id already was)
	Version     int64
}

// Len is the number of decisions in the block.
func (b *IDBlock) Len() int { return len(b.Offsets) }

// record appends one decision.
func (b *IDBlock) record(offset int64, h uint64, t int64, dup bool) {
	d := uint8(0)
	if dup {
		d = 1
	}
	b.Offsets = append(b.Offsets, uint32(offset-b.Base))
	b.Hashes = append(b.Hashes, h)
	b.RecordTimes = append(b.RecordTimes, uint32(t))
	b.Duplicates = append(b.Duplicates, d)
}

// shared returns the decisions so far, for a snapshot: capped slices of
// the block's own arrays, which later decisions append to without touching
// what the snapshot holds.
func (b *IDBlock) shared(version int64) IDBlock {
	n := len(b.Offsets)
	return IDBlock{BlockRef: b.BlockRef, Base: b.Base, Offsets: b.Offsets[:n:n], Hashes: b.Hashes[:n:n],
		RecordTimes: b.RecordTimes[:n:n], Duplicates: b.Duplicates[:n:n], Version: version}
}

// SeenID is a counted event_id at an offset.
type SeenID struct {
	Offset     int64
	Hash       uint64
	RecordTime int64 // Unix seconds
}

// dedupState is one partition's memory of counted ids: a FIFO of their
// hashes in offset order, and per hash the newest counted occurrence. Ids
// leave the front when their block falls out of the remembered blocks or
// their record time out of the window (a dead id stays until it reaches the
// front: lookups check the window themselves, so it is never matched).
type dedupState struct {
	ids  map[uint64]seenAt
	fifo []uint64 // fifo[head:] are remembered, oldest first
	// times holds the record time of each fifo entry, so the front is
	// checked against the window without a map lookup per event.
	times    []uint32
	head     int
	frontSeq uint32 // sequence number of fifo[head]
	marks    []blockMark
	// newest is the newest record time (Unix s) of a counted event in the
	// partition: it only grows, so an id that fell out of the window
	// relative to it never matches again and can be forgotten.
	newest int64
}

type seenAt struct {
	seq  uint32 // position in the FIFO, to tell a superseded entry
	time uint32 // record time, Unix seconds
}

// blockMark is the sequence number of the first remembered id of a block.
type blockMark struct {
	block int64
	seq   uint32
}

func newDedupState() *dedupState { return &dedupState{ids: make(map[uint64]seenAt)} }

// recordSecs clamps a record time to what seenAt holds (1970–2106).
func recordSecs(t time.Time) int64 {
	return min(max(t.Unix(), 0), math.MaxUint32)
}

// decide returns whether the event with hash h at block blk and record time
// t (Unix s) is a duplicate; if not, it remembers it as counted.
func (d *dedupState) decide(cfg *Config, blk int64, h uint64, t int64) bool {
	window := int64(cfg.Dedup.Window / time.Second)
	d.forget(blk-cfg.dedupBlocks(), window)
	if e, ok := d.ids[h]; ok && int64(e.time) > max(t, d.newest)-window {
		return true
	}
	d.remember(blk, h, t)
	return false
}

func (d *dedupState) remember(blk int64, h uint64, t int64) {
	seq := d.frontSeq + uint32(len(d.fifo)-d.head)
	if n := len(d.marks); n == 0 || d.marks[n-1].block != blk {
		d.marks = append(d.marks, blockMark{block: blk, seq: seq})
	}
	d.fifo = append(d.fifo, h)
	d.times = append(d.times, uint32(t))
	d.ids[h] = seenAt{seq: seq, time: uint32(t)}
	d.newest = max(d.newest, t)
}

// forget drops the ids of blocks before oldest and, from the front, the ids
// whose record time fell out of the window.
func (d *dedupState) forget(oldest, window int64) {
	for len(d.marks) > 0 && d.marks[0].block < oldest {
		end := d.frontSeq + uint32(len(d.fifo)-d.head) // past the last id
		if len(d.marks) > 1 {
			end = d.marks[1].seq
		}
		for int32(end-d.frontSeq) > 0 {
			d.pop()
		}
		d.marks = d.marks[1:]
	}
	// An id superseded by a newer occurrence of its hash was out of the
	// window when that occurrence was counted, so it leaves here too.
	for d.head < len(d.fifo) && int64(d.times[d.head]) <= d.newest-window {
		d.pop()
	}
	for len(d.marks) > 1 && int32(d.marks[1].seq-d.frontSeq) <= 0 {
		d.marks = d.marks[1:] // the block's ids all fell out of the window
	}
	if d.head == len(d.fifo) {
		d.marks = d.marks[:0]
	}
	if d.head >= 1024 && d.head*2 >= len(d.fifo) {
		n := copy(d.fifo, d.fifo[d.head:])
		copy(d.times, d.times[d.head:])
		d.fifo, d.times, d.head = d.fifo[:n], d.times[:n], 0
	}
}

func (d *dedupState) pop() {
	h := d.fifo[d.head]
	if e, ok := d.ids[h]; ok && e.seq == d.frontSeq {
		delete(d.ids, h)
	}
	d.head++
	d.frontSeq++
}

// dedupBlocks is how many whole blocks before the current one are remembered.
func (c *Config) dedupBlocks() int64 {
	return (int64(c.Dedup.MaxIDs) + c.BlockSize - 1) / c.BlockSize
}

// Remembered is the number of event ids held for deduplication, over all
// partitions (dead ones not yet dropped included): what the dedup memory
// is proportional to.
func (a *Aggregator) Remembered() int {
	n := 0
	for _, p := range a.partitions {
		if p.dedup != nil {
			n += len(p.dedup.fifo) - p.dedup.head
		}
	}
	return n
}

// seedDedup builds a partition's dedup memory from its stored decisions.
func (a *Aggregator) seedDedup(q HistoryQuery, h History) *dedupState {
	d := newDedupState()
	d.newest = h.Watermark
	for _, id := range h.IDs {
		d.newest = max(d.newest, id.RecordTime)
	}
	for _, id := range h.IDs {
		d.remember(id.Offset/a.cfg.BlockSize, id.Hash, id.RecordTime)
	}
	d.forget(q.Block-a.cfg.dedupBlocks(), int64(q.Window/time.Second))
	return d
}
