package replay

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/trustpipe/trustpipe/aggregate/scenario"
	"github.com/trustpipe/trustpipe/consumers"
	"github.com/trustpipe/trustpipe/consumers/kafkatest"
	"github.com/trustpipe/trustpipe/sink"
	"github.com/trustpipe/trustpipe/sink/sinktest"
)

const testTopic = "trust-events"

// load produces n scenario records and returns the valid events per
// (day, type), the oracle.
func load(t *testing.T, brokers []string, n int, seed int64) map[sink.DayType]uint64 {
	t.Helper()
	g, err := scenario.New(scenario.Config{Name: "healthy", Events: n, Days: 10, Seed: seed,
		End: time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC), InvalidRatio: 0.02})
	if err != nil {
		t.Fatal(err)
	}
	w := kafkatest.Writer(brokers, testTopic)
	defer w.Close()
	oracle := map[sink.DayType]uint64{}
	var batch []kafka.Message
	for {
		rec, ok := g.Next()
		if ok {
			rec = rec.Clone()
			if rec.Invalid == "" {
				oracle[sink.DayType{Day: rec.Time.UTC().Format("2006-01-02"), EventType: rec.Type.String()}]++
			}
			batch = append(batch, kafka.Message{Key: rec.Key, Value: rec.Value, Time: rec.Time})
		}
		if len(batch) == 2000 || (!ok && len(batch) > 0) {
			if err := w.WriteMessages(context.Background(), batch...); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
		if !ok {
			return oracle
		}
	}
}

func newTestReplayer(t *testing.T, brokers []string, st *sink.Store, blockSize int64, progress io.Writer) *Replayer {
	t.Helper()
	return newKeyedReplayer(t, brokers, st, blockSize, progress, "replay-test-pseudonym-key-0123456789")
}

func newKeyedReplayer(t *testing.T, brokers []string, st *sink.Store, blockSize int64, progress io.Writer, key string) *Replayer {
	t.Helper()
	cfg := consumers.DefaultConfig()
	cfg.Aggregate.BlockSize = blockSize
	cfg.FlushInterval = 200 * time.Millisecond
	pseudonyms, err := consumers.NewPseudonymizer([]byte(key))
	if err != nil {
		t.Fatal(err)
	}
	r, err := New(Config{Pipeline: cfg, Brokers: brokers, Parallel: 2, Settings: consumers.SettingsFingerprint(cfg, []byte(key))},
		Deps{Target: st, Pseudonyms: pseudonyms, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Progress: progress})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func diff(want, got map[sink.DayType]uint64) []string {
	var d []string
	for k, w := range want {
		if got[k] != w {
			d = append(d, fmt.Sprintf("%s %s: got %d want %d", k.Day, k.EventType, got[k], w))
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			d = append(d, fmt.Sprintf("%s %s: got %d want 0", k.Day, k.EventType, g))
		}
	}
	return d
}

func runPlan(t *testing.T, r *Replayer, sel Selection) (*Plan, *Summary) {
	t.Helper()
	p, err := r.Plan(context.Background(), sel)
	if err != nil {
		t.Fatal(err)
	}
	s, err := r.Run(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	return p, s
}

// TestReplayIsExactAndIdempotent loads a topic into empty tables with a
// replay, then replays all of it and ranges inside blocks again: totals
// equal the oracle every time, while the raw (unmerged) row count shows
// that rows were really rewritten.
func TestReplayIsExactAndIdempotent(t *testing.T) {
	st, _ := sinktest.Open(t, nil)
	ctx := context.Background()
	brokers := kafkatest.Start(t, 3, testTopic)
	const n = 30000
	oracle := load(t, brokers, n, 7)
	if err := st.Conn().Exec(ctx, "SYSTEM STOP MERGES "+st.Database()+".trust_counts_blocks"); err != nil {
		t.Fatal(err)
	}
	var progress bytes.Buffer
	r := newTestReplayer(t, brokers, st, 1000, &progress)
	live := sink.LiveTables()
	rawRows := func() uint64 {
		var c uint64
		if err := st.Conn().QueryRow(ctx, "SELECT count() FROM "+st.Database()+".trust_counts_blocks").Scan(&c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	check := func(what string) {
		t.Helper()
		got, err := st.TotalsByDayType(ctx, live)
		if err != nil {
			t.Fatal(err)
		}
		if d := diff(oracle, got); len(d) > 0 {
			t.Fatalf("%s: totals differ from the oracle in %d cells, e.g. %v", what, len(d), d[:min(5, len(d))])
		}
		cov, err := st.LedgerCoverage(ctx, live)
		if err != nil {
			t.Fatal(err)
		}
		var consumed uint64
		for _, c := range cov {
			consumed += c.Consumed
		}
		if consumed != n {
			t.Fatalf("%s: ledger consumed %d, want %d", what, consumed, n)
		}
	}

	p, s := runPlan(t, r, Selection{Topics: []string{testTopic}, All: true})
	if s.Records != n || s.Accepted+s.Rejected != n || s.Rejected == 0 || s.Partitions != 3 || int64(s.Blocks) != p.Blocks() {
		t.Fatalf("summary %+v for plan of %d blocks", s, p.Blocks())
	}
	t.Logf("first replay: %d records in %s (%.0f records/s), %d blocks", s.Records, s.Duration, s.Rate(), s.Blocks)
	if !bytes.Contains(progress.Bytes(), []byte("replay: ")) || !bytes.Contains(progress.Bytes(), []byte("eta")) {
		t.Errorf("no progress output: %q", progress.String())
	}
	check("after the first replay")
	rows := rawRows()
	mfs, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if strings.HasPrefix(mf.GetName(), "trustpipe_") {
			t.Fatalf("a replay registered %s on the default registry", mf.GetName())
		}
	}

	_, s = runPlan(t, r, Selection{Topics: []string{testTopic}, All: true})
	check("after replaying everything again")
	if rawRows() <= rows {
		t.Fatal("the second replay inserted no rows: the test proves nothing")
	}

	rs, err := ParseOffsets(testTopic, "0:1234-2345,1:4999-5001,2:17-17")
	if err != nil {
		t.Fatal(err)
	}
	p, s = runPlan(t, r, Selection{Offsets: rs})
	check("after replaying ranges inside blocks")
	var b bytes.Buffer
	p.Print(&b)
	for _, want := range []string{"trust-events/0 offsets 1000-2999", "requested 1234-2345", "trust-events/1 offsets 4000-5999", "trust-events/2 offsets 0-999"} {
		if !bytes.Contains(b.Bytes(), []byte(want)) {
			t.Errorf("plan description lacks %q:\n%s", want, b.String())
		}
	}
	if s.Blocks != 5 {
		t.Errorf("%d blocks rewritten, want 5", s.Blocks)
	}

	// A time range: the days entirely inside it are exact in a shadow.
	shadow := live.Prefixed("ts_")
	sst, err := sink.Open(ctx, sink.Config{Addr: sinktest.Addr(t), Database: st.Database()}, shadow)
	if err != nil {
		t.Fatal(err)
	}
	defer sst.Close()
	if err := sst.CreateStorage(ctx); err != nil {
		t.Fatal(err)
	}
	from, to := time.Date(2026, 11, 13, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 16, 0, 0, 0, 0, time.UTC)
	runPlan(t, newTestReplayer(t, brokers, sst, 1000, nil), Selection{Topics: []string{testTopic}, From: from, To: to})
	got, err := st.TotalsByDayType(ctx, shadow)
	if err != nil {
		t.Fatal(err)
	}
	inside := map[sink.DayType]uint64{}
	for k, v := range oracle {
		if k.Day >= "2026-11-13" && k.Day < "2026-11-16" {
			inside[k] = v
		}
	}
	for k := range got {
		if k.Day < "2026-11-12" || k.Day > "2026-11-16" {
			t.Errorf("time range replay wrote %s, more than a block away from the range", k.Day)
		}
		if k.Day < "2026-11-13" || k.Day >= "2026-11-16" {
			delete(got, k)
		}
	}
	if d := diff(inside, got); len(d) > 0 {
		t.Fatalf("days inside the time range differ: %v", d[:min(5, len(d))])
	}
}

// TestReplaySkipsBlocksPartlyDeletedByRetention deletes the start of a
// partition (DeleteRecords moves its log start into a block): the replay
// must skip that block, not rewrite its complete rows from what is left.
func TestReplaySkipsBlocksPartlyDeletedByRetention(t *testing.T) {
	st, _ := sinktest.Open(t, nil)
	ctx := context.Background()
	brokers := kafkatest.Start(t, 1, testTopic)
	oracle := load(t, brokers, 5000, 3)
	r := newTestReplayer(t, brokers, st, 1000, nil)
	runPlan(t, r, Selection{Topics: []string{testTopic}, All: true})
	before, err := st.TotalsByDayType(ctx, sink.LiveTables())
	if err != nil {
		t.Fatal(err)
	}
	if d := diff(oracle, before); len(d) > 0 {
		t.Fatalf("initial load differs: %v", d[:min(5, len(d))])
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	req := kmsg.NewPtrDeleteRecordsRequest()
	rt := kmsg.NewDeleteRecordsRequestTopic()
	rt.Topic = testTopic
	rp := kmsg.NewDeleteRecordsRequestTopicPartition()
	rp.Partition, rp.Offset = 0, 1500
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil || resp.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("delete records: %v %+v", err, resp)
	}

	p, err := r.Plan(ctx, Selection{Topics: []string{testTopic}, All: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Skipped) != 1 || p.Skipped[0].From != 1000 || p.Skipped[0].To != 1999 || p.Ranges[0].Widened.From != 2000 {
		t.Fatalf("plan ranges %+v skipped %+v, want block 1 skipped and a replay from 2000", p.Ranges, p.Skipped)
	}
	var b bytes.Buffer
	p.Print(&b)
	if !bytes.Contains(b.Bytes(), []byte("WARNING: not rewriting offsets 1000-1999 of trust-events/0")) {
		t.Errorf("no retention warning:\n%s", b.String())
	}
	if _, err := r.Run(ctx, p); err != nil {
		t.Fatal(err)
	}
	after, err := st.TotalsByDayType(ctx, sink.LiveTables())
	if err != nil {
		t.Fatal(err)
	}
	if d := diff(oracle, after); len(d) > 0 {
		t.Fatalf("replay after retention changed totals: %v", d[:min(5, len(d))])
	}
	// Offsets entirely deleted are bad input.
	rs, _ := ParseOffsets(testTopic, "0:0-1499")
	if _, err := r.Plan(ctx, Selection{Offsets: rs}); err == nil {
		t.Fatal("replaying deleted offsets: no error")
	}
}

// TestSwapTables checks the swap statement on the test server and that
// swapping twice restores the original names.
func TestSwapTables(t *testing.T) {
	st, _ := sinktest.Open(t, nil)
	ctx := context.Background()
	live, shadow := sink.LiveTables(), sink.LiveTables().Prefixed("sw_")
	sst, err := sink.Open(ctx, sink.Config{Addr: sinktest.Addr(t), Database: st.Database()}, shadow)
	if err != nil {
		t.Fatal(err)
	}
	defer sst.Close()
	if err := sst.CreateStorage(ctx); err != nil {
		t.Fatal(err)
	}
	mark := func(table string, n int) {
		q := fmt.Sprintf("INSERT INTO %s.%s (topic, partition, block, first_offset, last_offset, consumed, accepted, rejected, complete, version) "+
			"SELECT 'mark', toInt32(number), 0, 0, 0, 1, 1, 0, 1, 1 FROM system.numbers LIMIT %d", st.Database(), table, n)
		if err := st.Conn().Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	mark(live.Ledger, 1)
	mark(shadow.Ledger, 2)
	blocks := func(tb sink.Tables) uint64 {
		cov, err := st.LedgerCoverage(ctx, tb)
		if err != nil {
			t.Fatal(err)
		}
		return uint64(len(cov))
	}
	method, err := st.Swap(ctx, live, shadow)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := st.ServerVersion()
	t.Logf("ClickHouse %s swapped with %s", v, method)
	if blocks(live) != 2 || blocks(shadow) != 1 {
		t.Fatalf("after the swap live has %d partitions, shadow %d; want 2 and 1", blocks(live), blocks(shadow))
	}
	if _, err := st.Swap(ctx, live, shadow); err != nil {
		t.Fatal(err)
	}
	if blocks(live) != 1 || blocks(shadow) != 2 {
		t.Fatal("swapping twice did not restore the tables")
	}
	if _, err := st.Swap(ctx, live, live.Prefixed("missing_")); err == nil {
		t.Fatal("swap with missing tables: no error")
	}
}
