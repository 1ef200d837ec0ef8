package sink

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Migrate creates the database, applies every storage migration not yet
// recorded in schema_migrations, and recreates the read-surface views
// (plus extra views, e.g. the indicator views). It is idempotent: running
// it again changes nothing but the views, which hold no data.
func (s *Store) Migrate(ctx context.Context, extra []View) (applied []string, err error) {
	stmts := []string{
		fmt.Sprintf("CREATE DATABASE IF NOT EXISTS %s", s.db),
		fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s.schema_migrations (
	version UInt32,
	name String,
	applied_at DateTime
) ENGINE = ReplacingMergeTree() ORDER BY version`, s.db),
	}
	for _, q := range stmts {
		if err := s.exec(ctx, q); err != nil {
			return nil, fmt.Errorf("migrate: %s: %w", firstLine(q), err)
		}
	}
	done, err := s.appliedVersions(ctx)
	if err != nil {
		return nil, err
	}
	for _, m := range migrations {
		if done[m.version] {
			continue
		}
		for _, q := range m.statements(s.db) {
			if err := s.exec(ctx, q); err != nil {
				return applied, fmt.Errorf("migrate: migration %d (%s): %s: %w", m.version, m.name, firstLine(q), err)
			}
		}
		recorded := []migration{m}
		if m.version == 1 {
			// It created the current layout: every later step is in it.
			// Record the later steps first: an instance migrating at the
			// same time then sees either nothing or them, and re-runs only
			// migration 1 (CREATE … IF NOT EXISTS), never an ALTER.
			recorded = slices.Clone(migrations)
			slices.Reverse(recorded)
		}
		for _, r := range recorded {
			record := func(b driver.Batch) error { return b.Append(uint32(r.version), r.name, time.Now()) }
			if err := s.insert(ctx, "schema_migrations", "version, name, applied_at", 1, record); err != nil {
				return applied, fmt.Errorf("migrate: record migration %d: %w", r.version, err)
			}
			done[r.version] = true
			applied = append(applied, fmt.Sprintf("%d %s", r.version, r.name))
		}
	}
	if s.tables != LiveTables() {
		for _, q := range storageDDL(s.db, s.tables) {
			if err := s.exec(ctx, q); err != nil {
				return applied, fmt.Errorf("migrate: %s: %w", firstLine(q), err)
			}
		}
	}
	for _, q := range viewDDL(s.db, extra) {
		if err := s.exec(ctx, q); err != nil {
			return applied, fmt.Errorf("migrate: %s: %w", firstLine(q), err)
		}
	}
	return applied, nil
}

func (s *Store) appliedVersions(ctx context.Context) (map[int]bool, error) {
	rows, err := s.conn.Query(ctx, fmt.Sprintf("SELECT version FROM %s.schema_migrations", s.db))
	if err != nil {
		return nil, fmt.Errorf("migrate: read schema_migrations: %w", err)
	}
	defer rows.Close()
	done := map[int]bool{}
	for rows.Next() {
		var v uint32
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("migrate: read schema_migrations: %w", err)
		}
		done[int(v)] = true
	}
	return done, rows.Err()
}

func firstLine(q string) string {
	if i := strings.IndexByte(q, '\n'); i >= 0 {
		return q[:i] + " …"
	}
	return q
}
