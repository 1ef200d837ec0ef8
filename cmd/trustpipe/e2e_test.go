package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/segmentio/kafka-go"

	"github.com/trustpipe/trustpipe/aggregate/event"
	"github.com/trustpipe/trustpipe/aggregate/scenario"
	"github.com/trustpipe/trustpipe/consumers"
	"github.com/trustpipe/trustpipe/consumers/kafkatest"
	"github.com/trustpipe/trustpipe/sink"
	"github.com/trustpipe/trustpipe/sink/chdbtest"
	"github.com/trustpipe/trustpipe/sink/sinktest"
)

// binary is the trustpipe executable built once for the subprocess tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "trustpipe-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "trustpipe")
	build := exec.Command("go", "build", "-race", "-o", binary, ".")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build trustpipe:", err)
		os.Exit(1)
	}
	code := chdbtest.Run(m)
	os.RemoveAll(dir)
	os.Exit(code)
}

// lockedBuffer collects a subprocess's output safely.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// testEnv is the TRUSTPIPE_* environment a user would set by hand.
func testEnv(brokers []string, chAddr, db string, extra ...string) []string {
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + os.Getenv("HOME"),
		"TRUSTPIPE_KAFKA_BROKERS=" + brokers[0],
		"TRUSTPIPE_CLICKHOUSE_ADDR=" + chAddr,
		"TRUSTPIPE_CLICKHOUSE_DATABASE=" + db,
		"TRUSTPIPE_HTTP_ADDR=127.0.0.1:0",
		"TRUSTPIPE_PSEUDONYM_KEY=e2e-test-pseudonym-key-0123456789",
		"TRUSTPIPE_LOG_LEVEL=warn",
	}
	return append(env, extra...)
}

func startTrustpipe(t *testing.T, env []string, args ...string) (*exec.Cmd, *lockedBuffer) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = env
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return cmd, out
}

// produced is what the test wrote to Kafka and its independent oracle.
type produced struct {
	total         int
	perTypeDay    map[typeDay]uint64 // valid events by (type, UTC day), from the generator's own bookkeeping
	invalidValues map[string]event.Reason
	rawIDs        map[string]bool
}

type typeDay struct {
	typ string
	day string
}

var accountRe = regexp.MustCompile(`"account_id":"([^"]+)"`)

// produceScenario writes n generated records and records the oracle.
func produceScenario(t *testing.T, brokers []string, name string, n int, invalidRatio float64, seed int64) produced {
	t.Helper()
	return produceScenarioEnding(t, brokers, name, n, invalidRatio, seed, time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC))
}

// produceScenarioEnding is produceScenario with events over the 14 days
// before end.
func produceScenarioEnding(t *testing.T, brokers []string, name string, n int, invalidRatio float64, seed int64, end time.Time) produced {
	t.Helper()
	g, err := scenario.New(scenario.Config{Name: name, Events: n, Days: 14, Seed: seed,
		End: end, InvalidRatio: invalidRatio})
	if err != nil {
		t.Fatal(err)
	}
	p := produced{perTypeDay: map[typeDay]uint64{}, invalidValues: map[string]event.Reason{}, rawIDs: map[string]bool{}}
	produceGenerated(t, brokers, g, func(rec scenario.Record) {
		p.total++
		if rec.Invalid != "" {
			p.invalidValues[string(rec.Value)] = rec.Invalid
		} else {
			p.perTypeDay[typeDay{rec.Type.String(), rec.Time.UTC().Format("2006-01-02")}]++
		}
		if len(rec.Key) > 0 {
			p.rawIDs[string(rec.Key)] = true
		}
		if m := accountRe.FindSubmatch(rec.Value); m != nil {
			p.rawIDs[string(m[1])] = true
		}
	})
	return p
}

func queryUint(t *testing.T, conn driver.Conn, q string) uint64 {
	t.Helper()
	var v uint64
	if err := conn.QueryRow(context.Background(), q).Scan(&v); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return v
}

// countsByTypeDay reads (event_type, day) totals from a table or view.
func countsByTypeDay(t *testing.T, conn driver.Conn, from string) map[typeDay]uint64 {
	t.Helper()
	rows, err := conn.Query(context.Background(), fmt.Sprintf(
		"SELECT event_type, toString(toDate(bucket)) AS day, sum(events) FROM %s GROUP BY event_type, day", from))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[typeDay]uint64{}
	for rows.Next() {
		var k typeDay
		var n uint64
		if err := rows.Scan(&k.typ, &k.day, &n); err != nil {
			t.Fatal(err)
		}
		out[k] = n
	}
	return out
}

// diffCounts lists the keys where got differs from want.
func diffCounts(want, got map[typeDay]uint64) []string {
	var diffs []string
	for k, w := range want {
		if got[k] != w {
			diffs = append(diffs, fmt.Sprintf("%s %s: got %d want %d", k.day, k.typ, got[k], w))
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s %s: got %d want 0", k.day, k.typ, g))
		}
	}
	return diffs
}

func waitFor(t *testing.T, what string, timeout time.Duration, out *lockedBuffer, cond func() bool) {
	t.Helper()
	waitUntil(t, what, timeout, 50*time.Millisecond, func() string { return "output:\n" + out.String() }, cond)
}

// TestKillNineMidStreamIsExact is the exactness acceptance test: the
// pipeline binary is SIGKILLed at a random point, restarted, and the
// ClickHouse totals must equal totals computed from the produced stream.
func TestKillNineMidStreamIsExact(t *testing.T) {
	chAddr := sinktest.Addr(t)
	db := sinktest.Database(t)
	brokers := kafkatest.Start(t, 3, "trust-events", "trust-events-dlq")
	const n = 120000
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewPCG(uint64(seed), 1))
	killAt := uint64(float64(n) * (0.15 + 0.7*rng.Float64()))
	t.Logf("seed %d, SIGKILL after %d of %d records are in the ledger", seed, killAt, n)
	p := produceScenario(t, brokers, "healthy", n, 0.015, seed)
	if len(p.invalidValues) < n/100 {
		t.Fatalf("only %d invalid records produced, want >= 1%%", len(p.invalidValues))
	}

	env := testEnv(brokers, chAddr, db, "TRUSTPIPE_BLOCK_SIZE=3000", "TRUSTPIPE_FLUSH_INTERVAL=200ms")
	conn := migratedDatabase(t, env, chAddr, db)
	// Keep every inserted row, so the negative control below sees storage
	// as it would be without replacement.
	if err := conn.Exec(context.Background(), "SYSTEM STOP MERGES "+db+".trust_counts_blocks"); err != nil {
		t.Fatal(err)
	}
	consumed := func() uint64 { return ledgerConsumed(t, conn, db) }

	first, out1 := startTrustpipe(t, env, "run")
	waitFor(t, "the kill point", 3*time.Minute, out1, func() bool { return consumed() >= killAt })
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()
	t.Logf("killed with %d records in the ledger", consumed())

	second, out2 := startTrustpipe(t, env, "run")
	waitFor(t, "all records in the ledger", 3*time.Minute, out2, func() bool { return consumed() == n })
	stopGracefully(t, second, out2)

	// 1. Counts per type and day equal the generator's own totals, and
	// 2. the ledger accounts for every offset.
	assertExact(t, conn, db, p)

	// 3. Every invalid record is in the dead-letter topic with its reason.
	input, err := kafkatest.ReadAll(context.Background(), brokers, "trust-events")
	if err != nil {
		t.Fatal(err)
	}
	byPos := map[string]kafka.Message{}
	for _, m := range input {
		byPos[fmt.Sprintf("%d/%d", m.Partition, m.Offset)] = m
	}
	dlq, err := kafkatest.ReadAll(context.Background(), brokers, "trust-events-dlq")
	if err != nil {
		t.Fatal(err)
	}
	dead := map[string]bool{}
	for _, m := range dlq {
		pos := kafkatest.Header(m, consumers.HeaderSourcePartition) + "/" + kafkatest.Header(m, consumers.HeaderSourceOffset)
		src, ok := byPos[pos]
		if !ok || !bytes.Equal(src.Value, m.Value) {
			t.Fatalf("dead letter %s does not match the input record at that position", pos)
		}
		want, invalid := p.invalidValues[string(m.Value)]
		if !invalid {
			t.Fatalf("valid record %s was dead-lettered (reason %s)", pos, kafkatest.Header(m, consumers.HeaderReason))
		}
		if got := kafkatest.Header(m, consumers.HeaderReason); got != string(want) {
			t.Errorf("dead letter %s: reason %q, want %q", pos, got, want)
		}
		dead[pos] = true
	}
	if len(dead) != len(p.invalidValues) {
		t.Fatalf("%d distinct records dead-lettered, want %d", len(dead), len(p.invalidValues))
	}

	// 4. No raw contact or account id is stored anywhere in the database.
	assertNoRawIDs(t, conn, db, p.rawIDs)

	// 5. Negative control: the same storage read without the replacement
	// (as a table without the version column would hold it) double-counts
	// after the crash, and the oracle notices.
	naive := countsByTypeDay(t, conn, db+".trust_counts_blocks")
	if d := diffCounts(p.perTypeDay, naive); len(d) == 0 {
		t.Fatal("negative control: counts without replacement match the oracle; the oracle cannot detect double counting")
	}
}

// migratedDatabase runs `trustpipe migrate` as a user would and returns a
// connection to the new database, dropped when the test ends.
func migratedDatabase(t *testing.T, env []string, chAddr, db string) driver.Conn {
	t.Helper()
	migrate := exec.Command(binary, "migrate")
	migrate.Env = env
	if out, err := migrate.CombinedOutput(); err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	st := openLiveStore(t, chAddr, db)
	return st.Conn()
}

// ledgerConsumed is the number of records the ledger accounts for. A
// starting `trustpipe run` recreates the views, so a read that finds
// ingest_ledger missing is tried again for a while before the test fails.
func ledgerConsumed(t *testing.T, conn driver.Conn, db string) uint64 {
	t.Helper()
	q := "SELECT sum(consumed) FROM " + db + ".ingest_ledger"
	var v uint64
	var err error
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if err = conn.QueryRow(context.Background(), q).Scan(&v); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return v
}

// stopGracefully sends SIGTERM and requires a clean exit.
func stopGracefully(t *testing.T, cmd *exec.Cmd, out *lockedBuffer) {
	t.Helper()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("graceful shutdown: %v\n%s", err, out.String())
	}
}

// assertExact compares the database with the produced stream: counts per
// type and day equal the generator's own totals, the ledger accounts for
// every record, consumed = accepted + rejected on every row, and the
// rejections are exactly the invalid records.
func assertExact(t *testing.T, conn driver.Conn, db string, p produced) {
	t.Helper()
	got := countsByTypeDay(t, conn, db+".trust_counts")
	if d := diffCounts(p.perTypeDay, got); len(d) > 0 {
		t.Fatalf("trust_counts differs from the produced events in %d places, e.g. %v", len(d), d[:min(5, len(d))])
	}
	if bad := queryUint(t, conn, "SELECT count() FROM "+db+".ingest_ledger WHERE consumed != accepted + rejected"); bad != 0 {
		t.Fatalf("%d ledger rows with consumed != accepted + rejected", bad)
	}
	if c := ledgerConsumed(t, conn, db); c != uint64(p.total) {
		t.Fatalf("ledger consumed = %d, want %d", c, p.total)
	}
	if r := queryUint(t, conn, "SELECT sum(rejected) FROM "+db+".ingest_ledger"); r != uint64(len(p.invalidValues)) {
		t.Fatalf("ledger rejected = %d, want %d", r, len(p.invalidValues))
	}
}

var rawIDPattern = regexp.MustCompile(`(mkto|hs|sfdc)-\d{7}|acct-\d{5}`)

func assertNoRawIDs(t *testing.T, conn driver.Conn, db string, raw map[string]bool) {
	t.Helper()
	ctx := context.Background()
	rows, err := conn.Query(ctx, "SELECT table, name FROM system.columns WHERE database = ? AND type = 'String'", db)
	if err != nil {
		t.Fatal(err)
	}
	type col struct{ table, name string }
	var cols []col
	for rows.Next() {
		var c col
		if err := rows.Scan(&c.table, &c.name); err != nil {
			t.Fatal(err)
		}
		cols = append(cols, c)
	}
	rows.Close()
	if len(cols) < 10 {
		t.Fatalf("only %d String columns found in %s; the scan would prove little", len(cols), db)
	}
	scanned := 0
	for _, c := range cols {
		vals, err := conn.Query(ctx, fmt.Sprintf("SELECT DISTINCT `%s` FROM %s.`%s`", c.name, db, c.table))
		if err != nil {
			t.Fatalf("scan %s.%s: %v", c.table, c.name, err)
		}
		for vals.Next() {
			var v string
			if err := vals.Scan(&v); err != nil {
				t.Fatal(err)
			}
			scanned++
			if raw[v] || rawIDPattern.MatchString(v) {
				t.Fatalf("raw id %q stored in %s.%s", v, c.table, c.name)
			}
		}
		vals.Close()
	}
	t.Logf("scanned %d distinct values in %d String columns: no raw ids", scanned, len(cols))
}

// produceGenerated writes every record of g to the trust-events topic, in
// batches, handing each to observe first (the tests' oracles count the
// records they produced, independently of the pipeline).
func produceGenerated(t *testing.T, brokers []string, g *scenario.Generator, observe func(scenario.Record)) {
	t.Helper()
	w := kafkatest.Writer(brokers, "trust-events")
	defer w.Close()
	var batch []kafka.Message
	flush := func() {
		if err := w.WriteMessages(context.Background(), batch...); err != nil {
			t.Fatalf("produce: %v", err)
		}
		batch = batch[:0]
	}
	for {
		rec, ok := g.Next()
		if !ok {
			break
		}
		rec = rec.Clone()
		observe(rec)
		batch = append(batch, kafka.Message{Key: rec.Key, Value: rec.Value, Time: rec.Time})
		if len(batch) == 2000 {
			flush()
		}
	}
	if len(batch) > 0 {
		flush()
	}
}

// openLiveStore opens the live tables of database db for a test's checks,
// and drops the database when the test ends.
func openLiveStore(t *testing.T, chAddr, db string) *sink.Store {
	t.Helper()
	st, err := sink.Open(context.Background(), sink.Config{Addr: chAddr, Database: db}, sink.LiveTables())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = st.DropDatabase(context.Background())
		_ = st.Close()
	})
	return st
}
