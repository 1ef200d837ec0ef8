package sink_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/trustpipe/trustpipe/aggregate"
	"github.com/trustpipe/trustpipe/aggregate/event"
	"github.com/trustpipe/trustpipe/sink/sinktest"
)

// TestEventTimeBoundsStoreUnwrapped stores counts in the first and the last
// hour the decoder accepts (event.MinTime, event.MaxTime) and checks that
// ClickHouse keeps their dates: bucket, day and month read back as written,
// on 18.16 (whose date functions wrap on 2106-02-07) as on current servers.
func TestEventTimeBoundsStoreUnwrapped(t *testing.T) {
	st, cfg := sinktest.Open(t, nil)
	ctx := context.Background()
	hour := func(sec int64) int64 { return sec - sec%3600 }
	snap := &aggregate.Snapshot{Counts: []aggregate.CountRow{
		countRow(hour(event.MinTime.Unix()), event.Click, 0, 0, 1, 1),
		countRow(hour(event.MaxTime.Unix()), event.Click, 0, 1, 1, 1),
	}}
	if err := st.Write(ctx, snap); err != nil {
		t.Fatal(err)
	}
	// Compared as numbers: 18.16 prints the zero DateTime and Date (the
	// epoch) as 0000-00-00, which is only a rendering.
	q := fmt.Sprintf("SELECT toUInt32(bucket), toUInt16(toDate(bucket, 'UTC')), toYYYYMM(bucket, 'UTC') FROM %s.trust_counts ORDER BY bucket", cfg.Database)
	rows, err := st.Conn().Query(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got, want []string
	for _, r := range snap.Counts {
		b := time.Unix(r.Key.Bucket, 0).UTC()
		want = append(want, fmt.Sprintf("%d %d %s", r.Key.Bucket, r.Key.Bucket/86400, b.Format("200601")))
	}
	for rows.Next() {
		var bucket, month uint32
		var day uint16
		if err := rows.Scan(&bucket, &day, &month); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprint(bucket, day, month))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("stored (bucket, day, month) %v, want %v", got, want)
	}
}
