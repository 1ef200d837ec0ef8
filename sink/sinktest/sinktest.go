// Package sinktest gives integration tests a migrated, private ClickHouse
// database on the test server named by TRUSTPIPE_TEST_CLICKHOUSE_ADDR
// (`.ci/run` starts one). Without it tests skip — except under CI=true, where
// a missing server fails the test: CI must never silently skip integration.
package sinktest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/trustpipe/trustpipe/sink"
)

// AddrEnv names the variable holding the test server's native address.
const AddrEnv = "TRUSTPIPE_TEST_CLICKHOUSE_ADDR"

// Addr returns the test server address, skipping (or failing under CI) when
// none is configured.
func Addr(t testing.TB) string {
	t.Helper()
	addr := os.Getenv(AddrEnv)
	if addr == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set under CI=true: integration tests must not skip (run `bash .ci/run`)", AddrEnv)
		}
		t.Skipf("%s not set: start one with `go run ./cmd/localclickhouse start .tmp/clickhouse 19000` and export %s=127.0.0.1:19000", AddrEnv, AddrEnv)
	}
	return addr
}

// Database returns a fresh database name, unique to this test run.
func Database(t testing.TB) string {
	name := strings.ToLower(strings.NewReplacer("/", "_", "-", "_", " ", "_").Replace(t.Name()))
	if len(name) > 40 {
		name = name[:40]
	}
	return fmt.Sprintf("t_%s_%d", name, rand.Uint32())
}

// Open returns a store on a new, migrated database that is dropped when the
// test ends. views are extra read-surface views to create.
func Open(t testing.TB, views []sink.View) (*sink.Store, sink.Config) {
	t.Helper()
	cfg := sink.Config{Addr: Addr(t), Database: Database(t)}
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
			_ = st.Conn().Exec(context.Background(), "DROP DATABASE IF EXISTS "+cfg.Database)
		}
		_ = st.Close()
	})
	return st, cfg
}
