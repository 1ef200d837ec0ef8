package sink_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trustpipe/trustpipe/aggregate/indicator"
	"github.com/trustpipe/trustpipe/sink"
	"github.com/trustpipe/trustpipe/sink/sinktest"
)

// schemaOf lists every table and view of a database with its definition,
// the database name replaced so two databases compare.
func schemaOf(t *testing.T, st *sink.Store, db string) string {
	t.Helper()
	rows, err := st.Conn().Query(context.Background(), "SELECT name, engine, create_table_query FROM system.tables WHERE database = ? ORDER BY name", db)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var name, engine, create string
		if err := rows.Scan(&name, &engine, &create); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s %s %s\n", name, engine, strings.ReplaceAll(create, db+".", "DB."))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestConcurrentMigrate starts several instances' migrations at once on a
// fresh database, as a deployment of several replicas does: every Migrate
// must succeed, and the schema must be the one a lone Migrate creates.
func TestConcurrentMigrate(t *testing.T) {
	addr := sinktest.Addr(t)
	views := append(sink.IndicatorViews(), sink.IndexViews(indicator.DefaultIndexConfig())...)
	ref, _ := sinktest.Open(t, views)
	want := schemaOf(t, ref, ref.Database())

	const instances = 4
	for round := range 2 {
		db := sinktest.Database(t)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		stores := make([]*sink.Store, instances)
		for i := range stores {
			st, err := sink.Open(ctx, sink.Config{Addr: addr, Database: db}, sink.LiveTables())
			if err != nil {
				t.Fatal(err)
			}
			stores[i] = st
			t.Cleanup(func() { _ = st.Close() })
		}
		t.Cleanup(func() {
			if os.Getenv("TRUSTPIPE_TEST_KEEP_DB") == "" {
				_ = ref.Conn().Exec(context.Background(), "DROP DATABASE IF EXISTS "+db)
			}
		})
		var wg sync.WaitGroup
		errs := make([]error, instances)
		start := make(chan struct{})
		for i, st := range stores {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, errs[i] = st.Migrate(ctx, views)
			}()
		}
		close(start)
		wg.Wait()
		cancel()
		for i, err := range errs {
			if err != nil {
				t.Errorf("round %d: instance %d: %v", round, i, err)
			}
		}
		if got := schemaOf(t, ref, db); got != want {
			t.Fatalf("round %d: schema after concurrent migrations:\n%s\nwant (one migration):\n%s", round, got, want)
		}
	}
}

// TestConcurrentMigrateUpgrade: several instances upgrade a database whose
// ledger predates migration 2 at once; 18.16 has no ADD COLUMN IF NOT
// EXISTS, so all but one lose the race to add the column, and must succeed
// anyway.
func TestConcurrentMigrateUpgrade(t *testing.T) {
	st, cfg := sinktest.Open(t, nil)
	ctx := context.Background()
	db := cfg.Database
	for _, q := range []string{
		"DROP TABLE " + db + ".ingest_ledger",
		"ALTER TABLE " + db + ".ingest_ledger_blocks DROP COLUMN skipped",
		"DROP TABLE " + db + ".schema_migrations",
		"CREATE TABLE " + db + ".schema_migrations (version UInt32, name String, applied_at DateTime) ENGINE = ReplacingMergeTree() ORDER BY version",
		"INSERT INTO " + db + ".schema_migrations (version, name, applied_at) SELECT 1, 'storage tables', now()",
	} {
		if err := st.Conn().Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	const instances = 4
	var wg sync.WaitGroup
	errs := make([]error, instances)
	start := make(chan struct{})
	for i := range instances {
		other, err := sink.Open(ctx, cfg, sink.LiveTables())
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, errs[i] = other.Migrate(ctx, nil)
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("instance %d: %v", i, err)
		}
	}
	var skipped uint64
	if err := st.Conn().QueryRow(ctx, "SELECT sum(skipped) FROM "+db+".ingest_ledger").Scan(&skipped); err != nil {
		t.Fatalf("ledger after the upgrade: %v", err)
	}
}

// TestMigrateReplacesChangedView: a view whose definition changed is
// replaced, one whose definition did not is left alone.
func TestMigrateReplacesChangedView(t *testing.T) {
	v := func(n int) []sink.View {
		return []sink.View{{Name: "extra_view", Query: fmt.Sprintf("SELECT toUInt8(%d) AS n", n)}}
	}
	st, cfg := sinktest.Open(t, v(1))
	ctx := context.Background()
	read := func() (n uint8) {
		t.Helper()
		if err := st.Conn().QueryRow(ctx, "SELECT n FROM "+cfg.Database+".extra_view").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, want := range []int{1, 2, 2} {
		if _, err := st.Migrate(ctx, v(want)); err != nil {
			t.Fatal(err)
		}
		if got := read(); int(got) != want {
			t.Fatalf("extra_view reads %d after migrating definition %d", got, want)
		}
	}
	if got := schemaOf(t, st, cfg.Database); strings.Contains(got, "_new_") || strings.Contains(got, "_old_") {
		t.Fatalf("temporary views left behind:\n%s", got)
	}
}
