package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

	"github.com/trustpipe/trustpipe/aggregate/scenario"
	"github.com/trustpipe/trustpipe/consumers/kafkatest"
	"github.com/trustpipe/trustpipe/sink/sinktest"
)

// contactOracle applies the documented rules of the sends that should not
// have happened (README, "Contact state") to the produced records, in the
// order they were produced, read with encoding/json: independent of the
// contract decoder, the aggregator and its stored state. Per UTC day: the
// sends, those to a contact who unsubscribed from the send's channel 48 h
// or more before (undone by a later opt_up), the personalized sends and
// those claiming a consent_tier above the contact's latest consent record.
type contactOracle struct {
	unsub  map[[2]string]int64 // (contact, channel) -> standing unsubscribe, Unix s
	record map[string][2]int64 // contact -> (to_tier, occurred_at of the latest record)
	days   map[string]*contactDay
}

type contactDay struct{ sends, post, personalized, mismatch int }

func newContactOracle() *contactOracle {
	return &contactOracle{unsub: map[[2]string]int64{}, record: map[string][2]int64{}, days: map[string]*contactDay{}}
}

func (o *contactOracle) add(t *testing.T, rec scenario.Record) {
	if rec.Invalid != "" {
		return
	}
	var v struct {
		Type            string    `json:"type"`
		OccurredAt      time.Time `json:"occurred_at"`
		Contact         string    `json:"contact_id"`
		Channel         string    `json:"channel"`
		Tier            int64     `json:"consent_tier"`
		Personalization string    `json:"personalization"`
		Properties      struct {
			ToTier int64 `json:"to_tier"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(rec.Value, &v); err != nil {
		t.Fatalf("produced record %s: %v", rec.Value, err)
	}
	if v.Contact == "" {
		return
	}
	at := v.OccurredAt.Unix()
	k := [2]string{v.Contact, cmp.Or(v.Channel, "other")}
	switch v.Type {
	case "unsubscribe":
		if u, ok := o.unsub[k]; !ok || at < u {
			o.unsub[k] = at
		}
	case "opt_up":
		if u, ok := o.unsub[k]; ok && at > u {
			delete(o.unsub, k)
		}
	case "consent_change":
		if r, ok := o.record[v.Contact]; !ok || at >= r[1] {
			o.record[v.Contact] = [2]int64{v.Properties.ToTier, at}
		}
	case "send":
		day := v.OccurredAt.UTC().Format("2006-01-02")
		d := o.days[day]
		if d == nil {
			d = &contactDay{}
			o.days[day] = d
		}
		d.sends++
		if u, ok := o.unsub[k]; ok && at >= u+48*3600 {
			d.post++
		}
		if v.Personalization != "" && v.Personalization != "none" {
			d.personalized++
			if r, ok := o.record[v.Contact]; ok && r[0] > 0 && r[1] <= at && v.Tier > r[0] {
				d.mismatch++
			}
		}
	}
}

// set puts the days' two rates into want and returns their numerators.
func (o *contactOracle) set(want map[string]*float64, from, to time.Time) (post, mismatch int) {
	var sum contactDay
	for d := from; d.Before(to); d = d.AddDate(0, 0, 1) {
		if x := o.days[d.Format("2006-01-02")]; x != nil {
			sum.sends, sum.post, sum.personalized, sum.mismatch = sum.sends+x.sends, sum.post+x.post, sum.personalized+x.personalized, sum.mismatch+x.mismatch
		}
	}
	want["post_unsubscribe_send_rate"] = ratio(float64(sum.post), float64(sum.sends))
	want["consent_claim_mismatch_share"] = ratio(float64(sum.mismatch), float64(sum.personalized))
	return sum.post, sum.mismatch
}

// TestSendsThatShouldNotHaveHappenedAreExact produces the
// ignored-unsubscribes scenario (one system mailing unsubscribed contacts,
// another claiming consent above the record) keyed by contact over three
// partitions, SIGKILLs the pipeline mid-stream, restarts it, and checks
// that the report's two rates equal the oracle's exactly — after the kill
// (the restarted read loads the contact state back mid-block) and after a
// replay of everything.
func TestSendsThatShouldNotHaveHappenedAreExact(t *testing.T) {
	chAddr := sinktest.Addr(t)
	db := sinktest.Database(t)
	brokers := kafkatest.Start(t, 3, "trust-events", "trust-events-dlq")
	const n = 40000
	end := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	g, err := scenario.New(scenario.Config{Name: "ignored-unsubscribes", Events: n, Days: 28, Seed: 16, Contacts: 800, End: end, InvalidRatio: 0.005})
	if err != nil {
		t.Fatal(err)
	}
	oracle := newContactOracle()
	produceGenerated(t, brokers, g, func(rec scenario.Record) {
		oracle.add(t, rec)
	})
	from, to := end.AddDate(0, 0, -7), end
	want := map[string]*float64{}
	post, mismatch := oracle.set(want, from, to)
	prevWant := map[string]*float64{}
	prevPost, prevMismatch := oracle.set(prevWant, from.AddDate(0, 0, -7), from)
	if post < 20 || mismatch < 20 || prevPost != 0 || prevMismatch != 0 {
		t.Fatalf("oracle: %d sends after unsubscribe and %d consent claims above the record in the last week (%d, %d the week before): the test proves little",
			post, mismatch, prevPost, prevMismatch)
	}

	env := testEnv(brokers, chAddr, db, "TRUSTPIPE_BLOCK_SIZE=2000", "TRUSTPIPE_FLUSH_INTERVAL=200ms")
	conn := migratedDatabase(t, env, chAddr, db)
	consumed := func() uint64 { return ledgerConsumed(t, conn, db) }
	killAt := uint64(float64(n) * (0.3 + 0.4*rand.Float64()))
	first, out1 := startTrustpipe(t, env, "run")
	waitFor(t, "the kill point", 3*time.Minute, out1, func() bool { return consumed() >= killAt })
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()
	second, out2 := startTrustpipe(t, env, "run")
	waitFor(t, "all records in the ledger", 3*time.Minute, out2, func() bool { return consumed() == n })
	stopGracefully(t, second, out2)

	check := func(when string) {
		t.Helper()
		var j reportJSON
		raw := runReport(t, env, "--from", from.Format("2006-01-02"), "--to", to.Format("2006-01-02"), "--format", "json")
		if err := json.Unmarshal(raw, &j); err != nil {
			t.Fatalf("%v\n%s", err, raw)
		}
		for name, w := range want {
			if g := j.Indicators[name]; !eqPtr(g, w) {
				t.Errorf("%s: %s = %s, want exactly %s", when, name, fmtPtr(g), fmtPtr(w))
			}
			if g := j.Comparison.Indicators[name]; !eqPtr(g, prevWant[name]) {
				t.Errorf("%s: previous %s = %s, want exactly %s", when, name, fmtPtr(g), fmtPtr(prevWant[name]))
			}
		}
	}
	check(fmt.Sprintf("after kill -9 at %d", killAt))
	t.Logf("killed after %d records; last week: %d sends after unsubscribe (%s), %d consent claims above the record (%s)",
		killAt, post, fmtPtr(want["post_unsubscribe_send_rate"]), mismatch, fmtPtr(want["consent_claim_mismatch_share"]))
	if out, code := runTrustpipe(t, env, "replay", "--all"); code != 0 {
		t.Fatalf("replay --all: exit %d\n%s", code, out)
	}
	check("after replay --all")
	if d := queryUint(t, conn, "SELECT count() FROM "+db+".contact_breaches WHERE sent_at >= toDateTime('"+from.Format("2006-01-02 15:04:05")+"')"); d != uint64(post+mismatch) {
		t.Errorf("contact_breaches holds %d breaches of the last week, want %d", d, post+mismatch)
	}
}
