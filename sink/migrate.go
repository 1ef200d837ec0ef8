package sink

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Migrate creates the database, applies every storage migration not yet
// recorded in schema_migrations, and brings the read-surface views (plus
// extra views, e.g. the indicator views) to their current definitions. It is
// idempotent, and safe to run from several instances at once: every CREATE
// is IF NOT EXISTS and tolerates losing a race to an identical one, and a
// view is replaced only when its definition differs, atomically (see
// ensureView), so readers never see it missing.
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
		if err := s.create(ctx, q); err != nil {
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
			if err := s.create(ctx, q); err != nil {
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
			if err := s.recordMigration(ctx, record); err != nil {
				return applied, fmt.Errorf("migrate: record migration %d: %w", r.version, err)
			}
			done[r.version] = true
			applied = append(applied, fmt.Sprintf("%d %s", r.version, r.name))
		}
	}
	if s.tables != LiveTables() {
		for _, q := range storageDDL(s.db, s.tables) {
			if err := s.create(ctx, q); err != nil {
				return applied, fmt.Errorf("migrate: %s: %w", firstLine(q), err)
			}
		}
	}
	// Dependencies first: the extra views read the base views.
	for _, v := range append(baseViews(s.db, LiveTables()), extra...) {
		if err := s.ensureView(ctx, v); err != nil {
			return applied, fmt.Errorf("migrate: view %s.%s: %w", s.db, v.Name, err)
		}
	}
	return applied, nil
}

// recordMigration inserts one schema_migrations row, retrying transient
// errors a bounded number of times. On a cluster, instances that start
// together insert into the same replicated partition, and a quorum insert
// fails with "quorum for previous write has not been satisfied yet" (code
// 286) while another instance's is in flight; the rows are idempotent
// (replaced by version), so trying again is always safe.
func (s *Store) recordMigration(ctx context.Context, record func(driver.Batch) error) error {
	var err error
	for attempt := 1; attempt <= viewAttempts; attempt++ {
		if err = s.insert(ctx, "schema_migrations", "version, name, applied_at", 1, record); err == nil || !Retryable(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(50+rand.IntN(100*attempt)) * time.Millisecond):
		}
	}
	return fmt.Errorf("after %d attempts: %w", viewAttempts, err)
}

// ClickHouse error codes of objects that appeared or vanished under a
// concurrent DDL statement.
const (
	codeUnknownTable   = 60
	codeTableExists    = 57
	codeDatabaseExists = 82
	codeIllegalColumn  = 44  // "column with this name already exists", among others
	codeNoCreateQuery  = 390 // SHOW CREATE of a missing table on 18.16
)

func hasCode(err error, codes ...int32) bool {
	var ex *clickhouse.Exception
	return errors.As(err, &ex) && slices.Contains(codes, ex.Code)
}

// create runs a schema step that creates something: CREATE … IF NOT EXISTS,
// or a migration's ALTER TABLE … ADD COLUMN. ClickHouse checks existence and
// creates in two steps, and 18.16 has no ADD COLUMN IF NOT EXISTS, so of two
// instances migrating at once both can pass the check; the loser's "already
// exists" means the object is there, which is all the step asks for.
func (s *Store) create(ctx context.Context, q string) error {
	err := s.exec(ctx, q)
	var ex *clickhouse.Exception
	switch {
	case err == nil, hasCode(err, codeTableExists, codeDatabaseExists):
		return nil
	case errors.As(err, &ex) && ex.Code == codeIllegalColumn && strings.Contains(ex.Message, "already exists"):
		return nil
	}
	return err
}

// viewAttempts bounds how often ensureView starts over after losing a race
// with another instance's migration; each attempt that loses means another
// instance made progress, so a handful always suffices in practice.
const viewAttempts = 20

// ensureView makes db.name the view v describes, without a moment where it
// is missing (CREATE OR REPLACE VIEW does not exist on 18.16): a missing view
// is created; an existing one is compared with the server's rendering of the
// definition, created under a unique temporary name, and only when they
// differ is the new one swapped in with one RENAME statement (which
// ClickHouse runs under one lock) and the old one dropped. A concurrent migration that creates, replaces or drops the view
// in between makes a step fail with "already exists" or "doesn't exist";
// ensureView then starts over.
func (s *Store) ensureView(ctx context.Context, v View) error {
	var err error
	for attempt := 1; attempt <= viewAttempts; attempt++ {
		if err = s.tryEnsureView(ctx, v); !hasCode(err, codeTableExists, codeUnknownTable) {
			return err
		}
		select {
		case <-time.After(time.Duration(rand.IntN(20*attempt)) * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return fmt.Errorf("still racing other migrations after %d attempts: %w", viewAttempts, err)
}

func (s *Store) tryEnsureView(ctx context.Context, v View) error {
	query := v.query(s.db)
	have, exists, err := s.createQuery(ctx, v.Name)
	if err != nil {
		return err
	}
	if !exists {
		// Nothing to compare with or replace (a new database or view): a
		// concurrent creation makes this fail with "already exists", and the
		// next attempt compares.
		return s.exec(ctx, createView(s.db, v.Name, query))
	}
	suffix := fmt.Sprintf("%08x", rand.Uint32())
	tmp, old := "_new_"+v.Name+"_"+suffix, "_old_"+v.Name+"_"+suffix
	if err := s.exec(ctx, createView(s.db, tmp, query)); err != nil {
		return err
	}
	// Dropped on every path: after a successful swap it no longer exists.
	defer func() {
		_ = s.exec(context.WithoutCancel(ctx), fmt.Sprintf("DROP TABLE IF EXISTS %s.%s", s.db, tmp))
	}()
	want, _, err := s.createQuery(ctx, tmp)
	if err != nil {
		return err
	}
	if strings.Replace(want, s.db+"."+tmp, s.db+"."+v.Name, 1) == have {
		return nil
	}
	// The view may have been replaced or dropped since it was read: RENAME
	// then fails with "doesn't exist" or moves the newer definition aside,
	// which is as good (both instances want their current definitions).
	if err := s.exec(ctx, fmt.Sprintf("RENAME TABLE %[1]s.%[2]s TO %[1]s.%[3]s, %[1]s.%[4]s TO %[1]s.%[2]s", s.db, v.Name, old, tmp)); err != nil {
		return err
	}
	return s.exec(ctx, fmt.Sprintf("DROP TABLE IF EXISTS %s.%s", s.db, old))
}

// query is the view's SELECT for database db.
func (v View) query(db string) string {
	return strings.ReplaceAll(strings.TrimSpace(v.Query), "{db}", db)
}

func createView(db, name, query string) string {
	return fmt.Sprintf("CREATE VIEW %s.%s AS %s", db, name, query)
}

// createQuery returns the server's CREATE statement of a table or view.
// SHOW CREATE reads one table's metadata; system.tables would render every
// table of the server on 18.16, which is slow on a busy one.
func (s *Store) createQuery(ctx context.Context, name string) (q string, exists bool, err error) {
	err = s.conn.QueryRow(ctx, fmt.Sprintf("SHOW CREATE TABLE %s.%s", s.db, name)).Scan(&q)
	switch {
	case hasCode(err, codeUnknownTable, codeNoCreateQuery):
		return "", false, nil
	case err != nil:
		return "", false, fmt.Errorf("read the definition of %s.%s: %w", s.db, name, err)
	}
	return q, true, nil
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
