package consumers

import (
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"slices"
	"strings"

	"github.com/segmentio/kafka-go"
)

// KafkaConfig says where the live pipeline reads: the brokers, the input
// topics and the consumer group. It is checked before anything connects, so
// a typo fails at once instead of deep inside kafka-go's group loop.
type KafkaConfig struct {
	Brokers []string // bootstrap host:port list
	Topics  []string // input topics
	Group   string   // consumer group id
}

// DefaultKafkaConfig is a local single-broker setup: 127.0.0.1:9092, topic
// trust-events, group trustpipe.
func DefaultKafkaConfig() KafkaConfig {
	return KafkaConfig{Brokers: []string{"127.0.0.1:9092"}, Topics: []string{"trust-events"}, Group: "trustpipe"}
}

// The errors KafkaConfig.Validate and CheckDeadLetterTopic wrap, and the
// ones a running pipeline reports when Kafka fails it, so a caller can name
// its own settings.
var (
	ErrNoBrokers         = errors.New("at least one Kafka broker (host:port) is needed")
	ErrBroker            = errors.New("a Kafka broker must be host:port")
	ErrNoTopics          = errors.New("at least one input topic is needed")
	ErrTopic             = errors.New("an input topic must be a valid Kafka topic name")
	ErrNoGroup           = errors.New("a consumer group id is needed")
	ErrDeadLetterIsInput = errors.New("the dead-letter topic must not be an input topic (rejected records would be read again)")

	// ErrUnreachable: no broker answered (wrong address, broker down, or
	// TLS/SASL refused).
	ErrUnreachable = errors.New("no Kafka broker answered")
	// ErrFetch: the brokers answered once but fetching failed for good
	// (typically a topic that does not exist).
	ErrFetch = errors.New("fetch from Kafka failed (check the brokers and that the topics exist)")
)

// Validate reports the first problem; the error wraps one of the sentinels
// above and names the offending value.
func (k KafkaConfig) Validate() error {
	if len(k.Brokers) == 0 {
		return ErrNoBrokers
	}
	for _, b := range k.Brokers {
		if host, port, err := net.SplitHostPort(b); err != nil || host == "" || port == "" {
			return fmt.Errorf("%w: got %q", ErrBroker, b)
		}
	}
	if len(k.Topics) == 0 {
		return ErrNoTopics
	}
	for _, t := range k.Topics {
		if err := validTopic(t); err != nil {
			return fmt.Errorf("%w: %w", ErrTopic, err)
		}
	}
	if strings.TrimSpace(k.Group) == "" {
		return fmt.Errorf("%w: got %q", ErrNoGroup, k.Group)
	}
	return nil
}

// CheckDeadLetterTopic refuses a dead-letter topic that is also an input.
func CheckDeadLetterTopic(topics []string, deadLetter string) error {
	if slices.Contains(topics, deadLetter) {
		return fmt.Errorf("%w: got %q", ErrDeadLetterIsInput, deadLetter)
	}
	return nil
}

// topicRe is Kafka's rule for topic names (at most 249 of these characters).
var topicRe = regexp.MustCompile(`^[A-Za-z0-9._-]{1,249}$`)

func validTopic(t string) error {
	if !topicRe.MatchString(t) || t == "." || t == ".." {
		return fmt.Errorf("%q: use 1 to 249 letters, digits, '.', '_' or '-'", t)
	}
	return nil
}

// Ping returns nil once one broker accepts a connection (TLS and SASL
// included, through dialer); otherwise an error wrapping ErrUnreachable with
// each broker's failure.
func Ping(ctx context.Context, dialer *kafka.Dialer, brokers []string) error {
	var failures []string
	for _, b := range brokers {
		conn, err := dialer.DialContext(ctx, "tcp", b)
		if err == nil {
			return conn.Close()
		}
		failures = append(failures, fmt.Sprintf("%s: %v", b, err))
	}
	return fmt.Errorf("%w: %s", ErrUnreachable, strings.Join(failures, "; "))
}
