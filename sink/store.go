// Package sink stores aggregation snapshots in ClickHouse and owns the
// schema: versioned storage migrations and the read-surface views that hide
// the storage layout (CONTRACT.md §3).
//
// Writes are idempotent by construction (replacing tables keyed by block,
// versioned by offset), so the caller may retry a failed Write as often as
// it likes; Retryable says which errors are worth retrying. A Store is safe
// for concurrent use.
//
// Reads go through the read API (read.go): no other package holds SQL.
//
// Metrics (Metrics, registered by NewMetrics): trustpipe_rows_written_total,
// trustpipe_flush_duration_seconds, trustpipe_last_flush_success_timestamp_seconds,
// trustpipe_sink_errors_total and trustpipe_sink_retries_total.
package sink

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math"
	"net"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"golang.org/x/sync/errgroup"

	"github.com/trustpipe/trustpipe/aggregate"
)

// Config locates ClickHouse (native protocol).
type Config struct {
	// Addr is host:port, or a comma-separated list of the nodes of a
	// cluster: connections go to the first that answers (failover).
	Addr        string
	Database    string
	Username    string
	Password    string
	TLS         *tls.Config // nil: plain TCP
	DialTimeout time.Duration
	// Cluster, when set, names a cluster of the servers' remote_servers:
	// the schema is created ON CLUSTER with replicated, sharded storage
	// (see cluster.go), and writes are acknowledged only once InsertQuorum
	// replicas of the shard hold them.
	Cluster string
	// InsertQuorum is how many replicas of a shard must have written a
	// block before the insert returns (insert_quorum); 0 means the default.
	// More than a shard's replica count makes every insert fail.
	InsertQuorum int
	// QuorumTimeout bounds the wait for InsertQuorum replicas; 0 means the
	// default.
	QuorumTimeout time.Duration
}

// DefaultConfig is a local server's: 127.0.0.1:9000, database trustpipe,
// user default without password, plain TCP, 5 s to connect; on a cluster,
// writes wait up to a minute for 2 replicas of their shard.
func DefaultConfig() Config {
	return Config{Addr: "127.0.0.1:9000", Database: "trustpipe", Username: "default", DialTimeout: 5 * time.Second,
		InsertQuorum: 2, QuorumTimeout: time.Minute}
}

// The errors Config.Validate and Ping wrap, so a caller can name its own
// settings and give the right advice.
var (
	ErrAddr     = errors.New("the ClickHouse address must be host:port (native protocol, usually port 9000)")
	ErrDatabase = errors.New("the ClickHouse database name must be letters, digits and underscores, not starting with a digit")
	// ErrAuthentication: the server answered and refused the user or
	// password; the address is right.
	ErrAuthentication = errors.New("ClickHouse refused the user name or password")
	// ErrUnreachable: no answer at the address (or not the native protocol).
	ErrUnreachable  = errors.New("ClickHouse did not answer")
	ErrCluster      = errors.New("the ClickHouse cluster name must be letters, digits and underscores, as in the servers' remote_servers")
	ErrInsertQuorum = errors.New("the ClickHouse insert quorum must be a positive replica count")
)

// Validate checks the configuration without connecting; the error wraps
// ErrAddr or ErrDatabase and names the value.
func (c Config) Validate() error {
	for _, addr := range c.addrs() {
		if host, port, err := net.SplitHostPort(addr); err != nil || host == "" || port == "" {
			return fmt.Errorf("%w: got %q", ErrAddr, c.Addr)
		}
	}
	if !identRe.MatchString(c.Database) {
		return fmt.Errorf("%w: got %q", ErrDatabase, c.Database)
	}
	if c.Cluster != "" && !identRe.MatchString(c.Cluster) {
		return fmt.Errorf("%w: got %q", ErrCluster, c.Cluster)
	}
	if c.InsertQuorum < 0 || c.QuorumTimeout < 0 {
		return fmt.Errorf("%w: got %d", ErrInsertQuorum, c.InsertQuorum)
	}
	return nil
}

// addrs splits Addr into the nodes' addresses.
func (c Config) addrs() []string {
	var out []string
	for _, a := range strings.Split(c.Addr, ",") {
		out = append(out, strings.TrimSpace(a))
	}
	return out
}

// clusterSettings are the settings of every query in cluster mode: an
// insert into a Distributed table is sent to its shards before it returns
// (not queued on the node that received it), and each shard's replicated
// table acknowledges it only once InsertQuorum replicas hold the block.
// So a returned Write — and the offset commit that follows it — means the
// rows are on that many replicas of their shard.
func (c Config) clusterSettings() clickhouse.Settings {
	quorum, timeout := c.InsertQuorum, c.QuorumTimeout
	if quorum == 0 {
		quorum = DefaultConfig().InsertQuorum
	}
	if timeout == 0 {
		timeout = DefaultConfig().QuorumTimeout
	}
	return clickhouse.Settings{
		"insert_distributed_sync": 1,
		"insert_quorum":           quorum,
		"insert_quorum_timeout":   int(timeout.Milliseconds()),
	}
}

// Store writes snapshots to one set of storage tables.
type Store struct {
	conn    driver.Conn
	db      string
	tables  Tables
	cluster string // empty: one node
	// legacyGone is set once the legacy id table was found missing, so
	// history loads stop asking for it.
	legacyGone atomic.Bool
}

var identRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Open connects to ClickHouse. It does not require the database to exist
// (Migrate creates it); every statement names the database explicitly.
func Open(ctx context.Context, cfg Config, tables Tables) (*Store, error) {
	if err := checkNames(cfg.Database, tables); err != nil {
		return nil, err
	}
	if cfg.Cluster != "" && !identRe.MatchString(cfg.Cluster) {
		return nil, fmt.Errorf("%w: got %q", ErrCluster, cfg.Cluster)
	}
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = 5 * time.Second
	}
	opts := &clickhouse.Options{
		Addr:        cfg.addrs(),
		Auth:        clickhouse.Auth{Username: cfg.Username, Password: cfg.Password},
		TLS:         cfg.TLS,
		DialTimeout: cfg.DialTimeout,
		ReadTimeout: 5 * time.Minute,
		Compression: &clickhouse.Compression{Method: clickhouse.CompressionLZ4},
	}
	if cfg.Cluster != "" {
		opts.Settings = cfg.clusterSettings()
	}
	conn, err := clickhouse.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("clickhouse at %s: %w", cfg.Addr, err)
	}
	return &Store{conn: conn, db: cfg.Database, tables: tables, cluster: cfg.Cluster}, nil
}

// Cluster is the cluster the schema lives on, or "" for one node.
func (s *Store) Cluster() string { return s.cluster }

// DropDatabase drops the database and everything in it (on every node of
// a cluster, ZooKeeper metadata of the replicated tables included).
func (s *Store) DropDatabase(ctx context.Context) error {
	if err := s.exec(ctx, "DROP DATABASE IF EXISTS "+s.db); err != nil {
		return fmt.Errorf("drop database %s: %w", s.db, err)
	}
	return nil
}

// exec runs a DDL statement written for one node: as it is, or in its
// cluster form (onCluster).
func (s *Store) exec(ctx context.Context, q string) error {
	if s.cluster == "" {
		return s.conn.Exec(ctx, q)
	}
	stmts, err := onCluster(s.cluster, q)
	if err != nil {
		return err
	}
	for _, c := range stmts {
		if err := s.conn.Exec(ctx, c); err != nil {
			return fmt.Errorf("%s: %w", firstLine(c), err)
		}
	}
	return nil
}

// NewStore returns a store on one node over an existing connection —
// another driver.Conn implementation, such as the tests' in-process engine
// (sink/chdbtest).
func NewStore(conn driver.Conn, database string, tables Tables) (*Store, error) {
	if err := checkNames(database, tables); err != nil {
		return nil, err
	}
	return &Store{conn: conn, db: database, tables: tables}, nil
}

// checkNames accepts only plain identifiers: they are spliced into SQL.
func checkNames(database string, tables Tables) error {
	if !identRe.MatchString(database) {
		return fmt.Errorf("%w: got %q", ErrDatabase, database)
	}
	for _, name := range tables.Names() {
		if !identRe.MatchString(name) {
			return fmt.Errorf("clickhouse table %q: use letters, digits and underscores only", name)
		}
	}
	return nil
}

// Close releases the connections.
func (s *Store) Close() error { return s.conn.Close() }

// Conn exposes the connection to tests, for oracle queries independent of
// the read API; production code reads through the read API.
func (s *Store) Conn() driver.Conn { return s.conn }

// Database is the database every table and view lives in.
func (s *Store) Database() string { return s.db }

// Tables are the storage tables this store writes.
func (s *Store) Tables() Tables { return s.tables }

// Ping checks that ClickHouse answers and accepts the credentials. The
// error wraps ErrAuthentication when the server refused them and
// ErrUnreachable otherwise, because the two call for different fixes.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.conn.Ping(ctx); err != nil {
		if authError(err) {
			return fmt.Errorf("clickhouse ping: %w: %w", ErrAuthentication, err)
		}
		return fmt.Errorf("clickhouse ping: %w: %w", ErrUnreachable, err)
	}
	return nil
}

// ServerVersion returns the server's version, e.g. "18.16.1".
func (s *Store) ServerVersion() (string, error) {
	v, err := s.conn.ServerVersion()
	if err != nil {
		return "", fmt.Errorf("clickhouse server version: %w", err)
	}
	return fmt.Sprintf("%d.%d.%d", v.Version.Major, v.Version.Minor, v.Version.Patch), nil
}

// Write stores a snapshot: count rows, engaged contacts, cohort rows,
// unique rows, click rows, account rows, dedup decisions, lineage rows, remembered sends and contact states, then the ledger, so a ledger row is never visible before the
// rows it accounts for (and a committed block's ids are always stored).
// Each insert is idempotent; on error the whole Write may be retried.
func (s *Store) Write(ctx context.Context, snap *aggregate.Snapshot) error {
	// The row inserts are independent, so they run at once, each on
	// its own connection: on a backfill each is a large insert that
	// ClickHouse parses, sorts and writes in a thread of its own, and the
	// flush then takes as long as the largest rather than their sum.
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return s.writeCounts(gctx, snap.Counts) })
	g.Go(func() error { return s.writeContacts(gctx, snap.Contacts) })
	g.Go(func() error { return s.writeCohorts(gctx, snap.Cohorts) })
	g.Go(func() error { return s.writeUniques(gctx, snap.Uniques) })
	g.Go(func() error { return s.writeClicks(gctx, snap.Clicks) })
	g.Go(func() error { return s.writeAccounts(gctx, snap.Accounts, snap.AccountContacts) })
	g.Go(func() error { return s.writeIDs(gctx, snap.IDs) })
	g.Go(func() error { return s.writeLineage(gctx, snap.Lineage) })
	g.Go(func() error { return s.writeMessages(gctx, snap.Messages) })
	g.Go(func() error { return s.writeContactStates(gctx, snap.ContactStates) })
	if err := g.Wait(); err != nil {
		return err
	}
	return s.writeLedger(ctx, snap.Ledger)
}

func (s *Store) writeIDs(ctx context.Context, rows []aggregate.IDBlock) error {
	return s.insertChunked(ctx, s.tables.IDs, idColumns, len(rows), func(b driver.Batch, lo, hi int) error {
		rows := rows[lo:hi]
		n := len(rows)
		topic := make([]string, n)
		partition := make([]int32, n)
		block, base, version := make([]int64, n), make([]int64, n), make([]int64, n)
		offsets, times := make([][]uint32, n), make([][]uint32, n)
		hashes := make([][]uint64, n)
		dups := make([][]uint8, n)
		for i := range rows {
			r := &rows[i]
			topic[i], partition[i], block[i], base[i], version[i] = r.Topic, r.Partition, r.Block, r.Base, r.Version
			offsets[i], hashes[i], times[i], dups[i] = r.Offsets, r.Hashes, r.RecordTimes, r.Duplicates
		}
		return appendColumns(b, topic, partition, block, base, offsets, hashes, times, dups, version)
	})
}

// Duplicates counts the valid records with a record time in [from, to)
// that were not counted because their event_id already was.
func (s *Store) Duplicates(ctx context.Context, from, to time.Time) (uint64, error) {
	var n uint64
	q := fmt.Sprintf("SELECT count() FROM %s.duplicate_events WHERE record_time >= toDateTime(?) AND record_time < toDateTime(?)", s.db)
	if err := s.conn.QueryRow(ctx, q, from.Unix(), to.Unix()).Scan(&n); err != nil {
		if a := Advice(err); a != "" {
			return 0, fmt.Errorf("read duplicate_events: %w (%s)", err, a)
		}
		return 0, fmt.Errorf("read duplicate_events: %w", err)
	}
	return n, nil
}

// DedupHistory loads the stored dedup decisions a read of q's partition
// starting at q.Before needs (aggregate.HistoryQuery): the counted ids of
// the block rows starting in [q.FromOffset, q.Before) (FromOffset is a
// block start), unfolded and filtered after FINAL, so every condition
// applies to the winning row of each block. Decisions stored before
// migration 6 (Tables.LegacyIDs) fill the offsets no block row covers.
func (s *Store) DedupHistory(ctx context.Context, q aggregate.HistoryQuery) (aggregate.History, error) {
	var h aggregate.History
	wm := fmt.Sprintf("SELECT max(dedup_watermark) FROM %s.%s FINAL WHERE topic = ? AND partition = ? AND block < ?", s.db, s.tables.Ledger)
	if err := s.conn.QueryRow(ctx, wm, q.Topic, q.Partition, q.Block).Scan(&h.Watermark); err != nil {
		return h, fmt.Errorf("dedup watermark of %s/%d before block %d: %w", q.Topic, q.Partition, q.Block, err)
	}
	from := uint32(min(max(0, h.Watermark-int64(q.Window/time.Second)+1), math.MaxUint32)) // record_time > watermark - window
	ids, err := s.seenIDs(ctx, q, fmt.Sprintf(`SELECT base_offset + rel AS off, h, toInt64(at)
FROM (
	SELECT base_offset, offsets, id_hashes, record_times, duplicates FROM %s.%s FINAL
	WHERE topic = ? AND partition = ? AND block <= ? AND base_offset >= ? AND base_offset < ?
) ARRAY JOIN offsets AS rel, id_hashes AS h, record_times AS at, duplicates AS dup
WHERE dup = 0 AND off >= ? AND off < ? AND at >= ?
ORDER BY off`, s.db, s.tables.IDs), q.Topic, q.Partition, q.Block, q.FromOffset, q.Before, q.FromOffset, q.Before, from)
	if err != nil {
		return h, err
	}
	h.IDs = ids
	if s.tables.LegacyIDs == "" || s.legacyGone.Load() {
		return h, nil
	}
	// The duplicate flag is filtered after FINAL: it can differ between
	// two reads' rows of an offset.
	legacy, err := s.seenIDs(ctx, q, fmt.Sprintf(`SELECT record_offset, id_hash, toInt64(record_time), duplicate FROM %s.%s FINAL
WHERE topic = ? AND partition = ? AND record_offset >= ? AND record_offset < ? AND record_time >= toDateTime(?)
ORDER BY record_offset`, s.db, s.tables.LegacyIDs), q.Topic, q.Partition, q.FromOffset, q.Before, from)
	var ex *clickhouse.Exception
	if errors.As(err, &ex) && ex.Code == unknownTable {
		s.legacyGone.Store(true) // never created, or dropped once the window passed
		return h, nil
	}
	if err != nil {
		return h, err
	}
	h.IDs = mergeSeen(h.IDs, legacy)
	return h, nil
}

// unknownTable is ClickHouse's UNKNOWN_TABLE error code.
const unknownTable = 60

// seenIDs runs a history query whose rows are (offset, hash, record time)
// and, for the legacy table, a duplicate flag (counted ids only are kept).
func (s *Store) seenIDs(ctx context.Context, q aggregate.HistoryQuery, query string, args ...any) ([]aggregate.SeenID, error) {
	rows, err := s.conn.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("dedup ids of %s/%d in offsets %d-%d: %w", q.Topic, q.Partition, q.FromOffset, q.Before-1, err)
	}
	defer rows.Close()
	flagged := len(rows.Columns()) == 4
	var out []aggregate.SeenID
	for rows.Next() {
		var id aggregate.SeenID
		var dup uint8
		dest := []any{&id.Offset, &id.Hash, &id.RecordTime}
		if flagged {
			dest = append(dest, &dup)
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("dedup ids of %s/%d: %w", q.Topic, q.Partition, err)
		}
		if dup == 0 {
			out = append(out, id)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("dedup ids of %s/%d: %w", q.Topic, q.Partition, err)
	}
	return out, nil
}

// mergeSeen merges two offset-ordered id lists; at an offset both hold, the
// first list's decision wins (a block row written after the upgrade).
func mergeSeen(a, b []aggregate.SeenID) []aggregate.SeenID {
	if len(b) == 0 {
		return a
	}
	out := make([]aggregate.SeenID, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || (i < len(a) && a[i].Offset < b[j].Offset):
			out = append(out, a[i])
			i++
		case i == len(a) || b[j].Offset < a[i].Offset:
			out = append(out, b[j])
			j++
		default: // same offset
			out = append(out, a[i])
			i, j = i+1, j+1
		}
	}
	return out
}

func (s *Store) writeCohorts(ctx context.Context, rows []aggregate.CohortRow) error {
	return s.insertChunked(ctx, s.tables.Cohorts, cohortColumns, len(rows), func(b driver.Batch, lo, hi int) error {
		rows := rows[lo:hi]
		n := len(rows)
		cohort := make([]time.Time, n)
		bySend := make([]uint8, n)
		eventType, detail, campaign, channel := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		provider, domain, topic := make([]string, n), make([]string, n), make([]string, n)
		partition := make([]int32, n)
		block, version := make([]int64, n), make([]int64, n)
		events := make([]uint64, n)
		for i := range rows {
			r := &rows[i]
			cohort[i] = time.Unix(r.Cohort, 0).UTC()
			if r.BySendTime {
				bySend[i] = 1
			}
			eventType[i], detail[i], campaign[i], channel[i] = r.EventType.String(), r.Detail, r.CampaignID, r.Channel
			provider[i], domain[i] = r.MailboxProvider, r.SendingDomain
			topic[i], partition[i], block[i] = r.Topic, r.Partition, r.Block
			events[i], version[i] = r.Events, r.Version
		}
		return appendColumns(b, cohort, bySend, eventType, detail, campaign, channel, provider, domain, topic, partition, block, events, version)
	})
}

func (s *Store) writeUniques(ctx context.Context, rows []aggregate.UniqueRow) error {
	return s.insertChunked(ctx, s.tables.Uniques, uniqueColumns, len(rows), func(b driver.Batch, lo, hi int) error {
		rows := rows[lo:hi]
		n := len(rows)
		day := make([]time.Time, n)
		campaign, channel, kind, contact := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		for i := range rows {
			r := &rows[i]
			day[i] = time.Unix(r.Day, 0).UTC()
			campaign[i], channel[i], kind[i], contact[i] = r.CampaignID, r.Channel, r.Kind, r.Contact
		}
		return appendColumns(b, day, campaign, channel, kind, contact)
	})
}

func (s *Store) writeClicks(ctx context.Context, rows []aggregate.ClickRow) error {
	for _, run := range byMonth(rows, func(r *aggregate.ClickRow) int64 { return r.Day }, MaxPartitionsPerInsert) {
		if err := s.insertClicks(ctx, run); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) insertClicks(ctx context.Context, rows []aggregate.ClickRow) error {
	return s.insertChunked(ctx, s.tables.Clicks, clickColumns, len(rows), func(b driver.Batch, lo, hi int) error {
		rows := rows[lo:hi]
		n := len(rows)
		day := make([]time.Time, n)
		campaign, channel, contact, topic := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		partition := make([]int32, n)
		block, version := make([]int64, n), make([]int64, n)
		clicks := make([]uint64, n)
		for i := range rows {
			r := &rows[i]
			day[i] = time.Unix(r.Day, 0).UTC()
			campaign[i], channel[i], contact[i] = r.CampaignID, r.Channel, r.Contact
			topic[i], partition[i], block[i] = r.Topic, r.Partition, r.Block
			clicks[i], version[i] = r.Clicks, r.Version
		}
		return appendColumns(b, day, campaign, channel, contact, topic, partition, block, clicks, version)
	})
}

// insertChunkRows is the most rows one block of an INSERT carries. A
// backfill's flush holds about as many rows as events; sent as one block,
// the client encodes and compresses all of it at once, in buffers grown to
// the whole flush and then kept by every pooled connection (a third of the
// process's peak heap, and much of its allocation, before this bound). As
// blocks of this size (driver.Batch.Flush, within the same INSERT) the
// buffers stay small and are reused from block to block, while the server
// squashes the blocks back into parts of its preferred size
// (min_insert_block_size_rows), so the parts written do not multiply.
const insertChunkRows = 1 << 14

// insertChunked inserts n rows in blocks of at most insertChunkRows: fill
// appends the rows [lo, hi) to b, whole columns at a time.
func (s *Store) insertChunked(ctx context.Context, table, columns string, n int, fill func(b driver.Batch, lo, hi int) error) error {
	return s.insert(ctx, table, columns, n, func(b driver.Batch) error {
		for lo := 0; lo < n; lo += insertChunkRows {
			if lo > 0 {
				if err := b.Flush(); err != nil {
					return fmt.Errorf("send rows before row %d: %w", lo, err)
				}
			}
			if err := fill(b, lo, min(n, lo+insertChunkRows)); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *Store) insert(ctx context.Context, table, columns string, n int, fill func(b driver.Batch) error) error {
	if n == 0 {
		return nil
	}
	b, err := s.conn.PrepareBatch(ctx, fmt.Sprintf("INSERT INTO %s.%s (%s)", s.db, table, columns))
	if err != nil {
		return fmt.Errorf("insert into %s.%s: prepare: %w", s.db, table, err)
	}
	if err := fill(b); err != nil {
		_ = b.Abort()
		return fmt.Errorf("insert into %s.%s: %d rows: %w", s.db, table, n, err)
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("insert into %s.%s: send %d rows: %w", s.db, table, n, err)
	}
	return nil
}

// MaxPartitionsPerInsert is the most monthly partitions one INSERT touches.
// Current ClickHouse refuses an insert block spanning more than
// max_partitions_per_insert_block (100 by default) — a permanent error that
// would be retried for ever — so a flush whose rows span more months (a
// backfill of old events, a late-event storm) is split into several inserts.
// Each is idempotent, and all count and contact inserts still precede the
// ledger insert, so splitting changes neither exactness nor ordering.
const MaxPartitionsPerInsert = 100

// byMonth splits rows into runs spanning at most limit calendar months
// (the tables' toYYYYMM partitions) of the Unix time unix returns. When the
// rows span no more months than that, it returns them as they are, without
// copying: the common case costs one pass.
func byMonth[T any](rows []T, unix func(*T) int64, limit int) [][]T {
	month := func(r *T) int {
		y, m, _ := time.Unix(unix(r), 0).UTC().Date()
		return y*12 + int(m) - 1
	}
	lo, hi := math.MaxInt, math.MinInt
	for i := range rows {
		m := month(&rows[i])
		lo, hi = min(lo, m), max(hi, m)
	}
	if len(rows) == 0 || hi-lo < limit {
		return [][]T{rows}
	}
	sorted := slices.Clone(rows)
	slices.SortStableFunc(sorted, func(a, b T) int { return cmp.Compare(unix(&a), unix(&b)) })
	var runs [][]T
	start, months, prev := 0, 0, -1
	for i := range sorted {
		if m := month(&sorted[i]); m != prev {
			if months == limit {
				runs = append(runs, sorted[start:i])
				start, months = i, 0
			}
			months, prev = months+1, m
		}
	}
	return append(runs, sorted[start:])
}

func (s *Store) writeCounts(ctx context.Context, rows []aggregate.CountRow) error {
	for _, run := range byMonth(rows, func(r *aggregate.CountRow) int64 { return r.Bucket }, MaxPartitionsPerInsert) {
		if err := s.insertCounts(ctx, run); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) insertCounts(ctx context.Context, rows []aggregate.CountRow) error {
	return s.insertChunked(ctx, s.tables.Counts, countColumns, len(rows), func(b driver.Batch, lo, hi int) error {
		rows := rows[lo:hi]
		n := len(rows)
		bucket := make([]time.Time, n)
		eventType, detail, campaign, channel := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		segment, source, pers, topic := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		tier := make([]uint8, n)
		partition := make([]int32, n)
		block, valueNanos, version := make([]int64, n), make([]int64, n), make([]int64, n)
		events := make([]uint64, n)
		for i := range rows {
			r := &rows[i]
			bucket[i] = time.Unix(r.Bucket, 0).UTC()
			eventType[i] = r.EventType.String()
			detail[i], campaign[i], channel[i] = r.Detail, r.CampaignID, r.Channel
			segment[i], source[i], pers[i] = r.Segment, r.Source, r.Personalization
			tier[i] = r.ConsentTier
			topic[i], partition[i], block[i] = r.Topic, r.Partition, r.Block
			events[i], valueNanos[i], version[i] = r.Events, r.ValueNanos, r.Version
		}
		return appendColumns(b, bucket, eventType, detail, campaign, channel, segment, source, pers, tier, topic, partition, block, events, valueNanos, version)
	})
}

func (s *Store) writeContacts(ctx context.Context, rows []aggregate.ContactRow) error {
	for _, run := range byMonth(rows, func(r *aggregate.ContactRow) int64 { return r.Day }, MaxPartitionsPerInsert) {
		if err := s.insertContacts(ctx, run); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) insertContacts(ctx context.Context, rows []aggregate.ContactRow) error {
	return s.insertChunked(ctx, s.tables.Contacts, contactColumns, len(rows), func(b driver.Batch, lo, hi int) error {
		rows := rows[lo:hi]
		n := len(rows)
		day := make([]time.Time, n)
		campaign, channel, segment, source, contact := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		for i := range rows {
			r := &rows[i]
			day[i] = time.Unix(r.Day, 0).UTC()
			campaign[i], channel[i], segment[i], source[i], contact[i] = r.CampaignID, r.Channel, r.Segment, r.Source, r.Contact
		}
		return appendColumns(b, day, campaign, channel, segment, source, contact)
	})
}

func (s *Store) writeLedger(ctx context.Context, rows []aggregate.LedgerRow) error {
	return s.insertChunked(ctx, s.tables.Ledger, ledgerColumns, len(rows), func(b driver.Batch, lo, hi int) error {
		rows := rows[lo:hi]
		n := len(rows)
		topic := make([]string, n)
		partition := make([]int32, n)
		block, first, last, version := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
		consumed, accepted, rejected, skipped := make([]uint64, n), make([]uint64, n), make([]uint64, n), make([]uint64, n)
		dups, watermark := make([]uint64, n), make([]int64, n)
		complete := make([]uint8, n)
		for i, r := range rows {
			topic[i], partition[i], block[i] = r.Topic, r.Partition, r.Block
			first[i], last[i] = r.FirstOffset, r.LastOffset
			consumed[i], accepted[i], rejected[i], skipped[i] = r.Consumed, r.Accepted, r.Rejected, r.Skipped
			dups[i], watermark[i] = r.Duplicates, r.Watermark
			if r.Complete {
				complete[i] = 1
			}
			version[i] = r.Version
		}
		return appendColumns(b, topic, partition, block, first, last, consumed, accepted, rejected, skipped, dups, watermark, complete, version)
	})
}

// appendColumns appends whole columns, in insert order: encoding a column at
// once is several times cheaper than appending row by row.
func appendColumns(b driver.Batch, columns ...any) error {
	for i, c := range columns {
		if err := b.Column(i).Append(c); err != nil {
			return fmt.Errorf("column %d: %w", i, err)
		}
	}
	return nil
}

// Permanent ClickHouse error codes: retrying cannot help; a person must act.
var permanentCodes = map[int32]string{
	16:  "a column is missing: run `trustpipe migrate`",
	47:  "unknown identifier: run `trustpipe migrate`",
	81:  "the database is missing: run `trustpipe migrate`",
	62:  "syntax error (a bug: please report it)",
	53:  "type mismatch: run `trustpipe migrate` or check the ClickHouse version",
	192: "unknown user: check the ClickHouse user name",
	193: "wrong password: check the ClickHouse password",
	516: "authentication failed: check the ClickHouse user name and password",
	497: "access denied: grant the user INSERT/SELECT/CREATE on the database",
}

// authCodes are the codes of a refused user or password (192 and 193 on
// older servers, 516 AUTHENTICATION_FAILED on current ones).
var authCodes = []int32{192, 193, 516}

func authError(err error) bool {
	var ex *clickhouse.Exception
	return errors.As(err, &ex) && slices.Contains(authCodes, ex.Code)
}

// Retryable decides, in one place, whether a store error is transient
// (network, timeouts, overload, server restarts) or needs a person.
// A missing table is transient: `trustpipe replay swap` renames tables, and
// an insert racing the rename must wait for it, not stop the pipeline.
func Retryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var ex *clickhouse.Exception
	if errors.As(err, &ex) {
		_, permanent := permanentCodes[ex.Code]
		return !permanent
	}
	return true
}

// Advice returns what a person should do about a permanent error, or "".
func Advice(err error) string {
	var ex *clickhouse.Exception
	if errors.As(err, &ex) {
		return permanentCodes[ex.Code]
	}
	return ""
}
