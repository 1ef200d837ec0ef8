package sink_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/trustpipe/trustpipe/aggregate"
	"github.com/trustpipe/trustpipe/aggregate/event"
	"github.com/trustpipe/trustpipe/aggregate/indicator"
	"github.com/trustpipe/trustpipe/aggregate/scenario"
	"github.com/trustpipe/trustpipe/sink"
	"github.com/trustpipe/trustpipe/sink/localserver"
	"github.com/trustpipe/trustpipe/sink/sinktest"
)

// nodeConn connects to one node alone, without cluster settings: what it
// answers is that node's view of the cluster.
func nodeConn(t *testing.T, n localserver.Node) driver.Conn {
	t.Helper()
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{n.Addr()}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

func scalar[T any](t *testing.T, conn driver.Conn, q string) T {
	t.Helper()
	var v T
	if err := conn.QueryRow(context.Background(), q).Scan(&v); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return v
}

// TestClusterReadSurfaceIsClusterWide migrates a database on the 2x2 test
// cluster with the full read surface (indicator and Trust Index views),
// stores a scenario through the Distributed tables, and checks on every
// node: trust_counts and ingest_ledger give the generator's own totals,
// the indicator and index views answer, every storage table is Replicated,
// and both shards hold part of the data.
func TestClusterReadSurfaceIsClusterWide(t *testing.T) {
	c := sinktest.Cluster(t)
	views := append(sink.IndicatorViews(), sink.IndexViews(indicator.DefaultIndexConfig())...)
	st, cfg := sinktest.OpenConfig(t, sinktest.ClusterConfig(t), views)
	end := time.Now().UTC().Add(-48 * time.Hour).Truncate(time.Hour)
	loaded := sinktest.LoadScenario(t, st, scenario.Config{Name: "healthy", Events: 20000, Days: 3, Seed: 3, End: end, Campaigns: 5},
		sinktest.LoadOptions{Partitions: 6, Aggregate: aggregate.Config{BucketSize: time.Minute, BlockSize: 500}})
	db := cfg.Database
	for _, n := range c.Nodes {
		t.Run(fmt.Sprintf("s%dr%d", n.Shard, n.Replica), func(t *testing.T) {
			conn := nodeConn(t, n)
			if got := scalar[uint64](t, conn, "SELECT sum(events) FROM "+db+".trust_counts"); got != uint64(loaded.Stats.Valid) {
				t.Errorf("trust_counts events = %d, want %d (generator)", got, loaded.Stats.Valid)
			}
			if got := scalar[uint64](t, conn, "SELECT sum(events) FROM "+db+".trust_counts WHERE event_type = 'click'"); got != uint64(loaded.Stats.Count(event.Click)) {
				t.Errorf("trust_counts clicks = %d, want %d (generator)", got, loaded.Stats.Count(event.Click))
			}
			if got := scalar[uint64](t, conn, "SELECT sum(consumed) FROM "+db+".ingest_ledger"); got != uint64(loaded.Records) {
				t.Errorf("ingest_ledger consumed = %d, want %d records", got, loaded.Records)
			}
			for _, v := range []string{sink.ViewIndicatorsDaily, sink.ViewIndexDaily} {
				if got := scalar[uint64](t, conn, "SELECT count() FROM "+db+"."+v); got == 0 {
					t.Errorf("%s is empty", v)
				}
			}
			engines := fmt.Sprintf(`SELECT countIf(engine LIKE 'Replicated%%MergeTree'), countIf(engine = 'Distributed'), countIf(engine LIKE '%%MergeTree' AND engine NOT LIKE 'Replicated%%')
FROM system.tables WHERE database = '%s'`, db)
			var replicated, distributed, plain uint64
			if err := conn.QueryRow(context.Background(), engines).Scan(&replicated, &distributed, &plain); err != nil {
				t.Fatal(err)
			}
			if replicated == 0 || replicated != distributed || plain != 0 {
				t.Errorf("tables: %d Replicated, %d Distributed, %d plain MergeTree; want one Distributed per Replicated and no plain", replicated, distributed, plain)
			}
			if got := scalar[uint64](t, conn, "SELECT count() FROM "+db+".trust_counts_blocks_local"); got == 0 {
				t.Errorf("shard %d holds no count rows", n.Shard)
			}
		})
	}
}

// TestClusterWriteIsDurableOnQuorum: with a replica of each shard down a
// Write fails (the quorum of 2 cannot be met), so the pipeline would not
// commit; once the replica is back, a Write that returns has its rows on
// both replicas of their shards at once — read from each replica's local
// table right after, without waiting for replication.
func TestClusterWriteIsDurableOnQuorum(t *testing.T) {
	c := sinktest.Cluster(t)
	cfg := sinktest.ClusterConfig(t)
	cfg.QuorumTimeout = 5 * time.Second
	st, _ := sinktest.OpenConfig(t, cfg, nil)
	ctx := context.Background()
	b := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC).Unix()
	snap := &aggregate.Snapshot{}
	for block := range int64(16) {
		snap.Counts = append(snap.Counts, countRow(b, event.Click, 0, block, block+1, 10))
	}
	const down = 1 // shard 1, replica 2
	if err := c.KillNode(down); err != nil {
		t.Fatal(err)
	}
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			_ = c.StartNode(context.Background(), down, localserver.Options{Detach: true})
		}
	})
	err := st.Write(ctx, snap)
	if err == nil {
		t.Fatal("Write succeeded with a replica of shard 1 down: the quorum of 2 was not enforced")
	}
	if !sink.Retryable(err) {
		t.Fatalf("a missing replica must be retryable, got %v", err)
	}
	if err := c.StartNode(ctx, down, localserver.Options{Detach: true}); err != nil {
		t.Fatal(err)
	}
	restarted = true
	deadline := time.Now().Add(time.Minute)
	for err = st.Write(ctx, snap); err != nil; err = st.Write(ctx, snap) {
		if time.Now().After(deadline) || !sink.Retryable(err) {
			t.Fatalf("Write after the replica restarted: %v", err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	want := uint64(16 * 17 / 2)
	for r := 1; r <= 2; r++ {
		var sum uint64
		for _, n := range c.Nodes {
			if n.Replica == r {
				sum += scalar[uint64](t, nodeConn(t, n), fmt.Sprintf("SELECT sum(events) FROM %s.trust_counts_blocks_local FINAL", cfg.Database))
			}
		}
		if sum != want {
			t.Errorf("replicas %d of both shards hold %d events right after Write returned, want %d", r, sum, want)
		}
	}
}
