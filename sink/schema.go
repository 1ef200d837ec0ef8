package sink

import (
	"fmt"
)

// Tables names the storage tables one pipeline writes. The live pipeline
// uses the defaults; a shadow backfill writes to a prefixed set so a
// definition change can be reviewed before it is swapped in.
type Tables struct {
	Counts   string // cumulative per-block count rows (ReplacingMergeTree)
	Contacts string // engaged contacts per day (ReplacingMergeTree)
	Cohorts  string // cumulative per-block counts per send-time cohort (ReplacingMergeTree)
	Uniques  string // recipients, openers and clickers per campaign and send day (ReplacingMergeTree)
	Clicks   string // cumulative per-block human clicks per contact, campaign and send day (ReplacingMergeTree)
	Ledger   string // per-block offset accounting (ReplacingMergeTree)
	IDs      string // dedup decisions, one array row per block (ReplacingMergeTree)
	// Accounts are cumulative per-block counts per account, day and
	// measure; AccountContacts the pullback contacts per account and day
	// (both ReplacingMergeTree, migration 9).
	Accounts        string
	AccountContacts string
	Lineage         string // cumulative per-block counts per send fact (ReplacingMergeTree)
	Messages        string // the message memory's sends, one array row per block (ReplacingMergeTree)
	// ContactStates holds contact-state changes and breaches, one array
	// row per block (ReplacingMergeTree; contacts.go).
	ContactStates string
	// LegacyIDs is the table of one dedup decision per row that migrations
	// before 5 created. It is no longer written; history loads still read
	// it, so ids counted before the upgrade stay counted, until it is
	// dropped (README, "Memory and storage").
	LegacyIDs string
}

// LiveTables are the storage tables behind the read surface.
func LiveTables() Tables {
	return Tables{Counts: "trust_counts_blocks", Contacts: "engaged_contacts_blocks",
		Cohorts: "cohort_counts_blocks", Uniques: "unique_engagement_blocks", Clicks: "click_counts_blocks", Ledger: "ingest_ledger_blocks", IDs: "event_id_blocks", LegacyIDs: "event_ids",
		Accounts: "account_counts_blocks", AccountContacts: "account_contacts_blocks",
		Lineage: "lineage_counts_blocks", Messages: "message_blocks", ContactStates: "contact_state_blocks"}
}

// Prefixed returns the storage tables with a prefix, e.g. "shadow_".
func (t Tables) Prefixed(prefix string) Tables {
	return Tables{Counts: prefix + t.Counts, Contacts: prefix + t.Contacts, Cohorts: prefix + t.Cohorts,
		Uniques: prefix + t.Uniques, Clicks: prefix + t.Clicks, Ledger: prefix + t.Ledger, IDs: prefix + t.IDs,
		LegacyIDs: prefix + t.LegacyIDs, Accounts: prefix + t.Accounts, AccountContacts: prefix + t.AccountContacts,
		Lineage: prefix + t.Lineage, Messages: prefix + t.Messages, ContactStates: prefix + t.ContactStates}
}

// countColumns are the columns of the count table, in insert order.
const countColumns = "bucket, event_type, detail, campaign_id, channel, segment, source, personalization, consent_tier, topic, partition, block, events, value_nanos, version"

const contactColumns = "day, campaign_id, channel, segment, source, contact"

const ledgerColumns = "topic, partition, block, first_offset, last_offset, consumed, accepted, rejected, skipped, duplicates, dedup_watermark, complete, version"

const cohortColumns = "cohort, by_send_time, event_type, detail, campaign_id, channel, mailbox_provider, sending_domain, topic, partition, block, events, version"

const uniqueColumns = "day, campaign_id, channel, kind, contact"

const clickColumns = "day, campaign_id, channel, contact, topic, partition, block, clicks, version"

const idColumns = "topic, partition, block, base_offset, offsets, id_hashes, record_times, duplicates, version"

// storageDDL returns the CREATE statements of one set of storage tables.
//
// Layout (DESIGN.md, "Exactness"): count rows are keyed by bucket,
// dimensions and (topic, partition, block) and carry the highest offset the
// block covered as version, so ReplacingMergeTree keeps exactly one
// cumulative row per key and block. Sentiment scores are summed as integer
// nano-units (value_nanos) so sums are exact in any order.
func storageDDL(db string, t Tables) []string {
	return append([]string{
		fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s.%s (
	bucket DateTime,
	event_type String,
	detail String,
	campaign_id String,
	channel String,
	segment String,
	source String,
	personalization String,
	consent_tier UInt8,
	topic String,
	partition Int32,
	block Int64,
	events UInt64,
	value_nanos Int64,
	version Int64
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(bucket)
ORDER BY (bucket, event_type, detail, campaign_id, channel, segment, source, personalization, consent_tier, topic, partition, block)`, db, t.Counts),
		fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s.%s (
	day Date,
	campaign_id String,
	channel String,
	segment String,
	source String,
	contact String
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(day)
ORDER BY (day, campaign_id, channel, segment, source, contact)`, db, t.Contacts),
		fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s.%s (
	topic String,
	partition Int32,
	block Int64,
	first_offset Int64,
	last_offset Int64,
	consumed UInt64,
	accepted UInt64,
	rejected UInt64,
	skipped UInt64 DEFAULT 0,
	duplicates UInt64 DEFAULT 0,
	dedup_watermark Int64 DEFAULT 0,
	complete UInt8,
	version Int64
) ENGINE = ReplacingMergeTree(version)
ORDER BY (topic, partition, block)`, db, t.Ledger),
		dedupDDL(db, t),
		clickDDL(db, t),
		contactStateDDL(db, t),
	}, append(append(attributionDDL(db, t), accountDDL(db, t)...), lineageDDL(db, t)...)...)
}

// clickDDL creates the table of human clicks per contact (aggregate.ClickRow;
// migration 10 adds it to older databases): the unique rows say who
// clicked, these how often, which is what ranking clickers
// (top_decile_click_share) needs. A count is not a set, so the rows follow
// the count rows' layout — keyed by day, campaign, channel, contact and
// (topic, partition, block), versioned by offset — and a re-read or replay
// replaces its block's rows instead of adding to them. One row per clicker
// per campaign, send day and block: on a backfill about one row per human
// click, far fewer than the events.
func clickDDL(db string, t Tables) string {
	return fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s.%s (
	day Date,
	campaign_id String,
	channel String,
	contact String,
	topic String,
	partition Int32,
	block Int64,
	clicks UInt64,
	version Int64
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(day)
ORDER BY (day, campaign_id, channel, contact, topic, partition, block)`, db, t.Clicks)
}

// attributionDDL returns the CREATE statements of the attribution tables
// (DESIGN.md, "Attribution"; migration 5 adds them to older databases).
//
// Cohort rows follow the count rows' layout — keyed by cohort, dimensions
// and (topic, partition, block), versioned by offset — so they are exact
// for the same reasons. Unique rows are sets: a replayed row is identical to
// the stored one, so a version-less ReplacingMergeTree suffices.
func attributionDDL(db string, t Tables) []string {
	return []string{
		fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s.%s (
	cohort DateTime,
	by_send_time UInt8,
	event_type String,
	detail String,
	campaign_id String,
	channel String,
	mailbox_provider String,
	sending_domain String,
	topic String,
	partition Int32,
	block Int64,
	events UInt64,
	version Int64
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(cohort)
ORDER BY (cohort, event_type, detail, campaign_id, channel, mailbox_provider, sending_domain, by_send_time, topic, partition, block)`, db, t.Cohorts),
		fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s.%s (
	day Date,
	campaign_id String,
	channel String,
	kind String,
	contact String
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(day)
ORDER BY (day, campaign_id, channel, kind, contact)`, db, t.Uniques),
	}
}

// dedupDDL creates the table of dedup decisions (aggregate.IDBlock): one
// row per block, keyed and versioned like the count rows, holding the
// block's decisions as parallel arrays (offsets relative to base_offset),
// so re-reads replace their block's row and a backfill inserts one row per
// block rather than per event. Loading a partition's history reads the
// blocks of a range of offsets (the primary key) and filters the unfolded
// decisions by offset and record time.
func dedupDDL(db string, t Tables) string {
	return fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s.%s (
	topic String,
	partition Int32,
	block Int64,
	base_offset Int64,
	offsets Array(UInt32),
	id_hashes Array(UInt64),
	record_times Array(UInt32),
	duplicates Array(UInt8),
	version Int64
) ENGINE = ReplacingMergeTree(version)
ORDER BY (topic, partition, block)`, db, t.IDs)
}

// migration is one versioned, append-only schema step. Never edit a
// released migration: add a new one.
type migration struct {
	version    int
	name       string
	statements func(db string) []string
}

// Migration 1 creates the current layout (storageDDL), so a database it
// creates records every later migration as applied: later migrations only
// upgrade databases created before them.
var migrations = []migration{
	{1, "storage tables: per-block counts, engaged contacts, ledger", func(db string) []string {
		// The current layout, later steps included (see Migrate).
		return append(storageDDL(db, LiveTables()), settingsDDL(db))
	}},
	{2, "ledger: skipped offsets (transaction markers, aborted records)", func(db string) []string {
		return []string{fmt.Sprintf("ALTER TABLE %s.%s ADD COLUMN skipped UInt64 DEFAULT 0 AFTER rejected", db, LiveTables().Ledger)}
	}},
	{3, "dedup: event ids table; ledger duplicates and watermark", func(db string) []string {
		t := LiveTables()
		return []string{legacyDedupDDL(db, t),
			fmt.Sprintf("ALTER TABLE %s.%s ADD COLUMN duplicates UInt64 DEFAULT 0 AFTER skipped", db, t.Ledger),
			fmt.Sprintf("ALTER TABLE %s.%s ADD COLUMN dedup_watermark Int64 DEFAULT 0 AFTER duplicates", db, t.Ledger)}
	}},
	{4, "pipeline settings fingerprints, checked by replays", func(db string) []string {
		return []string{settingsDDL(db)}
	}},
	{5, "attribution: per-block send-time cohort counts, unique recipients/openers/clickers", func(db string) []string {
		return attributionDDL(db, LiveTables())
	}},
	{6, "dedup: one row of decision arrays per block (event_id_blocks); event_ids kept for history loads", func(db string) []string {
		return []string{dedupDDL(db, LiveTables())}
	}},
	{7, "contact state: per-block contact-state changes and breaches (contact_state_blocks)", func(db string) []string {
		return []string{contactStateDDL(db, LiveTables())}
	}},
	{8, "provenance: per-block counts per send fact (lineage_counts_blocks), the message memory's sends (message_blocks)", func(db string) []string {
		return lineageDDL(db, LiveTables())
	}},
	{9, "accounts: per-block counts per account and day, pullback contacts per account and day", func(db string) []string {
		return accountDDL(db, LiveTables())
	}},
	{10, "audience: per-block human clicks per contact, campaign and send day (click_counts_blocks)", func(db string) []string {
		return []string{clickDDL(db, LiveTables())}
	}},
}

// legacyDedupDDL is migration 3's table of one decision per valid event,
// as released (Tables.LegacyIDs).
func legacyDedupDDL(db string, t Tables) string {
	return fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s.%s (
	topic String,
	partition Int32,
	record_offset Int64,
	id_hash UInt64,
	record_time DateTime,
	duplicate UInt8,
	version Int64
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(record_time)
ORDER BY (topic, partition, record_offset)`, db, t.LegacyIDs)
}

// baseViews are the storage read surface (CONTRACT.md §3) over one set of
// storage tables:
// the live set for the contract views, a shadow set when `trustpipe replay
// swap` compares a backfill with the live tables using the same formulas.
//
// trust_count_rows is trust_counts before its final GROUP BY: the replaced
// rows of every block, several per bucket and dimension combination. Any
// query that aggregates anyway (the indicator views, the report, the
// read-back) reads it instead of trust_counts, so it groups once, at its own
// coarser level, rather than first by every dimension: several times faster
// on ClickHouse 18.16, which does not push filters into views. value_nanos
// sums exactly; value_sum is there for convenience.
//
// Every view resolves the replacement with FINAL and sums across partitions
// and blocks, so a plain SELECT … GROUP BY on a view is exact. Views hold no
// data, so migrate brings them to the current definitions on every run.
func baseViews(db string, t Tables) []View {
	return []View{
		{Name: "trust_count_rows", Query: fmt.Sprintf(`SELECT
	bucket, event_type, detail, campaign_id, channel, segment, source, personalization, consent_tier,
	events, value_nanos, value_nanos / 1e9 AS value_sum
FROM %s.%s FINAL`, db, t.Counts)},
		{Name: "trust_counts", Query: fmt.Sprintf(`SELECT
	bucket, event_type, detail, campaign_id, channel, segment, source, personalization, consent_tier,
	sum(events) AS events,
	sum(value_nanos) / 1e9 AS value_sum
FROM %s.%s FINAL
GROUP BY bucket, event_type, detail, campaign_id, channel, segment, source, personalization, consent_tier`, db, t.Counts)},
		{Name: "ingest_ledger", Query: fmt.Sprintf(`SELECT
	topic, partition, block, first_offset, last_offset, consumed, accepted, rejected, skipped, duplicates, complete
FROM %s.%s FINAL`, db, t.Ledger)},
		{Name: "duplicate_events", Query: fmt.Sprintf(`SELECT topic, partition, base_offset + rel AS record_offset, toDateTime(at) AS record_time
FROM (
	SELECT topic, partition, base_offset, offsets, record_times, duplicates
	FROM %s.%s FINAL
) ARRAY JOIN offsets AS rel, record_times AS at, duplicates AS dup
WHERE dup = 1`, db, t.IDs)},
		{Name: "engaged_contacts", Query: fmt.Sprintf(`SELECT day, campaign_id, channel, segment, source, contact
FROM %s.%s FINAL`, db, t.Contacts)},
		{Name: ViewCohortRows, Query: fmt.Sprintf(`SELECT
	cohort, by_send_time, event_type, detail, campaign_id, channel, mailbox_provider, sending_domain, events
FROM %s.%s FINAL`, db, t.Cohorts)},
		{Name: ViewUniqueEngagement, Query: fmt.Sprintf(`SELECT day, campaign_id, channel, kind, contact
FROM %s.%s FINAL`, db, t.Uniques)},
		{Name: ViewContactClicks, Query: fmt.Sprintf(`SELECT day, campaign_id, channel, contact, clicks
FROM %s.%s FINAL`, db, t.Clicks)},
		{Name: ViewAccountCountRows, Query: fmt.Sprintf(`SELECT day, account, measure, events, value_nanos
FROM %s.%s FINAL`, db, t.Accounts)},
		{Name: ViewAccountPullbacks, Query: fmt.Sprintf(`SELECT day, account, measure, contact
FROM %s.%s FINAL`, db, t.AccountContacts)},
		{Name: ViewLineageRows, Query: fmt.Sprintf(`SELECT day, facet, fact, event_type, detail, campaign_id, channel, events
FROM %s.%s FINAL`, db, t.Lineage)},
		contactBreachesView(db, t),
	}
}

// Base views over the attribution tables (CONTRACT.md §3).
const (
	// ViewCohortRows: the replaced per-block rows of the send-time cohort
	// counts: cohort (DateTime, UTC hour of the send), by_send_time (1 when
	// the cohort is the send time, 0 for follow-ups without sent_at, which
	// sit in their own hour and are attributed by campaign only),
	// event_type, detail, campaign_id, channel, mailbox_provider,
	// sending_domain, events. Several rows per key: always aggregate.
	ViewCohortRows = "cohort_count_rows"
	// ViewUniqueEngagement: day (send day), campaign_id, channel, kind
	// ('delivered', 'open', 'click'), contact (pseudonym); one row each.
	ViewUniqueEngagement = "unique_engagement"
	// ViewContactClicks: day (send day), campaign_id, channel, contact
	// (pseudonym), clicks (human clicks): the replaced per-block rows,
	// several per contact, campaign and day: always aggregate.
	ViewContactClicks = "contact_clicks"
)

// View is a named read-surface query. Migrate creates the base views and
// the extra views it is given (ReadSurfaceViews: the indicator and Trust
// Index views).
type View struct {
	Name  string
	Query string // may reference the database as {db}
}
