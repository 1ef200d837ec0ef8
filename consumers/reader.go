package consumers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
)

// FetchMaxBytes bounds one fetch response, of the reader and of
// Transactions.
const FetchMaxBytes = 4 << 20

// NewGroupReader returns the consumer-group reader the pipeline is built
// for: explicit synchronous commits only (never auto-commit: offsets move
// only when a block is stored), reading from the earliest offset for a new
// group, read committed (records of open transactions are not handed out
// until they are decided; Transactions then tells markers and aborted
// records apart, which kafka-go does not), and a fetch queue of q.Capacity
// records, fetched q.MaxBytes at a time (see NewReaderQueue), to keep the
// processing goroutine busy. dialer carries TLS and SASL; log may be nil.
//
// MaxWait is also kafka-go's deadline for the first bytes of a fetch
// response: a short one (250 ms) times out, and re-fetches the same offset
// for ever, when a busy or slow broker takes longer to assemble a large
// response. A second costs nothing while records flow (the broker answers as
// soon as MinBytes are there) and MaxBytes keeps responses quick to build.
//
// isolation is kafka.ReadCommitted unless the topics have no transactional
// producers: kafka.ReadUncommitted then saves the classifier's fetches
// (the pipeline runs without Transactions), but would count records of
// open and aborted transactions, and dead-letter markers, if there were any.
func NewGroupReader(brokers []string, group string, topics []string, dialer *kafka.Dialer, q ReaderQueue, isolation kafka.IsolationLevel, log *slog.Logger) *kafka.Reader {
	cfg := kafka.ReaderConfig{
		Brokers:               brokers,
		GroupID:               group,
		GroupTopics:           topics,
		Dialer:                dialer,
		MinBytes:              1,
		MaxBytes:              q.MaxBytes,
		IsolationLevel:        isolation,
		MaxWait:               time.Second,
		QueueCapacity:         q.Capacity,
		CommitInterval:        0,
		StartOffset:           kafka.FirstOffset,
		ReadLagInterval:       -1,
		WatchPartitionChanges: true,
	}
	if log != nil {
		cfg.ErrorLogger = kafka.LoggerFunc(func(msg string, a ...any) { log.Warn("kafka: " + fmt.Sprintf(msg, a...)) })
	}
	return kafka.NewReader(cfg)
}

// DefaultMaxMessageBytes is the broker's default largest record batch
// (message.max.bytes, 1 MiB + 12 bytes), assumed for a topic whose
// max.message.bytes cannot be read (e.g. no DescribeConfigs permission).
const DefaultMaxMessageBytes = 1048588

// ReaderQueue sizes kafka-go's fetch-ahead: it holds up to Capacity
// records plus one fetch response of up to MaxBytes being decoded.
type ReaderQueue struct {
	Capacity int
	MaxBytes int
}

// NewReaderQueue derives the reader's queue from the record limit
// (Config.QueueSize), the byte budget (Config.QueueBytes) and the largest
// record the broker accepts: as many records as the budget holds at that
// size (at least one, at most records), and fetches of at most the budget
// (and FetchMaxBytes). Queued records then hold at most the budget, and a
// fetch in progress at most MaxBytes more (a broker still returns a first
// batch larger than MaxBytes whole, so a single record can always be read).
func NewReaderQueue(records, budget, largestRecord int) ReaderQueue {
	return ReaderQueue{
		Capacity: max(1, min(records, budget/max(1, largestRecord))),
		MaxBytes: max(1, min(budget, FetchMaxBytes)),
	}
}

// TopicMaxMessageBytes returns the largest max.message.bytes of topics,
// read with DescribeConfigs. A caller that cannot read it (an error) falls
// back to DefaultMaxMessageBytes. max.message.bytes bounds a record batch
// as stored, which for compressed topics is smaller than the records it
// decodes to: the queue bound assumes uncompressed batches.
func TopicMaxMessageBytes(ctx context.Context, brokers []string, transport kafka.RoundTripper, topics []string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cl := &kafka.Client{Addr: kafka.TCP(brokers...), Transport: transport}
	req := &kafka.DescribeConfigsRequest{}
	for _, t := range topics {
		req.Resources = append(req.Resources, kafka.DescribeConfigRequestResource{
			ResourceType: kafka.ResourceTypeTopic, ResourceName: t, ConfigNames: []string{"max.message.bytes"}})
	}
	res, err := cl.DescribeConfigs(ctx, req)
	if err != nil {
		return 0, fmt.Errorf("describe topics %s: %w", strings.Join(topics, ","), err)
	}
	largest := 0
	for _, r := range res.Resources {
		if r.Error != nil {
			return 0, fmt.Errorf("describe topic %s: %w", r.ResourceName, r.Error)
		}
		for _, e := range r.ConfigEntries {
			if e.ConfigName != "max.message.bytes" {
				continue
			}
			n, err := strconv.Atoi(e.ConfigValue)
			if err != nil || n <= 0 {
				return 0, fmt.Errorf("topic %s: max.message.bytes %q is not a positive number", r.ResourceName, e.ConfigValue)
			}
			largest = max(largest, n)
		}
	}
	if largest == 0 {
		return 0, fmt.Errorf("topics %s: no max.message.bytes returned", strings.Join(topics, ","))
	}
	return largest, nil
}

// CheckTopics fails, naming them, when input topics do not exist. kafka-go's
// group reader does not report a missing topic: its group loop logs
// thousands of warnings a second while /readyz stays ready and nothing is
// read. A missing input topic is a configuration error (input topics are
// never auto-created: the metadata request here does not ask for it), so
// `run` checks before joining the group and stops with advice; a topic
// deleted later shows as rising kafka warnings and a stale
// trustpipe_last_flush_success_timestamp_seconds.
func CheckTopics(ctx context.Context, brokers []string, transport kafka.RoundTripper, topics []string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cl := &kafka.Client{Addr: kafka.TCP(brokers...), Transport: transport}
	res, err := cl.Metadata(ctx, &kafka.MetadataRequest{Topics: topics})
	if err != nil {
		return fmt.Errorf("look up input topics %s: %w", strings.Join(topics, ","), err)
	}
	var missing []string
	for _, t := range res.Topics {
		switch {
		case errors.Is(t.Error, kafka.UnknownTopicOrPartition):
			missing = append(missing, t.Name)
		case t.Error != nil:
			return fmt.Errorf("input topic %s: %w", t.Name, t.Error)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("input topics do not exist: %s (create them, or fix the topics setting)", strings.Join(missing, ","))
	}
	return nil
}
