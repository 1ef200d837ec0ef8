package readback_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/trustpipe/trustpipe/aggregate"
	"github.com/trustpipe/trustpipe/aggregate/event"
	"github.com/trustpipe/trustpipe/sink/readback"
	"github.com/trustpipe/trustpipe/sink/sinktest"
)

// TestReadBackCostIsBounded stores three years of count rows and a ledger of
// 120 000 blocks, refreshes twice, and reads system.query_log: the count
// queries must read only the monthly partitions their 56 days touch, and
// from the second refresh on the ledger query only about the newest
// readback.LedgerBlocks blocks of each partition — not the whole history.
// The ledger gap must count the recent hole and not the old one.
func TestReadBackCostIsBounded(t *testing.T) {
	st, cfg := sinktest.Open(t, nil)
	ctx := context.Background()
	const history = 3 * 365 * 24 * 2 // half-hour buckets
	snap := &aggregate.Snapshot{}
	lo := itNow.Add(-56 * 24 * time.Hour)
	inMonths := map[string]bool{}
	for d := lo; d.Before(itNow.AddDate(0, 1, 0)); d = d.AddDate(0, 0, 1) {
		if !d.After(itNow) {
			inMonths[d.Format("2006-01")] = true
		}
	}
	var touched uint64 // rows in the months the 56 days touch
	for i := range history {
		at := itBase.Add(-time.Duration(i) * 30 * time.Minute)
		snap.Counts = append(snap.Counts, aggregate.CountRow{
			Key:      aggregate.Key{Bucket: at.Unix(), EventType: event.Delivered, CampaignID: "c", Channel: "email"},
			BlockRef: aggregate.BlockRef{Topic: "trust-events", Block: int64(i)},
			Counts:   aggregate.Counts{Events: 1}, Version: 1,
		})
		if inMonths[at.UTC().Format("2006-01")] {
			touched++
		}
	}
	const partitions, blocks = 3, 40000
	for p := range int32(partitions) {
		for b := range int64(blocks) {
			if (p == 1 && b == blocks-10) || (p == 2 && b == 100) { // a recent hole, an old one
				continue
			}
			snap.Ledger = append(snap.Ledger, aggregate.LedgerRow{
				BlockRef: aggregate.BlockRef{Topic: "trust-events", Partition: p, Block: b}, FirstOffset: b * 10000, LastOffset: b*10000 + 9999,
				Consumed: 10000, Accepted: 10000, Complete: true, Version: 1,
			})
		}
	}
	if err := st.Write(ctx, snap); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewPedanticRegistry()
	rb, err := readback.New(readback.DefaultConfig(), readback.Deps{Source: st, Registerer: reg, Now: func() time.Time { return itNow }})
	if err != nil {
		t.Fatal(err)
	}
	for r := range 2 {
		qctx := clickhouse.Context(ctx, clickhouse.WithQueryID(fmt.Sprintf("%s-%d", cfg.Database, r)), clickhouse.WithSettings(clickhouse.Settings{"log_queries": 1}))
		if err := rb.Refresh(qctx); err != nil {
			t.Fatal(err)
		}
		expect(t, reg, "trustpipe_ledger_gap_offsets", nil, 10000)
	}
	// Matched by prefix: the views' names (trust_count_rows, ingest_ledger)
	// start like their tables'. The server logs a query when it has
	// finished it, which can be just after the client read its last row:
	// wait for the entry.
	read := func(refresh int, prefix string) uint64 {
		q := fmt.Sprintf("SELECT count(), sum(read_rows) FROM system.query_log WHERE type = 2 AND query_id = '%s-%d' AND query LIKE '%%FROM %s.%s%%'", cfg.Database, refresh, cfg.Database, prefix)
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			if err := st.Conn().Exec(ctx, "SYSTEM FLUSH LOGS"); err != nil {
				t.Fatal(err)
			}
			var logged, n uint64
			if err := st.Conn().QueryRow(ctx, q).Scan(&logged, &n); err != nil {
				t.Fatal(err)
			}
			if logged > 0 || time.Now().After(deadline) {
				return n
			}
		}
	}
	t.Logf("rows read on the second refresh: counts %d (history %d, months touched %d), ledger %d (first refresh %d)",
		read(1, "trust_count"), history, touched, read(1, "ingest_ledger"), read(0, "ingest_ledger"))
	if n := read(1, "trust_count"); n == 0 || n > touched {
		t.Errorf("count query read %d rows, want at most the %d of the months its 56 days touch (of %d)", n, touched, history)
	}
	// Each partition's newest blocks touch at most two index granules of
	// 8192 rows; the first refresh reads everything once.
	if n, all := read(1, "ingest_ledger"), read(0, "ingest_ledger"); n == 0 || n > partitions*2*8192 || all < partitions*blocks-2 {
		t.Errorf("ledger query read %d rows on the second refresh (first: %d), want at most %d of %d", n, all, partitions*2*8192, partitions*blocks-2)
	}
}
