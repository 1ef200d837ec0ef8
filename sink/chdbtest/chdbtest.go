// Package chdbtest puts current ClickHouse beside the test server: the
// engine of chDB (libchdb.so, an in-process ClickHouse — see
// .ci/chdb.sh for the pinned release), loaded with dlopen and wrapped as a
// clickhouse-go driver.Conn, so that sink.Store runs every migration,
// write and read on it unchanged. Pair holds the same database on both
// engines; Pair.Compare runs a statement on both and compares the results.
//
// It is a test helper: only tests import it, so neither the engine nor cgo
// reaches the trustpipe binary.
//
// The engine's path comes from TRUSTPIPE_TEST_CHDB_LIB (.ci/test.sh sets it
// from .ci/chdb.sh, which fetches and verifies it). Without it tests skip —
// except under CI=true, where they fail. A test binary that uses the engine
// must call Run from its TestMain, which ends the session and removes its
// data.
package chdbtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/trustpipe/trustpipe/aggregate/scenario"
	"github.com/trustpipe/trustpipe/aggregate/testkit"
	"github.com/trustpipe/trustpipe/sink"
	"github.com/trustpipe/trustpipe/sink/sinktest"
)

// LibEnv names the variable holding the path of libchdb.so.
const LibEnv = "TRUSTPIPE_TEST_CHDB_LIB"

var (
	running bool // Run is in charge of the session
	once    sync.Once
	eng     *engine
	shared  *Conn
	dataDir string
	openErr error
)

// Run runs the tests of a test binary (call it from TestMain) and then
// closes the chDB session, if one was opened, and removes its data.
func Run(m *testing.M) int {
	running = true
	code := m.Run()
	if eng != nil {
		eng.close()
	}
	if dataDir != "" {
		_ = os.RemoveAll(dataDir)
	}
	return code
}

// Engine returns the connection to the test binary's chDB session,
// starting it on first use. It skips the test when LibEnv is not set,
// or fails it under CI=true.
func Engine(t testing.TB) *Conn {
	t.Helper()
	if !running {
		t.Fatal("chdbtest: call chdbtest.Run from the package's TestMain")
	}
	lib := os.Getenv(LibEnv)
	if lib == "" {
		testkit.Missing(t, "%s not set: `export %s=$(.ci/chdb.sh)` fetches current ClickHouse (chDB) and names it (.ci/test.sh does)", LibEnv, LibEnv)
		return nil
	}
	once.Do(func() {
		dataDir, openErr = os.MkdirTemp("", "trustpipe-chdb-")
		if openErr != nil {
			return
		}
		if eng, openErr = openEngine(lib, dataDir); openErr != nil {
			return
		}
		shared, openErr = newConn(eng, dataDir)
	})
	if openErr != nil {
		t.Fatalf("chdb: %v", openErr)
	}
	return shared
}

// Open returns a store on a new, migrated database named db in the chDB
// session, dropped when the test ends; views as for sinktest.Open.
func Open(t testing.TB, db string, views []sink.View) *sink.Store {
	t.Helper()
	st, err := sink.NewStore(Engine(t), db, sink.LiveTables())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := st.Migrate(ctx, views); err != nil {
		t.Fatalf("chdb %s: %v", shared.Version(), err)
	}
	t.Cleanup(func() { _ = st.Conn().Exec(context.Background(), "DROP DATABASE IF EXISTS "+db) })
	return st
}

// Pair is one database, migrated with the same views, on the test server
// (ClickHouse 18.16: Old) and on chDB (current ClickHouse: New), under the
// same name, so one statement text runs on both.
type Pair struct {
	Old, New *sink.Store
}

// OpenPair opens a Pair; it skips or fails as sinktest.Open and Engine do.
func OpenPair(t testing.TB, views []sink.View) Pair {
	t.Helper()
	Engine(t) // skip before the server database is created
	old, cfg := sinktest.Open(t, views)
	return Pair{Old: old, New: Open(t, cfg.Database, views)}
}

// Load writes the scenario to both databases through sink.Store.Write —
// the same generator, seed and aggregation, hence the same rows — and
// returns what was stored.
func (p Pair) Load(t testing.TB, cfg scenario.Config, opt sinktest.LoadOptions) sinktest.Loaded {
	t.Helper()
	a := sinktest.LoadScenario(t, p.Old, cfg, opt)
	b := sinktest.LoadScenario(t, p.New, cfg, opt)
	if a.Records != b.Records || a.Accepted != b.Accepted || a.Rejected != b.Rejected {
		t.Fatalf("load %s: %+v on the server, %+v on chDB", cfg.Name, a, b)
	}
	return a
}

// InDatabase returns the pair with connections whose default database is
// the pair's, for statements that leave it unqualified (the dashboards').
// On chDB that is a USE of the shared session; sink names the database in
// every statement, so other users of the session are unaffected.
func (p Pair) InDatabase(t testing.TB) Pair {
	t.Helper()
	db := p.Old.Database()
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{sinktest.Addr(t)}, Auth: clickhouse.Auth{Database: db}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	old, err := sink.NewStore(conn, db, p.Old.Tables())
	if err != nil {
		t.Fatal(err)
	}
	if err := p.New.Conn().Exec(context.Background(), "USE "+db); err != nil {
		t.Fatalf("chdb: USE %s: %v", db, err)
	}
	return Pair{Old: old, New: p.New}
}

// Stores returns Old and New, in this order.
func (p Pair) Stores() [2]*sink.Store { return [2]*sink.Store{p.Old, p.New} }

// Versions names the two engines, e.g. "18.16.1 and 26.7.2.1".
func (p Pair) Versions() string {
	v, err := p.Old.ServerVersion()
	if err != nil {
		v = "?"
	}
	return v + " and " + shared.Version()
}

// Compare runs q (with its arguments) on both engines and returns an error
// when it fails on either or when the results differ (Diff), and else the
// (common) result. The database name is the same on both, so q may name it.
//
// Some views read now(), so a minute bucket may cross a window's edge
// between the two runs: a differing result is run once more before it
// counts.
func (p Pair) Compare(ctx context.Context, q string, args ...any) (Result, error) {
	var diff string
	for range 2 {
		a, errA := Query(ctx, p.Old.Conn(), q, args...)
		b, errB := Query(ctx, p.New.Conn(), q, args...)
		if errA != nil || errB != nil {
			return Result{}, p.engineErrors(q, errA, errB)
		}
		if diff = Diff(a, b, OrderBy(q)); diff == "" {
			return a, nil
		}
	}
	return Result{}, fmt.Errorf("results differ between ClickHouse %s: %s\n--- SQL:\n%s", p.Versions(), diff, q)
}

// CompareExec runs a statement without a result (DDL) on both engines and
// reports where it fails.
func (p Pair) CompareExec(ctx context.Context, q string) error {
	return p.engineErrors(q, p.Old.Conn().Exec(ctx, q), p.New.Conn().Exec(ctx, q))
}

func (p Pair) engineErrors(q string, old, cur error) error {
	var msgs []string
	if old != nil {
		v, _ := p.Old.ServerVersion()
		msgs = append(msgs, "ClickHouse "+v+" (server): "+old.Error())
	}
	if cur != nil {
		msgs = append(msgs, "ClickHouse "+shared.Version()+" (chDB): "+cur.Error())
	}
	if len(msgs) == 0 {
		return nil
	}
	return errors.New(strings.Join(msgs, "\n") + "\n--- SQL:\n" + q)
}
