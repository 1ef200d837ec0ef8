package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/trustpipe/trustpipe/aggregate/event"
	"github.com/trustpipe/trustpipe/aggregate/scenario"
	"github.com/trustpipe/trustpipe/consumers/kafkatest"
	"github.com/trustpipe/trustpipe/sink/sinktest"
)

var eventIDRe = regexp.MustCompile(`"event_id":"([^"]+)"`)

// produceWithResends writes a one-day scenario in which some valid records
// are sent again with the same key, bytes and timestamp: right after the
// original, and at the end of the stream, thousands of offsets after it.
// The oracle counts each event_id once (the scenario's own bookkeeping of
// its originals, which the test checks have unique ids); every copy lies
// within 24 hours of record time of its original. It returns the oracle and
// the number of copies, by event type and day.
func produceWithResends(t *testing.T, brokers []string, n int, seed uint64) (produced, map[typeDay]uint64) {
	t.Helper()
	end := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	g, err := scenario.New(scenario.Config{Name: "healthy", Events: n, Days: 1, Seed: int64(seed), End: end, InvalidRatio: 0.01})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, 2))
	p := produced{perTypeDay: map[typeDay]uint64{}, invalidValues: map[string]event.Reason{}, rawIDs: map[string]bool{}}
	copies := map[typeDay]uint64{}
	w := kafkatest.Writer(brokers, "trust-events")
	defer w.Close()
	var batch, later []kafka.Message
	ids := map[string]bool{}
	for i := 0; ; i++ {
		rec, ok := g.Next()
		if !ok {
			break
		}
		rec = rec.Clone()
		m := kafka.Message{Key: rec.Key, Value: rec.Value, Time: rec.Time}
		batch = append(batch, m)
		if rec.Invalid != "" {
			p.invalidValues[string(rec.Value)] = rec.Invalid
		} else {
			id := string(eventIDRe.FindSubmatch(rec.Value)[1])
			if ids[id] {
				t.Fatalf("the scenario repeats event_id %s: the oracle assumes unique ids", id)
			}
			ids[id] = true
			k := typeDay{rec.Type.String(), rec.Time.UTC().Format("2006-01-02")}
			p.perTypeDay[k]++
			// Only keyed records: a keyless copy may land in another
			// partition, where it is not a duplicate (dedup is per partition).
			switch r := rng.IntN(100); {
			case len(rec.Key) == 0:
			case r == 0:
				batch = append(batch, m) // a producer retry: right after
				copies[k]++
			case r == 1 && i < n/4:
				later = append(later, m) // re-sent at the end
				copies[k]++
			}
		}
		if len(batch) >= 2000 {
			p.total += len(batch)
			if err := w.WriteMessages(context.Background(), batch...); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	batch = append(batch, later...)
	p.total += len(batch)
	if err := w.WriteMessages(context.Background(), batch...); err != nil {
		t.Fatal(err)
	}
	return p, copies
}

// TestResentRecordsCountOnceAfterKillAndReplay re-sends records (same key
// and bytes) right after and thousands of offsets later, SIGKILLs the
// pipeline mid-stream, restarts it, then replays the whole topic: every
// event_id counts once throughout, and the ledger and the duplicate_events
// view show the copies. Negative control: a backfill with TRUSTPIPE_DEDUP_WINDOW=0
// counts the copies.
func TestResentRecordsCountOnceAfterKillAndReplay(t *testing.T) {
	chAddr := sinktest.Addr(t)
	db := sinktest.Database(t)
	brokers := kafkatest.Start(t, 3, "trust-events", "trust-events-dlq")
	const n = 30000
	seed := uint64(time.Now().UnixNano())
	p, copies := produceWithResends(t, brokers, n, seed)
	var nCopies uint64
	for _, c := range copies {
		nCopies += c
	}
	if nCopies < 100 {
		t.Fatalf("only %d copies produced", nCopies)
	}
	killAt := uint64(float64(p.total) * (0.2 + 0.6*rand.New(rand.NewPCG(seed, 3)).Float64()))
	t.Logf("seed %d: %d records, %d of them copies; SIGKILL after %d", seed, p.total, nCopies, killAt)

	env := testEnv(brokers, chAddr, db, "TRUSTPIPE_BLOCK_SIZE=2000", "TRUSTPIPE_FLUSH_INTERVAL=200ms")
	conn := migratedDatabase(t, env, chAddr, db)
	consumed := func() uint64 { return ledgerConsumed(t, conn, db) }
	assertOnce := func(when string) {
		t.Helper()
		assertExact(t, conn, db, p)
		if d := queryUint(t, conn, "SELECT sum(duplicates) FROM "+db+".ingest_ledger"); d != nCopies {
			t.Fatalf("%s: ledger duplicates = %d, want %d", when, d, nCopies)
		}
		if d := queryUint(t, conn, "SELECT count() FROM "+db+".duplicate_events"); d != nCopies {
			t.Fatalf("%s: duplicate_events has %d rows, want %d", when, d, nCopies)
		}
	}

	first, out1 := startTrustpipe(t, env, "run")
	waitFor(t, "the kill point", 3*time.Minute, out1, func() bool { return consumed() >= killAt })
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()
	second, out2 := startTrustpipe(t, env, "run")
	waitFor(t, "all records in the ledger", 3*time.Minute, out2, func() bool { return consumed() == uint64(p.total) })
	stopGracefully(t, second, out2)
	assertOnce("after kill -9")

	if out, code := runTrustpipe(t, env, "replay", "--all"); code != 0 {
		t.Fatalf("replay --all: exit %d\n%s", code, out)
	}
	assertOnce("after replay --all")
	out, code := runTrustpipe(t, env, "report", "--from", "2026-11-19", "--to", "2026-11-20", "--format", "json")
	if code != 0 || !strings.Contains(out, fmt.Sprintf(`"duplicates": %d,`, nCopies)) {
		t.Fatalf("report: exit %d, want \"duplicates\": %d in\n%s", code, nCopies, out)
	}

	// Negative control: the same stream without dedup counts every copy.
	if out, code := runTrustpipe(t, append(env, "TRUSTPIPE_DEDUP_WINDOW=0"), "replay", "--all", "--target", "nodedup"); code != 0 {
		t.Fatalf("replay --all --target nodedup: exit %d\n%s", code, out)
	}
	want := map[typeDay]uint64{}
	for k, v := range p.perTypeDay {
		want[k] = v + copies[k]
	}
	if d := diffCounts(want, countsByTypeDay(t, conn, db+".nodedup_trust_counts_blocks FINAL")); len(d) > 0 {
		t.Fatalf("without dedup, counts differ from originals + copies in %d places, e.g. %v", len(d), d[:min(5, len(d))])
	}
}
