// Package aggregate turns a stream of decoded events, addressed by their
// Kafka (topic, partition, offset), into exact, replayable count rows.
//
// Exactness comes from the layout (DESIGN.md, "Exactness"): each partition's
// offsets are cut into fixed blocks (block = offset / BlockSize). For every
// block the Aggregator keeps cumulative counts per base bucket and dimension
// combination. A Snapshot hands out the rows that changed since the previous
// snapshot, each tagged with a version — how early in the block the read
// began, then the highest offset it had covered — so storage that keeps the highest version per key holds exactly
// the block's counts, however often the block is re-read or re-flushed.
// Re-reading a block from its start always produces the same rows, so a
// crash, a rebalance or a replay never loses or doubles an event.
//
// The package is pure: no clock, no I/O. An Aggregator is not safe for
// concurrent use; the pipeline owns it from a single goroutine.
package aggregate

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/trustpipe/trustpipe/aggregate/event"
	"github.com/trustpipe/trustpipe/aggregate/indicator"
)

// Config sizes the aggregation.
type Config struct {
	// BucketSize is the width of the base time buckets (default 1 minute).
	// It must divide a day evenly so buckets align with days.
	BucketSize time.Duration
	// BlockSize is the number of offsets per block. Offsets are committed only
	// at block ends, so up to BlockSize records per partition are re-read
	// after a crash. Memory per partition is bounded by BlockSize keys.
	BlockSize int64
	// Dedup counts each event_id once (zero value: off).
	Dedup DedupConfig
	// Messages attributes follow-ups to their sends' facts (zero value: off).
	Messages MessagesConfig
	// Contacts judges sends against contact state (zero value: off).
	Contacts ContactsConfig
}

// DefaultConfig returns the defaults: one-minute buckets, 10 000-offset
// blocks, DefaultDedupConfig, DefaultMessagesConfig, DefaultContactsConfig.
func DefaultConfig() Config {
	return Config{BucketSize: time.Minute, BlockSize: 10000, Dedup: DefaultDedupConfig(), Messages: DefaultMessagesConfig(), Contacts: DefaultContactsConfig()}
}

// The errors Validate wraps; callers map them to their own setting names.
var (
	ErrBucketSize  = errors.New("the bucket size must be at least 1s and divide 24h evenly (e.g. 1m, 5m, 1h)")
	ErrBlockSize   = fmt.Errorf("the block size must be a whole number of offsets from 1 to %d", MaxBlockSize)
	ErrDedupWindow = errors.New("the dedup window must be 0 (off) or at least 1s")
	ErrDedupMaxIDs = fmt.Errorf("the dedup id limit must be from 1 to %d", maxDedupIDs)
)

// Validate reports a configuration the aggregator cannot work with: the
// error wraps one of the errors above and names the offending value.
func (c Config) Validate() error {
	if c.BucketSize < time.Second || (24*time.Hour)%c.BucketSize != 0 {
		return fmt.Errorf("%w: got %s", ErrBucketSize, c.BucketSize)
	}
	if c.BlockSize < 1 || c.BlockSize > MaxBlockSize {
		return fmt.Errorf("%w: got %d", ErrBlockSize, c.BlockSize)
	}
	if err := c.Dedup.validate(); err != nil {
		return err
	}
	if err := c.Messages.validate(); err != nil {
		return err
	}
	return c.Contacts.validate()
}

// MaxBlockSize bounds BlockSize so that row versions (see
// blockState.version, about 2·BlockSize² above their epoch) fit in int64.
const MaxBlockSize = 1_000_000

// Key is one base bucket and dimension combination: the grouping of the
// trust_counts read surface.
type Key struct {
	Bucket          int64 // Unix seconds of the bucket's UTC start
	EventType       event.Type
	Detail          string
	CampaignID      string
	Channel         string
	Segment         string
	Source          string
	Personalization string
	ConsentTier     uint8
}

// ScoreScale converts a sentiment score to the integer units that are summed.
// Integer sums are associative, so value sums are exact whatever the order in
// which storage adds rows; 1e9 keeps nine decimal places of every score. It
// is indicator.ScoreScale, which the account rule divides by.
const ScoreScale = indicator.ScoreScale

// Counts are the measures of a Key within one block.
type Counts struct {
	Events     uint64
	ValueNanos int64 // sum of round(score * ScoreScale)
}

// BlockRef names a block of one partition.
type BlockRef struct {
	Topic     string
	Partition int32
	Block     int64
}

// CountRow is a cumulative count for a Key within a block. Version grows
// with how early in the block the read began and, within one read, with the
// highest offset it had covered, so the highest version is always the most
// complete count, whatever the flush timing of either read.
type CountRow struct {
	Key
	BlockRef
	Counts
	Version int64
}

// ContactRow records that a pseudonymized contact engaged on a day with the
// given dimensions; storage counts distinct contacts with uniqExact.
type ContactRow struct {
	Day        int64 // Unix seconds of the UTC day start
	CampaignID string
	Channel    string
	Segment    string
	Source     string
	Contact    string // pseudonym, never a raw id
}

// CohortKey is one send-time cohort and dimension combination of the
// attributed counts (DESIGN.md, "Attribution"): the delivery outcomes and
// follow-ups of the messages of one campaign and channel sent in one UTC
// hour. Follow-ups are judged against the deliveries they follow, not
// against unrelated deliveries of the hour they happen to arrive in.
type CohortKey struct {
	// Cohort is the Unix second of the UTC hour the followed message was
	// sent: sent_at when the event carries it, else (a delivery outcome) its
	// own occurred_at, else (a follow-up without sent_at) its own
	// occurred_at with BySendTime false — such a follow-up is attributed to
	// its campaign only.
	Cohort     int64
	BySendTime bool
	EventType  event.Type
	Detail     string
	CampaignID string
	Channel    string
	// MailboxProvider and SendingDomain are set on email events that carry
	// them (v1.1): mailbox providers judge complaint rates per domain.
	MailboxProvider string
	SendingDomain   string
}

// CohortRow is a cumulative count for a CohortKey within a block, versioned
// like CountRow (the same version for every row of one block snapshot).
type CohortRow struct {
	CohortKey
	BlockRef
	Events  uint64
	Version int64
}

// Unique-engagement kinds (UniqueRow.Kind).
const (
	UniqueRecipient = "delivered" // a contact was delivered a message
	UniqueOpener    = "open"      // a contact opened (human opens only)
	UniqueClicker   = "click"     // a contact clicked (human clicks only)
)

// UniqueRow records that a pseudonymized contact was a recipient, an opener
// or a clicker of a campaign's messages sent on a UTC day (sent_at's day for
// follow-ups that carry it, else the event's own day). Storage counts
// distinct contacts, so repeat opens count once and the unique open rate —
// recipients who opened / recipients — can never exceed 100 %.
type UniqueRow struct {
	Day        int64 // Unix seconds of the UTC day start
	CampaignID string
	Channel    string
	Kind       string
	Contact    string // pseudonym, never a raw id
}

// ClickRow is the cumulative number of human clicks (bot clicks apart, as
// in ctr) of one pseudonymized contact on the messages of a campaign and
// channel sent on a UTC day (sent_at's day when the click carries it, else
// its own day, like UniqueRow), within one block, versioned like CountRow.
// Unlike the unique rows it counts, so storage can rank clickers by their
// clicks (top_decile_click_share); being per block and versioned, a re-read
// replaces it instead of adding to it.
type ClickRow struct {
	ClickKey
	BlockRef
	Clicks  uint64
	Version int64
}

// ClickKey is the grouping of a ClickRow within a block.
type ClickKey struct {
	Day        int64 // Unix seconds of the UTC day start
	CampaignID string
	Channel    string
	Contact    string // pseudonym, never a raw id
}

// LedgerRow accounts for the offsets of a block processed so far.
// Consumed = Accepted + Rejected always holds; Consumed + Skipped is the
// number of offsets processed. Duplicates of the Accepted were not counted
// again, so the block's counted events are Accepted - Duplicates.
type LedgerRow struct {
	BlockRef
	FirstOffset, LastOffset int64
	Consumed                uint64
	Accepted, Rejected      uint64
	// Skipped counts offsets that carry no event: transaction markers and
	// records of aborted transactions.
	Skipped    uint64
	Duplicates uint64
	// Watermark is the partition's newest counted record time (Unix s) as of
	// LastOffset (0 with dedup off): where a later seed's window starts.
	Watermark int64
	// Complete is true once an offset past the block has been seen: the row
	// is final and the partition may be committed up to the block's end.
	Complete bool
	// Version orders the ledger rows of one block (see CountRow.Version).
	Version int64
}

// Snapshot is everything that changed since the previous snapshot.
// Writing every row durably, then Ledger, makes the Commits safe to
// commit.
type Snapshot struct {
	Counts          []CountRow
	Contacts        []ContactRow
	Cohorts         []CohortRow
	Uniques         []UniqueRow
	Clicks          []ClickRow
	Accounts        []AccountRow
	AccountContacts []AccountContactRow
	IDs             []IDBlock
	Lineage         []LineageRow
	Messages        []MessageBlock
	ContactStates   []ContactBlock
	Ledger          []LedgerRow
	// Commits holds, per partition, the last offset of the newest block that
	// completed (its nominal end, (block+1)*BlockSize-1): committing offset+1,
	// a block start, is safe once this snapshot is stored.
	Commits []Position
}

// Position is one offset of one partition.
type Position struct {
	Topic     string
	Partition int32
	Offset    int64
}

// Empty reports whether the snapshot carries nothing to store or commit.
func (s *Snapshot) Empty() bool {
	return len(s.Counts) == 0 && len(s.Contacts) == 0 && len(s.Cohorts) == 0 && len(s.Uniques) == 0 && len(s.Clicks) == 0 &&
		len(s.Accounts) == 0 && len(s.AccountContacts) == 0 && len(s.IDs) == 0 && len(s.Lineage) == 0 && len(s.Messages) == 0 &&
		len(s.ContactStates) == 0 && len(s.Ledger) == 0 && len(s.Commits) == 0
}

// scoreUnits converts a sentiment score to summed integer units.
func scoreUnits(score float64) int64 {
	return int64(math.Round(score * ScoreScale))
}
