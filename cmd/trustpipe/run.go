package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
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
		return nil, fmt.Errorf("TRUSTPIPE_LOG_LEVEL=%q: use debug, info, warn or error", c.LogLevel)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch c.LogFormat {
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	}
	return nil, fmt.Errorf("TRUSTPIPE_LOG_FORMAT=%q: use text or json", c.LogFormat)
}

// openStore connects to ClickHouse and, when migrate is set, applies the
// schema. Errors say which variable to check.
func openStore(ctx context.Context, c Config, migrate bool, log *slog.Logger) (*sink.Store, error) {
	sc, err := c.sinkConfig()
	if err != nil {
		return nil, err
	}
	st, err := sink.Open(ctx, sc, sink.LiveTables())
	if err != nil {
		return nil, err
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := st.Ping(pingCtx); err != nil {
		_ = st.Close()
		return nil, fmt.Errorf("%w\n  check TRUSTPIPE_CLICKHOUSE_ADDR (native protocol, usually port 9000) and that ClickHouse is running", err)
	}
	if migrate {
		applied, err := st.Migrate(ctx, readSurfaceViews())
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

func cmdMigrate(ctx context.Context, args []string) error {
	if len(args) > 0 {
		return usagef("migrate takes no arguments (configuration comes from TRUSTPIPE_* variables)")
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
	fmt.Printf("schema of database %s is up to date (ClickHouse %s at %s)\n", c.ClickHouseDatabase, v, c.ClickHouseAddr)
	return nil
}

func cmdRun(ctx context.Context, args []string) error {
	if len(args) > 0 {
		return usagef("run takes no arguments (configuration comes from TRUSTPIPE_* variables)")
	}
	c, log, err := loadEnv()
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return runPipeline(ctx, c, log, reg, nil)
}

// runPipeline runs the live pipeline and its HTTP endpoint until ctx ends.
// ready, if non-nil, is called with the HTTP address once serving.
func runPipeline(ctx context.Context, c Config, log *slog.Logger, reg *prometheus.Registry, ready func(addr string)) error {
	pseudonyms, err := consumers.NewPseudonymizer([]byte(c.PseudonymKey))
	if err != nil {
		return err
	}
	readbackCfg, err := c.readbackConfig()
	if err != nil {
		return err
	}
	st, err := openStore(ctx, c, c.Migrate, log)
	if err != nil {
		return err
	}
	defer st.Close()
	dialer, err := c.kafkaDialer()
	if err != nil {
		return err
	}
	transport, err := c.kafkaTransport()
	if err != nil {
		return err
	}
	reader := consumers.NewGroupReader(c.KafkaBrokers, c.KafkaGroup, c.KafkaTopics, dialer, c.QueueSize, log)
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

	metrics := consumers.NewMetrics(reg)
	pipe, err := consumers.New(c.pipelineConfig(), consumers.Deps{
		Fetcher:     reader,
		Committer:   reader,
		Store:       st,
		DeadLetters: dlq,
		Pseudonyms:  pseudonyms,
		Metrics:     metrics,
		Logger:      log,
		Rebalances:  func() int64 { return reader.Stats().Rebalances },
	})
	if err != nil {
		return err
	}
	// Trust gauges read back from ClickHouse by event time (sink/readback).
	trust, err := readback.New(readbackCfg, readback.Deps{Querier: st.Conn(), Registerer: reg, Logger: log})
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", c.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on TRUSTPIPE_HTTP_ADDR=%s: %w", c.HTTPAddr, err)
	}
	srv := &http.Server{Handler: httpHandler(reg, readiness(c, dialer, st, pipe)), ReadHeaderTimeout: 10 * time.Second}
	log.Info("trustpipe running", "topics", strings.Join(c.KafkaTopics, ","), "group", c.KafkaGroup,
		"clickhouse", c.ClickHouseAddr, "database", c.ClickHouseDatabase, "http", ln.Addr().String())
	if ready != nil {
		ready(ln.Addr().String())
	}

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return pipe.Run(gctx) })
	g.Go(func() error { return trust.Run(gctx) })
	g.Go(func() error {
		webConfig := c.HTTPWebConfig
		err := web.ServeMultiple([]net.Listener{ln}, srv, &web.FlagConfig{WebConfigFile: &webConfig}, log)
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("http endpoint: %w", err)
	})
	g.Go(func() error {
		<-gctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		return srv.Shutdown(shutdownCtx)
	})
	err = g.Wait()
	log.Info("trustpipe stopped", "err", err)
	return err
}

func httpHandler(reg *prometheus.Registry, ready func(context.Context) error) http.Handler {
	mux := http.NewServeMux()
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
		var kerr error
		for _, b := range c.KafkaBrokers {
			conn, err := dialer.DialContext(ctx, "tcp", b)
			if err == nil {
				_ = conn.Close()
				kerr = nil
				break
			}
			kerr = fmt.Errorf("kafka broker %s: %w", b, err)
		}
		if kerr != nil {
			return kerr
		}
		if !pipe.Healthy() {
			return errors.New("storing to ClickHouse is failing (see logs)")
		}
		return nil
	}
}
