package main

import (
	"syscall"
	"testing"
	"time"

	"github.com/trustpipe/trustpipe/consumers/kafkatest"
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
	conn := migratedDatabase(t, env, chAddr, db)
	consumed := func() uint64 { return ledgerConsumed(t, conn, db) }

	first, out1 := startTrustpipe(t, env, "run")
	waitFor(t, "a quarter of the stream", 3*time.Minute, out1, func() bool { return consumed() >= n/4 })
	second, out2 := startTrustpipe(t, env, "run")
	waitFor(t, "more than half of the stream", 3*time.Minute, out2, func() bool { return consumed() >= n*11/20 })
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()
	waitFor(t, "every record in the ledger", 4*time.Minute, out2, func() bool { return consumed() == n })
	stopGracefully(t, second, out2)
	assertExact(t, conn, db, p)
}
