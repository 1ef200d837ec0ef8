package sink_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/trustpipe/trustpipe/aggregate"
	"github.com/trustpipe/trustpipe/aggregate/event"
	"github.com/trustpipe/trustpipe/sink"
	"github.com/trustpipe/trustpipe/sink/sinktest"
)

// TestDedupHistoryRoundTrip stores the decisions of one read of a partition
// full of re-sent ids and out-of-order record times, some snapshots twice
// (a re-read), and checks that a read restarted at any block start, or
// mid-block, seeded from ClickHouse, decides every later offset the same
// way; and that the ledger and the duplicate_events view show the
// duplicates.
func TestDedupHistoryRoundTrip(t *testing.T) {
	st, _ := sinktest.Open(t, nil)
	ctx := context.Background()
	cfg := aggregate.Config{BucketSize: time.Minute, BlockSize: 10, Dedup: aggregate.DedupConfig{Window: 100 * time.Second, MaxIDs: 25}}
	type rec struct {
		id string
		at time.Time
	}
	rng := rand.New(rand.NewPCG(7, 7))
	recs := make([]rec, 400)
	clock := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	for i := range recs {
		clock = clock.Add(time.Duration(rng.IntN(2500)) * time.Millisecond)
		at := clock
		switch rng.IntN(20) {
		case 0, 1:
			at = at.Add(-time.Duration(rng.IntN(150)) * time.Second)
		case 2:
			at = at.Add(120 * time.Second)
		}
		recs[i] = rec{id: fmt.Sprintf("id%d", rng.IntN(80)), at: at}
	}
	accept := func(a *aggregate.Aggregator, off int64) aggregate.Outcome {
		r := recs[off]
		ev := event.Event{ID: r.id, Type: event.Click, OccurredAt: r.at, ContactID: "c", Channel: "email"}
		return a.Accept("t", 3, off, r.at, &ev)
	}
	write := func(snap *aggregate.Snapshot) {
		t.Helper()
		if err := st.Write(ctx, snap); err != nil {
			t.Fatal(err)
		}
	}

	full, err := aggregate.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]aggregate.Outcome, len(recs))
	dups := 0
	for off := range int64(len(recs)) {
		want[off] = accept(full, off)
		if want[off] == aggregate.Duplicate {
			dups++
		}
		if rng.IntN(15) == 0 {
			snap := full.Snapshot()
			write(snap)
			if rng.IntN(2) == 0 {
				write(snap) // stored again, as by a re-read
			}
		}
	}
	write(full.Snapshot())
	if dups < 20 {
		t.Fatalf("only %d duplicates in the stream: the test proves little", dups)
	}

	for _, start := range []int64{10, 100, 103, 250, 399} {
		a, err := aggregate.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		q := a.HistoryQuery("t", 3, start)
		h, err := st.DedupHistory(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		a.Seed(q, h)
		for off := start; off < int64(len(recs)); off++ {
			if got := accept(a, off); got != want[off] {
				t.Errorf("restart at %d: offset %d is %v, want %v", start, off, got, want[off])
			}
		}
	}

	var ledgerDups, viewRows uint64
	if err := st.Conn().QueryRow(ctx, "SELECT sum(duplicates) FROM "+st.Database()+".ingest_ledger").Scan(&ledgerDups); err != nil {
		t.Fatal(err)
	}
	if err := st.Conn().QueryRow(ctx, "SELECT count() FROM "+st.Database()+".duplicate_events").Scan(&viewRows); err != nil {
		t.Fatal(err)
	}
	if ledgerDups != uint64(dups) || viewRows != uint64(dups) {
		t.Fatalf("ledger says %d duplicates, duplicate_events %d, the read found %d", ledgerDups, viewRows, dups)
	}
}

// TestCreateStorageIsRepeatable creates a shadow set twice: the second run
// finds the dedup columns in place and adds nothing.
func TestCreateStorageIsRepeatable(t *testing.T) {
	_, cfg := sinktest.Open(t, nil)
	ctx := context.Background()
	shadow, err := sink.Open(ctx, cfg, sink.LiveTables().Prefixed("shadow_"))
	if err != nil {
		t.Fatal(err)
	}
	defer shadow.Close()
	for range 2 {
		if err := shadow.CreateStorage(ctx); err != nil {
			t.Fatal(err)
		}
	}
	missing, err := shadow.MissingTables(ctx, shadow.Tables())
	if err != nil || len(missing) > 0 {
		t.Fatalf("missing %v, %v", missing, err)
	}
}
