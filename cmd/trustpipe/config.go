package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"

	"github.com/trustpipe/trustpipe/aggregate"
	"github.com/trustpipe/trustpipe/aggregate/event"
	"github.com/trustpipe/trustpipe/aggregate/indicator"
	"github.com/trustpipe/trustpipe/consumers"
	"github.com/trustpipe/trustpipe/consumers/adapter"
	"github.com/trustpipe/trustpipe/consumers/ingest"
	"github.com/trustpipe/trustpipe/sink"
	"github.com/trustpipe/trustpipe/sink/readback"
)

// envPrefix is the prefix of every configuration variable. Only prefixed
// variables are read: LOG_LEVEL or BLOCK_SIZE set for another program never
// reach trustpipe.
const envPrefix = envconfigPrefix + "_"

// envconfigPrefix is envPrefix as envconfig takes it (it adds the "_").
const envconfigPrefix = "TRUSTPIPE"

// Config is the whole configuration, read by envconfig from TRUSTPIPE_*
// variables. It is the one definition of every variable: envconfig derives
// the name from the field name (split_words, hence Clickhouse and TLSCa:
// ClickHouse would be CLICK_HOUSE, TLSCA would be TLSCA), desc is the help
// text, secret marks values that are never printed and may come from a
// NAME_FILE file. There are no envconfig name tags, since envconfig falls
// back to the unprefixed name of a tagged field (LOG_LEVEL set for another
// program), and no default tags: the defaults are the packages'
// DefaultConfig (defaultConfig), which envconfig leaves alone when a
// variable is unset. The sentinels each field answers for are in blames.
type Config struct {
	KafkaBrokers               []string `split_words:"true" desc:"comma-separated Kafka bootstrap host:port list"`
	KafkaTopics                []string `split_words:"true" desc:"comma-separated input topics"`
	KafkaTopicFormats          []string `split_words:"true" desc:"input topics holding a platform's native payloads instead of contract records: comma-separated topic:format, format one of mailgun, postmark, ses, sendgrid; run and replay convert them (one record may hold several events)"`
	KafkaGroup                 string   `split_words:"true" desc:"consumer group id"`
	KafkaIsolation             string   `split_words:"true" desc:"read_committed, or read_uncommitted for topics with no transactional producers: run then skips the second fetch that tells transaction markers and aborted records apart (with transactional producers it would count aborted and open transactions' records and dead-letter markers)"`
	KafkaDLQTopic              string   `split_words:"true" desc:"dead-letter topic for rejected records (not an input topic)"`
	KafkaTLS                   bool     `split_words:"true" desc:"connect to Kafka over TLS"`
	KafkaTLSCaFile             string   `split_words:"true" desc:"PEM CA bundle for Kafka TLS (default: system roots)"`
	KafkaTLSCertFile           string   `split_words:"true" desc:"PEM client certificate for Kafka mTLS"`
	KafkaTLSKeyFile            string   `split_words:"true" desc:"PEM client key for Kafka mTLS"`
	KafkaTLSInsecureSkipVerify bool     `split_words:"true" desc:"skip Kafka certificate verification (testing only)"`
	KafkaSASLMechanism         string   `split_words:"true" desc:"SASL mechanism: plain, scram-sha-256 or scram-sha-512 (empty: no SASL)"`
	KafkaSASLUsername          string   `split_words:"true" desc:"SASL username"`
	KafkaSASLPassword          string   `split_words:"true" desc:"SASL password" secret:"true"`

	ClickhouseAddr                  string `split_words:"true" desc:"ClickHouse native-protocol host:port, or a comma-separated list of a cluster's nodes (the first that answers is used)"`
	ClickhouseDatabase              string `split_words:"true" desc:"ClickHouse database (created by migrate)"`
	ClickhouseUsername              string `split_words:"true" desc:"ClickHouse user"`
	ClickhousePassword              string `split_words:"true" desc:"ClickHouse password" secret:"true"`
	ClickhouseTLS                   bool   `split_words:"true" desc:"connect to ClickHouse over TLS (secure native port, usually 9440)"`
	ClickhouseTLSCaFile             string `split_words:"true" desc:"PEM CA bundle for ClickHouse TLS (default: system roots)"`
	ClickhouseTLSInsecureSkipVerify bool   `split_words:"true" desc:"skip ClickHouse certificate verification (testing only)"`
	ClickhouseCluster               string `split_words:"true" desc:"cluster of the servers' remote_servers: schema ON CLUSTER, Replicated storage behind Distributed tables (empty: one node)"`
	ClickhouseInsertQuorum          int    `split_words:"true" desc:"with a cluster, replicas of a shard that must hold a flush before its offsets are committed (at most the replicas per shard)"`

	HTTPAddr          string `split_words:"true" desc:"listen address of /metrics, /healthz, /readyz and the report page /report"`
	HTTPWebConfigFile string `split_words:"true" desc:"Prometheus exporter-toolkit web config (TLS, basic auth) for the HTTP endpoint"`
	Pprof             bool   `split_words:"true" desc:"also serve Go's profiler at /debug/pprof/ on the HTTP endpoint, for go tool pprof (off: profiles expose internals and cost CPU while taken)"`
	PseudonymKey      string `split_words:"true" secret:"true" desc:"secret (>= 16 bytes) for HMAC-SHA256 pseudonyms of contact and account ids; required by run and replay"`

	BucketSize         time.Duration `split_words:"true" desc:"base time bucket of trust_counts (must divide 24h)"`
	BlockSize          int64         `split_words:"true" desc:"offsets per block; commits happen at block ends, so up to this many records per partition are re-read after a crash"`
	FlushInterval      time.Duration `split_words:"true" desc:"how often counted events are written to ClickHouse"`
	MaxPendingRows     int           `split_words:"true" desc:"rows held before an early flush (bounds memory)"`
	QueueSize          int           `split_words:"true" desc:"records fetched ahead of processing"`
	QueueBytes         int           `split_words:"true" desc:"byte budget of the records fetched ahead: at most this divided by the topics' max.message.bytes are queued, plus one fetch of at most this (and 4 MiB); at least 1048588"`
	ShutdownTimeout    time.Duration `split_words:"true" desc:"how long the final flush may take on SIGINT/SIGTERM"`
	MemoryLimit        int64         `split_words:"true" desc:"soft limit of run's Go memory in bytes (the garbage collector works harder near it, keeping peak RSS about there; the process never fails because of it); raise it with the queue, pending-row or dedup limits; 0: none; GOMEMLIMIT, when set, wins"`
	Migrate            bool          `split_words:"true" desc:"apply schema migrations when run starts (trustpipe migrate does only that)"`
	DedupWindow        time.Duration `split_words:"true" desc:"a valid event whose event_id was counted in the same partition within this much Kafka record time is counted once (0: off)"`
	DedupMaxIds        int           `split_words:"true" desc:"event ids remembered per partition (about 55 bytes of memory each; rounded up to whole blocks); older ids are forgotten even within the window"`
	LineageHorizon     time.Duration `split_words:"true" desc:"a follow-up is attributed to its send's inputs and reason visibility when the send (same message_id, same partition) is at most this much Kafka record time older (0: off)"`
	LineageMaxMessages int           `split_words:"true" desc:"sends remembered per partition for that attribution (about 115 bytes each; rounded up to whole blocks); older sends are forgotten even within the horizon"`
	LineageModels      []string      `split_words:"true" desc:"comma-separated model ids (at most 16) whose model:<id> inputs are stored by name; every other model is stored as model:other"`
	ContactStates      int           `split_words:"true" desc:"contact states (an unsubscribe per contact and channel, a recorded consent tier per contact) remembered per partition to flag sends after an unsubscribe and consent claims above the record (about 320 bytes each; 0: off); beyond it the state changed longest ago is forgotten"`
	ContactHorizon     time.Duration `split_words:"true" desc:"a contact state unchanged for this long (event time) before the partition's newest state change is forgotten"`

	MaxEventBytes int           `split_words:"true" desc:"records larger than this are rejected (too_large)"`
	MaxDepth      int           `split_words:"true" desc:"JSON nesting deeper than this is rejected (too_deep)"`
	MaxSkew       time.Duration `split_words:"true" desc:"occurred_at may be this far after the record's Kafka timestamp"`
	MaxAge        time.Duration `split_words:"true" desc:"occurred_at may be this far before the record's Kafka timestamp (400 days)"`

	TargetAccounts string `split_words:"true" secret:"true" desc:"comma-separated target accounts of account-based marketing, with their own dashboard panel, alert and report list: pseudonyms as stored (32 lower-case hex digits), or raw account ids, hashed here with TRUSTPIPE_PSEUDONYM_KEY (prefix raw: an id that looks like a pseudonym); never printed, as it may hold raw ids"`

	IndexComponents string `split_words:"true" desc:"Trust Index overrides: name:key=value[,key=value][;name:...] with keys weight, good, bad, min_volume, e.g. complaint_rate:weight=4;preference_center_rate:weight=0 (empty: the documented defaults)"`

	Readback          bool          `split_words:"true" desc:"read the trust gauges back on this instance; they are the same on every instance, so with several instances enable it on one or two only (each reader adds its queries to ClickHouse)"`
	ReadbackInterval  time.Duration `split_words:"true" desc:"how often the trust gauges (trustpipe_indicator, trustpipe_trust_index, ...) are read back from ClickHouse"`
	ReadbackBreakdown string        `split_words:"true" desc:"also export the trust gauges per value of one dimension: campaign_id, channel, segment or source (empty: off)"`
	ReadbackTopN      int           `split_words:"true" desc:"with a breakdown, the values with the most events per window that get their own series (1-100); the rest are summed as dimension_value=\"other\"; also the campaigns and sending domains with attributed series of their own"`

	IngestAddr              string        `split_words:"true" desc:"listen address of trustpipe ingest: the webhook endpoints /ingest/<format>, /metrics and /healthz (TLS and basic auth of TRUSTPIPE_HTTP_WEB_CONFIG_FILE apply)"`
	IngestTopic             string        `split_words:"true" desc:"topic trustpipe ingest produces contract records to (empty: the first of TRUSTPIPE_KAFKA_TOPICS)"`
	IngestMaxBodyBytes      int64         `split_words:"true" desc:"largest webhook request body accepted (larger: 413)"`
	IngestRate              float64       `split_words:"true" desc:"webhook requests per second accepted over all endpoints (more: 429)"`
	IngestBurst             int           `split_words:"true" desc:"requests accepted at once above TRUSTPIPE_INGEST_RATE"`
	IngestSignatureMaxAge   time.Duration `split_words:"true" desc:"how far a signed SendGrid or Mailgun timestamp may be from now (replay window)"`
	IngestSendgridPublicKey string        `split_words:"true" desc:"verification key of SendGrid's signed Event Webhook (base64, as SendGrid shows it); enables /ingest/sendgrid"`
	IngestMailgunSigningKey string        `split_words:"true" secret:"true" desc:"Mailgun webhook signing key; enables /ingest/mailgun"`
	IngestSesCertFile       string        `split_words:"true" desc:"PEM file of the SNS signing certificate (downloaded from the SigningCertURL beforehand: ingest makes no outbound calls); with TRUSTPIPE_INGEST_SES_TOPIC_ARNS enables /ingest/ses"`
	IngestSesTopicArns      []string      `split_words:"true" desc:"comma-separated ARNs of the SNS topics SES publishes to; messages from other topics are refused"`
	IngestPostmarkUsername  string        `split_words:"true" desc:"basic-auth user of the Postmark webhook URL; with the password enables /ingest/postmark"`
	IngestPostmarkPassword  string        `split_words:"true" secret:"true" desc:"basic-auth password of the Postmark webhook URL"`

	LogLevel  string `split_words:"true" desc:"debug, info, warn or error"`
	LogFormat string `split_words:"true" desc:"text or json"`
}

// blames maps the sentinels of the stages' Validate to the field, and so
// the variable, they blame: the one place explainSetting looks them up.
// Fields are named by pointer so the compiler checks them.
func (c *Config) blames() []blame {
	return []blame{
		{&c.KafkaBrokers, []error{consumers.ErrNoBrokers, consumers.ErrBroker}},
		{&c.KafkaTopics, []error{consumers.ErrNoTopics, consumers.ErrTopic}},
		{&c.KafkaGroup, []error{consumers.ErrNoGroup}},
		{&c.KafkaDLQTopic, []error{consumers.ErrDeadLetterTopic, consumers.ErrDeadLetterIsInput}},
		{&c.ClickhouseAddr, []error{sink.ErrAddr}},
		{&c.ClickhouseDatabase, []error{sink.ErrDatabase}},
		{&c.ClickhouseCluster, []error{sink.ErrCluster}},
		{&c.ClickhouseInsertQuorum, []error{sink.ErrInsertQuorum}},
		{&c.PseudonymKey, []error{consumers.ErrPseudonymKey}},
		{&c.BucketSize, []error{aggregate.ErrBucketSize, readback.ErrBucketSize}},
		{&c.BlockSize, []error{aggregate.ErrBlockSize}},
		{&c.FlushInterval, []error{consumers.ErrFlushInterval}},
		{&c.MaxPendingRows, []error{consumers.ErrMaxPendingRows}},
		{&c.QueueSize, []error{consumers.ErrQueueSize}},
		{&c.QueueBytes, []error{consumers.ErrQueueBytes}},
		{&c.ShutdownTimeout, []error{consumers.ErrShutdownTimeout}},
		{&c.MemoryLimit, []error{consumers.ErrMemoryLimit}},
		{&c.DedupWindow, []error{aggregate.ErrDedupWindow}},
		{&c.DedupMaxIds, []error{aggregate.ErrDedupMaxIDs}},
		{&c.LineageHorizon, []error{aggregate.ErrMessagesHorizon}},
		{&c.LineageMaxMessages, []error{aggregate.ErrMessagesMax}},
		{&c.LineageModels, []error{aggregate.ErrModels}},
		{&c.ContactStates, []error{aggregate.ErrContactStates}},
		{&c.ContactHorizon, []error{aggregate.ErrContactHorizon}},
		{&c.MaxEventBytes, []error{event.ErrMaxBytes}},
		{&c.MaxDepth, []error{event.ErrMaxDepth}},
		{&c.MaxSkew, []error{event.ErrMaxSkew}},
		{&c.MaxAge, []error{event.ErrMaxAge}},
		{&c.IndexComponents, []error{indicator.ErrIndexComponents}},
		{&c.ReadbackInterval, []error{readback.ErrInterval}},
		{&c.ReadbackBreakdown, []error{readback.ErrBreakdown}},
		{&c.ReadbackTopN, []error{readback.ErrTopN}},
		{&c.IngestMaxBodyBytes, []error{ingest.ErrMaxBody}},
		{&c.IngestRate, []error{ingest.ErrRate}},
	}
}

// blame is one entry of blames: field points into the Config.
type blame struct {
	field any
	errs  []error
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
	in := ingest.DefaultConfig()
	return Config{
		KafkaBrokers: k.Brokers, KafkaTopics: k.Topics, KafkaGroup: k.Group, KafkaIsolation: readCommitted, KafkaDLQTopic: p.DeadLetterTopic,
		ClickhouseAddr: s.Addr, ClickhouseDatabase: s.Database, ClickhouseUsername: s.Username, ClickhousePassword: s.Password,
		ClickhouseInsertQuorum: s.InsertQuorum,
		HTTPAddr:               ":9464",
		BucketSize:             p.Aggregate.BucketSize, BlockSize: p.Aggregate.BlockSize,
		FlushInterval: p.FlushInterval, MaxPendingRows: p.MaxPendingRows, QueueSize: p.QueueSize, QueueBytes: p.QueueBytes,
		ShutdownTimeout: p.ShutdownTimeout, MemoryLimit: p.MemoryLimit,
		Migrate:     true,
		DedupWindow: p.Aggregate.Dedup.Window, DedupMaxIds: p.Aggregate.Dedup.MaxIDs,
		LineageHorizon: p.Aggregate.Messages.Horizon, LineageMaxMessages: p.Aggregate.Messages.MaxMessages, LineageModels: p.Aggregate.Messages.Models,
		ContactStates: p.Aggregate.Contacts.MaxStates, ContactHorizon: p.Aggregate.Contacts.Horizon,
		MaxEventBytes: p.Limits.MaxBytes, MaxDepth: p.Limits.MaxDepth, MaxSkew: p.Limits.MaxSkew, MaxAge: p.Limits.MaxAge,
		Readback: true, ReadbackInterval: r.Interval, ReadbackBreakdown: r.Breakdown, ReadbackTopN: r.TopN,
		IngestAddr: ":9465", IngestMaxBodyBytes: in.MaxBodyBytes, IngestRate: in.Rate, IngestBurst: in.Burst,
		IngestSignatureMaxAge: 10 * time.Minute,
		LogLevel:              "info", LogFormat: "text",
	}
}

// loadConfig reads the environment and validates the result before any
// I/O. A bad value is a *configError (exit code 2) naming the variable.
// The pseudonym key is checked where it is used (run, replay), since gen,
// migrate and report do not need one.
func loadConfig() (Config, error) {
	c := defaultConfig()
	if err := readEnv(&c); err != nil {
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
	sc := sink.Config{Addr: c.ClickhouseAddr, Database: c.ClickhouseDatabase, Cluster: c.ClickhouseCluster, InsertQuorum: c.ClickhouseInsertQuorum}
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
		c.ingestConfig().Validate,
		func() error { _, err := c.topicFormats(); return err },
		func() error { _, _, err := c.kafkaSecurity(); return err },
		func() error { _, err := newLogger(c); return err },
		func() error { _, _, err := c.kafkaIsolation(); return err },
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

// The values of TRUSTPIPE_KAFKA_ISOLATION.
const (
	readCommitted   = "read_committed"
	readUncommitted = "read_uncommitted"
)

// kafkaIsolation is the reader's isolation level; transactional says the
// pipeline classifies transaction markers and aborted records.
func (c Config) kafkaIsolation() (level kafka.IsolationLevel, transactional bool, err error) {
	switch c.KafkaIsolation {
	case readCommitted:
		return kafka.ReadCommitted, true, nil
	case readUncommitted:
		return kafka.ReadUncommitted, false, nil
	}
	return 0, false, &configError{name: envPrefix + "KAFKA_ISOLATION", value: c.KafkaIsolation, problem: "expected read_committed or read_uncommitted"}
}

func (c Config) kafkaConfig() consumers.KafkaConfig {
	return consumers.KafkaConfig{Brokers: c.KafkaBrokers, Topics: c.KafkaTopics, Group: c.KafkaGroup}
}

func (c Config) pipelineConfig() consumers.Config {
	p := consumers.DefaultConfig()
	p.Aggregate.BucketSize, p.Aggregate.BlockSize = c.BucketSize, c.BlockSize
	p.Aggregate.Dedup = aggregate.DedupConfig{Window: c.DedupWindow, MaxIDs: c.DedupMaxIds}
	p.Aggregate.Messages = aggregate.MessagesConfig{Horizon: c.LineageHorizon, MaxMessages: c.LineageMaxMessages, Models: c.LineageModels}
	p.Aggregate.Contacts = aggregate.ContactsConfig{MaxStates: c.ContactStates, Horizon: c.ContactHorizon}
	p.Limits.MaxBytes, p.Limits.MaxDepth, p.Limits.MaxSkew, p.Limits.MaxAge = c.MaxEventBytes, c.MaxDepth, c.MaxSkew, c.MaxAge
	p.DeadLetterTopic = c.KafkaDLQTopic
	p.FlushInterval = c.FlushInterval
	p.MaxPendingRows = c.MaxPendingRows
	p.QueueSize = c.QueueSize
	p.QueueBytes = c.QueueBytes
	p.ShutdownTimeout = c.ShutdownTimeout
	p.MemoryLimit = c.MemoryLimit
	p.Formats, _ = c.topicFormats() // validate reports its error
	return p
}

// topicFormats parses TRUSTPIPE_KAFKA_TOPIC_FORMATS; each topic must be an
// input topic, each format a registered one.
func (c Config) topicFormats() (map[string]adapter.Format, error) {
	if len(c.KafkaTopicFormats) == 0 {
		return nil, nil
	}
	bad := func(item, problem string) error {
		return &configError{name: envPrefix + "KAFKA_TOPIC_FORMATS", value: strings.Join(c.KafkaTopicFormats, ","), problem: fmt.Sprintf("%q: %s", item, problem)}
	}
	out := map[string]adapter.Format{}
	for _, item := range c.KafkaTopicFormats {
		topic, name, ok := strings.Cut(item, ":")
		f, known := adapter.Lookup(name)
		switch {
		case !ok || topic == "":
			return nil, bad(item, "expected topic:format")
		case !known:
			return nil, bad(item, "unknown format; expected one of "+strings.Join(adapter.Names(), ", "))
		case !slices.Contains(c.KafkaTopics, topic):
			return nil, bad(item, "not one of TRUSTPIPE_KAFKA_TOPICS")
		case out[topic] != nil:
			return nil, bad(item, "the topic is listed twice")
		}
		out[topic] = f
	}
	return out, nil
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
	r.Interval = c.ReadbackInterval
	r.BucketSize = c.BucketSize
	r.Breakdown = c.ReadbackBreakdown
	r.TopN = c.ReadbackTopN
	r.Index = idx
	return r, nil
}

// targetAccounts resolves TRUSTPIPE_TARGET_ACCOUNTS to pseudonyms: the
// raw ids in it are hashed with TRUSTPIPE_PSEUDONYM_KEY, which only they
// need. The raw ids go no further than this.
func (c Config) targetAccounts() ([]string, error) {
	var p *consumers.Pseudonymizer
	if c.PseudonymKey != "" {
		var err error
		if p, err = c.pseudonymizer(); err != nil {
			return nil, err
		}
	}
	ts, err := consumers.ResolvePseudonyms(strings.Split(c.TargetAccounts, ","), p)
	if err != nil {
		return nil, &configError{name: envPrefix + "TARGET_ACCOUNTS", problem: err.Error() + " (TRUSTPIPE_PSEUDONYM_KEY)", hideValue: true}
	}
	return ts, nil
}

func (c Config) sinkConfig() (sink.Config, error) {
	s := sink.DefaultConfig()
	s.Addr, s.Database, s.Username, s.Password = c.ClickhouseAddr, c.ClickhouseDatabase, c.ClickhouseUsername, c.ClickhousePassword
	s.Cluster, s.InsertQuorum = c.ClickhouseCluster, c.ClickhouseInsertQuorum
	if c.ClickhouseTLS {
		t, err := tlsConfig(c.ClickhouseTLSCaFile, "", "", c.ClickhouseTLSInsecureSkipVerify)
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
		if t, err = tlsConfig(c.KafkaTLSCaFile, c.KafkaTLSCertFile, c.KafkaTLSKeyFile, c.KafkaTLSInsecureSkipVerify); err != nil {
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
