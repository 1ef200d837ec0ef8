package consumers

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/trustpipe/trustpipe/aggregate"
	"github.com/trustpipe/trustpipe/aggregate/event"
)

func TestKafkaConfigValidate(t *testing.T) {
	if err := DefaultKafkaConfig().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	for _, c := range []struct {
		name  string
		edit  func(*KafkaConfig)
		want  error
		value string
	}{
		{"no brokers", func(k *KafkaConfig) { k.Brokers = nil }, ErrNoBrokers, ""},
		{"broker without port", func(k *KafkaConfig) { k.Brokers = []string{"kafka"} }, ErrBroker, `got "kafka"`},
		{"empty broker", func(k *KafkaConfig) { k.Brokers = []string{"a:9092", ""} }, ErrBroker, `got ""`},
		{"no topics", func(k *KafkaConfig) { k.Topics = nil }, ErrNoTopics, ""},
		{"empty topic", func(k *KafkaConfig) { k.Topics = []string{"a", ""} }, ErrTopic, `""`},
		{"topic with a space", func(k *KafkaConfig) { k.Topics = []string{"trust events"} }, ErrTopic, `"trust events"`},
		{"topic dot", func(k *KafkaConfig) { k.Topics = []string{".."} }, ErrTopic, `".."`},
		{"no group", func(k *KafkaConfig) { k.Group = " " }, ErrNoGroup, `got " "`},
	} {
		k := DefaultKafkaConfig()
		c.edit(&k)
		err := k.Validate()
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.value) {
			t.Errorf("%s: err = %v, want %v naming %s", c.name, err, c.want, c.value)
		}
	}
}

func TestCheckDeadLetterTopic(t *testing.T) {
	if err := CheckDeadLetterTopic([]string{"a", "b"}, "a-dlq"); err != nil {
		t.Fatal(err)
	}
	if err := CheckDeadLetterTopic([]string{"a", "b"}, "b"); !errors.Is(err, ErrDeadLetterIsInput) || !strings.Contains(err.Error(), `"b"`) {
		t.Fatalf("err = %v, want ErrDeadLetterIsInput naming b", err)
	}
}

func TestPipelineConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	for _, c := range []struct {
		name string
		edit func(*Config)
		want error
	}{
		{"bucket", func(c *Config) { c.Aggregate.BucketSize = 7 * time.Minute }, aggregate.ErrBucketSize},
		{"block", func(c *Config) { c.Aggregate.BlockSize = 0 }, aggregate.ErrBlockSize},
		{"limits", func(c *Config) { c.Limits.MaxDepth = 0 }, event.ErrMaxDepth},
		{"dead-letter topic", func(c *Config) { c.DeadLetterTopic = "" }, ErrDeadLetterTopic},
		{"flush", func(c *Config) { c.FlushInterval = 0 }, ErrFlushInterval},
		{"rows", func(c *Config) { c.MaxPendingRows = -1 }, ErrMaxPendingRows},
		{"dead-letter bytes", func(c *Config) { c.MaxPendingDeadLetterBytes = 0 }, ErrDeadLetterBytes},
		{"queue", func(c *Config) { c.QueueSize = 0 }, ErrQueueSize},
		{"queue bytes", func(c *Config) { c.QueueBytes = DefaultMaxMessageBytes - 1 }, ErrQueueBytes},
		{"shutdown", func(c *Config) { c.ShutdownTimeout = 0 }, ErrShutdownTimeout},
		{"backoff", func(c *Config) { c.RetryBackoff = time.Minute }, ErrRetryBackoff},
	} {
		cfg := DefaultConfig()
		c.edit(&cfg)
		if err := cfg.Validate(); !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
		}
		if _, err := New(cfg, Deps{}); !errors.Is(err, c.want) {
			t.Errorf("%s: New err = %v, want %v", c.name, err, c.want)
		}
	}
}
