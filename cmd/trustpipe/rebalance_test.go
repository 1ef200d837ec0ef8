package main

import (
	"context"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/trustpipe/trustpipe/consumers/kafkatest"
	"github.com/trustpipe/trustpipe/sink"
	"github.com/trustpipe/trustpipe/sink/sinktest"
)

// TestRebalancesAreExact runs two instances in one consumer group: the
// second joins mid-stream (a rebalance moves partitions, possibly mid-block),
// then the first is SIGKILLed (its partitions move again, after its session
// times out, and are re-read from their last block end). The totals must
// still equal the generator's exactly.
func TestRebalancesAreExact(t *testing.T) {
	chAddr := sinktest.Addr(t)
	db := sinktest.Database(t)
	brokers := kafkatest.Start(t, 6, "trust-events", "trust-events-dlq")
	const n = 60000
	p := produceScenario(t, brokers, "trust-spiral", n, 0.01, 11)

	env := testEnv(brokers, chAddr, db, "TRUSTPIPE_BLOCK_SIZE=1500", "TRUSTPIPE_FLUSH_INTERVAL=200ms")
	migrate := exec.Command(binary, "migrate")
	migrate.Env = env
	if out, err := migrate.CombinedOutput(); err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	st, err := sink.Open(context.Background(), sink.Config{Addr: chAddr, Database: db}, sink.LiveTables())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	t.Cleanup(func() { _ = st.Conn().Exec(context.Background(), "DROP DATABASE IF EXISTS "+db) })
	conn := st.Conn()
	consumed := func() uint64 { return queryUint(t, conn, "SELECT sum(consumed) FROM "+db+".ingest_ledger") }

	first, out1 := startTrustpipe(t, env, "run")
	waitFor(t, "a quarter of the stream", 3*time.Minute, out1, func() bool { return consumed() >= n/4 })
	second, out2 := startTrustpipe(t, env, "run")
	waitFor(t, "more than half of the stream", 3*time.Minute, out2, func() bool { return consumed() >= n*11/20 })
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()
	waitFor(t, "every record in the ledger", 4*time.Minute, out2, func() bool { return consumed() == n })
	if err := second.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := second.Wait(); err != nil {
		t.Fatalf("graceful shutdown: %v\n%s", err, out2.String())
	}

	got := countsByTypeDay(t, conn, db+".trust_counts")
	if d := diffCounts(p.perTypeDay, got); len(d) > 0 {
		t.Fatalf("after rebalances trust_counts differs in %d places, e.g. %v", len(d), d[:min(5, len(d))])
	}
	if bad := queryUint(t, conn, "SELECT count() FROM "+db+".ingest_ledger WHERE consumed != accepted + rejected"); bad != 0 {
		t.Fatalf("%d ledger rows with consumed != accepted + rejected", bad)
	}
	if r := queryUint(t, conn, "SELECT sum(rejected) FROM "+db+".ingest_ledger"); r != uint64(len(p.invalidValues)) {
		t.Fatalf("ledger rejected = %d, want %d", r, len(p.invalidValues))
	}
}
