package sink_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/trustpipe/trustpipe/aggregate"
	"github.com/trustpipe/trustpipe/aggregate/event"
	"github.com/trustpipe/trustpipe/sink/sinktest"
)

// TestContactHistoryRoundTrip stores the contact states and breaches of
// one read of a partition (unsubscribes, opt-ups, consent records and
// sends over a few contacts, with a cap and a horizon that forget often;
// some offsets hold several events, as a native record does), some
// snapshots twice, and checks that a read restarted at block starts and
// mid-block, seeded from ClickHouse, flags every later send exactly as the
// uninterrupted read; and that contact_breaches holds one row per breach.
func TestContactHistoryRoundTrip(t *testing.T) {
	st, _ := sinktest.Open(t, nil)
	ctx := context.Background()
	cfg := aggregate.Config{BucketSize: time.Minute, BlockSize: 10, Contacts: aggregate.ContactsConfig{MaxStates: 12, Horizon: 100 * time.Hour}}
	types := []event.Type{event.Send, event.Send, event.Send, event.Unsubscribe, event.OptUp, event.ConsentChange}
	rng := rand.New(rand.NewPCG(11, 11))
	recs := make([][]event.Event, 300)
	clock := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for i := range recs {
		for range 1 + rng.IntN(2) {
			clock = clock.Add(time.Duration(rng.IntN(4*3600)) * time.Second)
			at := clock
			if rng.IntN(10) == 0 {
				at = at.Add(-time.Duration(rng.IntN(100)) * time.Hour)
			}
			ev := event.Event{ID: fmt.Sprint(i), Type: types[rng.IntN(len(types))], OccurredAt: at, ContactID: fmt.Sprint("p", rng.IntN(8)),
				Channel: []string{"email", "sms"}[rng.IntN(2)], Source: fmt.Sprint("s", rng.IntN(3)), CampaignID: fmt.Sprint("c", rng.IntN(2)),
				ConsentTier: uint8(rng.IntN(4)), Personalization: []string{"none", "basic", "predictive"}[rng.IntN(3)]}
			if ev.Type == event.ConsentChange {
				ev.ToTier, ev.Detail = uint8(rng.IntN(4)), "0->1"
			}
			recs[i] = append(recs[i], ev)
		}
	}
	// accept reads one offset and returns the Details of its sends.
	accept := func(a *aggregate.Aggregator, off int64) string {
		evs := append([]event.Event(nil), recs[off]...)
		a.AcceptRecord("t", 5, off, clock, "", evs)
		var out string
		for _, ev := range evs {
			if ev.Type == event.Send {
				out += ev.Detail + ";"
			}
		}
		return out
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
	want := make([]string, len(recs))
	for off := range int64(len(recs)) {
		want[off] = accept(full, off)
		if rng.IntN(9) == 0 {
			snap := full.Snapshot()
			write(snap)
			if rng.IntN(2) == 0 {
				write(snap) // stored again, as by a re-read
			}
		}
	}
	write(full.Snapshot())
	byCap, byHorizon := full.ContactsForgotten()
	if byCap == 0 || byHorizon == 0 {
		t.Fatalf("forgot %d by cap, %d by horizon: the test must exercise both", byCap, byHorizon)
	}

	for _, start := range []int64{10, 100, 104, 250, 299} {
		a, err := aggregate.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		q := a.HistoryQuery("t", 5, start)
		h, err := st.LoadHistory(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		a.Seed(q, h)
		for off := start; off < int64(len(recs)); off++ {
			if got := accept(a, off); got != want[off] {
				t.Errorf("restart at %d: offset %d sends %q, want %q", start, off, got, want[off])
			}
		}
	}

	breaches := 0
	for _, w := range want {
		breaches += strings.Count(w, "post_unsubscribe") + strings.Count(w, "consent_mismatch")
	}
	var rows uint64
	if err := st.Conn().QueryRow(ctx, "SELECT count() FROM "+st.Database()+".contact_breaches").Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if breaches < 10 || rows != uint64(breaches) {
		t.Errorf("contact_breaches has %d rows, the sends carry %d breach flags (want equal, and at least 10)", rows, breaches)
	}
}
