package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/trustpipe/trustpipe/aggregate/scenario"
	"github.com/trustpipe/trustpipe/consumers/produce"
	"github.com/trustpipe/trustpipe/consumers/progress"
	"github.com/trustpipe/trustpipe/sink"
	"github.com/trustpipe/trustpipe/sink/localserver"
)

// demoDatabase is where the demo writes when it runs its own embedded
// broker: that broker's offsets start at 0 on every run, so the demo starts
// from an empty database rather than mixing runs.
const demoDatabase = "trustpipe_demo"

// demoPseudonymKey is used when TRUSTPIPE_PSEUDONYM_KEY is unset; it is
// fine for synthetic data and nothing else.
const demoPseudonymKey = "trustpipe-demo-key-not-for-production"

type demoOptions struct {
	once     bool
	events   int
	days     int
	seed     int64
	liveRate float64
	scenario string
}

const demoUsage = `Usage: trustpipe demo [--once] [--events N] [--days D] [--seed S] [--scenario NAME] [--live-rate R]

The quick start: an embedded Kafka-protocol broker (unless
TRUSTPIPE_KAFKA_BROKERS is set), the configured ClickHouse or a private
clickhouse-server, generated history, the pipeline until caught up, the
report, then a live feed until Ctrl-C (with --once: the report is also
written as a page, trustpipe-report.html in the current directory).

Flags:
`

func parseDemoFlags(args []string) (demoOptions, error) {
	var o demoOptions
	if err := parseFlags(demoFlags(&o), args); err != nil {
		return o, err
	}
	if o.events <= 0 || o.days <= 0 || o.liveRate < 0 {
		return o, usagef("--events and --days must be positive, --live-rate >= 0")
	}
	// Checked before any server starts, so a typo costs nothing.
	if !slices.Contains(scenario.Names(), o.scenario) {
		return o, usagef("unknown scenario %q (valid: %s)", o.scenario, strings.Join(scenario.Names(), ", "))
	}
	return o, nil
}

// demoFlags is demo's flag set, bound to o.
func demoFlags(o *demoOptions) *flag.FlagSet {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.BoolVar(&o.once, "once", false, "exit after printing the report instead of streaming live events")
	fs.IntVar(&o.events, "events", 200000, "events of history to generate")
	fs.IntVar(&o.days, "days", 28, "days of history")
	fs.Int64Var(&o.seed, "seed", 1, "random seed of the generated history")
	fs.Float64Var(&o.liveRate, "live-rate", 20, "live events per second after the history (until Ctrl-C)")
	fs.StringVar(&o.scenario, "scenario", "trust-spiral", "scenario of the history: "+strings.Join(scenario.Names(), ", "))
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), demoUsage)
		printFlags(fs)
	}
	return fs
}

// cmdDemo is the quick start: embedded broker (unless one is configured),
// local ClickHouse (unless one is reachable), generated history, the
// pipeline until caught up, the report, then a live feed until Ctrl-C.
func cmdDemo(ctx context.Context, args []string) error {
	o, err := parseDemoFlags(args)
	if err != nil {
		return err
	}
	if _, set := os.LookupEnv("TRUSTPIPE_LOG_LEVEL"); !set {
		// The demo narrates itself; the pipeline's info logs would drown it.
		os.Setenv("TRUSTPIPE_LOG_LEVEL", "warn")
	}
	c, log, err := loadEnv()
	if err != nil {
		return err
	}
	if c.PseudonymKey == "" {
		c.PseudonymKey = demoPseudonymKey
	}
	if c.TargetAccounts == "" {
		// The accounts the scenario's story is about, as raw ids: hashed
		// with the key like any configured raw id.
		c.TargetAccounts = strings.Join(scenario.TargetAccounts(o.scenario), ",")
	}
	say := func(format string, a ...any) { fmt.Fprintf(os.Stderr, "demo: "+format+"\n", a...) }

	// Kafka: the configured brokers, or an in-process kfake broker.
	if _, set := os.LookupEnv("TRUSTPIPE_KAFKA_BROKERS"); !set {
		cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, c.KafkaTopics...), kfake.AllowAutoTopicCreation())
		if err != nil {
			return fmt.Errorf("start the embedded Kafka broker: %w", err)
		}
		defer cluster.Close()
		c.KafkaBrokers = cluster.ListenAddrs()
		c.ClickhouseDatabase = demoDatabase
		say("started an embedded Kafka-protocol broker on %s (set TRUSTPIPE_KAFKA_BROKERS to use yours)", c.KafkaBrokers[0])
	}

	// ClickHouse: the configured server, or a private child process.
	if err := pingClickHouse(ctx, c); err != nil {
		if !localserver.Installed() {
			return fmt.Errorf("ClickHouse at %s (TRUSTPIPE_CLICKHOUSE_ADDR): %v\n%s", c.ClickhouseAddr, err, localserver.InstallHint)
		}
		dir, err := os.MkdirTemp("", "trustpipe-demo-clickhouse-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		say("no ClickHouse at %s; starting a private clickhouse-server (data in %s)", c.ClickhouseAddr, dir)
		srv, err := localserver.Start(ctx, filepath.Join(dir, "server"), 0, localserver.Options{})
		if err != nil {
			return err
		}
		defer srv.Stop()
		c.ClickhouseAddr, c.ClickhouseUsername, c.ClickhousePassword = srv.Addr(), "default", ""
		say("ClickHouse ready on %s", srv.Addr())
	}
	if c.ClickhouseDatabase == demoDatabase {
		if err := dropDatabase(ctx, c); err != nil {
			return err
		}
	}

	// History: the scenario, written as fast as the broker takes it.
	now := time.Now().UTC()
	w := &kafka.Writer{Addr: kafka.TCP(c.KafkaBrokers...), Topic: c.KafkaTopics[0], Balancer: &kafka.Hash{},
		RequiredAcks: kafka.RequireAll, BatchSize: 2000, BatchBytes: 8 << 20, BatchTimeout: 2 * time.Millisecond, AllowAutoTopicCreation: true}
	defer w.Close()
	say("generating %d events of the %q scenario over %d days", o.events, o.scenario, o.days)
	g, err := scenario.New(scenario.Config{Name: o.scenario, Events: o.events, Days: o.days, Seed: o.seed, End: now})
	if err != nil {
		return usagef("%v", err)
	}
	progress := progress.New(os.Stderr, "demo: produce")
	written, err := produce.Produce(ctx, w, g, 0, progress.Update)
	if err != nil {
		progress.Finish()
		return err
	}

	// The pipeline, until every produced record is in the ledger.
	reg := serviceRegistry()
	pipeCtx, stopPipe := context.WithCancel(ctx)
	defer stopPipe()
	pipeDone := make(chan error, 1)
	httpAddr := make(chan string, 1)
	go func() { pipeDone <- runPipeline(pipeCtx, c, log, reg, func(a string) { httpAddr <- a }) }()
	var addr string
	select {
	case addr = <-httpAddr:
		say("pipeline running; metrics on http://%s/metrics", addr)
	case err := <-pipeDone:
		return err
	}
	if err := waitCaughtUp(ctx, c, uint64(written), pipeDone); err != nil {
		return err
	}

	// The report over the history, compared with the period before the drift.
	reportArgs, err := printDemoReport(ctx, c, now, o.days)
	if err != nil {
		return err
	}
	if o.once {
		// The private servers go away on exit: write the page now.
		page, err := writeDemoPage(ctx, c, reportArgs)
		if err != nil {
			return err
		}
		say("the same report as a page, with charts: %s (open it in a browser)", page)
		stopPipe()
		return <-pipeDone
	}

	say("the report as a page, with charts: %s", reportURL(addr, reportArgs))
	say("streaming live events at %.0f/s; Ctrl-C to stop", o.liveRate)
	live := &genOptions{scenario: o.scenario, live: true, rate: o.liveRate, days: o.days, seed: o.seed + 1}
	_, err = generate(ctx, w, *live, time.Now(), os.Stderr)
	stopPipe()
	perr := <-pipeDone
	if err != nil && ctx.Err() == nil {
		return err
	}
	if perr == nil {
		say("stopped; everything counted is stored")
	}
	return perr
}

// connect opens the configured ClickHouse without migrating (openStore
// also pings and migrates; the demo first needs to know whether anything
// answers at all).
func connect(ctx context.Context, c Config, dialTimeout time.Duration) (*sink.Store, error) {
	sc, err := c.sinkConfig()
	if err != nil {
		return nil, err
	}
	sc.DialTimeout = dialTimeout
	return sink.Open(ctx, sc, sink.LiveTables())
}

func pingClickHouse(ctx context.Context, c Config) error {
	st, err := connect(ctx, c, 2*time.Second)
	if err != nil {
		return err
	}
	defer st.Close()
	pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	return st.Ping(pctx)
}

func dropDatabase(ctx context.Context, c Config) error {
	st, err := connect(ctx, c, 0)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.DropDatabase(ctx); err != nil {
		return fmt.Errorf("reset the demo database: %w", err)
	}
	return nil
}

// waitCaughtUp polls the ledger until it accounts for want records.
func waitCaughtUp(ctx context.Context, c Config, want uint64, pipeDone <-chan error) error {
	st, err := connect(ctx, c, 0)
	if err != nil {
		return err
	}
	defer st.Close()
	progress := progress.New(os.Stderr, "demo: ingest")
	for {
		got, err := st.Consumed(ctx)
		if err != nil {
			slog.Debug("ledger not readable yet", "err", err)
		}
		progress.Update(int(got), int(want))
		if got >= want {
			return nil
		}
		select {
		case err := <-pipeDone:
			progress.Finish()
			if err == nil {
				err = errors.New("pipeline stopped before catching up")
			}
			return err
		case <-ctx.Done():
			progress.Finish()
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// printDemoReport prints the report over the last third of the history —
// where the scenario drifts — compared with the period just before it, and
// returns its flags.
func printDemoReport(ctx context.Context, c Config, end time.Time, days int) ([]string, error) {
	window := time.Duration(days) * 24 * time.Hour / 3
	args := []string{"--from", end.Add(-window).Format(time.RFC3339), "--to", end.Format(time.RFC3339), "--compare-to", "previous"}
	o, err := parseReportArgs(args, end)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(os.Stdout, "\ntrustpipe report %s\n\n", strings.Join(args, " "))
	return args, writeReport(ctx, c, o, os.Stdout)
}

// demoPageFile is where `demo --once` writes the report page.
const demoPageFile = "trustpipe-report.html"

// writeDemoPage writes the report over args as a self-contained page to
// demoPageFile and returns its absolute path.
func writeDemoPage(ctx context.Context, c Config, args []string) (string, error) {
	o, err := parseReportArgs(append(slices.Clone(args), "--format", "html"), time.Now())
	if err != nil {
		return "", err
	}
	path, err := filepath.Abs(demoPageFile)
	if err != nil {
		return "", err
	}
	f, err := os.Create(path)
	if err != nil {
		return "", fmt.Errorf("write the report page: %w", err)
	}
	if err := writeReport(ctx, c, o, f); err != nil {
		f.Close()
		return "", err
	}
	return path, f.Close()
}
