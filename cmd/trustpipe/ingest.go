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
	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/errgroup"

	"github.com/trustpipe/trustpipe/consumers"
	"github.com/trustpipe/trustpipe/consumers/adapter"
	"github.com/trustpipe/trustpipe/consumers/ingest"
)

const ingestUsage = `Usage: trustpipe ingest

Serves webhook endpoints for the email platforms' native event formats —
/ingest/sendgrid, /ingest/ses (SNS), /ingest/mailgun, /ingest/postmark —
each enabled by its credentials below. A request is authenticated (the
platform's signature or basic auth), its recipients pseudonymized, its
events converted to the contract and produced to the input topic before
it is answered; 'trustpipe run' then counts them like any other record.
It also serves /metrics and /healthz, with TRUSTPIPE_HTTP_WEB_CONFIG_FILE's
TLS and basic auth. It stops cleanly on SIGINT or SIGTERM.

Environment:
`

func cmdIngest(ctx context.Context, args []string) error {
	fs := simpleFlags("ingest", "")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), ingestUsage)
		_ = printHelp(fs.Output())
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	c, log, err := loadEnv()
	if err != nil {
		return err
	}
	reg := serviceRegistry()
	reg.MustRegister(buildInfoCollector())
	return runIngest(ctx, c, log, reg)
}

func (c Config) ingestConfig() ingest.Config {
	in := ingest.DefaultConfig()
	in.Topic = c.IngestTopic
	if in.Topic == "" && len(c.KafkaTopics) > 0 {
		in.Topic = c.KafkaTopics[0]
	}
	in.MaxBodyBytes, in.Rate, in.Burst = c.IngestMaxBodyBytes, c.IngestRate, c.IngestBurst
	in.Limits = c.pipelineConfig().Limits
	return in
}

// ingestEndpoints builds the endpoints whose credentials are set.
func (c Config) ingestEndpoints() ([]ingest.Endpoint, error) {
	var eps []ingest.Endpoint
	if c.IngestSendgridPublicKey != "" {
		key, err := adapter.ParseSendGridKey(c.IngestSendgridPublicKey)
		if err != nil {
			return nil, &configError{name: envPrefix + "INGEST_SENDGRID_PUBLIC_KEY", value: c.IngestSendgridPublicKey, problem: err.Error()}
		}
		eps = append(eps, ingest.Endpoint{Format: adapter.SendGrid, Verifier: adapter.SendGridVerifier{Key: key, MaxAge: c.IngestSignatureMaxAge}})
	}
	if c.IngestMailgunSigningKey != "" {
		eps = append(eps, ingest.Endpoint{Format: adapter.Mailgun, Verifier: adapter.MailgunVerifier{SigningKey: []byte(c.IngestMailgunSigningKey), MaxAge: c.IngestSignatureMaxAge}})
	}
	if c.IngestSesCertFile != "" || len(c.IngestSesTopicArns) > 0 {
		if c.IngestSesCertFile == "" || len(c.IngestSesTopicArns) == 0 {
			return nil, &configError{name: envPrefix + "INGEST_SES_CERT_FILE", value: c.IngestSesCertFile, problem: "set it and TRUSTPIPE_INGEST_SES_TOPIC_ARNS together"}
		}
		b, err := os.ReadFile(c.IngestSesCertFile)
		if err != nil {
			return nil, &configError{name: envPrefix + "INGEST_SES_CERT_FILE", value: c.IngestSesCertFile, problem: fmt.Sprintf("cannot read the file: %v", errors.Unwrap(err))}
		}
		cert, err := adapter.ParseSNSCert(b)
		if err != nil {
			return nil, &configError{name: envPrefix + "INGEST_SES_CERT_FILE", value: c.IngestSesCertFile, problem: err.Error()}
		}
		eps = append(eps, ingest.Endpoint{Format: adapter.SES, Verifier: adapter.SNSVerifier{Cert: cert, TopicARNs: c.IngestSesTopicArns}})
	}
	if c.IngestPostmarkUsername != "" || c.IngestPostmarkPassword != "" {
		if c.IngestPostmarkUsername == "" || c.IngestPostmarkPassword == "" {
			return nil, &configError{name: envPrefix + "INGEST_POSTMARK_PASSWORD", problem: "set it and TRUSTPIPE_INGEST_POSTMARK_USERNAME together", hideValue: true}
		}
		eps = append(eps, ingest.Endpoint{Format: adapter.Postmark, Verifier: adapter.PostmarkVerifier{Username: c.IngestPostmarkUsername, Password: c.IngestPostmarkPassword}})
	}
	if len(eps) == 0 {
		return nil, &configError{name: envPrefix + "INGEST_*", hideValue: true,
			problem: "no endpoint is enabled: set the credentials of at least one platform (SENDGRID_PUBLIC_KEY, MAILGUN_SIGNING_KEY, SES_CERT_FILE and SES_TOPIC_ARNS, POSTMARK_USERNAME and POSTMARK_PASSWORD)"}
	}
	return eps, nil
}

// runIngest serves the webhook endpoints until ctx ends.
func runIngest(ctx context.Context, c Config, log *slog.Logger, reg *prometheus.Registry) error {
	pseudonyms, err := c.pseudonymizer()
	if err != nil {
		return err
	}
	eps, err := c.ingestEndpoints()
	if err != nil {
		return err
	}
	dialer, transport, err := connectKafka(ctx, c)
	if err != nil {
		return err
	}
	cfg := c.ingestConfig()
	if err := consumers.CheckTopics(ctx, c.KafkaBrokers, transport, []string{cfg.Topic}); err != nil {
		return fmt.Errorf("%w\n  check TRUSTPIPE_INGEST_TOPIC (default: the first of TRUSTPIPE_KAFKA_TOPICS) and TRUSTPIPE_KAFKA_BROKERS", err)
	}
	// kafka-go has no idempotent (or transactional) producer: a write
	// retried after a lost acknowledgement can store a record twice. Each
	// record carries the platform's event id, so the pipeline's event_id
	// deduplication counts it once.
	w := &kafka.Writer{
		Addr: kafka.TCP(c.KafkaBrokers...), Transport: transport, Balancer: &kafka.Hash{},
		RequiredAcks: kafka.RequireAll, BatchTimeout: 2 * time.Millisecond, BatchBytes: 8 << 20,
	}
	defer w.Close()
	srv, err := ingest.New(cfg, eps, ingest.Deps{Writer: w, Pseudonyms: pseudonyms, Registerer: reg, Logger: log})
	if err != nil {
		return c.explainSetting(err)
	}
	mux := http.NewServeMux()
	srv.Register(mux)
	// No report page: ingest does not read ClickHouse.
	base := httpHandler(reg, func(ctx context.Context) error { return consumers.Ping(ctx, dialer, c.KafkaBrokers) }, http.NotFoundHandler(), c.Pprof)
	mux.Handle("/", base)

	ln, err := net.Listen("tcp", c.IngestAddr)
	if err != nil {
		return fmt.Errorf("listen on TRUSTPIPE_INGEST_ADDR=%s: %w", c.IngestAddr, err)
	}
	var names []string
	for _, e := range eps {
		names = append(names, ingest.Path(e.Format.Name()))
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second}
	log.Info("trustpipe ingest running", "endpoints", strings.Join(names, ","), "topic", cfg.Topic, "http", ln.Addr().String())

	g, gctx := errgroup.WithContext(ctx)
	serveHTTP(g, gctx, c, ln, hs, "ingest endpoint", 10*time.Second, log)
	err = g.Wait()
	log.Info("trustpipe ingest stopped", "err", err)
	return err
}
