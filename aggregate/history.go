package aggregate

import "time"

// This file is the one seam through which a partition's memories — the
// dedup ids (dedup.go), the remembered sends (messages.go) and the contact
// states (contacts.go) — are loaded back from storage when a read starts
// the partition afresh (its first record here, or a re-read from before its
// current block). Each memory is a function of the partition's log below
// the read's first offset, so loading what the earlier reads stored (one
// HistoryQuery for all memories, answered by the sink) and seeding it
// makes every later decision the same as on an uninterrupted read. A new
// memory adds its part to HistoryQuery, History and Seed.

// HistoryQuery says what a read of a partition starting at Before needs.
//
// Dedup (Window > 0): the counted ids with FromOffset <= offset < Before
// whose record time is later than Window before the newest record time
// counted before Before. That newest time is the largest ledger watermark
// of the partition's blocks below Block, or a counted id's record time in
// [Block×BlockSize, Before) (a read starting mid-block).
//
// Messages: the remembered sends (MessagesQuery).
//
// Contacts (ContactLimit > 0): ContactHistory as of Before.
type HistoryQuery struct {
	Topic      string
	Partition  int32
	FromOffset int64
	Before     int64
	Block      int64
	Window     time.Duration
	Messages   MessagesQuery
	// ContactLimit is ContactsConfig.MaxStates; 0 when contact state is off.
	ContactLimit int
}

// History is the answer to a HistoryQuery.
type History struct {
	// Watermark is the largest ledger watermark of the blocks below
	// HistoryQuery.Block (0 if none).
	Watermark int64
	// IDs are the counted ids the query asks for, in offset order.
	IDs []SeenID
	// Messages are the sends the query asks for, in offset order.
	Messages MessageHistory
	// Contacts are the stored contact states.
	Contacts ContactHistory
}

// NeedsHistory reports whether a record at offset starts the partition's
// memories afresh — its first record, or a re-read from before its current
// block — while a memory (dedup, messages, contact state) is on. The caller
// must then load the partition's history (HistoryQuery) and Seed it before
// Accept or Reject. Without a seed a partition starts with empty memories,
// which is right only when nothing before offset was ever counted.
func (a *Aggregator) NeedsHistory(topic string, partition int32, offset int64) bool {
	dedup, messages, contacts := a.cfg.Dedup.Enabled(), a.cfg.Messages.Enabled(), a.cfg.Contacts.Enabled()
	if !dedup && !messages && !contacts {
		return false
	}
	p := a.partitions[partitionID{topic, partition}]
	return p == nil || (dedup && p.dedup == nil) || (messages && p.messages == nil) || (contacts && p.contacts == nil) || restarts(p, offset)
}

// HistoryQuery is what a read of the partition starting at offset must load.
func (a *Aggregator) HistoryQuery(topic string, partition int32, offset int64) HistoryQuery {
	blk := offset / a.cfg.BlockSize
	q := HistoryQuery{Topic: topic, Partition: partition, Before: offset, Block: blk}
	if a.cfg.Dedup.Enabled() {
		q.FromOffset, q.Window = max(0, blk-a.cfg.dedupBlocks())*a.cfg.BlockSize, a.cfg.Dedup.Window
	}
	if a.cfg.Messages.Enabled() {
		q.Messages = MessagesQuery{FromOffset: max(0, blk-a.cfg.messageBlocks()) * a.cfg.BlockSize, Horizon: a.cfg.Messages.Horizon}
	}
	if a.cfg.Contacts.Enabled() {
		q.ContactLimit = a.cfg.Contacts.MaxStates
	}
	return q
}

// Seed starts the partition of q afresh at q.Before with the stored history
// h, dropping anything held for it (a re-read recomputes identical rows).
func (a *Aggregator) Seed(q HistoryQuery, h History) {
	p := a.partition(q.Topic, q.Partition)
	if p.last >= 0 {
		a.rereads++
		a.dropPartition(p)
	}
	if a.cfg.Dedup.Enabled() {
		p.dedup = a.seedDedup(q, h)
	}
	if a.cfg.Messages.Enabled() {
		p.messages = a.seedMessages(q, h.Messages)
	}
	if a.cfg.Contacts.Enabled() {
		p.contacts = a.seedContacts(h.Contacts)
	}
}
