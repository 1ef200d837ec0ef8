package readback_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/trustpipe/trustpipe/aggregate"
	"github.com/trustpipe/trustpipe/aggregate/event"
	"github.com/trustpipe/trustpipe/aggregate/indicator"
	"github.com/trustpipe/trustpipe/aggregate/report"
	"github.com/trustpipe/trustpipe/sink"
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
	src := &taggedSource{Source: st}
	rb, err := readback.New(readback.DefaultConfig(), readback.Deps{Source: src, Registerer: reg, Now: func() time.Time { return itNow }})
	if err != nil {
		t.Fatal(err)
	}
	for r := range 2 {
		src.prefix = fmt.Sprintf("%s-%d-", cfg.Database, r)
		if err := rb.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		expect(t, reg, "trustpipe_ledger_gap_offsets", nil, 10000)
	}
	// Matched by prefix: the views' names (trust_count_rows, ingest_ledger)
	// start like their tables'. The server logs a query when it has
	// finished it, which can be just after the client read its last row:
	// wait for the entry.
	read := func(refresh int, prefix string) uint64 {
		q := fmt.Sprintf("SELECT count(), sum(read_rows) FROM system.query_log WHERE type = 2 AND query_id LIKE '%s-%d-%%' AND query LIKE '%%FROM %s.%s%%'", cfg.Database, refresh, cfg.Database, prefix)
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

// taggedSource gives every read of a refresh its own query id, prefix
// followed by a sequence number, and turns on the query log, so
// system.query_log tells which refresh ran a query. One id shared by the
// reads of a refresh would fail with "query with id ... is already running"
// whenever the server has not yet released the previous read's id.
type taggedSource struct {
	readback.Source
	prefix string
	n      atomic.Int64
}

func (s *taggedSource) tag(ctx context.Context) context.Context {
	return clickhouse.Context(ctx, clickhouse.WithQueryID(fmt.Sprintf("%s%d", s.prefix, s.n.Add(1))),
		clickhouse.WithSettings(clickhouse.Settings{"log_queries": 1}))
}

func (s *taggedSource) SegmentTotals(ctx context.Context, bounds []time.Time) ([]indicator.Totals, time.Time, error) {
	return s.Source.SegmentTotals(s.tag(ctx), bounds)
}

func (s *taggedSource) TopValues(ctx context.Context, dim string, p report.Period, n int, exclude []string, maxBytes int) ([]string, error) {
	return s.Source.TopValues(s.tag(ctx), dim, p, n, exclude, maxBytes)
}

func (s *taggedSource) SplitTotals(ctx context.Context, dim string, values []string, split time.Time, p report.Period) (cur, base []indicator.Totals, err error) {
	return s.Source.SplitTotals(s.tag(ctx), dim, values, split, p)
}

func (s *taggedSource) LedgerBlocks(ctx context.Context, floors map[sink.LedgerPartition]int64) ([]sink.LedgerBlock, error) {
	return s.Source.LedgerBlocks(s.tag(ctx), floors)
}

func (s *taggedSource) CohortSegmentTotals(ctx context.Context, bounds []time.Time) (all, bySend []indicator.Totals, err error) {
	return s.Source.CohortSegmentTotals(s.tag(ctx), bounds)
}

func (s *taggedSource) CohortTopValues(ctx context.Context, dim, channel string, p report.Period, n int, exclude []string, maxBytes int) ([]string, error) {
	return s.Source.CohortTopValues(s.tag(ctx), dim, channel, p, n, exclude, maxBytes)
}

// AccountHistories runs two queries (account counts, then pullback
// contacts); one id for both failed with "already running" when the server
// had not yet released the first. The test reads no account query from the
// log, so they run untagged.
func (s *taggedSource) AccountHistories(ctx context.Context, rule indicator.AccountRule, first, last time.Time) ([]indicator.AccountHistory, error) {
	return s.Source.AccountHistories(ctx, rule, first, last)
}

func (s *taggedSource) CohortGroupTotals(ctx context.Context, dim, channel string, values []string, p report.Period, onlyValues bool) ([]indicator.Totals, error) {
	return s.Source.CohortGroupTotals(s.tag(ctx), dim, channel, values, p, onlyValues)
}
