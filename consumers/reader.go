package consumers

import (
	"fmt"
	"log/slog"
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
// records apart, which kafka-go does not), and a fetch queue of queueSize records (Config.QueueSize) to keep
// the processing goroutine busy. dialer carries TLS and SASL; log may be nil.
//
// MaxWait is also kafka-go's deadline for the first bytes of a fetch
// response: a short one (250 ms) times out, and re-fetches the same offset
// for ever, when a busy or slow broker takes longer to assemble a large
// response. A second costs nothing while records flow (the broker answers as
// soon as MinBytes are there) and MaxBytes keeps responses quick to build.
func NewGroupReader(brokers []string, group string, topics []string, dialer *kafka.Dialer, queueSize int, log *slog.Logger) *kafka.Reader {
	cfg := kafka.ReaderConfig{
		Brokers:               brokers,
		GroupID:               group,
		GroupTopics:           topics,
		Dialer:                dialer,
		MinBytes:              1,
		MaxBytes:              FetchMaxBytes,
		IsolationLevel:        kafka.ReadCommitted,
		MaxWait:               time.Second,
		QueueCapacity:         queueSize,
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
