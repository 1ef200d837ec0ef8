package aggregate

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/trustpipe/trustpipe/aggregate/event"
)

// MessagesConfig is the per-partition memory message_id → facts of its send
// that attributes follow-ups to what their send was made of (README,
// "Provenance"): which inputs personalized it, whether its reason was shown
// to the buyer. A complaint carries neither; its send does.
//
// A follow-up (event.Type.IsFollowUp) with a message_id is attributed to
// the newest counted send with the same message_id (its 64-bit xxhash) in
// the same partition, at a lower offset, in one of the last
// MaxMessages/BlockSize blocks (rounded up) before the follow-up's block or
// in that block, whose Kafka record time is within Horizon before the newer
// of the follow-up's record time and the newest record time of a counted
// send so far in the partition — the rule of DedupConfig, applied to sends.
// Every term is a function of the log, so every read of an offset — after
// kill -9, a rebalance, a re-read starting mid-block or a replay — decides
// the same, provided the sends counted before the read's first offset are
// loaded (Aggregator.NeedsHistory, Seed). Producers key records by contact,
// so a send and its follow-ups share a partition; a follow-up whose send is
// in another partition or topic, older than the horizon or forgotten under
// the cap is counted as unattributed (FacetUnattributed, Unattributed).
type MessagesConfig struct {
	// Horizon is how long, in record time, a send's facts are remembered.
	// Zero turns the memory off (and the rows it stores).
	Horizon time.Duration
	// MaxMessages bounds the sends remembered per partition: sends more
	// than ceil(MaxMessages/BlockSize) whole blocks before the current one
	// are forgotten even within the horizon. Memory per partition is at
	// most (that many blocks + 1) × BlockSize sends, about 115 bytes each
	// (measured on a million).
	MaxMessages int
	// Models are the model ids whose "model:<id>" inputs are stored by
	// name, at most MaxModels; every other model is stored as
	// "model:other". Model ids are open-ended: the list bounds the rows.
	Models []string
}

// DefaultMessagesConfig remembers sends for 7 days (complaints and feedback
// arrive within days), up to 100 000 per partition (about 12 MB), and names
// no model.
func DefaultMessagesConfig() MessagesConfig {
	return MessagesConfig{Horizon: 7 * 24 * time.Hour, MaxMessages: 100_000}
}

// MaxModels bounds MessagesConfig.Models (the input bit mask holds them).
const MaxModels = 16

// The errors MessagesConfig validation wraps.
var (
	ErrMessagesHorizon = errors.New("the attribution horizon must be 0 (off) or at least 1s")
	ErrMessagesMax     = fmt.Errorf("the remembered sends per partition must be from 1 to %d", maxDedupIDs)
	ErrModels          = fmt.Errorf("the named models must be at most %d distinct, non-empty ids of at most %d bytes", MaxModels, event.MaxInputTagLen-len(event.ModelInputPrefix))
)

// Enabled reports whether follow-ups are attributed to their sends' facts.
func (c MessagesConfig) Enabled() bool { return c.Horizon > 0 }

func (c MessagesConfig) validate() error {
	if c.Horizon == 0 {
		return nil
	}
	if c.Horizon < time.Second {
		return fmt.Errorf("%w: got %s", ErrMessagesHorizon, c.Horizon)
	}
	if c.MaxMessages < 1 || c.MaxMessages > maxDedupIDs {
		return fmt.Errorf("%w: got %d", ErrMessagesMax, c.MaxMessages)
	}
	if len(c.Models) > MaxModels {
		return fmt.Errorf("%w: got %d", ErrModels, len(c.Models))
	}
	for i, m := range c.Models {
		if m == "" || len(m) > event.MaxInputTagLen-len(event.ModelInputPrefix) || slices.Contains(c.Models[:i], m) {
			return fmt.Errorf("%w: got %q", ErrModels, m)
		}
	}
	return nil
}

// Facets of the lineage rows: what kind of send fact a row is counted under.
const (
	// FacetInput: one row per input tag of the send (a send with three
	// inputs counts under each), InputNone for a personalized send that
	// names none, InputOtherModel for a model not in MessagesConfig.Models.
	FacetInput = "input"
	// FacetReason: personalized sends only, by ReasonVisible, ReasonHidden
	// or ReasonNone.
	FacetReason = "reason"
	// FacetUnattributed: follow-ups with a message_id whose send was not
	// found (Fact empty), under the day of their sent_at, else their own.
	FacetUnattributed = "unattributed"
)

// Facts of FacetInput and FacetReason besides the input tags themselves.
const (
	InputNone       = "none"
	InputOtherModel = event.ModelInputPrefix + "other"
	ReasonVisible   = "visible" // a reason the buyer is shown
	ReasonHidden    = "hidden"  // a documented reason, not shown
	ReasonNone      = "none"    // no reason
)

// LineageKey is one send fact and dimension combination of the lineage
// rows: the sends with the fact (EventType send) and the follow-ups of
// those sends, under the send's UTC day, so a rate is judged against the
// deliveries it follows (DESIGN.md, "Attribution").
type LineageKey struct {
	Day        int64 // Unix seconds of the send's UTC day start
	Facet      string
	Fact       string
	EventType  event.Type
	Detail     string
	CampaignID string // the event's own
	Channel    string
}

// LineageRow is a cumulative count for a LineageKey within a block,
// versioned like CountRow.
type LineageRow struct {
	LineageKey
	BlockRef
	Events  uint64
	Version int64
}

// SendFacts are what the memory keeps of a send.
type SendFacts struct {
	Day    uint32 // days since 1970-01-01 of the send's occurred_at (UTC)
	Inputs uint32 // bit per input (inputBit)
	Flags  uint8  // factPersonalized | reason code << 1
}

const (
	factPersonalized uint8 = 1
	reasonShift            = 1
	// reason codes (Flags >> reasonShift)
	reasonNone, reasonHidden, reasonVisible uint8 = 0, 1, 2
)

// Input bits: event.InputTags in order, then InputOtherModel, then
// MessagesConfig.Models in order. Changing Models changes what stored bits
// mean: it is a settings change (consumers.SettingsFingerprint).
const modelOtherBit = 4

// MessageBlock holds the sends of one block the memory remembered, as far
// as one read of it got: the stored form of the memory, one row per (topic,
// partition, block), cumulative and versioned like IDBlock, so a later
// read starting after the block loads it back (HistoryQuery.Messages).
type MessageBlock struct {
	BlockRef
	Base        int64 // Block × BlockSize; Offsets are relative to it
	Offsets     []uint32
	Hashes      []uint64
	RecordTimes []uint32
	Days        []uint32
	Inputs      []uint32
	Flags       []uint8
	// Watermark is the newest record time (Unix s) of a send remembered in
	// the partition as of the block's last send.
	Watermark int64
	Version   int64
}

// Len is the number of sends in the block.
func (b *MessageBlock) Len() int { return len(b.Offsets) }

func (b *MessageBlock) record(offset int64, h uint64, t int64, f SendFacts) {
	b.Offsets = append(b.Offsets, uint32(offset-b.Base))
	b.Hashes = append(b.Hashes, h)
	b.RecordTimes = append(b.RecordTimes, uint32(t))
	b.Days = append(b.Days, f.Day)
	b.Inputs = append(b.Inputs, f.Inputs)
	b.Flags = append(b.Flags, f.Flags)
}

// shared returns the sends so far as capped slices, for a snapshot (see
// IDBlock.shared).
func (b *MessageBlock) shared(version int64) MessageBlock {
	n := len(b.Offsets)
	return MessageBlock{BlockRef: b.BlockRef, Base: b.Base, Offsets: b.Offsets[:n:n], Hashes: b.Hashes[:n:n],
		RecordTimes: b.RecordTimes[:n:n], Days: b.Days[:n:n], Inputs: b.Inputs[:n:n], Flags: b.Flags[:n:n],
		Watermark: b.Watermark, Version: version}
}

// MessagesQuery is what a read starting at HistoryQuery.Before needs of
// the message memory: every send stored with FromOffset <= offset < Before,
// and the newest send record time of the blocks below HistoryQuery.Block
// (the largest Watermark of their message blocks). Unlike dedup's ids the
// sends are not filtered by the horizon: a send re-using a message_id
// supersedes the earlier send even when it is itself past the horizon
// (the follow-up is then unattributed), so a dead send must be loaded to
// decide as an uninterrupted read does. The cap bounds what is loaded.
// Horizon 0: nothing is asked.
type MessagesQuery struct {
	FromOffset int64
	Horizon    time.Duration
}

// MessageHistory is the answer to a MessagesQuery.
type MessageHistory struct {
	Watermark int64 // the largest Watermark of the blocks below the query's Block
	Sends     []SeenSend
}

// SeenSend is a remembered send at an offset.
type SeenSend struct {
	Offset     int64
	Hash       uint64
	RecordTime int64 // Unix seconds
	Facts      SendFacts
}

// messageState is one partition's message memory.
type messageState = recentSet[SendFacts]

func (c *Config) messageBlocks() int64 {
	return (int64(c.Messages.MaxMessages) + c.BlockSize - 1) / c.BlockSize
}

func (c *Config) horizonSecs() int64 { return int64(c.Messages.Horizon / time.Second) }

// sendFacts returns the facts of a send.
func (c *Config) sendFacts(ev *event.Event) SendFacts {
	f := SendFacts{Day: uint32(floorDiv(ev.OccurredAt.Unix(), daySecs))}
	for _, in := range ev.Inputs {
		f.Inputs |= 1 << c.inputBit(in)
	}
	if ev.Personalization != "" && ev.Personalization != "none" {
		f.Flags |= factPersonalized
	}
	switch {
	case ev.ReasonVisible:
		f.Flags |= reasonVisible << reasonShift
	case ev.Reason != "":
		f.Flags |= reasonHidden << reasonShift
	}
	return f
}

func (c *Config) inputBit(tag string) int {
	if i := slices.Index(event.InputTags, tag); i >= 0 {
		return i
	}
	if i := slices.Index(c.Messages.Models, strings.TrimPrefix(tag, event.ModelInputPrefix)); i >= 0 {
		return modelOtherBit + 1 + i
	}
	return modelOtherBit
}

// inputLabel is the fact of input bit i.
func (c *Config) inputLabel(i int) string {
	switch {
	case i < modelOtherBit:
		return event.InputTags[i]
	case i == modelOtherBit:
		return InputOtherModel
	}
	return event.ModelInputPrefix + c.Messages.Models[i-modelOtherBit-1]
}

var reasonLabels = [...]string{reasonNone: ReasonNone, reasonHidden: ReasonHidden, reasonVisible: ReasonVisible}

// eachFact calls fn with every (facet, fact) a send with facts f counts
// under: its inputs (or InputNone when personalized without any), and for
// a personalized send its reason.
func (c *Config) eachFact(f SendFacts, fn func(facet, fact string)) {
	personalized := f.Flags&factPersonalized != 0
	if f.Inputs == 0 && personalized {
		fn(FacetInput, InputNone)
	}
	for i := range modelOtherBit + 1 + len(c.Messages.Models) {
		if f.Inputs&(1<<i) != 0 {
			fn(FacetInput, c.inputLabel(i))
		}
	}
	if personalized {
		fn(FacetReason, reasonLabels[f.Flags>>reasonShift])
	}
}

// attribute remembers a send or attributes a follow-up (both with a
// message_id), adding their lineage rows to block b.
func (a *Aggregator) attribute(b *blockState, m *messageState, offset, t int64, ev *event.Event) {
	blk := b.ref.Block
	m.forget(blk-a.cfg.messageBlocks(), a.cfg.horizonSecs())
	h := IDHash(ev.MessageID)
	if ev.Type == event.Send {
		f := a.cfg.sendFacts(ev)
		m.remember(blk, h, t, f)
		b.msgs.record(offset, h, t, f)
		b.msgs.Watermark = m.newest
		if !b.msgsDirty {
			b.msgsDirty = true
			a.pending++
		}
		a.addFacts(b, f, ev)
		return
	}
	f, ok := m.lookup(h, t, a.cfg.horizonSecs())
	if !ok {
		a.unattributed++
		day := ev.OccurredAt
		if !ev.SentAt.IsZero() {
			day = ev.SentAt
		}
		a.addLineage(b, LineageKey{Day: floorDiv(day.Unix(), daySecs) * daySecs, Facet: FacetUnattributed}, ev)
		return
	}
	a.addFacts(b, f, ev)
}

func (a *Aggregator) addFacts(b *blockState, f SendFacts, ev *event.Event) {
	day := int64(f.Day) * daySecs
	a.cfg.eachFact(f, func(facet, fact string) {
		a.addLineage(b, LineageKey{Day: day, Facet: facet, Fact: fact}, ev)
	})
}

// addLineage counts ev under k (whose Day, Facet and Fact are set).
func (a *Aggregator) addLineage(b *blockState, k LineageKey, ev *event.Event) {
	k.EventType, k.Detail, k.CampaignID, k.Channel = ev.Type, ev.Detail, ev.CampaignID, ev.Channel
	i, ok := b.lineageIndex[k]
	if !ok {
		// Decoded events alias the record's bytes (see stringTable.id).
		k.Detail, k.CampaignID, k.Channel = strings.Clone(k.Detail), strings.Clone(k.CampaignID), strings.Clone(k.Channel)
		i = int32(len(b.lineage))
		b.lineage = append(b.lineage, lineageEntry{key: k})
		b.lineageIndex[k] = i
	}
	e := &b.lineage[i]
	e.events++
	if !e.dirty {
		e.dirty = true
		b.lineageDirty = append(b.lineageDirty, i)
		a.pending++
	}
}

type lineageEntry struct {
	key    LineageKey
	events uint64
	dirty  bool
}

// seedMessages rebuilds a partition's message memory at q.Before from h.
func (a *Aggregator) seedMessages(q HistoryQuery, h MessageHistory) *messageState {
	m := newRecentSet[SendFacts]()
	m.newest = h.Watermark
	for _, s := range h.Sends {
		m.newest = max(m.newest, s.RecordTime)
	}
	for _, s := range h.Sends {
		m.remember(s.Offset/a.cfg.BlockSize, s.Hash, s.RecordTime, s.Facts)
	}
	m.forget(q.Block-a.cfg.messageBlocks(), a.cfg.horizonSecs())
	return m
}

// Unattributed counts the follow-ups with a message_id whose send was not
// found in the message memory (re-reads count again): the
// trustpipe_followups_unattributed_total metric.
func (a *Aggregator) Unattributed() uint64 { return a.unattributed }

// MessagesRemembered is the number of sends held by the message memory over
// all partitions: what its memory is proportional to.
func (a *Aggregator) MessagesRemembered() int {
	n := 0
	for _, p := range a.partitions {
		if p.messages != nil {
			n += p.messages.len()
		}
	}
	return n
}
