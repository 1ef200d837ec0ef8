package aggregate

import (
	"cmp"
	"hash/maphash"
	"slices"
	"strings"
	"time"

	"github.com/trustpipe/trustpipe/aggregate/event"
)

// Aggregator accumulates per-block counts. See the package documentation.
type Aggregator struct {
	cfg        Config
	bucketSecs int64
	// seed hashes the blocks' keys (keyIndex); hashes never leave memory.
	seed maphash.Seed

	partitions map[partitionID]*partitionState
	// lastPart caches the most recent partition: consecutive records mostly
	// come from the same partition, and this saves a map lookup per record.
	lastPart *partitionState
	pending  int
	rereads  uint64
	// unattributed counts follow-ups whose send the message memory did
	// not hold (Unattributed).
	unattributed uint64
	// forgotCap and forgotAge count contact states forgotten (ContactsForgotten).
	forgotCap, forgotAge uint64
	// free holds snapshotted blocks for reuse: their maps keep their grown
	// capacity, so a new block does not pay for growing them again.
	free []*blockState
}

// maxFreeBlocks bounds the reuse pool (and so the memory it retains).
const maxFreeBlocks = 4

type partitionID struct {
	topic     string
	partition int32
}

type partitionState struct {
	id   partitionID
	last int64 // last offset seen; -1 before the first
	cur  *blockState
	done []*blockState // completed blocks not yet snapshotted
	// dedup remembers the partition's counted event ids (nil: dedup is off,
	// or the partition starts afresh at its next record).
	dedup *dedupState
	// messages remembers the partition's sends (nil: attribution is off,
	// or the partition starts afresh at its next record).
	messages *messageState
	// contacts is the partition's contact memory (nil: off, or the
	// partition starts afresh at its next record).
	contacts *contactState
}

type blockState struct {
	ref         BlockRef
	first, last int64
	accepted    uint64
	rejected    uint64
	skipped     uint64
	duplicates  uint64
	// watermark is the partition's newest counted record time (Unix s) as of
	// the block's last offset, stored in its ledger row for later seeds.
	watermark   int64
	ledgerDirty bool

	// strs interns the string dimensions of the block's keys; keys numbers
	// the block's count keys, packed (see packedKey), and entries[i] counts
	// keys.keys[i].
	strs    stringTable
	keys    keyIndex[packedKey]
	entries []entry
	dirty   []int32 // indexes of entries changed since the last snapshot

	// contacts are the block's engaged contacts; those from
	// contactsStored on are not in a snapshot yet.
	contacts       keyIndex[ContactRow]
	contactsStored int

	// ids are the block's dedup decisions so far (cumulative, like its
	// counts); idsDirty says some came since the last snapshot.
	ids      IDBlock
	idsDirty bool

	// states are the block's contact-state changes and breaches so far
	// (cumulative, like ids).
	states      ContactBlock
	statesDirty bool

	cohortKeys  keyIndex[CohortKey]
	cohorts     []cohortEntry // cohorts[i] counts cohortKeys.keys[i]
	cohortDirty []int32

	uniques       keyIndex[UniqueRow]
	uniquesStored int

	clickKeys  keyIndex[ClickKey]
	clicks     []clickEntry // clicks[i] counts clickKeys.keys[i]
	clickDirty []int32

	accounts accountState

	lineageIndex map[LineageKey]int32
	lineage      []lineageEntry
	lineageDirty []int32
	// msgs are the block's remembered sends so far (cumulative, like ids).
	msgs      MessageBlock
	msgsDirty bool
}

type clickEntry struct {
	clicks uint64
	dirty  bool
}

type cohortEntry struct {
	events uint64
	dirty  bool
}

type entry struct {
	c     Counts
	dirty bool
}

// New returns an Aggregator.
//
// Events given to Accept must already carry pseudonymized contact ids: the
// aggregator stores ContactID as it is (engaged reach), and raw ids never
// enter this package (the pipeline pseudonymizes at ingest).
func New(cfg Config) (*Aggregator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Aggregator{
		cfg:        cfg,
		bucketSecs: int64(cfg.BucketSize.Seconds()),
		seed:       maphash.MakeSeed(),
		partitions: make(map[partitionID]*partitionState),
	}, nil
}

// Accept counts a valid event read at the given offset, whose Kafka record
// timestamp is recordTime. It counts nothing and returns Redelivered when the
// offset was already processed in the current block (a re-delivery, e.g.
// after a rebalance), and Duplicate when its event_id was already counted
// (DedupConfig).
func (a *Aggregator) Accept(topic string, partition int32, offset int64, recordTime time.Time, ev *event.Event) Outcome {
	b := a.advance(topic, partition, offset)
	if b == nil {
		return Redelivered
	}
	b.accepted++
	if d := a.lastPart.dedup; d != nil {
		h, t := IDHash(ev.ID), recordSecs(recordTime)
		dup := decide(d, &a.cfg, b.ref.Block, h, t)
		b.watermark = d.newest
		a.recordID(b, offset, h, t, dup)
		if dup {
			b.duplicates++
			return Duplicate
		}
	}
	a.judgeContact(b, offset, ev)
	a.count(b, offset, recordTime, ev)
	return Counted
}

// AcceptRecord counts the events of one valid record that holds several
// (a native platform payload, e.g. a SendGrid batch): the offset is one
// accepted record in the ledger, its events all count within it. With
// deduplication on, the record is decided as a whole under recordID (the
// pipeline derives it from its events' ids): a record seen before within
// the window counts none of its events (Duplicate), so one stored decision
// per offset suffices. A record without events (all its native events
// skipped) is accepted and counts nothing.
func (a *Aggregator) AcceptRecord(topic string, partition int32, offset int64, recordTime time.Time, recordID string, evs []event.Event) Outcome {
	b := a.advance(topic, partition, offset)
	if b == nil {
		return Redelivered
	}
	b.accepted++
	if d := a.lastPart.dedup; d != nil && len(evs) > 0 {
		h, t := IDHash(recordID), recordSecs(recordTime)
		dup := decide(d, &a.cfg, b.ref.Block, h, t)
		b.watermark = d.newest
		a.recordID(b, offset, h, t, dup)
		if dup {
			b.duplicates++
			return Duplicate
		}
	}
	for i := range evs {
		a.judgeContact(b, offset, &evs[i])
		a.count(b, offset, recordTime, &evs[i])
	}
	return Counted
}

// recordID stores a dedup decision in block b; the block's id row is one
// pending row however many decisions it holds.
func (a *Aggregator) recordID(b *blockState, offset int64, h uint64, t int64, dup bool) {
	b.ids.record(offset, h, t, dup)
	if !b.idsDirty {
		b.idsDirty = true
		a.pending++
	}
}

// count adds one event, read at offset with Kafka record time recordTime,
// to block b's counts, engaged contacts, cohorts and lineage.
func (a *Aggregator) count(b *blockState, offset int64, recordTime time.Time, ev *event.Event) {
	key := packedKey{
		bucket:      floorDiv(ev.OccurredAt.Unix(), a.bucketSecs) * a.bucketSecs,
		eventType:   ev.Type,
		consentTier: ev.ConsentTier,
		dims: [6]int32{b.strs.id(ev.Detail), b.strs.id(ev.CampaignID), b.strs.id(ev.Channel),
			b.strs.id(ev.Segment), b.strs.id(ev.Source), b.strs.id(ev.Personalization)},
	}
	i, h, ok := b.keys.find(key)
	if !ok {
		i = b.keys.add(key, h)
		b.entries = append(b.entries, entry{})
	}
	e := &b.entries[i]
	e.c.Events++
	if ev.Type == event.Sentiment {
		e.c.ValueNanos += scoreUnits(ev.Score)
	}
	if !e.dirty {
		e.dirty = true
		b.dirty = append(b.dirty, i)
		a.pending++
	}
	if ev.ContactID != "" && Engaged(ev) {
		a.addContact(b, ev)
	}
	if ev.Type.InCohort() {
		a.addCohort(b, ev)
	}
	if ev.AccountID != "" {
		a.pending += b.accounts.add(ev, floorDiv(ev.OccurredAt.Unix(), daySecs)*daySecs)
	}
	if m := a.lastPart.messages; m != nil && ev.MessageID != "" {
		a.attribute(b, m, offset, recordSecs(recordTime), ev)
	}
}

const hourSecs, daySecs = 3600, 86400

// addCohort counts a delivery outcome or follow-up in its send-time cohort,
// and records its contact for the unique-engagement counts.
func (a *Aggregator) addCohort(b *blockState, ev *event.Event) {
	sent, bySendTime := ev.OccurredAt, true
	switch {
	case !ev.SentAt.IsZero():
		sent = ev.SentAt
	case ev.Type != event.Delivered && ev.Type != event.Bounce:
		bySendTime = false // campaign attribution only
	}
	key := CohortKey{
		Cohort:          floorDiv(sent.Unix(), hourSecs) * hourSecs,
		BySendTime:      bySendTime,
		EventType:       ev.Type,
		Detail:          ev.Detail,
		CampaignID:      ev.CampaignID,
		Channel:         ev.Channel,
		MailboxProvider: ev.MailboxProvider,
		SendingDomain:   ev.SendingDomain,
	}
	i, h, ok := b.cohortKeys.find(key)
	if !ok {
		// Decoded events alias the record's bytes (see stringTable.id).
		key.Detail, key.CampaignID, key.Channel = strings.Clone(key.Detail), strings.Clone(key.CampaignID), strings.Clone(key.Channel)
		key.MailboxProvider, key.SendingDomain = strings.Clone(key.MailboxProvider), strings.Clone(key.SendingDomain)
		i = b.cohortKeys.add(key, h)
		b.cohorts = append(b.cohorts, cohortEntry{})
	}
	e := &b.cohorts[i]
	e.events++
	if !e.dirty {
		e.dirty = true
		b.cohortDirty = append(b.cohortDirty, i)
		a.pending++
	}
	if ev.ContactID == "" {
		return
	}
	var kind string
	switch {
	case ev.Type == event.Delivered:
		kind = UniqueRecipient
	case ev.Type == event.Open && ev.Detail != event.DetailMachine:
		kind = UniqueOpener
	case ev.Type == event.Click && ev.Detail != event.DetailBot:
		kind = UniqueClicker
	default:
		return
	}
	row := UniqueRow{
		Day:        floorDiv(sent.Unix(), daySecs) * daySecs,
		CampaignID: ev.CampaignID,
		Channel:    ev.Channel,
		Kind:       kind,
		Contact:    ev.ContactID, // already a pseudonym (see New)
	}
	if kind == UniqueClicker {
		a.addClick(b, ClickKey{Day: row.Day, CampaignID: row.CampaignID, Channel: row.Channel, Contact: row.Contact})
	}
	_, h, seen := b.uniques.find(row)
	if seen {
		return
	}
	row.CampaignID, row.Channel, row.Contact = strings.Clone(row.CampaignID), strings.Clone(row.Channel), strings.Clone(row.Contact)
	b.uniques.add(row, h)
	a.pending++
}

// addClick counts one human click of a contact in block b.
func (a *Aggregator) addClick(b *blockState, key ClickKey) {
	i, h, ok := b.clickKeys.find(key)
	if !ok {
		// Decoded events alias the record's bytes (see stringTable.id).
		key.CampaignID, key.Channel, key.Contact = strings.Clone(key.CampaignID), strings.Clone(key.Channel), strings.Clone(key.Contact)
		i = b.clickKeys.add(key, h)
		b.clicks = append(b.clicks, clickEntry{})
	}
	e := &b.clicks[i]
	e.clicks++
	if !e.dirty {
		e.dirty = true
		b.clickDirty = append(b.clickDirty, i)
		a.pending++
	}
}

// Reject accounts for an invalid record at the given offset. It returns
// false when the offset was already accounted for in the current block; the
// caller then must not dead-letter it again.
func (a *Aggregator) Reject(topic string, partition int32, offset int64) bool {
	b := a.advance(topic, partition, offset)
	if b == nil {
		return false
	}
	b.rejected++
	return true
}

// Skip accounts for an offset that carries no event: a transaction marker
// or a record of an aborted transaction. It counts neither as accepted nor
// as rejected (it is not input, so it must not move the dead-letter rate),
// but the ledger still accounts for the offset. It returns false when the
// offset was already accounted for in the current block.
func (a *Aggregator) Skip(topic string, partition int32, offset int64) bool {
	b := a.advance(topic, partition, offset)
	if b == nil {
		return false
	}
	b.skipped++
	return true
}

// Engaged reports whether an event shows a contact actively engaging:
// human opens, clicks, form fills, web sessions, preference-centre visits and
// opt-ups. Engaged reach counts the distinct contacts behind these.
func Engaged(ev *event.Event) bool {
	switch ev.Type {
	case event.Open:
		return ev.Detail != event.DetailMachine
	case event.Click, event.FormFill, event.WebSession, event.PreferenceCenterVisit, event.OptUp:
		return true
	}
	return false
}

func (a *Aggregator) addContact(b *blockState, ev *event.Event) {
	row := ContactRow{
		Day:        floorDiv(ev.OccurredAt.Unix(), 86400) * 86400,
		CampaignID: ev.CampaignID,
		Channel:    ev.Channel,
		Segment:    ev.Segment,
		Source:     ev.Source,
		Contact:    ev.ContactID, // already a pseudonym (see New)
	}
	_, h, seen := b.contacts.find(row)
	if seen {
		return
	}
	row.CampaignID, row.Channel = strings.Clone(row.CampaignID), strings.Clone(row.Channel)
	row.Segment, row.Source = strings.Clone(row.Segment), strings.Clone(row.Source)
	row.Contact = strings.Clone(row.Contact)
	b.contacts.add(row, h)
	a.pending++
}

// packedKey is a Key within one block with its strings numbered by the
// block's stringTable (dims: Detail, CampaignID, Channel, Segment, Source,
// Personalization). It holds no pointers, so the block's keys cost the
// garbage collector nothing to scan, and it is 40 bytes where a Key is 120.
// Two keys of a block are equal exactly when their packed keys are: the
// table numbers equal strings alike and different strings apart.
type packedKey struct {
	bucket      int64
	dims        [6]int32
	eventType   event.Type
	consentTier uint8
}

// key is the Key that k packs in a block whose strings are t; its strings
// share the table's memory.
func (k *packedKey) key(t *stringTable) Key {
	return Key{
		Bucket: k.bucket, EventType: k.eventType, ConsentTier: k.consentTier,
		Detail: t.str(k.dims[0]), CampaignID: t.str(k.dims[1]), Channel: t.str(k.dims[2]),
		Segment: t.str(k.dims[3]), Source: t.str(k.dims[4]), Personalization: t.str(k.dims[5]),
	}
}

// partition returns the state of a partition, creating it, and caches it
// as the most recent one.
func (a *Aggregator) partition(topic string, partition int32) *partitionState {
	p := a.lastPart
	if p == nil || p.id.partition != partition || p.id.topic != topic {
		id := partitionID{topic, partition}
		p = a.partitions[id]
		if p == nil {
			p = &partitionState{id: id, last: -1}
			a.partitions[id] = p
		}
		a.lastPart = p
	}
	return p
}

// restarts reports whether offset re-reads the partition from before its
// current block: a rebalance handed it back from the committed offset.
func restarts(p *partitionState, offset int64) bool {
	return p.last >= 0 && offset <= p.last && (p.cur == nil || offset < p.cur.first)
}

// advance moves the partition to offset and returns the block that owns it,
// or nil when the offset was already processed in the current block.
func (a *Aggregator) advance(topic string, partition int32, offset int64) *blockState {
	p := a.partition(topic, partition)
	if restarts(p, offset) {
		// Drop what we hold: re-reading recomputes identical rows.
		a.rereads++
		a.dropPartition(p)
	} else if p.last >= 0 && offset <= p.last {
		return nil // re-delivered: already counted
	}
	if p.dedup == nil && a.cfg.Dedup.Enabled() {
		p.dedup = newDedupState() // not seeded: nothing counted before
	}
	if p.messages == nil && a.cfg.Messages.Enabled() {
		p.messages = newRecentSet[SendFacts]() // not seeded: no send before
	}
	if p.contacts == nil && a.cfg.Contacts.Enabled() {
		p.contacts = newContactState() // not seeded: no state before
	}
	blk := offset / a.cfg.BlockSize
	if p.cur == nil || p.cur.ref.Block != blk {
		if p.cur != nil {
			p.done = append(p.done, p.cur)
		}
		p.cur = a.newBlock(BlockRef{Topic: topic, Partition: partition, Block: blk}, offset)
		if p.dedup != nil {
			p.cur.watermark = p.dedup.newest
		}
		if p.messages != nil {
			p.cur.msgs.Watermark = p.messages.newest
		}
	}
	p.last = offset
	b := p.cur
	b.last = offset
	if !b.ledgerDirty {
		b.ledgerDirty = true
		a.pending++
	}
	return b
}

func (a *Aggregator) newBlock(ref BlockRef, first int64) *blockState {
	if n := len(a.free); n > 0 {
		b := a.free[n-1]
		a.free = a.free[:n-1]
		b.ref, b.first, b.last = ref, first, first
		b.ids.BlockRef, b.ids.Base = ref, ref.Block*a.cfg.BlockSize
		b.msgs.BlockRef, b.msgs.Base = ref, ref.Block*a.cfg.BlockSize
		b.states.BlockRef, b.states.Base = ref, ref.Block*a.cfg.BlockSize
		return b
	}
	b := &blockState{ref: ref, first: first, strs: stringTable{newKeyIndex[string](a.seed)}, keys: newKeyIndex[packedKey](a.seed), contacts: newKeyIndex[ContactRow](a.seed),
		cohortKeys: newKeyIndex[CohortKey](a.seed), uniques: newKeyIndex[UniqueRow](a.seed), clickKeys: newKeyIndex[ClickKey](a.seed),
		accounts: newAccountState(), lineageIndex: make(map[LineageKey]int32)}
	b.ids.BlockRef, b.ids.Base = ref, ref.Block*a.cfg.BlockSize
	b.msgs.BlockRef, b.msgs.Base = ref, ref.Block*a.cfg.BlockSize
	b.states.BlockRef, b.states.Base = ref, ref.Block*a.cfg.BlockSize
	return b
}

// release returns a block that will never be written again to the pool.
func (a *Aggregator) release(b *blockState) {
	if len(a.free) >= maxFreeBlocks {
		return
	}
	b.strs.reset()
	b.keys.reset()
	b.contacts.reset()
	b.cohortKeys.reset()
	b.uniques.reset()
	b.clickKeys.reset()
	b.accounts.reset()
	clear(b.lineageIndex)
	b.lineage, b.lineageDirty = b.lineage[:0], b.lineageDirty[:0]
	b.entries, b.dirty, b.contactsStored = b.entries[:0], b.dirty[:0], 0
	b.cohorts, b.cohortDirty, b.uniquesStored = b.cohorts[:0], b.cohortDirty[:0], 0
	b.clicks, b.clickDirty = b.clicks[:0], b.clickDirty[:0]
	// The id arrays are not reused: a snapshot still being written may
	// share them (IDBlock.shared).
	b.ids, b.idsDirty = IDBlock{}, false
	b.msgs, b.msgsDirty = MessageBlock{}, false
	b.states, b.statesDirty = ContactBlock{}, false
	b.accepted, b.rejected, b.skipped, b.duplicates, b.watermark, b.ledgerDirty = 0, 0, 0, 0, 0, false
	a.free = append(a.free, b)
}

func (a *Aggregator) dropPartition(p *partitionState) {
	for _, b := range p.done {
		a.pending -= b.pendingRows()
	}
	if p.cur != nil {
		a.pending -= p.cur.pendingRows()
	}
	p.done, p.cur, p.last, p.dedup, p.messages, p.contacts = nil, nil, -1, nil, nil, nil
}

// newContacts and newUniques are the rows of the block's engaged contacts
// and unique rows not yet in a snapshot.
func (b *blockState) newContacts() int { return b.contacts.len() - b.contactsStored }
func (b *blockState) newUniques() int  { return b.uniques.len() - b.uniquesStored }

func (b *blockState) pendingRows() int {
	n := len(b.dirty) + b.newContacts() + len(b.cohortDirty) + b.newUniques() + len(b.clickDirty) + b.accounts.pendingRows() +
		len(b.lineageDirty)
	for _, dirty := range []bool{b.ledgerDirty, b.idsDirty, b.msgsDirty, b.statesDirty} {
		if dirty {
			n++
		}
	}
	return n
}

// Pending is the number of rows the next Snapshot would carry; the pipeline
// snapshots early when it grows past its limit, bounding memory.
func (a *Aggregator) Pending() int { return a.pending }

// Rereads counts how often a partition was re-read from an earlier offset.
func (a *Aggregator) Rereads() uint64 { return a.rereads }

// Snapshot returns the rows changed since the previous snapshot and releases
// completed blocks. Blocks still open keep their cumulative counts so later
// snapshots stay cumulative.
func (a *Aggregator) Snapshot() *Snapshot {
	// Each slice is sized exactly: a backfill's snapshot holds about as
	// many rows as events, and sizing every slice by the pending total (or
	// letting them grow by doubling) held up to twice that in memory.
	var counts, contacts, ids, states, ledger int
	size := func(b *blockState) {
		counts, contacts, ledger = counts+len(b.dirty), contacts+b.newContacts(), ledger+1
		if b.idsDirty {
			ids++
		}
		if b.statesDirty {
			states++
		}
	}
	for _, p := range a.partitions {
		for _, b := range p.done {
			size(b)
		}
		if p.cur != nil {
			size(p.cur)
		}
	}
	s := &Snapshot{Counts: make([]CountRow, 0, counts), Contacts: make([]ContactRow, 0, contacts), IDs: make([]IDBlock, 0, ids),
		ContactStates: make([]ContactBlock, 0, states), Ledger: make([]LedgerRow, 0, ledger)}
	for _, p := range a.partitions {
		for _, b := range p.done {
			b.snapshot(s, true, a.cfg.BlockSize)
		}
		if n := len(p.done); n > 0 {
			// Commit the block's nominal end, not the last offset seen: every
			// committed offset is then a block start, so a stale or repeated
			// commit (kafka-go issue 1308) can only make a block be re-read
			// whole, never from its middle.
			end := (p.done[n-1].ref.Block+1)*a.cfg.BlockSize - 1
			s.Commits = append(s.Commits, Position{Topic: p.id.topic, Partition: p.id.partition, Offset: end})
			for _, b := range p.done {
				a.release(b)
			}
			p.done = p.done[:0]
		}
		if p.cur != nil {
			p.cur.snapshot(s, false, a.cfg.BlockSize)
		}
	}
	a.pending = 0
	return s
}

// version orders the rows of one block written by different reads of it.
// Reads are ranked first by where they began in the block: a read that began
// earlier saw every record a later-starting read saw, so its rows win for
// every key, whichever offset either read had reached when it flushed that
// key (a partial read, after retention deleted the block's start or after a
// consumer group lost its offsets, flushes a key late in the block that the
// complete read last flushed early). Within one read, rows grow with the
// offset reached, and the final row of a completed block wins over an
// interim one at the same offset. Rows written after a crash by a re-read
// from the same start carry the same counts at the same position, so equal
// versions never disagree.
func (b *blockState) version(blockSize int64, complete bool) int64 {
	start := b.ref.Block * blockSize
	rank := blockSize - 1 - (b.first - start) // blockSize−1 for a read from the block start
	v := (rank*blockSize + (b.last - start)) * 2
	if complete {
		v++
	}
	return versionEpoch + v
}

// versionEpoch lifts every version above those of the earlier layout (last
// offset × block size + rank, below 2^62 for any offset below 4.6e12 at the
// largest block size), so a block that was being read when trustpipe was
// upgraded is rewritten, not shadowed, by its re-read. Versions stay below
// 2^62 + 2·MaxBlockSize².
const versionEpoch = 1 << 62

func (b *blockState) snapshot(s *Snapshot, complete bool, blockSize int64) {
	version := b.version(blockSize, complete)
	for _, i := range b.dirty {
		e := &b.entries[i]
		e.dirty = false
		s.Counts = append(s.Counts, CountRow{Key: b.keys.keys[i].key(&b.strs), BlockRef: b.ref, Counts: e.c, Version: version})
	}
	b.dirty = b.dirty[:0]
	s.Contacts = append(s.Contacts, b.contacts.keys[b.contactsStored:]...)
	b.contactsStored = b.contacts.len()
	for _, i := range b.cohortDirty {
		e := &b.cohorts[i]
		e.dirty = false
		s.Cohorts = append(s.Cohorts, CohortRow{CohortKey: b.cohortKeys.keys[i], BlockRef: b.ref, Events: e.events, Version: version})
	}
	b.cohortDirty = b.cohortDirty[:0]
	s.Uniques = append(s.Uniques, b.uniques.keys[b.uniquesStored:]...)
	b.uniquesStored = b.uniques.len()
	for _, i := range b.clickDirty {
		e := &b.clicks[i]
		e.dirty = false
		s.Clicks = append(s.Clicks, ClickRow{ClickKey: b.clickKeys.keys[i], BlockRef: b.ref, Clicks: e.clicks, Version: version})
	}
	b.clickDirty = b.clickDirty[:0]
	b.accounts.snapshot(s, b.ref, version)
	if b.idsDirty {
		s.IDs = append(s.IDs, b.ids.shared(version))
		b.idsDirty = false
	}
	for _, i := range b.lineageDirty {
		e := &b.lineage[i]
		e.dirty = false
		s.Lineage = append(s.Lineage, LineageRow{LineageKey: e.key, BlockRef: b.ref, Events: e.events, Version: version})
	}
	b.lineageDirty = b.lineageDirty[:0]
	if b.msgsDirty {
		s.Messages = append(s.Messages, b.msgs.shared(version))
		b.msgsDirty = false
	}
	if b.statesDirty {
		s.ContactStates = append(s.ContactStates, b.states.shared(version))
		b.statesDirty = false
	}
	if b.ledgerDirty || complete {
		s.Ledger = append(s.Ledger, LedgerRow{
			BlockRef:    b.ref,
			FirstOffset: b.first,
			LastOffset:  b.last,
			Consumed:    b.accepted + b.rejected,
			Accepted:    b.accepted,
			Rejected:    b.rejected,
			Skipped:     b.skipped,
			Duplicates:  b.duplicates,
			Watermark:   b.watermark,
			Complete:    complete,
			Version:     version,
		})
		b.ledgerDirty = false
	}
}

// floorDiv divides rounding towards negative infinity, so buckets before
// 1970 still start at their true boundary.
func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// Partition names one topic partition.
type Partition struct {
	Topic     string
	Partition int32
}

// Retain forgets every partition owned rejects: its open and completed
// blocks, their un-snapshotted rows and its dedup memory. It is for
// partitions a consumer-group rebalance moved to another member, whose
// state would otherwise be held for ever; the new owner re-reads them from
// their last committed block start, so nothing dropped here is lost. It
// must never drop a partition that is still being read: its next record,
// mid-block, would start a partial read whose rows lose to the complete
// read's. It returns the partitions dropped.
func (a *Aggregator) Retain(owned func(Partition) bool) []Partition {
	var dropped []Partition
	for id, p := range a.partitions {
		part := Partition{Topic: id.topic, Partition: id.partition}
		if owned(part) {
			continue
		}
		a.dropPartition(p)
		delete(a.partitions, id)
		if a.lastPart == p {
			a.lastPart = nil
		}
		dropped = append(dropped, part)
	}
	sortPartitions(dropped)
	return dropped
}

// Partitions lists the partitions the aggregator holds state for, sorted.
func (a *Aggregator) Partitions() []Partition {
	ps := make([]Partition, 0, len(a.partitions))
	for id := range a.partitions {
		ps = append(ps, Partition{Topic: id.topic, Partition: id.partition})
	}
	sortPartitions(ps)
	return ps
}

func sortPartitions(ps []Partition) {
	slices.SortFunc(ps, func(x, y Partition) int {
		return cmp.Or(strings.Compare(x.Topic, y.Topic), cmp.Compare(x.Partition, y.Partition))
	})
}
