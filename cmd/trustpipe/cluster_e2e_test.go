package main

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/trustpipe/trustpipe/consumers/kafkatest"
	"github.com/trustpipe/trustpipe/sink"
	"github.com/trustpipe/trustpipe/sink/localserver"
	"github.com/trustpipe/trustpipe/sink/sinktest"
)

// TestClusterIsExact is the cluster acceptance test, on the 2 shards x 2
// replicas test cluster: two instances in one group, started at once (so they
// migrate the schema concurrently), share the partitions; mid-load a
// replica of shard 2 is SIGKILLed — writes stall, since the quorum of 2 cannot
// be met, so nothing is committed that is not on both replicas — and while
// it is down one instance is SIGKILLed too; the replica is restarted later
// and the surviving instance finishes. Then every node gives the exact
// totals through trust_counts and the ledger, its storage tables are
// Replicated, and both shards hold data.
func TestClusterIsExact(t *testing.T) {
	c := sinktest.Cluster(t)
	cfg := sinktest.ClusterConfig(t)
	brokers := kafkatest.Start(t, 6, "trust-events", "trust-events-dlq")
	const n = 40000
	p := produceScenario(t, brokers, "trust-spiral", n, 0.01, 17)
	env := testEnv(brokers, cfg.Addr, cfg.Database, "TRUSTPIPE_CLICKHOUSE_CLUSTER="+cfg.Cluster,
		"TRUSTPIPE_BLOCK_SIZE=1000", "TRUSTPIPE_FLUSH_INTERVAL=200ms")

	st, err := sink.Open(context.Background(), cfg, sink.LiveTables())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = st.DropDatabase(context.Background())
		_ = st.Close()
	})
	nodes := make([]driver.Conn, len(c.Nodes))
	for i, node := range c.Nodes {
		if nodes[i], err = clickhouse.Open(&clickhouse.Options{Addr: []string{node.Addr()}}); err != nil {
			t.Fatal(err)
		}
		defer nodes[i].Close()
	}
	// Progress is read on a node that stays up; 0 until the ledger exists.
	consumed := func() uint64 {
		var v uint64
		_ = nodes[0].QueryRow(context.Background(), "SELECT sum(consumed) FROM "+cfg.Database+".ingest_ledger").Scan(&v)
		return v
	}

	// Both start at once: they migrate the cluster's schema concurrently.
	first, out1 := startTrustpipe(t, env, "run")
	second, out2 := startTrustpipe(t, env, "run")
	waitFor(t, "a quarter of the stream", 3*time.Minute, out1, func() bool { return consumed() >= n/4 })

	const replica = 3 // shard 2, replica 2
	if err := c.KillNode(replica); err != nil {
		t.Fatal(err)
	}
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			_ = c.StartNode(context.Background(), replica, localserver.Options{Detach: true})
		}
	})
	time.Sleep(3 * time.Second) // writes in flight at the kill settle
	stalled := consumed()
	time.Sleep(3 * time.Second)
	if now := consumed(); now != stalled || now == n {
		t.Fatalf("with a replica down the ledger went from %d to %d of %d: writes were not held to the quorum", stalled, now, n)
	}
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()
	if err := c.StartNode(context.Background(), replica, localserver.Options{Detach: true}); err != nil {
		t.Fatal(err)
	}
	restarted = true
	t.Logf("replica and instance killed with %d of %d records in the ledger; replica restarted", stalled, n)

	waitFor(t, "every record in the ledger", 4*time.Minute, out2, func() bool { return consumed() == n })
	stopGracefully(t, second, out2)

	for i, node := range c.Nodes {
		t.Run(fmt.Sprintf("s%dr%d", node.Shard, node.Replica), func(t *testing.T) {
			// The restarted replica may still be fetching parts: its local
			// tables catch up, while its Distributed reads use either replica.
			assertExact(t, nodes[i], cfg.Database, p)
			var replicated, distributed, other uint64
			q := fmt.Sprintf(`SELECT countIf(engine LIKE 'Replicated%%MergeTree'), countIf(engine = 'Distributed'), countIf(engine NOT IN ('View', 'Distributed') AND engine NOT LIKE 'Replicated%%')
FROM system.tables WHERE database = '%s'`, cfg.Database)
			if err := nodes[i].QueryRow(context.Background(), q).Scan(&replicated, &distributed, &other); err != nil {
				t.Fatal(err)
			}
			if replicated == 0 || replicated != distributed || other != 0 {
				t.Errorf("%d Replicated, %d Distributed and %d other storage tables; want only Replicated behind Distributed", replicated, distributed, other)
			}
		})
	}
	for shard := 1; shard <= 2; shard++ {
		local := queryUint(t, nodes[(shard-1)*2], "SELECT sum(consumed) FROM "+cfg.Database+".ingest_ledger_blocks_local FINAL")
		if local == 0 || local == n {
			t.Errorf("shard %d's ledger accounts for %d of %d records: want both shards to hold data", shard, local, n)
		}
	}
}
