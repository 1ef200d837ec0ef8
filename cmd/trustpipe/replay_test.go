package main

import (
	"context"
	"errors"
	"maps"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/trustpipe/trustpipe/aggregate/scenario"
	"github.com/trustpipe/trustpipe/consumers/kafkatest"
	"github.com/trustpipe/trustpipe/sink"
	"github.com/trustpipe/trustpipe/sink/sinktest"
)

func TestReplayFlagErrors(t *testing.T) {
	now := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		args   []string
		topics []string
		want   string
	}{
		{[]string{}, nil, "choose exactly one"},
		{[]string{"--from", "2026-11-01", "--to", "2026-11-02", "--offsets", "0:1-2"}, nil, "choose exactly one"},
		{[]string{"--all", "--offsets", "0:1-2"}, nil, "choose exactly one"},
		{[]string{"--from", "2026-11-02", "--to", "2026-11-01"}, nil, "is not before --to"},
		{[]string{"--from", "2026-11-02", "--to", "2026-11-02"}, nil, "is not before --to"},
		{[]string{"--from", "2026-11-02"}, nil, "give both --from and --to"},
		{[]string{"--from", "yesterday", "--to", "now"}, nil, "--from: time \"yesterday\""},
		{[]string{"--from", "-1d", "--to", "now"}, nil, "--from: time"},
		{[]string{"--offsets", "0:5"}, nil, "missing '-'"},
		{[]string{"--offsets", "0:9-3"}, nil, "FROM is after TO"},
		{[]string{"--offsets", "a:1-2"}, nil, "partition is not"},
		{[]string{"--offsets", "0:1-2"}, []string{"a", "b"}, "--offsets needs exactly one topic"},
		{[]string{"--offsets", "0:1-2", "--partitions", "0"}, nil, "--partitions applies"},
		{[]string{"--all", "--partitions", "0,x"}, nil, "--partitions"},
		{[]string{"--all", "--target", "1bad"}, nil, "--target"},
		{[]string{"--all", "--target", "bad-name"}, nil, "--target"},
		{[]string{"--all", "--parallel", "0"}, nil, "--parallel"},
		{[]string{"--all", "extra"}, nil, "unexpected argument"},
		{[]string{"--nope"}, nil, "flag provided but not defined"},
	} {
		topics := tc.topics
		if topics == nil {
			topics = []string{"trust-events"}
		}
		o, err := parseReplayFlags(tc.args)
		if err == nil {
			_, err = o.selection(topics, now)
		}
		var ue usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("replay %v: err %v, want a usage error (exit 2) containing %q", tc.args, err, tc.want)
		}
	}
	for _, args := range [][]string{{}, {"--target", ""}, {"--target", "v2", "--yes", "--dry-run"}, {"--target", "v2", "x"}} {
		if _, err := parseSwapFlags(args); !errors.As(err, new(usageError)) {
			t.Errorf("replay swap %v: err %v, want a usage error", args, err)
		}
	}
	o, err := parseReplayFlags([]string{"--offsets", "0:1-2,1:5-", "--topic", "x"})
	if err != nil {
		t.Fatal(err)
	}
	sel, err := o.selection([]string{"a", "b"}, now)
	if err != nil || len(sel.Offsets) != 2 || sel.Offsets[1].Topic != "x" {
		t.Fatalf("selection %+v, %v", sel, err)
	}
}

// runTrustpipe runs the binary to completion and returns its output and
// exit code.
func runTrustpipe(t *testing.T, env []string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(out), ee.ExitCode()
	}
	if err != nil {
		t.Fatalf("trustpipe %v: %v", args, err)
	}
	return string(out), 0
}

// groupOffsets reads the live consumer group's committed offsets.
func groupOffsets(t *testing.T, brokers []string, group, topic string, partitions int) map[int]int64 {
	t.Helper()
	parts := make([]int, partitions)
	for i := range parts {
		parts[i] = i
	}
	c := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second}
	res, err := c.OffsetFetch(context.Background(), &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: parts}})
	if err != nil || res.Error != nil {
		t.Fatalf("offset fetch: %v %v", err, res.Error)
	}
	out := map[int]int64{}
	for _, p := range res.Topics[topic] {
		out[p.Partition] = p.CommittedOffset
	}
	return out
}

// TestReplayLeavesTotalsUnchanged is issue 7's acceptance test for replays:
// after the live pipeline has landed a load, replaying the whole topic (by
// time and with --all), a replay killed with SIGKILL half-way and re-run,
// and offset ranges that begin and end inside blocks all leave every
// per-day and per-type total exactly unchanged, re-publish no dead letter,
// and leave the live group's committed offsets where they were.
func TestReplayLeavesTotalsUnchanged(t *testing.T) {
	chAddr := sinktest.Addr(t)
	db := sinktest.Database(t)
	brokers := kafkatest.Start(t, 3, "trust-events", "trust-events-dlq")
	const n = 60000
	p := produceScenario(t, brokers, "healthy", n, 0.015, 11)
	env := testEnv(brokers, chAddr, db, "TRUSTPIPE_BLOCK_SIZE=3000", "TRUSTPIPE_FLUSH_INTERVAL=200ms")
	if out, code := runTrustpipe(t, env, "migrate"); code != 0 {
		t.Fatalf("migrate: exit %d\n%s", code, out)
	}
	st := openLiveStore(t, chAddr, db)
	conn := st.Conn()
	for _, table := range []string{"trust_counts_blocks", "ingest_ledger_blocks"} {
		if err := conn.Exec(context.Background(), "SYSTEM STOP MERGES "+db+"."+table); err != nil {
			t.Fatal(err)
		}
	}
	ledgerConsumed := func() uint64 { return queryUint(t, conn, "SELECT sum(consumed) FROM "+db+".ingest_ledger") }
	rawLedgerRows := func() uint64 { return queryUint(t, conn, "SELECT count() FROM "+db+".ingest_ledger_blocks") }

	live, liveOut := startTrustpipe(t, env, "run")
	waitFor(t, "the live pipeline to land the load", 3*time.Minute, liveOut, ledgerHolds(st, func(c uint64) bool { return c == n }))
	if err := live.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := live.Wait(); err != nil {
		t.Fatalf("live pipeline: %v\n%s", err, liveOut.String())
	}
	offsetsBefore := groupOffsets(t, brokers, "trustpipe", "trust-events", 3)
	dlqBefore, err := kafkatest.ReadAll(context.Background(), brokers, "trust-events-dlq")
	if err != nil {
		t.Fatal(err)
	}
	if len(dlqBefore) != len(p.invalidValues) {
		t.Fatalf("live pipeline dead-lettered %d records, want %d", len(dlqBefore), len(p.invalidValues))
	}

	assertExact := func(what string) {
		t.Helper()
		got := countsByTypeDay(t, conn, db+".trust_counts")
		if d := diffCounts(p.perTypeDay, got); len(d) > 0 {
			t.Fatalf("%s: trust_counts differs from the produced events in %d places, e.g. %v", what, len(d), d[:min(5, len(d))])
		}
		if c := ledgerConsumed(); c != n {
			t.Fatalf("%s: ledger consumed = %d, want %d", what, c, n)
		}
		if r := queryUint(t, conn, "SELECT sum(rejected) FROM "+db+".ingest_ledger"); r != uint64(len(p.invalidValues)) {
			t.Fatalf("%s: ledger rejected = %d, want %d", what, r, len(p.invalidValues))
		}
	}
	assertExact("after the live pipeline")

	// (a) The whole topic, by record time, then with --all.
	rows := rawLedgerRows()
	out, code := runTrustpipe(t, env, "replay", "--from", "2026-10-01", "--to", "now")
	if code != 0 || !strings.Contains(out, "records/s") {
		t.Fatalf("replay by time: exit %d\n%s", code, out)
	}
	t.Logf("replay of the whole topic by time:\n%s", lastLines(out, 2))
	assertExact("after replaying the whole topic by time")
	if rawLedgerRows() <= rows {
		t.Fatal("the replay inserted no ledger rows: the test proves nothing")
	}
	if !strings.Contains(out, "60000 records") || !strings.Contains(out, "rejected (") || !strings.Contains(out, "blocks rewritten in 3 partitions") {
		t.Errorf("summary lacks records, rejection reasons or blocks:\n%s", out)
	}

	// (b) Killed half-way with SIGKILL, then run again.
	rows = rawLedgerRows()
	replay, replayOut := startTrustpipe(t, env, "replay", "--all", "--parallel", "1")
	waitFor(t, "the replay to be half-way", 2*time.Minute, replayOut, func() bool { return rawLedgerRows() >= rows+8 })
	if err := replay.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = replay.Wait()
	t.Logf("SIGKILLed the replay after %d ledger rows", rawLedgerRows()-rows)
	assertExact("right after a replay was killed")
	if out, code := runTrustpipe(t, env, "replay", "--all"); code != 0 {
		t.Fatalf("replay re-run: exit %d\n%s", code, out)
	}
	assertExact("after re-running the killed replay")

	// (c) Offset ranges that begin and end inside blocks.
	out, code = runTrustpipe(t, env, "replay", "--offsets", "0:1234-4567,1:2999-3000,2:5-5")
	if code != 0 {
		t.Fatalf("replay offsets: exit %d\n%s", code, out)
	}
	for _, want := range []string{
		"trust-events/0 offsets 0-5999, blocks 0-1 (requested 1234-4567, widened to whole blocks of 3000)",
		"trust-events/1 offsets 0-5999, blocks 0-1 (requested 2999-3000",
		"trust-events/2 offsets 0-2999, blocks 0-0 (requested 5-5",
		"5 blocks rewritten in 3 partitions",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("replay output lacks %q:\n%s", want, out)
		}
	}
	assertExact("after replaying ranges inside blocks")

	// (d) The live group's committed offsets did not move, and no dead
	// letter was published again.
	if after := groupOffsets(t, brokers, "trustpipe", "trust-events", 3); !maps.Equal(offsetsBefore, after) {
		t.Fatalf("live group offsets moved: before %v, after %v", offsetsBefore, after)
	}
	t.Logf("live group offsets unchanged: %v", offsetsBefore)
	dlqAfter, err := kafkatest.ReadAll(context.Background(), brokers, "trust-events-dlq")
	if err != nil {
		t.Fatal(err)
	}
	if len(dlqAfter) != len(dlqBefore) {
		t.Fatalf("replays published %d dead letters again", len(dlqAfter)-len(dlqBefore))
	}

	// Bad input: exit code 2 and a message naming the problem; a valid
	// range without records: "nothing to replay", exit 0.
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"replay", "--offsets", "7:0-1"}, 2, "partition 7: topic trust-events has partitions 0-2"},
		{[]string{"replay", "--offsets", "0:0-99999999"}, 2, "outside the topic: partition 0 of trust-events holds offsets 0-"},
		{[]string{"replay", "--partitions", "0,5", "--all"}, 2, "partition 5"},
		{[]string{"replay", "--topic", "nope", "--all"}, 2, "topic nope does not exist"},
		{[]string{"replay", "--from", "2026-11-20", "--to", "2026-11-19"}, 2, "is not before --to"},
		{[]string{"replay", "--from", "last week", "--to", "now"}, 2, "use RFC 3339"},
		{[]string{"replay", "--offsets", "0:12"}, 2, "want PARTITION:FROM-TO"},
		{[]string{"replay"}, 2, "choose exactly one of --from/--to, --offsets or --all"},
		{[]string{"replay", "--all", "--from", "2026-11-01", "--to", "now"}, 2, "choose exactly one"},
		{[]string{"replay", "swap"}, 2, "--target NAME is required"},
		{[]string{"replay", "--from", "2030-01-01", "--to", "2030-01-02"}, 0, "nothing to replay"},
	} {
		out, code := runTrustpipe(t, env, tc.args...)
		if code != tc.code || !strings.Contains(out, tc.want) {
			t.Errorf("trustpipe %v: exit %d, want %d with %q; output:\n%s", tc.args, code, tc.code, tc.want, out)
		}
	}
	assertExact("at the end")
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// TestShadowBackfillAndSwap backfills a shadow set of tables while the live
// pipeline runs, checks the comparison report, and swaps the shadow in while
// more records are produced and the live pipeline keeps writing: after the
// catch-up, the totals equal the oracle for every produced record.
func TestShadowBackfillAndSwap(t *testing.T) {
	chAddr := sinktest.Addr(t)
	db := sinktest.Database(t)
	brokers := kafkatest.Start(t, 3, "trust-events", "trust-events-dlq")
	const n1, n2 = 40000, 30000
	p := produceScenario(t, brokers, "healthy", n1, 0.01, 21)
	env := testEnv(brokers, chAddr, db, "TRUSTPIPE_BLOCK_SIZE=2000", "TRUSTPIPE_FLUSH_INTERVAL=100ms")
	if out, code := runTrustpipe(t, env, "migrate"); code != 0 {
		t.Fatalf("migrate: exit %d\n%s", code, out)
	}
	st := openLiveStore(t, chAddr, db)
	conn := st.Conn()
	ledgerConsumed := func() uint64 { return queryUint(t, conn, "SELECT sum(consumed) FROM "+db+".ingest_ledger") }

	live, liveOut := startTrustpipe(t, env, "run")
	waitFor(t, "the live pipeline to land the first load", 3*time.Minute, liveOut, ledgerHolds(st, func(c uint64) bool { return c == n1 }))

	out, code := runTrustpipe(t, env, "replay", "--all", "--target", "v2")
	if code != 0 || !strings.Contains(out, "into shadow tables v2_trust_counts_blocks") {
		t.Fatalf("backfill: exit %d\n%s", code, out)
	}
	out, code = runTrustpipe(t, env, "replay", "swap", "--target", "v2", "--dry-run")
	if code != 0 || !strings.Contains(out, "identical to the live tables") || !strings.Contains(out, "dry run: nothing was changed") {
		t.Fatalf("swap --dry-run: exit %d\n%s", code, out)
	}
	t.Logf("comparison report:\n%s", out)
	// Without --yes and without a terminal, swap refuses (exit 2).
	out, code = runTrustpipe(t, env, "replay", "swap", "--target", "v2")
	if code != 2 || !strings.Contains(out, "pass --yes") {
		t.Fatalf("swap without --yes: exit %d\n%s", code, out)
	}

	// Produce the second load in paced batches while swapping.
	g, err := scenario.New(scenario.Config{Name: "healthy", Events: n2, Days: 14, Seed: 22,
		End: time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC), InvalidRatio: 0.01})
	if err != nil {
		t.Fatal(err)
	}
	oracle := maps.Clone(p.perTypeDay)
	invalid := len(p.invalidValues)
	var msgs []kafka.Message
	for {
		rec, ok := g.Next()
		if !ok {
			break
		}
		rec = rec.Clone()
		if rec.Invalid != "" {
			invalid++
		} else {
			oracle[typeDay{rec.Type.String(), rec.Time.UTC().Format("2006-01-02")}]++
		}
		msgs = append(msgs, kafka.Message{Key: rec.Key, Value: rec.Value, Time: rec.Time})
	}
	var wg sync.WaitGroup
	var produceErr error
	var sent atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		w := kafkatest.Writer(brokers, "trust-events")
		defer w.Close()
		for i := 0; i < len(msgs); i += 300 {
			batch := msgs[i:min(i+300, len(msgs))]
			if err := w.WriteMessages(context.Background(), batch...); err != nil {
				produceErr = err
				return
			}
			sent.Add(int64(len(batch)))
			time.Sleep(100 * time.Millisecond)
		}
	}()
	waitFor(t, "the live pipeline to store part of the second load", time.Minute, liveOut, ledgerHolds(st, func(c uint64) bool { return c >= n1+3000 }))
	swap, swapOut := startTrustpipe(t, env, "replay", "swap", "--target", "v2", "--yes")
	waitFor(t, "the swap statement", time.Minute, swapOut, func() bool { return strings.Contains(swapOut.String(), "TABLE done") })
	atSwap, storedAtSwap := sent.Load(), ledgerConsumed()
	if err := swap.Wait(); err != nil {
		t.Fatalf("swap: %v\n%s", err, swapOut.String())
	}
	out = swapOut.String()
	if !strings.Contains(out, "swap: RENAME TABLE done") && !strings.Contains(out, "swap: EXCHANGE TABLES done") {
		t.Fatalf("swap output:\n%s", out)
	}
	t.Logf("swap with the live pipeline running (%d of %d new records produced and %d stored when the tables were swapped):\n%s",
		atSwap, n2, storedAtSwap, lastLines(out, 12))
	wg.Wait()
	if produceErr != nil {
		t.Fatal(produceErr)
	}
	if atSwap >= n2 {
		t.Fatal("the second load was fully produced before the swap: the test does not show writes during the swap")
	}
	waitFor(t, "every record in the swapped-in ledger", 3*time.Minute, liveOut, ledgerHolds(st, func(c uint64) bool { return c == n1+n2 }))
	got := countsByTypeDay(t, conn, db+".trust_counts")
	if d := diffCounts(oracle, got); len(d) > 0 {
		t.Fatalf("after the swap trust_counts differs from the produced events in %d places, e.g. %v", len(d), d[:min(5, len(d))])
	}
	if r := queryUint(t, conn, "SELECT sum(rejected) FROM "+db+".ingest_ledger"); r != uint64(invalid) {
		t.Fatalf("ledger rejected = %d, want %d", r, invalid)
	}
	if err := live.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := live.Wait(); err != nil {
		t.Fatalf("live pipeline: %v\n%s", err, liveOut.String())
	}
	// The previous live tables are kept under the shadow's names.
	if old := queryUint(t, conn, "SELECT sum(consumed) FROM "+db+".v2_ingest_ledger_blocks FINAL"); old < n1 {
		t.Fatalf("the previous live tables hold %d records, want at least %d", old, n1)
	}
}

// ledgerHolds is a waitFor condition on the records the ledger accounts
// for. A failed read means "not yet": `trustpipe run` recreates the views
// when it starts, and a swap renames the tables under them.
func ledgerHolds(st *sink.Store, ok func(consumed uint64) bool) func() bool {
	return func() bool {
		c, err := st.Consumed(context.Background())
		return err == nil && ok(c)
	}
}
