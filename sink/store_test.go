package sink_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trustpipe/trustpipe/aggregate"
	"github.com/trustpipe/trustpipe/aggregate/event"
	"github.com/trustpipe/trustpipe/sink"
	"github.com/trustpipe/trustpipe/sink/sinktest"
)

func countRow(bucket int64, typ event.Type, part int32, block, events, version int64) aggregate.CountRow {
	return aggregate.CountRow{
		Key:      aggregate.Key{Bucket: bucket, EventType: typ, Channel: "email", CampaignID: "c1"},
		BlockRef: aggregate.BlockRef{Topic: "t", Partition: part, Block: block},
		Counts:   aggregate.Counts{Events: uint64(events)},
		Version:  version,
	}
}

// TestReplacementKeepsHighestVersion writes the same block's cumulative rows
// several times, out of order, and checks trust_counts sums only the newest
// row of each block — the property the exactness invariant rests on.
func TestReplacementKeepsHighestVersion(t *testing.T) {
	st, cfg := sinktest.Open(t, nil)
	ctx := context.Background()
	b := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC).Unix()
	writes := []*aggregate.Snapshot{
		{Counts: []aggregate.CountRow{countRow(b, event.Click, 0, 0, 5, 10)}},
		{Counts: []aggregate.CountRow{countRow(b, event.Click, 0, 0, 9, 20), countRow(b, event.Click, 1, 0, 4, 7)}},
		{Counts: []aggregate.CountRow{countRow(b, event.Click, 0, 0, 7, 15)}}, // stale re-read: lower version
		{Counts: []aggregate.CountRow{countRow(b, event.Click, 0, 1, 3, 10003)}},
		{Counts: []aggregate.CountRow{countRow(b, event.Click, 1, 0, 4, 7)}}, // identical re-write
	}
	for _, w := range writes {
		if err := st.Write(ctx, w); err != nil {
			t.Fatal(err)
		}
	}
	var events uint64
	q := fmt.Sprintf("SELECT sum(events) FROM %s.trust_counts WHERE event_type = 'click'", cfg.Database)
	if err := st.Conn().QueryRow(ctx, q).Scan(&events); err != nil {
		t.Fatal(err)
	}
	if want := uint64(9 + 4 + 3); events != want {
		t.Fatalf("trust_counts events = %d, want %d (highest version per block)", events, want)
	}
}

func TestLedgerFinalRowWins(t *testing.T) {
	st, cfg := sinktest.Open(t, nil)
	ctx := context.Background()
	ref := aggregate.BlockRef{Topic: "t", Partition: 2, Block: 3}
	// Versions as the aggregator assigns them (block size 10): later last
	// offsets win, and the final row over an interim one at the same offset.
	rows := []aggregate.LedgerRow{
		{BlockRef: ref, FirstOffset: 30, LastOffset: 35, Consumed: 6, Accepted: 5, Rejected: 1, Version: 718},
		{BlockRef: ref, FirstOffset: 30, LastOffset: 39, Consumed: 10, Accepted: 8, Rejected: 2, Version: 798},
		{BlockRef: ref, FirstOffset: 30, LastOffset: 39, Consumed: 9, Accepted: 7, Rejected: 2, Skipped: 1, Complete: true, Version: 799},
		{BlockRef: ref, FirstOffset: 30, LastOffset: 33, Consumed: 4, Accepted: 4, Version: 678}, // stale re-read
	}
	for _, r := range rows {
		if err := st.Write(ctx, &aggregate.Snapshot{Ledger: []aggregate.LedgerRow{r}}); err != nil {
			t.Fatal(err)
		}
	}
	var n, consumed, accepted, rejected, skipped uint64
	var complete uint8
	q := fmt.Sprintf("SELECT count(), sum(consumed), sum(accepted), sum(rejected), sum(skipped), max(complete) FROM %s.ingest_ledger", cfg.Database)
	if err := st.Conn().QueryRow(ctx, q).Scan(&n, &consumed, &accepted, &rejected, &skipped, &complete); err != nil {
		t.Fatal(err)
	}
	if n != 1 || consumed != 9 || accepted != 7 || rejected != 2 || skipped != 1 || complete != 1 {
		t.Fatalf("ledger = rows %d consumed %d accepted %d rejected %d skipped %d complete %d; want 1 9 7 2 1 1", n, consumed, accepted, rejected, skipped, complete)
	}
}

// TestMigrateAddsSkippedToOldLedger upgrades a database made before the
// ledger had its skipped column: migration 2 adds it, old rows read 0.
func TestMigrateAddsSkippedToOldLedger(t *testing.T) {
	st, cfg := sinktest.Open(t, nil)
	ctx := context.Background()
	db := cfg.Database
	for _, q := range sinktest.MigrationOneDatabase(db) {
		if err := st.Conn().Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	applied, err := st.Migrate(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Every migration after 1 upgrades a database created by migration 1
	// as released (the settings table of 4 was already there from it).
	var got []string
	for _, a := range applied {
		got = append(got, strings.Fields(a)[0])
	}
	want := []string{"2", "3", "4", "5", "6", "7", "8", "9", "10"}
	if !slices.Equal(got, want) {
		t.Fatalf("applied %v, want migrations %v", applied, want)
	}
	// Migration 5 created the attribution tables: a snapshot with cohort and
	// unique rows is stored and read back through the views.
	snap := &aggregate.Snapshot{
		Cohorts: []aggregate.CohortRow{{CohortKey: aggregate.CohortKey{Cohort: 3600, BySendTime: true, EventType: event.Delivered, Channel: "email"}, Events: 7, Version: 1}},
		Uniques: []aggregate.UniqueRow{{Day: 0, Kind: aggregate.UniqueRecipient, Contact: "c"}},
		// Migration 10 created the click table.
		Clicks: []aggregate.ClickRow{{ClickKey: aggregate.ClickKey{Contact: "c"}, Clicks: 3, Version: 1}},
	}
	if err := st.Write(ctx, snap); err != nil {
		t.Fatalf("write after migrations 5 and 10: %v", err)
	}
	var clicks uint64
	if err := st.Conn().QueryRow(ctx, "SELECT sum(clicks) FROM "+db+".contact_clicks").Scan(&clicks); err != nil || clicks != 3 {
		t.Fatalf("after migration 10: %d clicks (%v), want 3", clicks, err)
	}
	var cohortEvents, uniques uint64
	if err := st.Conn().QueryRow(ctx, "SELECT sum(events), (SELECT count() FROM "+db+".unique_engagement) FROM "+db+".cohort_count_rows").Scan(&cohortEvents, &uniques); err != nil {
		t.Fatal(err)
	}
	if cohortEvents != 7 || uniques != 1 {
		t.Fatalf("after migration 5: %d cohort events, %d unique rows, want 7 and 1", cohortEvents, uniques)
	}
	var consumed, skipped, dups uint64
	if err := st.Conn().QueryRow(ctx, "SELECT sum(consumed), sum(skipped), sum(duplicates) FROM "+db+".ingest_ledger").Scan(&consumed, &skipped, &dups); err != nil {
		t.Fatal(err)
	}
	if consumed != 10 || skipped != 0 || dups != 0 {
		t.Fatalf("old row reads consumed %d skipped %d duplicates %d, want 10 0 0", consumed, skipped, dups)
	}
	// A decision stored in the legacy table before the upgrade is still
	// loaded; one the new table holds for the same offset wins over it.
	if err := st.Conn().Exec(ctx, "INSERT INTO "+db+".event_ids (topic, partition, record_offset, id_hash, record_time, duplicate, version) "+
		"SELECT 't', 0, 5, 42, toDateTime(1000), 0, 1 UNION ALL SELECT 't', 0, 15, 43, toDateTime(1000), 0, 1"); err != nil {
		t.Fatal(err)
	}
	snap = &aggregate.Snapshot{IDs: []aggregate.IDBlock{{BlockRef: aggregate.BlockRef{Topic: "t", Block: 1}, Base: 10,
		Offsets: []uint32{5, 6}, Hashes: []uint64{44, 45}, RecordTimes: []uint32{1001, 1002}, Duplicates: []uint8{0, 1}, Version: 1}}}
	if err := st.Write(ctx, snap); err != nil {
		t.Fatal(err)
	}
	h, err := st.DedupHistory(ctx, aggregate.HistoryQuery{Topic: "t", Before: 20, Block: 2, Window: time.Hour})
	if err != nil {
		t.Fatalf("dedup history after migrations 3 and 6: %v", err)
	}
	wantIDs := []aggregate.SeenID{{Offset: 5, Hash: 42, RecordTime: 1000}, {Offset: 15, Hash: 44, RecordTime: 1001}}
	if !slices.Equal(h.IDs, wantIDs) {
		t.Fatalf("history %v, want %v (legacy offset 5, block row's offset 15 over the legacy one, offset 16 a duplicate)", h.IDs, wantIDs)
	}
}

func TestMigrateIsIdempotent(t *testing.T) {
	st, _ := sinktest.Open(t, []sink.View{{Name: "extra_view", Query: "SELECT count() AS n FROM {db}.trust_counts"}})
	ctx := context.Background()
	applied, err := st.Migrate(ctx, []sink.View{{Name: "extra_view", Query: "SELECT count() AS n FROM {db}.trust_counts"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) != 0 {
		t.Fatalf("second migrate applied %v, want nothing", applied)
	}
	var n uint64
	if err := st.Conn().QueryRow(ctx, "SELECT n FROM "+st.Database()+".extra_view").Scan(&n); err != nil {
		t.Fatal(err)
	}
}

func TestSentimentSumIsExact(t *testing.T) {
	st, cfg := sinktest.Open(t, nil)
	ctx := context.Background()
	b := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC).Unix()
	var rows []aggregate.CountRow
	for blk := int64(0); blk < 10; blk++ {
		r := countRow(b, event.Sentiment, 0, blk, 1, blk)
		r.ValueNanos = 100000000 // 0.1
		rows = append(rows, r)
	}
	if err := st.Write(ctx, &aggregate.Snapshot{Counts: rows}); err != nil {
		t.Fatal(err)
	}
	var sum float64
	if err := st.Conn().QueryRow(ctx, fmt.Sprintf("SELECT sum(value_sum) FROM %s.trust_counts", cfg.Database)).Scan(&sum); err != nil {
		t.Fatal(err)
	}
	if sum != 1.0 { // float64 summing 0.1 ten times gives 0.9999999999999999
		t.Fatalf("value_sum = %.17g, want exactly 1", sum)
	}
}

// TestLargeWriteInBlocks writes a flush several insert blocks long, as a
// backfill's is: every row must land once (the sums and row count are
// those of the rows written, computed here, not read back through the
// store), and the server must squash the blocks of one INSERT into one part
// per month partition rather than a part per block.
func TestLargeWriteInBlocks(t *testing.T) {
	st, cfg := sinktest.Open(t, nil)
	ctx := context.Background()
	const n = 40000 // two and a half blocks of sink.insertChunkRows
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC).Unix()
	snap := &aggregate.Snapshot{}
	var want uint64
	for i := range n {
		r := countRow(start+int64(i)*60, event.Click, int32(i%3), int64(i/1000), int64(i%7+1), 5)
		want += r.Events
		snap.Counts = append(snap.Counts, r)
		snap.Contacts = append(snap.Contacts, aggregate.ContactRow{Day: start, CampaignID: "c1", Channel: "email", Contact: fmt.Sprintf("p%d", i)})
	}
	if err := st.Write(ctx, snap); err != nil {
		t.Fatal(err)
	}
	var rows, events uint64
	q := fmt.Sprintf("SELECT count(), sum(events) FROM %s.trust_counts WHERE event_type = 'click'", cfg.Database)
	if err := st.Conn().QueryRow(ctx, q).Scan(&rows, &events); err != nil {
		t.Fatal(err)
	}
	if rows != n || events != want {
		t.Fatalf("trust_counts: %d rows, %d events; want %d rows, %d events", rows, events, n, want)
	}
	for _, table := range []string{st.Tables().Counts, st.Tables().Contacts} {
		var stored, parts uint64
		q := fmt.Sprintf("SELECT count(), uniqExact(_part) FROM %s.%s", cfg.Database, table)
		if err := st.Conn().QueryRow(ctx, q).Scan(&stored, &parts); err != nil {
			t.Fatal(err)
		}
		if stored != n || parts != 1 {
			t.Errorf("%s: %d rows in %d parts; want %d rows in 1 part (one month, one INSERT)", table, stored, parts, n)
		}
	}
}
