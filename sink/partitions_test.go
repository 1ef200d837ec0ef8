package sink_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/trustpipe/trustpipe/aggregate"
	"github.com/trustpipe/trustpipe/aggregate/event"
	"github.com/trustpipe/trustpipe/sink"
	"github.com/trustpipe/trustpipe/sink/sinktest"
)

// TestFlushOverManyMonthsIsSplit stores one flush whose rows span 120
// months, as a backfill of old events does. Current ClickHouse refuses an
// insert touching more than 100 partitions (max_partitions_per_insert_block);
// 18.16 has no such limit, so the test also reads system.query_log and
// checks that no INSERT carried rows of more than sink.MaxPartitionsPerInsert
// months (one row per month here) — and that every row arrived.
func TestFlushOverManyMonthsIsSplit(t *testing.T) {
	st, cfg := sinktest.Open(t, nil)
	ctx := clickhouse.Context(context.Background(), clickhouse.WithSettings(clickhouse.Settings{"log_queries": 1}))
	const months = 120
	start := time.Date(2004, 3, 1, 12, 0, 0, 0, time.UTC)
	snap := &aggregate.Snapshot{}
	// Newest month first, so a split that did not sort would mix months.
	for i := months - 1; i >= 0; i-- {
		at := start.AddDate(0, i, 0).Unix()
		snap.Counts = append(snap.Counts, countRow(at, event.Click, 0, int64(i), 1, 1))
		snap.Contacts = append(snap.Contacts, aggregate.ContactRow{Day: at - at%86400, CampaignID: "c1", Contact: fmt.Sprint("p", i)})
	}
	if err := st.Write(ctx, snap); err != nil {
		t.Fatal(err)
	}
	// The storage tables, not the views: every row here is its own key, and
	// FINAL over so many partitions needs more memory than 18.16 allows a query.
	var events, contacts uint64
	if err := st.Conn().QueryRow(ctx, fmt.Sprintf("SELECT sum(events) FROM %s.trust_counts_blocks", cfg.Database)).Scan(&events); err != nil {
		t.Fatal(err)
	}
	if err := st.Conn().QueryRow(ctx, fmt.Sprintf("SELECT count() FROM %s.engaged_contacts_blocks", cfg.Database)).Scan(&contacts); err != nil {
		t.Fatal(err)
	}
	if events != months || contacts != months {
		t.Fatalf("stored %d events and %d contacts, want %d of each", events, contacts, months)
	}
	// The server logs an insert when it has finished it, which can be just
	// after the client saw it succeed: wait for both tables' entries.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if err := st.Conn().Exec(ctx, "SYSTEM FLUSH LOGS"); err != nil {
			t.Fatal(err)
		}
		var logged uint64
		q := fmt.Sprintf("SELECT sum(written_rows) FROM system.query_log WHERE type = 2 AND query LIKE 'INSERT INTO %s.%%'", cfg.Database)
		if err := st.Conn().QueryRow(ctx, q).Scan(&logged); err != nil {
			t.Fatal(err)
		}
		if logged >= 2*months || time.Now().After(deadline) {
			break
		}
	}
	for _, table := range []string{"trust_counts_blocks", "engaged_contacts_blocks"} {
		rows, err := st.Conn().Query(ctx, fmt.Sprintf(
			"SELECT written_rows FROM system.query_log WHERE type = 2 AND query LIKE 'INSERT INTO %s.%s %%'", cfg.Database, table))
		if err != nil {
			t.Fatal(err)
		}
		var inserts, total uint64
		for rows.Next() {
			var n uint64
			if err := rows.Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n > sink.MaxPartitionsPerInsert {
				t.Errorf("%s: one insert wrote %d rows of as many months, want at most %d", table, n, sink.MaxPartitionsPerInsert)
			}
			inserts++
			total += n
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		if total != months || inserts != 2 {
			t.Errorf("%s: %d inserts wrote %d rows, want 2 inserts (100 + 20 months) of %d", table, inserts, total, months)
		}
	}
}
