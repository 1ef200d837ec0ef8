package sink_test

import (
	"context"
	"testing"
	"time"

	"github.com/trustpipe/trustpipe/aggregate"
	"github.com/trustpipe/trustpipe/aggregate/indicator"
	"github.com/trustpipe/trustpipe/sink"
	"github.com/trustpipe/trustpipe/sink/sinktest"
)

// TestAccountHistories stores account rows the way re-reads write them (an
// interim and a final row of one block, a second block, a pullback contact
// twice) and reads them back: the highest version wins, blocks add up, the
// baseline keeps sentiment only, and pullback contacts are a set.
func TestAccountHistories(t *testing.T) {
	st, cfg := sinktest.Open(t, sink.AccountViews([]string{"t1"}))
	ctx := context.Background()
	first, last := time.Date(2026, 11, 14, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	d := func(t time.Time) int64 { return t.Unix() }
	base := first.AddDate(0, 0, -10)
	blk := func(b int64) aggregate.BlockRef { return aggregate.BlockRef{Topic: "t", Partition: 0, Block: b} }
	row := func(day time.Time, m string, b int64, n uint64, nanos, version int64) aggregate.AccountRow {
		return aggregate.AccountRow{AccountKey: aggregate.AccountKey{Day: d(day), Account: "a1", Measure: m}, BlockRef: blk(b), Events: n, ValueNanos: nanos, Version: version}
	}
	pull := aggregate.AccountContactRow{Day: d(first), Account: "a1", Measure: indicator.AccountUnsubscribe, Contact: "c1"}
	snaps := []*aggregate.Snapshot{
		{Accounts: []aggregate.AccountRow{row(first, indicator.AccountDelivered, 0, 3, 0, 10), row(first, indicator.AccountUnsubscribe, 0, 1, 0, 10)},
			AccountContacts: []aggregate.AccountContactRow{pull}},
		{Accounts: []aggregate.AccountRow{row(first, indicator.AccountDelivered, 0, 5, 0, 20), // the final row of block 0
			row(first, indicator.AccountDelivered, 1, 2, 0, 20),
			row(base, indicator.AccountSentiment, 1, 2, 900_000_000, 20),        // baseline sentiment
			row(base, indicator.AccountDelivered, 1, 7, 0, 20),                  // baseline delivery: not read
			row(last.AddDate(0, 0, 1), indicator.AccountDelivered, 1, 9, 0, 20), // after the range: not read
		}, AccountContacts: []aggregate.AccountContactRow{pull, {Day: d(last), Account: "a1", Measure: indicator.AccountComplaint, Contact: "c2"}}},
	}
	for _, s := range snaps {
		if err := st.Write(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	hs, err := st.AccountHistories(ctx, indicator.DefaultAccountRule(), first, last)
	if err != nil {
		t.Fatal(err)
	}
	if len(hs) != 1 || hs[0].Account != "a1" || len(hs[0].Days) != 3 {
		t.Fatalf("histories %+v: want a1 with 3 days", hs)
	}
	b, f, l := hs[0].Days[0], hs[0].Days[1], hs[0].Days[2]
	if !b.Day.Equal(base) || b.SentimentReports != 2 || b.SentimentNanos != 900_000_000 || b.Delivered != 0 {
		t.Errorf("baseline day %+v: want 2 sentiment reports, no deliveries", b)
	}
	if !f.Day.Equal(first) || f.Delivered != 7 || f.Unsubscribes != 1 || len(f.PullbackContacts) != 1 || len(f.LostContacts) != 1 {
		t.Errorf("first day %+v: want 5+2 deliveries, 1 unsubscribe, c1 pulled back and lost", f)
	}
	if !l.Day.Equal(last) || len(l.PullbackContacts) != 1 || len(l.LostContacts) != 0 {
		t.Errorf("last day %+v: want c2 pulled back, not lost", l)
	}
	var delivered, lost uint64
	q := "SELECT sum(delivered), sum(contacts_lost) FROM " + cfg.Database + "." + sink.ViewAccountTrustDaily + " WHERE day = toDate('2026-11-14')"
	if err := st.Conn().QueryRow(ctx, q).Scan(&delivered, &lost); err != nil {
		t.Fatal(err)
	}
	if delivered != 7 || lost != 1 {
		t.Errorf("account_trust_daily: delivered %d, contacts lost %d; want 7 and 1", delivered, lost)
	}
	var target string
	if err := st.Conn().QueryRow(ctx, "SELECT account FROM "+cfg.Database+"."+sink.ViewTargetAccounts).Scan(&target); err != nil || target != "t1" {
		t.Errorf("target_accounts: %q, %v", target, err)
	}
}
