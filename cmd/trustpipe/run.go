package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/errgroup"

	"github.com/trustpipe/trustpipe/consumers"
	"github.com/trustpipe/trustpipe/sink"
	"github.com/trustpipe/trustpipe/sink/readback"
)

func newLogger(c Config) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return nil, &configError{name: envPrefix + "LOG_LEVEL", value: c.LogLevel, problem: "expected debug, info, warn or error"}
	}
	opts := &slog.HandlerOptions{Level: level}
	switch c.LogFormat {
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	}
	return nil, &configError{name: envPrefix + "LOG_FORMAT", value: c.LogFormat, problem: "expected text or json"}
}

// openStore connects to ClickHouse and, when migrate is set, applies the
// schema. A failed ping is returned as is: main's advice says which
// variable to check.
func openStore(ctx context.Context, c Config, migrate bool, log *slog.Logger) (*sink.Store, error) {
	st, err := openPinged(ctx, c, sink.LiveTables())
	if err != nil {
		return nil, err
	}
	if migrate {
		views, err := readSurfaceViews(c)
		if err != nil {
			_ = st.Close()
			return nil, err
		}
		applied, err := st.Migrate(ctx, views)
		if err != nil {
			_ = st.Close()
			return nil, err
		}
		for _, a := range applied {
			log.Info("applied migration", "migration", a)
		}
	}
	return st, nil
}

// openPinged opens tables in the configured ClickHouse and checks that the
// server answers and accepts the credentials.
func openPinged(ctx context.Context, c Config, tables sink.Tables) (*sink.Store, error) {
	sc, err := c.sinkConfig()
	if err != nil {
		return nil, err
	}
	st, err := sink.Open(ctx, sc, tables)
	if err != nil {
		return nil, err
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := st.Ping(pingCtx); err != nil {
		_ = st.Close()
		return nil, fmt.Errorf("ClickHouse at %s: %w", c.ClickhouseAddr, err)
	}
	return st, nil
}

const migrateUsage = `Usage: trustpipe migrate

Creates the ClickHouse database, tables and read-surface views, or upgrades
them; safe to run again. 'trustpipe run' does the same on start unless
TRUSTPIPE_MIGRATE=false.

It reads TRUSTPIPE_CLICKHOUSE_* (where), TRUSTPIPE_INDEX_COMPONENTS (the Trust
Index views) and TRUSTPIPE_LOG_*; see 'trustpipe help'.
`

func cmdMigrate(ctx context.Context, args []string) error {
	if err := parseFlags(simpleFlags("migrate", migrateUsage), args); err != nil {
		return err
	}
	c, log, err := loadEnv()
	if err != nil {
		return err
	}
	st, err := openStore(ctx, c, true, log)
	if err != nil {
		return err
	}
	defer st.Close()
	v, _ := st.ServerVersion()
	fmt.Printf("schema of database %s is up to date (ClickHouse %s at %s)\n", c.ClickhouseDatabase, v, c.ClickhouseAddr)
	return nil
}

const runUsage = `Usage: trustpipe run

Consumes the input topics as a consumer group, validates and counts every
record, writes the counts to ClickHouse (committing offsets only once they
are stored), sends rejected records to the dead-letter topic, and serves
/metrics, /healthz, /readyz and the report page /report (the flags of
'trustpipe report' as query parameters, e.g. /report?from=-7d&campaign=X).
It stops cleanly on SIGINT or SIGTERM.
It takes no flags: everything comes from these variables.

Environment:
`

func cmdRun(ctx context.Context, args []string) error {
	fs := simpleFlags("run", "")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), runUsage)
		_ = printHelp(fs.Output())
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	c, log, err := loadEnv()
	if err != nil {
		return err
	}
	return runPipeline(ctx, c, log, serviceRegistry(), nil)
}

// serviceRegistry is the registry of a long-running command's /metrics:
// Go runtime and process metrics beside the command's own.
func serviceRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// runPipeline runs the live pipeline and its HTTP endpoint until ctx ends.
// ready, if non-nil, is called with the HTTP address once serving.
func runPipeline(ctx context.Context, c Config, log *slog.Logger, reg *prometheus.Registry, ready func(addr string)) error {
	pseudonyms, err := c.pseudonymizer()
	if err != nil {
		return err
	}
	readbackCfg, err := c.readbackConfig()
	if err != nil {
		return err
	}
	targets, err := c.targetAccounts()
	if err != nil {
		return err
	}
	readbackCfg.TargetAccounts = targets
	consumers.SetMemoryLimit(c.MemoryLimit, log)
	// Kafka first: a wrong broker address fails before the schema is
	// touched, and "running" below means both ends answered.
	dialer, transport, err := connectKafka(ctx, c)
	if err != nil {
		return err
	}
	if err := consumers.CheckTopics(ctx, c.KafkaBrokers, transport, c.KafkaTopics); err != nil {
		return fmt.Errorf("%w\n  check TRUSTPIPE_KAFKA_TOPICS and TRUSTPIPE_KAFKA_BROKERS", err)
	}
	st, err := openStore(ctx, c, c.Migrate, log)
	if err != nil {
		return err
	}
	defer st.Close()
	isolation, transactional, err := c.kafkaIsolation()
	if err != nil {
		return err
	}
	// A client id of this process alone: the group coordinator lists members
	// by it, so the pipeline can learn which partitions it still holds.
	dialer.ClientID = consumers.UniqueClientID()
	reader := consumers.NewGroupReader(c.KafkaBrokers, c.KafkaGroup, c.KafkaTopics, dialer, readerQueue(ctx, c, transport, log), isolation, log)
	defer reader.Close()
	dlq := &kafka.Writer{
		Addr:                   kafka.TCP(c.KafkaBrokers...),
		Transport:              transport,
		Balancer:               &kafka.Hash{},
		RequiredAcks:           kafka.RequireAll,
		BatchTimeout:           5 * time.Millisecond,
		AllowAutoTopicCreation: true,
	}
	defer dlq.Close()

	reg.MustRegister(buildInfoCollector())
	metrics := consumers.NewMetrics(reg)
	deps := consumers.Deps{
		Fetcher:     reader,
		Committer:   reader,
		Store:       st,
		History:     st,
		DeadLetters: dlq,
		Pseudonyms:  pseudonyms,
		Metrics:     metrics,
		Logger:      log,
		Rebalances:  func() int64 { return reader.Stats().Rebalances },
		Assignment: consumers.GroupAssignment{Client: &kafka.Client{Addr: kafka.TCP(c.KafkaBrokers...), Transport: transport},
			Group: c.KafkaGroup, ClientID: dialer.ClientID},
	}
	if transactional {
		// kafka-go does not filter transactions: see consumers.Transactions.
		deps.Transactions = consumers.NewTransactions(c.KafkaBrokers, transport, consumers.FetchMaxBytes)
	}
	pipe, err := consumers.New(c.pipelineConfig(), deps)
	if err != nil {
		return err
	}
	if err := recordSettings(ctx, st, consumers.SettingsFingerprint(c.pipelineConfig(), []byte(c.PseudonymKey)), log); err != nil {
		return err
	}
	// Trust gauges read back from ClickHouse by event time (sink/readback).
	// An instance with the read-back off exports none of its series (not
	// even a stale success timestamp), so the rules see only the readers.
	var trust *readback.ReadBack
	if c.Readback {
		if trust, err = readback.New(readbackCfg, readback.Deps{Source: st, Registerer: reg, Logger: log}); err != nil {
			return err
		}
	}

	ln, err := net.Listen("tcp", c.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on TRUSTPIPE_HTTP_ADDR=%s: %w", c.HTTPAddr, err)
	}
	dcfg, err := divergenceConfig(c)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: httpHandler(reg, readiness(c, dialer, st, pipe), reportHandler(st, dcfg, targets, log), c.Pprof),
		ReadHeaderTimeout: 10 * time.Second}
	log.Info("trustpipe running", "topics", strings.Join(c.KafkaTopics, ","), "group", c.KafkaGroup,
		"clickhouse", c.ClickhouseAddr, "database", c.ClickhouseDatabase, "http", ln.Addr().String())
	if ready != nil {
		ready(ln.Addr().String())
	}

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return pipe.Run(gctx) })
	if trust != nil {
		g.Go(func() error { return trust.Run(gctx) })
	}
	serveHTTP(g, gctx, c, ln, srv, "http endpoint", 5*time.Second, log)
	err = g.Wait()
	log.Info("trustpipe stopped", "err", err)
	return err
}

// readerQueue sizes the reader's queue for the largest record the input
// topics accept, assuming the broker default when it cannot be read.
func readerQueue(ctx context.Context, c Config, transport kafka.RoundTripper, log *slog.Logger) consumers.ReaderQueue {
	largest, err := consumers.TopicMaxMessageBytes(ctx, c.KafkaBrokers, transport, c.KafkaTopics)
	if err != nil {
		largest = consumers.DefaultMaxMessageBytes
		log.Warn("cannot read the input topics' max.message.bytes; sizing the fetch queue for the broker default",
			"assumed_bytes", largest, "err", err)
	}
	q := consumers.NewReaderQueue(c.QueueSize, c.QueueBytes, largest)
	log.Info("fetch queue", "records", q.Capacity, "fetch_bytes", q.MaxBytes, "largest_record_bytes", largest)
	return q
}

// connectKafka builds the dialer and transport of c and checks that a
// configured broker answers (TLS and SASL included) within the dialer's
// timeout, so a dead broker fails at once, naming the variable to check,
// instead of after a reader's or writer's retries.
func connectKafka(ctx context.Context, c Config) (*kafka.Dialer, *kafka.Transport, error) {
	dialer, err := c.kafkaDialer()
	if err != nil {
		return nil, nil, err
	}
	pingCtx, cancel := context.WithTimeout(ctx, dialer.Timeout)
	defer cancel()
	if err := consumers.Ping(pingCtx, dialer, c.KafkaBrokers); err != nil {
		return nil, nil, err
	}
	transport, err := c.kafkaTransport()
	if err != nil {
		return nil, nil, err
	}
	return dialer, transport, nil
}

// httpHandler serves /metrics, /healthz, /readyz and the report page, and
// with profiling on (TRUSTPIPE_PPROF) net/http/pprof's handlers under
// /debug/pprof/; the web config (TLS, basic auth) wraps them all alike.
func httpHandler(reg *prometheus.Registry, ready func(context.Context) error, reportPage http.Handler, profiling bool) http.Handler {
	mux := http.NewServeMux()
	mux.Handle(reportPath, reportPage)
	if profiling {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		defer cancel()
		if err := ready(ctx); err != nil {
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	return mux
}

// readiness reports ready when a Kafka broker and ClickHouse answer and the
// last store attempt succeeded.
func readiness(c Config, dialer *kafka.Dialer, st *sink.Store, pipe *consumers.Pipeline) func(context.Context) error {
	return func(ctx context.Context) error {
		if err := st.Ping(ctx); err != nil {
			return err
		}
		if err := consumers.Ping(ctx, dialer, c.KafkaBrokers); err != nil {
			return err
		}
		if err := pipe.Unhealthy(); err != nil {
			return err
		}
		return nil
	}
}

// recordSettings records the settings the live tables are now written with,
// so replays can refuse other ones. A change is allowed — run is how new
// settings take effect — but logged, since rows of both now sit side by side
// (the README's replay section says how to change settings cleanly).
func recordSettings(ctx context.Context, st *sink.Store, settings string, log *slog.Logger) error {
	prev, ok, err := st.RecordedSettings(ctx)
	if err != nil {
		return err
	}
	if ok && prev == settings {
		return nil
	}
	if ok {
		log.Warn("the settings that shape rows changed since the live tables were last written; replays will use the new ones",
			"recorded", prev, "now", settings)
	}
	return st.RecordSettings(ctx, settings)
}

// serveHTTP adds to g the serving of srv on ln behind the web config (TLS,
// basic auth) of c, and its graceful shutdown, given grace, once gctx ends.
// run and ingest share it, so both endpoints honour the same settings.
func serveHTTP(g *errgroup.Group, gctx context.Context, c Config, ln net.Listener, srv *http.Server, what string, grace time.Duration, log *slog.Logger) {
	g.Go(func() error {
		webConfig := c.HTTPWebConfigFile
		err := web.ServeMultiple([]net.Listener{ln}, srv, &web.FlagConfig{WebConfigFile: &webConfig}, log)
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("%s: %w", what, err)
	})
	g.Go(func() error {
		<-gctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(gctx), grace)
		defer cancel()
		return srv.Shutdown(shutdownCtx)
	})
}
