package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"

	"github.com/trustpipe/trustpipe/aggregate/indicator"
	"github.com/trustpipe/trustpipe/consumers"
	"github.com/trustpipe/trustpipe/sink"
	"github.com/trustpipe/trustpipe/sink/readback"
)

// envPrefix is the prefix of every configuration variable. Only prefixed
// variables are read: LOG_LEVEL or BLOCK_SIZE set for another program never
// reach trustpipe.
const envPrefix = "TRUSTPIPE_"

// Config is the whole configuration, read from TRUSTPIPE_* variables (see
// settings). Its defaults come from the packages' DefaultConfig functions
// (defaultConfig); the fields only say where each setting goes.
type Config struct {
	KafkaBrokers       []string
	KafkaTopics        []string
	KafkaGroup         string
	KafkaDLQTopic      string
	KafkaTLS           bool
	KafkaTLSCA         string
	KafkaTLSCert       string
	KafkaTLSKey        string
	KafkaTLSSkipVerify bool
	KafkaSASLMechanism string
	KafkaSASLUsername  string
	KafkaSASLPassword  string

	ClickHouseAddr          string
	ClickHouseDatabase      string
	ClickHouseUsername      string
	ClickHousePassword      string
	ClickHouseTLS           bool
	ClickHouseTLSCA         string
	ClickHouseTLSSkipVerify bool

	HTTPAddr      string
	HTTPWebConfig string

	PseudonymKey string

	BucketSize      time.Duration
	BlockSize       int64
	FlushInterval   time.Duration
	MaxPendingRows  int
	QueueSize       int
	ShutdownTimeout time.Duration
	Migrate         bool

	MaxEventBytes int
	MaxDepth      int
	MaxSkew       time.Duration
	MaxAge        time.Duration

	IndexComponents string

	ReadbackInterval  time.Duration
	ReadbackBreakdown string
	ReadbackTopN      int

	LogLevel  string
	LogFormat string
}

// defaultConfig is the configuration with no variable set. Every default
// of a stage comes from that stage's DefaultConfig; only the settings of
// the command itself (HTTP endpoint, logging, migrate on start) are
// defaulted here.
func defaultConfig() Config {
	k := consumers.DefaultKafkaConfig()
	p := consumers.DefaultConfig()
	s := sink.DefaultConfig()
	r := readback.DefaultConfig()
	return Config{
		KafkaBrokers: k.Brokers, KafkaTopics: k.Topics, KafkaGroup: k.Group, KafkaDLQTopic: p.DeadLetterTopic,
		ClickHouseAddr: s.Addr, ClickHouseDatabase: s.Database, ClickHouseUsername: s.Username, ClickHousePassword: s.Password,
		HTTPAddr:   ":9464",
		BucketSize: p.Aggregate.BucketSize, BlockSize: p.Aggregate.BlockSize,
		FlushInterval: p.FlushInterval, MaxPendingRows: p.MaxPendingRows, QueueSize: p.QueueSize, ShutdownTimeout: p.ShutdownTimeout,
		Migrate:       true,
		MaxEventBytes: p.Limits.MaxBytes, MaxDepth: p.Limits.MaxDepth, MaxSkew: p.Limits.MaxSkew, MaxAge: p.Limits.MaxAge,
		ReadbackInterval: r.Interval, ReadbackBreakdown: r.Breakdown, ReadbackTopN: r.TopN,
		LogLevel: "info", LogFormat: "text",
	}
}

// loadConfig reads the environment and validates the result before any
// I/O. A bad value is a *configError (exit code 2) naming the variable.
// The pseudonym key is checked where it is used (run, replay), since gen,
// migrate and report do not need one.
func loadConfig() (Config, error) {
	c := defaultConfig()
	if err := readEnv(&c, os.LookupEnv, os.ReadFile); err != nil {
		return c, err
	}
	return c, c.validate()
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

// validate runs every stage's Validate on the configuration it would get
// and turns a refusal into a *configError naming the variable.
func (c Config) validate() error {
	sc := sink.Config{Addr: c.ClickHouseAddr, Database: c.ClickHouseDatabase}
	checks := []func() error{
		c.kafkaConfig().Validate,
		c.pipelineConfig().Validate,
		func() error { return consumers.CheckDeadLetterTopic(c.KafkaTopics, c.KafkaDLQTopic) },
		sc.Validate,
		func() error {
			r, err := c.readbackConfig()
			if err != nil {
				return err
			}
			return r.Validate()
		},
		func() error { _, _, err := c.kafkaSecurity(); return err },
		func() error { _, err := newLogger(c); return err },
	}
	for _, check := range checks {
		if err := check(); err != nil {
			return c.explainSetting(err)
		}
	}
	return nil
}

// pseudonymizer builds the pseudonymizer of TRUSTPIPE_PSEUDONYM_KEY.
func (c Config) pseudonymizer() (*consumers.Pseudonymizer, error) {
	p, err := consumers.NewPseudonymizer([]byte(c.PseudonymKey))
	if err != nil {
		return nil, c.explainSetting(err)
	}
	return p, nil
}

func (c Config) kafkaConfig() consumers.KafkaConfig {
	return consumers.KafkaConfig{Brokers: c.KafkaBrokers, Topics: c.KafkaTopics, Group: c.KafkaGroup}
}

func (c Config) pipelineConfig() consumers.Config {
	p := consumers.DefaultConfig()
	p.Aggregate.BucketSize, p.Aggregate.BlockSize = c.BucketSize, c.BlockSize
	p.Limits.MaxBytes, p.Limits.MaxDepth, p.Limits.MaxSkew, p.Limits.MaxAge = c.MaxEventBytes, c.MaxDepth, c.MaxSkew, c.MaxAge
	p.DeadLetterTopic = c.KafkaDLQTopic
	p.FlushInterval = c.FlushInterval
	p.MaxPendingRows = c.MaxPendingRows
	p.QueueSize = c.QueueSize
	p.ShutdownTimeout = c.ShutdownTimeout
	return p
}

// indexConfig is the Trust Index of TRUSTPIPE_INDEX_COMPONENTS, shared by
// the read-back, the report and the index views.
func (c Config) indexConfig() (indicator.IndexConfig, error) {
	return indicator.ParseIndexComponents(c.IndexComponents, indicator.DefaultIndexConfig())
}

// readbackConfig configures the trust gauges; the Trust Index uses the same
// TRUSTPIPE_INDEX_COMPONENTS as `trustpipe report`.
func (c Config) readbackConfig() (readback.Config, error) {
	idx, err := c.indexConfig()
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
	s := sink.DefaultConfig()
	s.Addr, s.Database, s.Username, s.Password = c.ClickHouseAddr, c.ClickHouseDatabase, c.ClickHouseUsername, c.ClickHousePassword
	if c.ClickHouseTLS {
		t, err := tlsConfig(c.ClickHouseTLSCA, "", "", c.ClickHouseTLSSkipVerify)
		if err != nil {
			return s, fmt.Errorf("%sCLICKHOUSE_TLS_CA_FILE: %w", envPrefix, err)
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
			return nil, nil, fmt.Errorf("%sKAFKA_TLS_*_FILE: %w", envPrefix, err)
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
			return nil, nil, fmt.Errorf("%sKAFKA_SASL_*: %w", envPrefix, err)
		}
	default:
		return nil, nil, &configError{name: envPrefix + "KAFKA_SASL_MECHANISM", value: c.KafkaSASLMechanism, problem: "expected plain, scram-sha-256 or scram-sha-512 (or empty for no SASL)"}
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
