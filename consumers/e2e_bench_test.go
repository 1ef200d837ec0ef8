package consumers

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/trustpipe/trustpipe/aggregate/scenario"
	"github.com/trustpipe/trustpipe/consumers/kafkatest"
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
// ClickHouse, side by side with a bare kafka-go group read loop over the same
// topic that does nothing with the records. Both read from the same
// in-process broker, so the ratio is what the design's ≥ 0.6× target is
// about. Run it with `make bench`.
//
// Two streams: "history" spreads events over 28 days (a backfill: nearly
// every event lands in its own minute bucket, so rows ≈ events, the worst
// case for storage), "live" packs them into ten minutes as a busy live topic
// does, where counts collapse into far fewer rows.
func BenchmarkEndToEnd(b *testing.B) {
	b.Run("history", func(b *testing.B) { benchEndToEnd(b, benchRecords(b, 200000)) })
	b.Run("live", func(b *testing.B) { benchEndToEnd(b, liveRecords(b, 200000)) })
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

func benchEndToEnd(b *testing.B, recs []scenario.Record) {
	n := e2eRecords()
	brokers := startBrokerProcess(b)
	w := kafkatest.Writer(brokers, "bench")
	batch := make([]kafka.Message, 0, 5000)
	for i := range n {
		r := recs[i%len(recs)]
		batch = append(batch, kafka.Message{Key: r.Key, Value: r.Value, Time: r.Time})
		if len(batch) == cap(batch) || i == n-1 {
			if err := w.WriteMessages(context.Background(), batch...); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	w.Close()

	b.Run("bare-kafka-go-loop", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			r := benchReader(brokers, fmt.Sprintf("bare-%d-%d", i, time.Now().UnixNano()))
			start := time.Now()
			for got := 0; got < n; got++ {
				if _, err := r.FetchMessage(context.Background()); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)/time.Since(start).Seconds(), "records/s")
			r.Close()
		}
	})

	b.Run("clickhouse-kafka-engine", func(b *testing.B) {
		st, cfg := sinktest.Open(b, nil)
		ctx := context.Background()
		for i := 0; i < b.N; i++ {
			for _, q := range kafkaEngineDDL(cfg.Database, brokers[0], fmt.Sprintf("ch-%d-%d", i, time.Now().UnixNano())) {
				if err := st.Conn().Exec(ctx, q); err != nil {
					b.Fatalf("%s: %v", q, err)
				}
			}
			start := time.Now()
			q := "SELECT sum(events) FROM " + cfg.Database + ".engine_counts"
			deadline := start.Add(10 * time.Minute)
			for {
				var got uint64
				if err := st.Conn().QueryRow(ctx, q).Scan(&got); err != nil {
					b.Fatal(err)
				}
				if got >= uint64(n) {
					break
				}
				if time.Now().After(deadline) {
					b.Fatalf("the Kafka engine counted %d of %d records in 10 minutes", got, n)
				}
				time.Sleep(20 * time.Millisecond)
			}
			b.ReportMetric(float64(n)/time.Since(start).Seconds(), "records/s")
			for _, t := range []string{"engine_mv", "engine_queue", "engine_counts"} {
				_ = st.Conn().Exec(ctx, "DROP TABLE IF EXISTS "+cfg.Database+"."+t)
			}
		}
	})

	b.Run("trustpipe", func(b *testing.B) {
		st, cfg := sinktest.Open(b, nil)
		for i := 0; i < b.N; i++ {
			r := benchReader(brokers, fmt.Sprintf("tp-%d-%d", i, time.Now().UnixNano()))
			pseudonyms, _ := NewPseudonymizer([]byte("bench-pseudonym-key-0123456789"))
			pcfg := DefaultConfig()
			p, err := New(pcfg, Deps{Fetcher: r, Committer: r, Store: st, History: st, DeadLetters: discard{}, Pseudonyms: pseudonyms,
				Metrics: NewMetrics(prometheus.NewRegistry()), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err != nil {
				b.Fatal(err)
			}
			_ = st.Conn().Exec(context.Background(), "TRUNCATE TABLE "+cfg.Database+".ingest_ledger_blocks")
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			start := time.Now()
			go func() { done <- p.Run(ctx) }()
			q := "SELECT sum(consumed) FROM " + cfg.Database + ".ingest_ledger"
			for {
				var got uint64
				if err := st.Conn().QueryRow(context.Background(), q).Scan(&got); err != nil {
					b.Fatal(err)
				}
				if got >= uint64(n) {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			elapsed := time.Since(start)
			cancel()
			if err := <-done; err != nil {
				b.Fatal(err)
			}
			r.Close()
			b.ReportMetric(float64(n)/elapsed.Seconds(), "records/s")
		}
	})
}

type discard struct{}

func (discard) WriteMessages(context.Context, ...kafka.Message) error { return nil }

// benchReader is configured like the live pipeline's reader.
func benchReader(brokers []string, group string) *kafka.Reader {
	return NewGroupReader(brokers, group, []string{"bench"}, nil, DefaultConfig().QueueSize, nil)
}

// kafkaEngineDDL is the comparison the design's throughput target names:
// ClickHouse's own Kafka table engine feeding a materialized view that does
// comparable aggregation — counts per minute bucket and dimensions into a
// SummingMergeTree. It is at-least-once (no exactness after a crash) and
// does no validation beyond what JSONEachRow parsing rejects.
func kafkaEngineDDL(db, broker, group string) []string {
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
	kafka_group_name = '` + group + `', kafka_format = 'JSONEachRow', kafka_num_consumers = 1`,
		`CREATE MATERIALIZED VIEW ` + db + `.engine_mv TO ` + db + `.engine_counts AS
SELECT toStartOfMinute(parseDateTimeBestEffort(occurred_at)) AS bucket, type AS event_type,
	if(reason != '', 'explained', '') AS detail, campaign_id, if(channel = '', 'other', channel) AS channel,
	segment, source, personalization, consent_tier, count() AS events
FROM ` + db + `.engine_queue
GROUP BY bucket, event_type, detail, campaign_id, channel, segment, source, personalization, consent_tier`,
	}
}

// brokerEnv makes the test binary act as a stand-alone broker process (see
// TestMain): the end-to-end benchmark reads from a broker in another
// process, as in production, so the broker's in-memory log does not sit in
// the measured process's heap and garbage collector.
const brokerEnv = "TRUSTPIPE_BENCH_BROKER_PROCESS"

func TestMain(m *testing.M) {
	if os.Getenv(brokerEnv) == "1" {
		serveBroker()
		return
	}
	os.Exit(m.Run())
}

// serveBroker runs kfake with the benchmark topic, prints its address and
// serves until its standard input closes (the parent exited).
func serveBroker() {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "bench"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer c.Close()
	fmt.Println(c.ListenAddrs()[0])
	_, _ = io.Copy(io.Discard, os.Stdin)
}

func startBrokerProcess(b *testing.B) []string {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), brokerEnv+"=1")
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
	return []string{strings.TrimSpace(addr)}
}
