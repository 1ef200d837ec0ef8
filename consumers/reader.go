package consumers

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/segmentio/kafka-go"
)

// NewGroupReader returns the consumer-group reader the pipeline is built
// for: explicit synchronous commits only (never auto-commit: offsets move
// only when a block is stored), reading from the earliest offset for a new
// group, and a fetch queue deep enough to keep the processing goroutine
// busy. dialer carries TLS and SASL; log may be nil.
func NewGroupReader(brokers []string, group string, topics []string, dialer *kafka.Dialer, log *slog.Logger) *kafka.Reader {
	cfg := kafka.ReaderConfig{
		Brokers:               brokers,
		GroupID:               group,
		GroupTopics:           topics,
		Dialer:                dialer,
		MinBytes:              1,
		MaxBytes:              16 << 20,
		MaxWait:               250 * time.Millisecond,
		QueueCapacity:         4096,
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
