package consumers

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"runtime/metrics"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/trustpipe/trustpipe/aggregate/scenario"
	"github.com/trustpipe/trustpipe/consumers/kafkatest"
	"github.com/trustpipe/trustpipe/sink"
	"github.com/trustpipe/trustpipe/sink/sinktest"
)

// e2eRecords is the stream size of the end-to-end benchmark
// (TRUSTPIPE_BENCH_RECORDS overrides it). It is large enough that the last
// flush's latency (up to TRUSTPIPE_FLUSH_INTERVAL) does not dominate.
func e2eRecords() int {
	if v, err := strconv.Atoi(os.Getenv("TRUSTPIPE_BENCH_RECORDS")); err == nil && v > 0 {
		return v
	}
	return 2000000
}

// BenchmarkEndToEnd measures records in Kafka → exact rows visible in
// ClickHouse for three contenders reading the same topic from the same broker,
// side by side and interleaved (A B C A B C, TRUSTPIPE_BENCH_ROUNDS rounds,
// default 2), because the shared machine is noisy: only ratios measured in
// one run mean something. The contenders are a bare kafka-go group read loop
// that does nothing with the records, ClickHouse's own Kafka engine feeding
// an aggregating materialized view (the design's comparison), and trustpipe's
// pipeline wired as `trustpipe run` wires it (dedup on, the transaction
// classifier on) in a process of its own, so its CPU time and peak RSS are
// its own. Run it with `make bench`.
//
// Three streams: "backfill" is issue 13's shape — 1 000 000 distinct events
// over 7 days on 6 partitions, 24 campaigns and 20 000 contacts, so nearly
// every event lands in its own storage row; "history" spreads 200 000
// events over 28 days and "live" packs them into ten minutes, as a busy
// live topic does, where counts collapse into far fewer rows (both cycled
// to TRUSTPIPE_BENCH_RECORDS records).
func BenchmarkEndToEnd(b *testing.B) {
	b.Run("backfill", func(b *testing.B) {
		recs := backfillRecords(b)
		benchEndToEnd(b, e2eStream{recs: recs, n: len(recs), partitions: 6, engineConsumers: 2})
	})
	b.Run("history", func(b *testing.B) {
		benchEndToEnd(b, e2eStream{recs: benchRecords(b, 200000), n: e2eRecords(), partitions: 2, engineConsumers: 1})
	})
	b.Run("live", func(b *testing.B) {
		benchEndToEnd(b, e2eStream{recs: liveRecords(b, 200000), n: e2eRecords(), partitions: 2, engineConsumers: 1})
	})
}

// backfillRecords is issue 13's backfill-shaped stream.
func backfillRecords(b *testing.B) []scenario.Record {
	g, err := scenario.New(scenario.Config{Name: "trust-spiral", Events: 1000000, Days: 7, Seed: 13, Campaigns: 24, Contacts: 20000,
		End: time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		b.Fatal(err)
	}
	out := make([]scenario.Record, 0, 1000000)
	for {
		r, ok := g.Next()
		if !ok {
			return out
		}
		out = append(out, r.Clone())
	}
}

// liveRecords stamps a scenario's events over ten minutes.
func liveRecords(b *testing.B, n int) []scenario.Record {
	g, err := scenario.New(scenario.Config{Name: "healthy", Events: 0, Days: 1, Seed: 2, End: time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		b.Fatal(err)
	}
	start := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	out := make([]scenario.Record, n)
	for i := range out {
		out[i] = g.NextAt(start.Add(time.Duration(i) * 10 * time.Minute / time.Duration(n))).Clone()
	}
	return out
}

// e2eStream is one end-to-end case: n records (recs cycled) on a topic of
// partitions partitions; the Kafka engine reads with engineConsumers.
type e2eStream struct {
	recs                           []scenario.Record
	n, partitions, engineConsumers int
}

func benchRounds() int {
	if v, err := strconv.Atoi(os.Getenv("TRUSTPIPE_BENCH_ROUNDS")); err == nil && v > 0 {
		return v
	}
	return 2
}

// benchEndToEnd produces the stream once, then runs the three contenders in
// turn for every round, logging each round and reporting the medians:
// trustpipe's throughput as multiples of the engine's and the bare loop's,
// its CPU time per event and its peak RSS.
func benchEndToEnd(b *testing.B, s e2eStream) {
	brokers, brokerPid := startBrokerProcess(b, s.partitions)
	others := newOtherProcesses(b, brokerPid)
	w := kafkatest.Writer(brokers, "bench")
	batch := make([]kafka.Message, 0, 5000)
	for i := range s.n {
		r := s.recs[i%len(s.recs)]
		batch = append(batch, kafka.Message{Key: r.Key, Value: r.Value, Time: r.Time})
		if len(batch) == cap(batch) || i == s.n-1 {
			if err := w.WriteMessages(context.Background(), batch...); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	w.Close()
	st, cfg := sinktest.Open(b, nil)
	if base := os.Getenv("TRUSTPIPE_BENCH_BASELINE"); base != "" {
		compareBaseline(b, st, cfg, brokers, s.n, base, others)
		return
	}
	var xEngine, xBare, tpRate, engRate, bareRate, cpu, rss, tpCH, engCH, tpBroker, engBroker []float64
	for round := range benchRounds() {
		var bare, eng float64
		bareUse := others.measure(func() { bare = bareLoop(b, brokers, s.n) })
		engUse := others.measure(func() { eng = kafkaEngine(b, st, cfg, brokers[0], s.n, s.engineConsumers) })
		var tp pipelineRun
		tpUse := others.measure(func() { tp = trustpipeProcess(b, st, cfg, brokers, s.n) })
		b.Logf("round %d: trustpipe %.0f/s = %.2fx engine, %.2fx bare loop; %.2f µs CPU/event, %.0f MiB peak RSS (engine %.0f/s, bare loop %.0f/s)",
			round+1, tp.rate, tp.rate/eng, tp.rate/bare, tp.cpuMicros, tp.peakMiB, eng, bare)
		b.Logf("round %d: other processes' CPU per event: with trustpipe, %s; with the engine, %s; with the bare loop, %s",
			round+1, tpUse.summary(s.n), engUse.summary(s.n), bareUse.summary(s.n))
		b.Logf("round %d: trustpipe: %s", round+1, tp.rows)
		xEngine, xBare = append(xEngine, tp.rate/eng), append(xBare, tp.rate/bare)
		tpRate, engRate, bareRate = append(tpRate, tp.rate), append(engRate, eng), append(bareRate, bare)
		cpu, rss = append(cpu, tp.cpuMicros), append(rss, tp.peakMiB)
		tpCH, engCH = append(tpCH, tpUse.clickhouse.perEvent(s.n)), append(engCH, engUse.clickhouse.perEvent(s.n))
		tpBroker, engBroker = append(tpBroker, tpUse.broker.perEvent(s.n)), append(engBroker, engUse.broker.perEvent(s.n))
	}
	if others.clickhousePid > 0 {
		b.ReportMetric(median(tpCH), "ch-µs/event")
		b.ReportMetric(median(engCH), "engine-ch-µs/event")
	}
	b.ReportMetric(median(tpBroker), "broker-µs/event")
	b.ReportMetric(median(engBroker), "engine-broker-µs/event")
	b.ReportMetric(median(xEngine), "x-engine")
	b.ReportMetric(median(xBare), "x-bare")
	b.ReportMetric(median(cpu), "cpu-µs/event")
	b.ReportMetric(median(rss), "peak-MiB")
	b.ReportMetric(median(tpRate), "trustpipe/s")
	b.ReportMetric(median(engRate), "engine/s")
	b.ReportMetric(median(bareRate), "bare/s")
}

// compareBaseline runs, round after round, the pipeline of another build
// of this test binary (base, e.g. built from main) and this build's, on the
// same topic and ClickHouse, and reports this build's CPU time, throughput
// and peak RSS, and the ClickHouse server's CPU time while each ran, as
// multiples of the baseline's: how a change is measured side by side on the
// shared machine (TRUSTPIPE_BENCH_BASELINE=<binary>; the Kafka engine and
// the bare loop are left out).
func compareBaseline(b *testing.B, st *sink.Store, cfg sink.Config, brokers []string, n int, base string, others otherProcesses) {
	var cpu, rate, rss, ch []float64
	for round := range benchRounds() {
		var old, cur pipelineRun
		oldUse := others.measure(func() { old = trustpipeProcessOf(b, base, st, cfg, brokers, n) })
		curUse := others.measure(func() { cur = trustpipeProcess(b, st, cfg, brokers, n) })
		b.Logf("round %d: baseline %.0f/s, %.2f µs CPU/event, %.0f MiB (%s); this build %.0f/s, %.2f µs CPU/event, %.0f MiB (%s)",
			round+1, old.rate, old.cpuMicros, old.peakMiB, oldUse.summary(n), cur.rate, cur.cpuMicros, cur.peakMiB, curUse.summary(n))
		if old.rows != "" || cur.rows != "" {
			b.Logf("round %d: baseline: %s; this build: %s", round+1, old.rows, cur.rows)
		}
		cpu, rate, rss = append(cpu, cur.cpuMicros/old.cpuMicros), append(rate, cur.rate/old.rate), append(rss, cur.peakMiB/old.peakMiB)
		ch = append(ch, float64(curUse.clickhouse)/float64(oldUse.clickhouse))
	}
	b.ReportMetric(median(cpu), "cpu-x-baseline")
	b.ReportMetric(median(rate), "rate-x-baseline")
	b.ReportMetric(median(rss), "rss-x-baseline")
	if others.clickhousePid > 0 {
		b.ReportMetric(median(ch), "ch-cpu-x-baseline")
	}
}

func median(v []float64) float64 {
	v = slices.Clone(v)
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// bareLoop reads n records in a fresh group and returns records/s.
func bareLoop(b *testing.B, brokers []string, n int) float64 {
	r := benchReader(brokers, fmt.Sprintf("bare-%d", time.Now().UnixNano()))
	defer r.Close()
	start := time.Now()
	for got := 0; got < n; got++ {
		if _, err := r.FetchMessage(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	return float64(n) / time.Since(start).Seconds()
}

// kafkaEngine has the Kafka engine count n records into its aggregating MV
// and returns records/s.
func kafkaEngine(b *testing.B, st *sink.Store, cfg sink.Config, broker string, n, consumers int) float64 {
	ctx := context.Background()
	for _, q := range kafkaEngineDDL(cfg.Database, broker, fmt.Sprintf("ch-%d", time.Now().UnixNano()), consumers) {
		if err := st.Conn().Exec(ctx, q); err != nil {
			b.Fatalf("%s: %v", q, err)
		}
	}
	defer func() {
		for _, t := range []string{"engine_mv", "engine_queue", "engine_counts"} {
			_ = st.Conn().Exec(ctx, "DROP TABLE IF EXISTS "+cfg.Database+"."+t)
		}
	}()
	start := time.Now()
	waitFor(b, st, "SELECT sum(events) FROM "+cfg.Database+".engine_counts", n, "the Kafka engine")
	return float64(n) / time.Since(start).Seconds()
}

// waitFor polls q until it returns at least n, for at most ten minutes.
func waitFor(b *testing.B, st *sink.Store, q string, n int, who string) {
	deadline := time.Now().Add(10 * time.Minute)
	for {
		var got uint64
		if err := st.Conn().QueryRow(context.Background(), q).Scan(&got); err != nil {
			b.Fatal(err)
		}
		if got >= uint64(n) {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("%s counted %d of %d records in 10 minutes", who, got, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type pipelineRun struct {
	rate, cpuMicros, peakMiB float64
	rows                     string // rows written per event, by table (rowsPerEvent)
}

// rowsLine is the child's report of the rows it wrote, after its VmHWM line:
// "rows account_contacts=N accounts=N ...".
const rowsLine = "rows"

// rowsWritten is the rows line of the pipeline whose metrics are on reg:
// trustpipe_rows_written_total by table.
func rowsWritten(reg *prometheus.Registry) (string, error) {
	mfs, err := reg.Gather()
	if err != nil {
		return "", err
	}
	line := rowsLine
	for _, mf := range mfs {
		if mf.GetName() != "trustpipe_rows_written_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			line += fmt.Sprintf(" %s=%.0f", m.GetLabel()[0].GetValue(), m.GetCounter().GetValue())
		}
	}
	return line, nil
}

// rowsPerEvent turns the child's rows line into rows per event by table
// ("counts 0.52, contacts 0.31, ..."), the tables it wrote nothing to left
// out; "" when the child (a baseline build) printed none; a malformed line
// says so rather than being left out.
func rowsPerEvent(out string, n int) string {
	var parts []string
	total := 0.0
	for _, line := range strings.Split(out, "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 || fields[0] != rowsLine {
			continue
		}
		for _, f := range fields[1:] {
			table, count, _ := strings.Cut(f, "=")
			rows, err := strconv.Atoi(count)
			if err != nil {
				return fmt.Sprintf("unreadable rows line %q: %v", line, err)
			}
			if rows == 0 {
				continue
			}
			total += float64(rows)
			parts = append(parts, fmt.Sprintf("%s %.2f", table, float64(rows)/float64(n)))
		}
	}
	if parts == nil {
		return ""
	}
	return fmt.Sprintf("%.2f rows written per event (%s)", total/float64(n), strings.Join(parts, ", "))
}

// trustpipeProcess runs the pipeline in a child process (see
// pipelineProcessEnv) until the ledger accounts for n records, and returns
// its throughput, CPU time per record and peak RSS.
// TRUSTPIPE_BENCH_CPUPROFILE=<file> has the child write a CPU profile,
// TRUSTPIPE_BENCH_HEAPPROFILE=<file> a heap profile taken at its peak live
// heap (see watchHeap).
func trustpipeProcess(b *testing.B, st *sink.Store, cfg sink.Config, brokers []string, n int) pipelineRun {
	return trustpipeProcessOf(b, os.Args[0], st, cfg, brokers, n)
}

// trustpipeProcessOf is trustpipeProcess with the pipeline of the test
// binary bin.
func trustpipeProcessOf(b *testing.B, bin string, st *sink.Store, cfg sink.Config, brokers []string, n int) pipelineRun {
	ctx := context.Background()
	for _, t := range []string{"ingest_ledger_blocks", "event_id_blocks"} {
		if err := st.Conn().Exec(ctx, "TRUNCATE TABLE "+cfg.Database+"."+t); err != nil {
			b.Fatal(err)
		}
	}
	spec, err := json.Marshal(pipelineSpec{Brokers: brokers, Group: fmt.Sprintf("tp-%d", time.Now().UnixNano()), ClickHouse: cfg.Addr, Database: cfg.Database,
		CPUProfile: os.Getenv("TRUSTPIPE_BENCH_CPUPROFILE"), HeapProfile: os.Getenv("TRUSTPIPE_BENCH_HEAPPROFILE")})
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^$")
	cmd.Env = append(os.Environ(), pipelineProcessEnv+"="+string(spec))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	waitFor(b, st, "SELECT sum(consumed) FROM "+cfg.Database+".ingest_ledger", n, "trustpipe")
	elapsed := time.Since(start)
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		b.Fatalf("pipeline process: %v", err)
	}
	// Rusage's Maxrss would include the parent's RSS at fork time; the
	// child reports its own high-water mark instead.
	var peakKiB float64
	if _, err := fmt.Sscanf(out.String(), "VmHWM: %f kB", &peakKiB); err != nil {
		b.Fatalf("pipeline process: peak RSS in %q: %v", out.String(), err)
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	return pipelineRun{rate: float64(n) / elapsed.Seconds(), cpuMicros: float64(cpu.Microseconds()) / float64(n), peakMiB: peakKiB / 1024,
		rows: rowsPerEvent(out.String(), n)}
}

// pipelineProcessEnv makes the test binary run the pipeline (see TestMain)
// with the JSON pipelineSpec it holds, until its standard input closes.
const pipelineProcessEnv = "TRUSTPIPE_BENCH_PIPELINE_PROCESS"

type pipelineSpec struct {
	Brokers                                 []string
	Group, ClickHouse, Database, CPUProfile string
	HeapProfile                             string
}

// servePipeline is the child of trustpipeProcess: the pipeline as
// `trustpipe run` builds it, with the defaults. When done, it prints its
// peak RSS (the VmHWM line of /proc/self/status) and the rows it wrote by
// table (rowsLine) on standard output.
func servePipeline(specJSON string) error {
	var spec pipelineSpec
	if err := json.Unmarshal([]byte(specJSON), &spec); err != nil {
		return err
	}
	if spec.CPUProfile != "" {
		f, err := os.Create(spec.CPUProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	SetMemoryLimit(DefaultConfig().MemoryLimit, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if spec.HeapProfile != "" {
		go watchHeap(ctx, spec.HeapProfile)
	}
	st, err := sink.Open(ctx, sink.Config{Addr: spec.ClickHouse, Database: spec.Database}, sink.LiveTables())
	if err != nil {
		return err
	}
	defer st.Close()
	r := NewGroupReader(spec.Brokers, spec.Group, []string{"bench"}, nil, NewReaderQueue(DefaultConfig().QueueSize, DefaultConfig().QueueBytes, DefaultMaxMessageBytes), kafka.ReadCommitted, nil)
	defer r.Close()
	pseudonyms, err := NewPseudonymizer([]byte("bench-pseudonym-key-0123456789"))
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	p, err := New(DefaultConfig(), Deps{Fetcher: r, Committer: r, Store: st, History: st, DeadLetters: discard{}, Pseudonyms: pseudonyms,
		Metrics: NewMetrics(reg), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Rebalances:   func() int64 { return r.Stats().Rebalances },
		Transactions: NewTransactions(spec.Brokers, nil, FetchMaxBytes)})
	if err != nil {
		return err
	}
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	err = p.Run(ctx)
	status, serr := os.ReadFile("/proc/self/status")
	if serr != nil {
		return serr
	}
	for _, line := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			fmt.Println(strings.Join(strings.Fields(line), " "))
		}
	}
	rows, gerr := rowsWritten(reg)
	if gerr != nil {
		return errors.Join(err, fmt.Errorf("rows written: %w", gerr))
	}
	fmt.Println(rows)
	return err
}

// watchHeap writes a heap profile to file whenever the live heap (as of
// the last collection) passes its previous peak by 5 %, so the file ends up
// describing the peak: what the process's RSS follows. A profile written
// only at exit would show the heap after the last flush instead.
func watchHeap(ctx context.Context, file string) {
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	var peak uint64
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(50 * time.Millisecond):
		}
		metrics.Read(sample)
		if live := sample[0].Value.Uint64(); live > peak+peak/20 {
			peak = live
			if f, err := os.Create(file); err == nil {
				_ = pprof.Lookup("heap").WriteTo(f, 0)
				f.Close()
			}
		}
	}
}

type discard struct{}

func (discard) WriteMessages(context.Context, ...kafka.Message) error { return nil }

// benchReader is configured like the live pipeline's reader.
func benchReader(brokers []string, group string) *kafka.Reader {
	return NewGroupReader(brokers, group, []string{"bench"}, nil, NewReaderQueue(DefaultConfig().QueueSize, DefaultConfig().QueueBytes, DefaultMaxMessageBytes), kafka.ReadCommitted, nil)
}

// kafkaEngineDDL is the comparison the design's throughput target names:
// ClickHouse's own Kafka table engine feeding a materialized view that does
// comparable aggregation — counts per minute bucket and dimensions into a
// SummingMergeTree. It is at-least-once (no exactness after a crash) and
// does no validation beyond what JSONEachRow parsing rejects.
func kafkaEngineDDL(db, broker, group string, consumers int) []string {
	return []string{
		`CREATE TABLE ` + db + `.engine_counts (
	bucket DateTime, event_type String, detail String, campaign_id String, channel String, segment String,
	source String, personalization String, consent_tier UInt8, events UInt64
) ENGINE = SummingMergeTree(events) PARTITION BY toYYYYMM(bucket)
ORDER BY (bucket, event_type, detail, campaign_id, channel, segment, source, personalization, consent_tier)`,
		`CREATE TABLE ` + db + `.engine_queue (
	event_id String, type String, occurred_at String, campaign_id String, channel String,
	segment String, source String, personalization String, consent_tier UInt8, reason String
) ENGINE = Kafka SETTINGS kafka_broker_list = '` + broker + `', kafka_topic_list = 'bench',
	kafka_group_name = '` + group + `', kafka_format = 'JSONEachRow', kafka_num_consumers = ` + strconv.Itoa(consumers),
		`CREATE MATERIALIZED VIEW ` + db + `.engine_mv TO ` + db + `.engine_counts AS
SELECT toStartOfMinute(parseDateTimeBestEffort(occurred_at)) AS bucket, type AS event_type,
	if(reason != '', 'explained', '') AS detail, campaign_id, if(channel = '', 'other', channel) AS channel,
	segment, source, personalization, consent_tier, count() AS events
FROM ` + db + `.engine_queue
GROUP BY bucket, event_type, detail, campaign_id, channel, segment, source, personalization, consent_tier`,
	}
}

// brokerEnv (set to a partition count) makes the test binary act as a
// stand-alone broker process (see TestMain): the end-to-end benchmark reads from a broker in another
// process, as in production, so the broker's in-memory log does not sit in
// the measured process's heap and garbage collector.
const brokerEnv = "TRUSTPIPE_BENCH_BROKER_PROCESS"

func TestMain(m *testing.M) {
	if n, err := strconv.Atoi(os.Getenv(brokerEnv)); err == nil {
		serveBroker(n)
		return
	}
	if spec := os.Getenv(pipelineProcessEnv); spec != "" {
		if err := servePipeline(spec); err != nil {
			fmt.Fprintln(os.Stderr, "pipeline process:", err)
			os.Exit(1)
		}
		return
	}
	os.Exit(m.Run())
}

// serveBroker runs kfake with the benchmark topic of partitions partitions, prints its address and
// serves until its standard input closes (the parent exited).
func serveBroker(partitions int) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(int32(partitions), "bench"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer c.Close()
	fmt.Println(c.ListenAddrs()[0])
	_, _ = io.Copy(io.Discard, os.Stdin)
}

func startBrokerProcess(b *testing.B, partitions int) ([]string, int) {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), brokerEnv+"="+strconv.Itoa(partitions))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		stdin.Close()
		_ = cmd.Wait()
	})
	addr, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		b.Fatalf("broker process: %v", err)
	}
	return []string{strings.TrimSpace(addr)}, cmd.Process.Pid
}

// TestRowsPerEvent: the bench's rows-per-event line from a child's output.
func TestRowsPerEvent(t *testing.T) {
	for _, tc := range []struct{ out, want string }{
		{"VmHWM: 1000 kB\nrows counts=680 ids=0 uniques=260\n", "0.94 rows written per event (counts 0.68, uniques 0.26)"},
		{"VmHWM: 1000 kB\n", ""}, // a baseline build that prints no rows line
		{"VmHWM: 1000 kB\nrows counts=6.8e+02\n", `unreadable rows line "rows counts=6.8e+02": strconv.Atoi: parsing "6.8e+02": invalid syntax`},
	} {
		if got := rowsPerEvent(tc.out, 1000); got != tc.want {
			t.Errorf("rowsPerEvent(%q) = %q, want %q", tc.out, got, tc.want)
		}
	}
}
