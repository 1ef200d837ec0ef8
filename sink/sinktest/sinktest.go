// Package sinktest gives integration tests a migrated, private ClickHouse
// database on the test server named by TRUSTPIPE_TEST_CLICKHOUSE_ADDR
// (`.ci/run` starts one). Without it tests skip — except under CI=true,
// where a missing server fails the test (testkit.Env).
package sinktest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/trustpipe/trustpipe/aggregate/testkit"
	"github.com/trustpipe/trustpipe/sink"
	"github.com/trustpipe/trustpipe/sink/localserver"
)

// AddrEnv names the variable holding the test server's native address.
const AddrEnv = "TRUSTPIPE_TEST_CLICKHOUSE_ADDR"

// Addr returns the test server address, skipping (or failing under CI) when
// none is configured (testkit.Env).
func Addr(t testing.TB) string {
	t.Helper()
	return testkit.Env(t, AddrEnv, "start one with `go run ./cmd/localclickhouse start .tmp/clickhouse 19000` and export "+AddrEnv+"=127.0.0.1:19000")
}

// Database returns a fresh database name, unique to this test run.
func Database(t testing.TB) string {
	name := strings.ToLower(strings.NewReplacer("/", "_", "-", "_", " ", "_").Replace(t.Name()))
	if len(name) > 40 {
		name = name[:40]
	}
	return fmt.Sprintf("t_%s_%d", name, rand.Uint32())
}

// ClusterDirEnv names the variable holding the directory of the private
// test cluster (`go run ./cmd/localclickhouse start-cluster DIR PORT`).
const ClusterDirEnv = "TRUSTPIPE_TEST_CLICKHOUSE_CLUSTER_DIR"

// Cluster returns the private test cluster, skipping (or failing under CI)
// when none is configured (testkit.Env).
func Cluster(t testing.TB) *localserver.Cluster {
	t.Helper()
	dir := testkit.Env(t, ClusterDirEnv, "start one with `go run ./cmd/localclickhouse start-cluster .tmp/cluster 19100` and export "+ClusterDirEnv+"=.tmp/cluster")
	c, err := localserver.LoadCluster(dir)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// ClusterConfig is the configuration of a new database on the test
// cluster, with every node's address and the cluster's name.
func ClusterConfig(t testing.TB) sink.Config {
	c := Cluster(t)
	return sink.Config{Addr: c.Addrs(), Database: Database(t), Cluster: c.Name}
}

// Open returns a store on a new, migrated database that is dropped when the
// test ends. views are extra read-surface views to create.
func Open(t testing.TB, views []sink.View) (*sink.Store, sink.Config) {
	t.Helper()
	return OpenConfig(t, sink.Config{Addr: Addr(t), Database: Database(t)}, views)
}

// OpenConfig is Open with a given configuration (ClusterConfig, for one);
// on a cluster the database is dropped on every node.
func OpenConfig(t testing.TB, cfg sink.Config, views []sink.View) (*sink.Store, sink.Config) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := sink.Open(ctx, cfg, sink.LiveTables())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Migrate(ctx, views); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if os.Getenv("TRUSTPIPE_TEST_KEEP_DB") == "" {
			_ = st.DropDatabase(context.Background())
		}
		_ = st.Close()
	})
	return st, cfg
}

// MigrationOneDatabase returns the statements that turn a freshly migrated
// database into one made by migration 1 alone, before the later migrations
// (the ledger without skipped, duplicates and dedup_watermark; no dedup
// tables), holding one old ledger row (consumed 10), so tests can run the
// upgrade.
func MigrationOneDatabase(db string) []string {
	return []string{
		"DROP TABLE " + db + ".ingest_ledger",
		"ALTER TABLE " + db + ".ingest_ledger_blocks DROP COLUMN skipped",
		"ALTER TABLE " + db + ".ingest_ledger_blocks DROP COLUMN duplicates",
		"ALTER TABLE " + db + ".ingest_ledger_blocks DROP COLUMN dedup_watermark",
		"DROP TABLE " + db + ".duplicate_events",
		"DROP TABLE " + db + ".event_id_blocks",
		"DROP TABLE " + db + ".cohort_count_rows",
		"DROP TABLE " + db + ".unique_engagement",
		"DROP TABLE " + db + ".cohort_counts_blocks",
		"DROP TABLE " + db + ".unique_engagement_blocks",
		"DROP TABLE " + db + ".contact_breaches",
		"DROP TABLE " + db + ".contact_state_blocks",
		"DROP TABLE " + db + ".schema_migrations",
		"CREATE TABLE " + db + ".schema_migrations (version UInt32, name String, applied_at DateTime) ENGINE = ReplacingMergeTree() ORDER BY version",
		"INSERT INTO " + db + ".schema_migrations (version, name, applied_at) SELECT 1, 'storage tables', now()",
		"INSERT INTO " + db + ".ingest_ledger_blocks (topic, partition, block, first_offset, last_offset, consumed, accepted, rejected, complete, version) SELECT 't', 0, 0, 0, 9, 10, 10, 0, 1, 19",
	}
}
