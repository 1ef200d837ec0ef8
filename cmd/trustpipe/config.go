package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kelseyhightower/envconfig"
	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"

	"github.com/trustpipe/trustpipe/aggregate"
	"github.com/trustpipe/trustpipe/aggregate/event"
	"github.com/trustpipe/trustpipe/aggregate/indicator"
	"github.com/trustpipe/trustpipe/consumers"
	"github.com/trustpipe/trustpipe/sink"
	"github.com/trustpipe/trustpipe/sink/readback"
)

// envPrefix is the prefix of every configuration variable.
const envPrefix = "TRUSTPIPE"

// Config is the whole configuration, read from TRUSTPIPE_* variables.
// `trustpipe help` prints this table; keep desc tags user-facing.
type Config struct {
	KafkaBrokers       []string `envconfig:"KAFKA_BROKERS" default:"127.0.0.1:9092" desc:"comma-separated Kafka bootstrap host:port list"`
	KafkaTopics        []string `envconfig:"KAFKA_TOPICS" default:"trust-events" desc:"comma-separated input topics"`
	KafkaGroup         string   `envconfig:"KAFKA_GROUP" default:"trustpipe" desc:"consumer group id"`
	KafkaDLQTopic      string   `envconfig:"KAFKA_DLQ_TOPIC" default:"trust-events-dlq" desc:"dead-letter topic for rejected records"`
	KafkaTLS           bool     `envconfig:"KAFKA_TLS" default:"false" desc:"connect to Kafka over TLS"`
	KafkaTLSCA         string   `envconfig:"KAFKA_TLS_CA_FILE" desc:"PEM CA bundle for Kafka TLS (default: system roots)"`
	KafkaTLSCert       string   `envconfig:"KAFKA_TLS_CERT_FILE" desc:"PEM client certificate for Kafka mTLS"`
	KafkaTLSKey        string   `envconfig:"KAFKA_TLS_KEY_FILE" desc:"PEM client key for Kafka mTLS"`
	KafkaTLSSkipVerify bool     `envconfig:"KAFKA_TLS_INSECURE_SKIP_VERIFY" default:"false" desc:"skip Kafka certificate verification (testing only)"`
	KafkaSASLMechanism string   `envconfig:"KAFKA_SASL_MECHANISM" desc:"SASL mechanism: plain, scram-sha-256 or scram-sha-512 (empty: no SASL)"`
	KafkaSASLUsername  string   `envconfig:"KAFKA_SASL_USERNAME" desc:"SASL username"`
	KafkaSASLPassword  string   `envconfig:"KAFKA_SASL_PASSWORD" desc:"SASL password"`

	ClickHouseAddr          string `envconfig:"CLICKHOUSE_ADDR" default:"127.0.0.1:9000" desc:"ClickHouse native-protocol host:port"`
	ClickHouseDatabase      string `envconfig:"CLICKHOUSE_DATABASE" default:"trustpipe" desc:"ClickHouse database (created by migrate)"`
	ClickHouseUsername      string `envconfig:"CLICKHOUSE_USERNAME" default:"default" desc:"ClickHouse user"`
	ClickHousePassword      string `envconfig:"CLICKHOUSE_PASSWORD" desc:"ClickHouse password"`
	ClickHouseTLS           bool   `envconfig:"CLICKHOUSE_TLS" default:"false" desc:"connect to ClickHouse over TLS (secure native port, usually 9440)"`
	ClickHouseTLSCA         string `envconfig:"CLICKHOUSE_TLS_CA_FILE" desc:"PEM CA bundle for ClickHouse TLS (default: system roots)"`
	ClickHouseTLSSkipVerify bool   `envconfig:"CLICKHOUSE_TLS_INSECURE_SKIP_VERIFY" default:"false" desc:"skip ClickHouse certificate verification (testing only)"`

	HTTPAddr      string `envconfig:"HTTP_ADDR" default:":9464" desc:"listen address of /metrics, /healthz and /readyz"`
	HTTPWebConfig string `envconfig:"HTTP_WEB_CONFIG_FILE" desc:"Prometheus exporter-toolkit web config (TLS, basic auth) for the HTTP endpoint"`

	PseudonymKey string `envconfig:"PSEUDONYM_KEY" desc:"secret (>= 16 bytes) for HMAC-SHA256 pseudonyms of contact and account ids; required"`

	BucketSize      time.Duration `envconfig:"BUCKET_SIZE" default:"1m" desc:"base time bucket of trust_counts (must divide 24h)"`
	BlockSize       int64         `envconfig:"BLOCK_SIZE" default:"10000" desc:"offsets per block; commits happen at block ends, so up to this many records per partition are re-read after a crash"`
	FlushInterval   time.Duration `envconfig:"FLUSH_INTERVAL" default:"1s" desc:"how often counted events are written to ClickHouse"`
	MaxPendingRows  int           `envconfig:"MAX_PENDING_ROWS" default:"100000" desc:"rows held before an early flush (bounds memory)"`
	QueueSize       int           `envconfig:"QUEUE_SIZE" default:"8192" desc:"records fetched ahead of processing"`
	ShutdownTimeout time.Duration `envconfig:"SHUTDOWN_TIMEOUT" default:"30s" desc:"how long the final flush may take on SIGINT/SIGTERM"`
	Migrate         bool          `envconfig:"MIGRATE" default:"true" desc:"apply schema migrations when run starts (trustpipe migrate does only that)"`

	MaxEventBytes int           `envconfig:"MAX_EVENT_BYTES" default:"65536" desc:"records larger than this are rejected (too_large)"`
	MaxDepth      int           `envconfig:"MAX_DEPTH" default:"16" desc:"JSON nesting deeper than this is rejected (too_deep)"`
	MaxSkew       time.Duration `envconfig:"MAX_SKEW" default:"5m" desc:"occurred_at may be this far after the record's Kafka timestamp"`
	MaxAge        time.Duration `envconfig:"MAX_AGE" default:"9600h" desc:"occurred_at may be this far before the record's Kafka timestamp (400 days)"`

	IndexComponents string `envconfig:"INDEX_COMPONENTS" desc:"Trust Index overrides: name:key=value[,key=value][;name:...] with keys weight, good, bad, min_volume, e.g. complaint_rate:weight=4;preference_center_rate:weight=0 (empty: the documented defaults)"`

	ReadbackInterval  time.Duration `envconfig:"READBACK_INTERVAL" default:"30s" desc:"how often the trust gauges (trustpipe_indicator, trustpipe_trust_index, ...) are read back from ClickHouse"`
	ReadbackBreakdown string        `envconfig:"READBACK_BREAKDOWN" desc:"also export the trust gauges per value of one dimension: campaign_id, channel, segment or source (empty: off)"`
	ReadbackTopN      int           `envconfig:"READBACK_TOP_N" default:"10" desc:"with a breakdown, the values with the most events per window that get their own series (1-100); the rest are summed as dimension_value=\"other\""`

	LogLevel  string `envconfig:"LOG_LEVEL" default:"info" desc:"debug, info, warn or error"`
	LogFormat string `envconfig:"LOG_FORMAT" default:"text" desc:"text or json"`
}

// loadConfig reads the environment.
func loadConfig() (Config, error) {
	var c Config
	if err := envconfig.Process(envPrefix, &c); err != nil {
		return c, fmt.Errorf("configuration: %w (see `trustpipe help`)", err)
	}
	return c, nil
}

// loadEnv reads the environment and builds the logger it configures: the
// start of every command that talks to Kafka or ClickHouse.
func loadEnv() (Config, *slog.Logger, error) {
	c, err := loadConfig()
	if err != nil {
		return c, nil, err
	}
	log, err := newLogger(c)
	return c, log, err
}

// printHelp lists every variable with its default.
func printHelp(w *os.File) error {
	var c Config
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	format := "{{range .}}{{usage_key .}}\t{{usage_default .}}\t{{usage_description .}}\n{{end}}"
	fmt.Fprintln(tw, "VARIABLE\tDEFAULT\tMEANING")
	if err := envconfig.Usagef(envPrefix, &c, tw, format); err != nil {
		return err
	}
	return tw.Flush()
}

func (c Config) pipelineConfig() consumers.Config {
	p := consumers.DefaultConfig()
	p.Aggregate = aggregate.Config{BucketSize: c.BucketSize, BlockSize: c.BlockSize}
	p.Limits = event.Limits{MaxBytes: c.MaxEventBytes, MaxDepth: c.MaxDepth, MaxSkew: c.MaxSkew, MaxAge: c.MaxAge}
	p.DeadLetterTopic = c.KafkaDLQTopic
	p.FlushInterval = c.FlushInterval
	p.MaxPendingRows = c.MaxPendingRows
	p.QueueSize = c.QueueSize
	p.ShutdownTimeout = c.ShutdownTimeout
	return p
}

// readbackConfig configures the trust gauges; the Trust Index uses the same
// TRUSTPIPE_INDEX_COMPONENTS as `trustpipe report`.
func (c Config) readbackConfig() (readback.Config, error) {
	idx, err := indicator.ParseIndexComponents(c.IndexComponents, indicator.DefaultIndexConfig())
	if err != nil {
		return readback.Config{}, err
	}
	r := readback.DefaultConfig()
	r.Database = c.ClickHouseDatabase
	r.Interval = c.ReadbackInterval
	r.BucketSize = c.BucketSize
	r.Breakdown = c.ReadbackBreakdown
	r.TopN = c.ReadbackTopN
	r.Index = idx
	return r, nil
}

func (c Config) sinkConfig() (sink.Config, error) {
	s := sink.Config{Addr: c.ClickHouseAddr, Database: c.ClickHouseDatabase, Username: c.ClickHouseUsername, Password: c.ClickHousePassword}
	if c.ClickHouseTLS {
		t, err := tlsConfig(c.ClickHouseTLSCA, "", "", c.ClickHouseTLSSkipVerify)
		if err != nil {
			return s, fmt.Errorf("TRUSTPIPE_CLICKHOUSE_TLS_*: %w", err)
		}
		s.TLS = t
	}
	return s, nil
}

// kafkaSecurity returns the TLS config and SASL mechanism for Kafka.
func (c Config) kafkaSecurity() (*tls.Config, sasl.Mechanism, error) {
	var t *tls.Config
	if c.KafkaTLS {
		var err error
		if t, err = tlsConfig(c.KafkaTLSCA, c.KafkaTLSCert, c.KafkaTLSKey, c.KafkaTLSSkipVerify); err != nil {
			return nil, nil, fmt.Errorf("TRUSTPIPE_KAFKA_TLS_*: %w", err)
		}
	}
	var m sasl.Mechanism
	switch strings.ToLower(c.KafkaSASLMechanism) {
	case "":
	case "plain":
		m = plain.Mechanism{Username: c.KafkaSASLUsername, Password: c.KafkaSASLPassword}
	case "scram-sha-256", "scram-sha-512":
		algo := scram.SHA256
		if strings.HasSuffix(strings.ToLower(c.KafkaSASLMechanism), "512") {
			algo = scram.SHA512
		}
		var err error
		if m, err = scram.Mechanism(algo, c.KafkaSASLUsername, c.KafkaSASLPassword); err != nil {
			return nil, nil, fmt.Errorf("TRUSTPIPE_KAFKA_SASL_*: %w", err)
		}
	default:
		return nil, nil, fmt.Errorf("TRUSTPIPE_KAFKA_SASL_MECHANISM=%q: use plain, scram-sha-256 or scram-sha-512", c.KafkaSASLMechanism)
	}
	return t, m, nil
}

func (c Config) kafkaDialer() (*kafka.Dialer, error) {
	t, m, err := c.kafkaSecurity()
	if err != nil {
		return nil, err
	}
	return &kafka.Dialer{Timeout: 10 * time.Second, DualStack: true, TLS: t, SASLMechanism: m}, nil
}

func (c Config) kafkaTransport() (*kafka.Transport, error) {
	t, m, err := c.kafkaSecurity()
	if err != nil {
		return nil, err
	}
	return &kafka.Transport{TLS: t, SASL: m, DialTimeout: 10 * time.Second}, nil
}

func tlsConfig(caFile, certFile, keyFile string, skipVerify bool) (*tls.Config, error) {
	t := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: skipVerify} //nolint:gosec // opt-in for testing
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("read CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA file %s holds no PEM certificates", caFile)
		}
		t.RootCAs = pool
	}
	if certFile != "" || keyFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("load client certificate: %w", err)
		}
		t.Certificates = []tls.Certificate{cert}
	}
	return t, nil
}
