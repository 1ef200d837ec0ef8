package main

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/trustpipe/trustpipe/aggregate"
	"github.com/trustpipe/trustpipe/aggregate/event"
	"github.com/trustpipe/trustpipe/aggregate/indicator"
	"github.com/trustpipe/trustpipe/consumers"
	"github.com/trustpipe/trustpipe/sink"
	"github.com/trustpipe/trustpipe/sink/readback"
)

// setting is one TRUSTPIPE_* variable: the single table that readEnv reads,
// `trustpipe help` and `run --help` print, the README's Configuration
// section is generated from, and validation errors are mapped back to.
type setting struct {
	name string // without envPrefix
	val  value
	desc string
	// secret settings are never printed and may come from a file: NAME_FILE
	// holds the value, as Docker and Kubernetes mount secrets.
	secret bool
	// errs are the sentinels of the stages' Validate that blame this
	// setting.
	errs []error
}

// settings binds every variable to its field of c.
func (c *Config) settings() []setting {
	return []setting{
		{name: "KAFKA_BROKERS", val: listValue{&c.KafkaBrokers}, desc: "comma-separated Kafka bootstrap host:port list",
			errs: []error{consumers.ErrNoBrokers, consumers.ErrBroker}},
		{name: "KAFKA_TOPICS", val: listValue{&c.KafkaTopics}, desc: "comma-separated input topics",
			errs: []error{consumers.ErrNoTopics, consumers.ErrTopic}},
		{name: "KAFKA_GROUP", val: stringValue{&c.KafkaGroup}, desc: "consumer group id", errs: []error{consumers.ErrNoGroup}},
		{name: "KAFKA_DLQ_TOPIC", val: stringValue{&c.KafkaDLQTopic}, desc: "dead-letter topic for rejected records (not an input topic)",
			errs: []error{consumers.ErrDeadLetterTopic, consumers.ErrDeadLetterIsInput}},
		{name: "KAFKA_TLS", val: boolValue{&c.KafkaTLS}, desc: "connect to Kafka over TLS"},
		{name: "KAFKA_TLS_CA_FILE", val: stringValue{&c.KafkaTLSCA}, desc: "PEM CA bundle for Kafka TLS (default: system roots)"},
		{name: "KAFKA_TLS_CERT_FILE", val: stringValue{&c.KafkaTLSCert}, desc: "PEM client certificate for Kafka mTLS"},
		{name: "KAFKA_TLS_KEY_FILE", val: stringValue{&c.KafkaTLSKey}, desc: "PEM client key for Kafka mTLS"},
		{name: "KAFKA_TLS_INSECURE_SKIP_VERIFY", val: boolValue{&c.KafkaTLSSkipVerify}, desc: "skip Kafka certificate verification (testing only)"},
		{name: "KAFKA_SASL_MECHANISM", val: stringValue{&c.KafkaSASLMechanism}, desc: "SASL mechanism: plain, scram-sha-256 or scram-sha-512 (empty: no SASL)"},
		{name: "KAFKA_SASL_USERNAME", val: stringValue{&c.KafkaSASLUsername}, desc: "SASL username"},
		{name: "KAFKA_SASL_PASSWORD", val: stringValue{&c.KafkaSASLPassword}, desc: "SASL password", secret: true},

		{name: "CLICKHOUSE_ADDR", val: stringValue{&c.ClickHouseAddr}, desc: "ClickHouse native-protocol host:port", errs: []error{sink.ErrAddr}},
		{name: "CLICKHOUSE_DATABASE", val: stringValue{&c.ClickHouseDatabase}, desc: "ClickHouse database (created by migrate)",
			errs: []error{sink.ErrDatabase, readback.ErrDatabase}},
		{name: "CLICKHOUSE_USERNAME", val: stringValue{&c.ClickHouseUsername}, desc: "ClickHouse user"},
		{name: "CLICKHOUSE_PASSWORD", val: stringValue{&c.ClickHousePassword}, desc: "ClickHouse password", secret: true},
		{name: "CLICKHOUSE_TLS", val: boolValue{&c.ClickHouseTLS}, desc: "connect to ClickHouse over TLS (secure native port, usually 9440)"},
		{name: "CLICKHOUSE_TLS_CA_FILE", val: stringValue{&c.ClickHouseTLSCA}, desc: "PEM CA bundle for ClickHouse TLS (default: system roots)"},
		{name: "CLICKHOUSE_TLS_INSECURE_SKIP_VERIFY", val: boolValue{&c.ClickHouseTLSSkipVerify}, desc: "skip ClickHouse certificate verification (testing only)"},

		{name: "HTTP_ADDR", val: stringValue{&c.HTTPAddr}, desc: "listen address of /metrics, /healthz and /readyz"},
		{name: "HTTP_WEB_CONFIG_FILE", val: stringValue{&c.HTTPWebConfig}, desc: "Prometheus exporter-toolkit web config (TLS, basic auth) for the HTTP endpoint"},

		{name: "PSEUDONYM_KEY", val: stringValue{&c.PseudonymKey}, secret: true,
			desc: "secret (>= 16 bytes) for HMAC-SHA256 pseudonyms of contact and account ids; required by run and replay",
			errs: []error{consumers.ErrPseudonymKey}},

		{name: "BUCKET_SIZE", val: durationValue{&c.BucketSize}, desc: "base time bucket of trust_counts (must divide 24h)",
			errs: []error{aggregate.ErrBucketSize, readback.ErrBucketSize}},
		{name: "BLOCK_SIZE", val: int64Value{&c.BlockSize}, desc: "offsets per block; commits happen at block ends, so up to this many records per partition are re-read after a crash",
			errs: []error{aggregate.ErrBlockSize}},
		{name: "FLUSH_INTERVAL", val: durationValue{&c.FlushInterval}, desc: "how often counted events are written to ClickHouse",
			errs: []error{consumers.ErrFlushInterval}},
		{name: "MAX_PENDING_ROWS", val: intValue{&c.MaxPendingRows}, desc: "rows held before an early flush (bounds memory)",
			errs: []error{consumers.ErrMaxPendingRows}},
		{name: "QUEUE_SIZE", val: intValue{&c.QueueSize}, desc: "records fetched ahead of processing", errs: []error{consumers.ErrQueueSize}},
		{name: "SHUTDOWN_TIMEOUT", val: durationValue{&c.ShutdownTimeout}, desc: "how long the final flush may take on SIGINT/SIGTERM",
			errs: []error{consumers.ErrShutdownTimeout}},
		{name: "MIGRATE", val: boolValue{&c.Migrate}, desc: "apply schema migrations when run starts (trustpipe migrate does only that)"},

		{name: "MAX_EVENT_BYTES", val: intValue{&c.MaxEventBytes}, desc: "records larger than this are rejected (too_large)", errs: []error{event.ErrMaxBytes}},
		{name: "MAX_DEPTH", val: intValue{&c.MaxDepth}, desc: "JSON nesting deeper than this is rejected (too_deep)", errs: []error{event.ErrMaxDepth}},
		{name: "MAX_SKEW", val: durationValue{&c.MaxSkew}, desc: "occurred_at may be this far after the record's Kafka timestamp", errs: []error{event.ErrMaxSkew}},
		{name: "MAX_AGE", val: durationValue{&c.MaxAge}, desc: "occurred_at may be this far before the record's Kafka timestamp (400 days)", errs: []error{event.ErrMaxAge}},

		{name: "INDEX_COMPONENTS", val: stringValue{&c.IndexComponents}, errs: []error{indicator.ErrIndexComponents},
			desc: "Trust Index overrides: name:key=value[,key=value][;name:...] with keys weight, good, bad, min_volume, e.g. complaint_rate:weight=4;preference_center_rate:weight=0 (empty: the documented defaults)"},

		{name: "READBACK_INTERVAL", val: durationValue{&c.ReadbackInterval}, errs: []error{readback.ErrInterval},
			desc: "how often the trust gauges (trustpipe_indicator, trustpipe_trust_index, ...) are read back from ClickHouse"},
		{name: "READBACK_BREAKDOWN", val: stringValue{&c.ReadbackBreakdown}, errs: []error{readback.ErrBreakdown},
			desc: "also export the trust gauges per value of one dimension: campaign_id, channel, segment or source (empty: off)"},
		{name: "READBACK_TOP_N", val: intValue{&c.ReadbackTopN}, errs: []error{readback.ErrTopN},
			desc: "with a breakdown, the values with the most events per window that get their own series (1-100); the rest are summed as dimension_value=\"other\""},

		{name: "LOG_LEVEL", val: stringValue{&c.LogLevel}, desc: "debug, info, warn or error"},
		{name: "LOG_FORMAT", val: stringValue{&c.LogFormat}, desc: "text or json"},
	}
}

// fileSuffix marks the variable holding the path of a secret's file.
const fileSuffix = "_FILE"

// readEnv sets every field whose variable lookup finds; readFile reads the
// files of secrets. The first unparsable value is returned as a
// *configError.
func readEnv(c *Config, lookup func(string) (string, bool), readFile func(string) ([]byte, error)) error {
	for _, s := range c.settings() {
		name := envPrefix + s.name
		v, set := lookup(name)
		if s.secret {
			path, fromFile := lookup(name + fileSuffix)
			if set && fromFile {
				return &configError{name: name, problem: fmt.Sprintf("both it and %s are set; set only one", name+fileSuffix), hideValue: true}
			}
			if fromFile {
				b, err := readFile(path)
				if err != nil {
					return &configError{name: name + fileSuffix, value: path, problem: fmt.Sprintf("cannot read the file: %v", errors.Unwrap(err))}
				}
				// Secret files usually end with a newline that is not part
				// of the secret.
				v, set = strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r"), true
			}
		}
		if !set {
			continue
		}
		if err := s.val.set(v); err != nil {
			return &configError{name: name, value: v, problem: "expected " + s.val.expected(), hideValue: s.secret}
		}
	}
	return nil
}

// configError is a bad configuration value: one line naming the variable,
// the value (never a secret's) and what is expected. Exit code 2.
type configError struct {
	name, value, problem string
	hideValue            bool // a secret, or no single value to blame
}

func (e *configError) Error() string {
	if e.hideValue {
		return e.name + ": " + e.problem
	}
	return fmt.Sprintf("%s=%q: %s", e.name, e.value, e.problem)
}

// explainSetting maps a stage's validation error to the setting it blames:
// the variable, its value and the sentinel's explanation. An error no
// setting claims is returned unchanged.
func (c Config) explainSetting(err error) error {
	var ce *configError
	if errors.As(err, &ce) {
		return err
	}
	for _, s := range c.settings() {
		for _, sentinel := range s.errs {
			if errors.Is(err, sentinel) {
				return &configError{name: envPrefix + s.name, value: s.val.String(), problem: detail(err, sentinel), hideValue: s.secret}
			}
		}
	}
	return err
}

// detail is err's text from the sentinel on (dropping the callers' context
// such as "pipeline: "), without a trailing ": got <value>" that the
// variable's value already shows.
func detail(err, sentinel error) string {
	msg := err.Error()
	if i := strings.Index(msg, sentinel.Error()); i >= 0 {
		msg = msg[i:]
	}
	if rest, ok := strings.CutPrefix(msg, sentinel.Error()+": got "); ok && !strings.Contains(rest, "\n") {
		return sentinel.Error()
	}
	return msg
}

// value is a setting's typed field.
type value interface {
	set(string) error
	String() string   // the value as a user writes it
	expected() string // what set accepts, for error messages
}

type stringValue struct{ p *string }

func (v stringValue) set(s string) error { *v.p = s; return nil }
func (v stringValue) String() string     { return *v.p }
func (v stringValue) expected() string   { return "text" }

// listValue is comma-separated; blanks around items are dropped, so
// "a, b" is two topics. An empty value is an empty list.
type listValue struct{ p *[]string }

func (v listValue) set(s string) error {
	*v.p = nil
	if strings.TrimSpace(s) == "" {
		return nil
	}
	for item := range strings.SplitSeq(s, ",") {
		*v.p = append(*v.p, strings.TrimSpace(item))
	}
	return nil
}
func (v listValue) String() string   { return strings.Join(*v.p, ",") }
func (v listValue) expected() string { return "a comma-separated list" }

type boolValue struct{ p *bool }

func (v boolValue) set(s string) error {
	b, err := strconv.ParseBool(strings.TrimSpace(s))
	*v.p = b
	return err
}
func (v boolValue) String() string   { return strconv.FormatBool(*v.p) }
func (v boolValue) expected() string { return "true or false" }

type intValue struct{ p *int }

func (v intValue) set(s string) error {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	*v.p = n
	return err
}
func (v intValue) String() string   { return strconv.Itoa(*v.p) }
func (v intValue) expected() string { return "a whole number, e.g. 10000 (no units or separators)" }

type int64Value struct{ p *int64 }

func (v int64Value) set(s string) error {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	*v.p = n
	return err
}
func (v int64Value) String() string   { return strconv.FormatInt(*v.p, 10) }
func (v int64Value) expected() string { return "a whole number, e.g. 10000 (no units or separators)" }

type durationValue struct{ p *time.Duration }

func (v durationValue) set(s string) error {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	*v.p = d
	return err
}
func (v durationValue) String() string { return formatDuration(*v.p) }
func (v durationValue) expected() string {
	return "a duration with a unit: ms, s, m or h, e.g. 500ms, 30s, 5m, 1h30m"
}

// formatDuration drops the zero tails of time.Duration.String: 1m, not 1m0s.
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// helpRow is one line of the variable table.
type helpRow struct{ name, def, desc string }

// helpRows is the variable table with the defaults: secrets get a second
// row for their _FILE variant.
func helpRows() []helpRow {
	c := defaultConfig()
	var rows []helpRow
	for _, s := range c.settings() {
		rows = append(rows, helpRow{envPrefix + s.name, s.val.String(), s.desc})
		if s.secret {
			rows = append(rows, helpRow{envPrefix + s.name + fileSuffix, "", "file holding " + envPrefix + s.name + " (Docker/Kubernetes secrets); set one of the two"})
		}
	}
	return rows
}

// printHelp lists every variable with its default.
func printHelp(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VARIABLE\tDEFAULT\tMEANING")
	for _, r := range helpRows() {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", r.name, r.def, r.desc)
	}
	return tw.Flush()
}

// markdownHelp is the same table for the README's Configuration section.
func markdownHelp() string {
	var b strings.Builder
	b.WriteString("| Variable | Default | Meaning |\n|---|---|---|\n")
	esc := strings.NewReplacer("|", `\|`)
	for _, r := range helpRows() {
		def := ""
		if r.def != "" {
			def = "`" + r.def + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", r.name, def, esc.Replace(r.desc))
	}
	return b.String()
}
