package sink

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// This file serves replays and shadow backfills (`trustpipe replay`):
// creating a shadow set of storage tables, checking that a replay would
// write rows compatible with those already stored, comparing two sets of
// tables through the read-surface formulas, and swapping them.

// CreateStorage creates the database and this store's storage tables if
// they are missing. Unlike Migrate it leaves the views alone, so creating a
// shadow set never makes the read surface disappear, even for a moment.
func (s *Store) CreateStorage(ctx context.Context) error {
	stmts := append([]string{fmt.Sprintf("CREATE DATABASE IF NOT EXISTS %s", s.db), settingsDDL(s.db)}, storageDDL(s.db, s.tables)...)
	for _, q := range stmts {
		if err := s.create(ctx, q); err != nil {
			return fmt.Errorf("create storage: %s: %w", firstLine(q), err)
		}
	}
	return nil
}

// Names lists the storage tables in a fixed order: counts, contacts,
// cohorts, uniques, ledger, ids, clicks, accounts, account contacts,
// lineage, messages, contact states.
func (t Tables) Names() []string {
	return []string{t.Counts, t.Contacts, t.Cohorts, t.Uniques, t.Ledger, t.IDs, t.Clicks, t.Accounts, t.AccountContacts, t.Lineage, t.Messages, t.ContactStates}
}

// MissingTables returns those of t's tables that do not exist.
func (s *Store) MissingTables(ctx context.Context, t Tables) ([]string, error) {
	have, err := s.tableSet(ctx, t.Names())
	if err != nil {
		return nil, err
	}
	var missing []string
	for _, n := range t.Names() {
		if !have[n] {
			missing = append(missing, n)
		}
	}
	return missing, nil
}

func (s *Store) tableSet(ctx context.Context, names []string) (map[string]bool, error) {
	rows, err := s.conn.Query(ctx, "SELECT name FROM system.tables WHERE database = ? AND has(?, name)", s.db, names)
	if err != nil {
		return nil, fmt.Errorf("list tables of %s: %w", s.db, err)
	}
	defer rows.Close()
	have := map[string]bool{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, fmt.Errorf("list tables of %s: %w", s.db, err)
		}
		have[n] = true
	}
	return have, rows.Err()
}

// The errors CheckCompatible wraps: the tables were written with another
// block size, or a finer bucket, than the caller's.
var (
	ErrBlockSizeMismatch  = errors.New("the tables were written with another block size; replay with the live pipeline's block size")
	ErrBucketSizeMismatch = errors.New("the tables were written with a finer bucket; replay with the live pipeline's bucket size, or backfill a new definition into a shadow")
)

// CheckCompatible reports rows in this store's tables that were written with
// another block size or a finer time bucket than the given ones (the first
// such block, the earliest such bucket, so the message is the same on every
// run and engine). A replay
// with different settings would store rows under other keys next to the old
// ones instead of replacing them — double counting — so it must refuse.
// (A different pseudonym key cannot be detected; see the README.)
func (s *Store) CheckCompatible(ctx context.Context, blockSize int64, bucket time.Duration) error {
	var (
		topic     string
		partition int32
		block     int64
		first     int64
		last      int64
	)
	q := fmt.Sprintf(`SELECT topic, partition, block, first_offset, last_offset FROM %s.%s FINAL
WHERE intDiv(first_offset, %d) != block OR intDiv(last_offset, %d) != block
ORDER BY topic, partition, block LIMIT 1`, s.db, s.tables.Ledger, blockSize, blockSize)
	rows, err := s.conn.Query(ctx, q)
	if err != nil {
		return fmt.Errorf("check block size against %s.%s: %w", s.db, s.tables.Ledger, err)
	}
	found := rows.Next()
	if found {
		err = rows.Scan(&topic, &partition, &block, &first, &last)
	}
	rows.Close()
	if err != nil {
		return fmt.Errorf("check block size against %s.%s: %w", s.db, s.tables.Ledger, err)
	}
	if found {
		return fmt.Errorf("%w: %s.%s holds block %d of %s/%d covering offsets %d-%d, which is not a block of %d offsets",
			ErrBlockSizeMismatch, s.db, s.tables.Ledger, block, topic, partition, first, last, blockSize)
	}
	secs := int64(bucket / time.Second)
	if secs <= 1 {
		return nil
	}
	rows, err = s.conn.Query(ctx, fmt.Sprintf("SELECT min(bucket) FROM %s.%s WHERE toUInt32(bucket) %% %d != 0 HAVING count() > 0", s.db, s.tables.Counts, secs))
	if err != nil {
		return fmt.Errorf("check bucket size against %s.%s: %w", s.db, s.tables.Counts, err)
	}
	var b time.Time
	found = rows.Next()
	if found {
		err = rows.Scan(&b)
	}
	rows.Close()
	if err != nil {
		return fmt.Errorf("check bucket size against %s.%s: %w", s.db, s.tables.Counts, err)
	}
	if found {
		return fmt.Errorf("%w: %s.%s holds a bucket starting at %s, which is not a multiple of the bucket size %s",
			ErrBucketSizeMismatch, s.db, s.tables.Counts, b.UTC().Format(time.RFC3339), bucket)
	}
	return nil
}

// DayType is one (UTC day, event type) cell of a comparison.
type DayType struct {
	Day       string // 2006-01-02
	EventType string
}

// TotalsByDayType sums events per UTC day and event type over t, through
// the trust_counts view's own formula applied to t's count table.
func (s *Store) TotalsByDayType(ctx context.Context, t Tables) (map[DayType]uint64, error) {
	q := fmt.Sprintf("SELECT toString(toDate(bucket)) AS day, event_type, sum(events) FROM (%s) GROUP BY day, event_type",
		s.surface("trust_counts", t))
	rows, err := s.conn.Query(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("totals of %s.%s: %w", s.db, t.Counts, err)
	}
	defer rows.Close()
	out := map[DayType]uint64{}
	for rows.Next() {
		var k DayType
		var n uint64
		if err := rows.Scan(&k.Day, &k.EventType, &n); err != nil {
			return nil, fmt.Errorf("totals of %s.%s: %w", s.db, t.Counts, err)
		}
		out[k] = n
	}
	return out, rows.Err()
}

// Coverage is what one set of tables holds of one partition, from its ledger.
type Coverage struct {
	Topic                        string
	Partition                    int32
	Blocks                       uint64
	FirstOffset, LastOffset      int64
	Consumed, Accepted, Rejected uint64
}

// LedgerCoverage summarises t's ledger per partition, through the
// ingest_ledger view's formula.
func (s *Store) LedgerCoverage(ctx context.Context, t Tables) ([]Coverage, error) {
	q := fmt.Sprintf(`SELECT topic, partition, count(), min(first_offset), max(last_offset), sum(consumed), sum(accepted), sum(rejected)
FROM (%s) GROUP BY topic, partition ORDER BY topic, partition`, s.surface("ingest_ledger", t))
	rows, err := s.conn.Query(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("ledger coverage of %s.%s: %w", s.db, t.Ledger, err)
	}
	defer rows.Close()
	var out []Coverage
	for rows.Next() {
		var c Coverage
		if err := rows.Scan(&c.Topic, &c.Partition, &c.Blocks, &c.FirstOffset, &c.LastOffset, &c.Consumed, &c.Accepted, &c.Rejected); err != nil {
			return nil, fmt.Errorf("ledger coverage of %s.%s: %w", s.db, t.Ledger, err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// EngagedContactDays counts distinct (day, contact) pairs in t, through the
// engaged_contacts view's formula: the sum of daily engaged reach.
func (s *Store) EngagedContactDays(ctx context.Context, t Tables) (uint64, error) {
	var n uint64
	q := fmt.Sprintf("SELECT uniqExact(day, contact) FROM (%s)", s.surface("engaged_contacts", t))
	if err := s.conn.QueryRow(ctx, q).Scan(&n); err != nil {
		return 0, fmt.Errorf("engaged contacts of %s.%s: %w", s.db, t.Contacts, err)
	}
	return n, nil
}

func (s *Store) surface(name string, t Tables) string {
	for _, v := range baseViews(s.db, t) {
		if v.Name == name {
			return v.Query
		}
	}
	panic("sink: no base view " + name)
}

// SwapTempPrefix names the tables a RENAME-based swap moves through. Tables
// with this prefix left behind mean a swap failed half-way (see Swap).
const SwapTempPrefix = "trustpipe_swap_tmp_"

// Swap exchanges the names of two sets of storage tables, so that a's names
// hold b's data and b's names hold a's. On databases that support it
// (engine Atomic, Replicated or Shared) each pair is exchanged with EXCHANGE
// TABLES, atomically per pair; otherwise (engine Ordinary: ClickHouse 18.16)
// one RENAME TABLE statement moves all pairs through temporary names
// under ClickHouse's global rename lock. Either way a concurrent insert may
// briefly find a table missing; sink.Retryable retries that. It returns the
// statement kind used.
func (s *Store) Swap(ctx context.Context, a, b Tables) (string, error) {
	for _, t := range []Tables{a, b} {
		missing, err := s.MissingTables(ctx, t)
		if err != nil {
			return "", err
		}
		if len(missing) > 0 {
			return "", fmt.Errorf("swap: table %s.%s does not exist", s.db, strings.Join(missing, ", "))
		}
	}
	for i, an := range a.Names() {
		bn := b.Names()[i]
		ca, err := s.columns(ctx, an)
		if err != nil {
			return "", err
		}
		cb, err := s.columns(ctx, bn)
		if err != nil {
			return "", err
		}
		if !slices.Equal(ca, cb) {
			return "", fmt.Errorf("swap: %s and %s have different columns (%s vs %s); run `trustpipe migrate` and re-create the shadow",
				an, bn, strings.Join(ca, ", "), strings.Join(cb, ", "))
		}
	}
	var tmp []string
	for _, n := range a.Names() {
		tmp = append(tmp, SwapTempPrefix+n)
	}
	left, err := s.tableSet(ctx, tmp)
	if err != nil {
		return "", err
	}
	if len(left) > 0 {
		return "", fmt.Errorf("swap: temporary tables %v exist in %s: an earlier swap failed half-way. "+
			"Check with SHOW TABLES which of the live and shadow names are present and RENAME the temporary tables back by hand", left, s.db)
	}
	var engine string
	if err := s.conn.QueryRow(ctx, "SELECT engine FROM system.databases WHERE name = ?", s.db).Scan(&engine); err != nil {
		return "", fmt.Errorf("swap: engine of database %s: %w", s.db, err)
	}
	// On a cluster the shard-local tables are exchanged on every node: each
	// Distributed table keeps reading its own name's local table, which
	// then holds the other set's data.
	an, bn := a.Names(), b.Names()
	if s.cluster != "" {
		for i := range an {
			an[i], bn[i], tmp[i] = an[i]+LocalSuffix, bn[i]+LocalSuffix, tmp[i]+LocalSuffix
		}
	}
	switch engine {
	case "Atomic", "Replicated", "Shared":
		for i := range an {
			q := fmt.Sprintf("EXCHANGE TABLES %s.%s AND %s.%s", s.db, an[i], s.db, bn[i])
			if err := s.exec(ctx, q); err != nil {
				return "", fmt.Errorf("swap: %s (after %d of %d pairs): %w", q, i, len(an), err)
			}
		}
		return "EXCHANGE TABLES", s.swapSettings(ctx, a, b)
	}
	var parts []string
	for i := range an {
		parts = append(parts,
			fmt.Sprintf("%s.%s TO %s.%s", s.db, an[i], s.db, tmp[i]),
			fmt.Sprintf("%s.%s TO %s.%s", s.db, bn[i], s.db, an[i]),
			fmt.Sprintf("%s.%s TO %s.%s", s.db, tmp[i], s.db, bn[i]))
	}
	q := "RENAME TABLE " + strings.Join(parts, ", ")
	if err := s.exec(ctx, q); err != nil {
		return "", fmt.Errorf("swap: %s: %w", q, err)
	}
	return "RENAME TABLE", s.swapSettings(ctx, a, b)
}

// columns returns "name type" of every column of table, sorted.
func (s *Store) columns(ctx context.Context, table string) ([]string, error) {
	rows, err := s.conn.Query(ctx, "SELECT name, type FROM system.columns WHERE database = ? AND table = ?", s.db, table)
	if err != nil {
		return nil, fmt.Errorf("columns of %s.%s: %w", s.db, table, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n, t string
		if err := rows.Scan(&n, &t); err != nil {
			return nil, fmt.Errorf("columns of %s.%s: %w", s.db, table, err)
		}
		out = append(out, n+" "+t)
	}
	slices.Sort(out)
	return out, rows.Err()
}
