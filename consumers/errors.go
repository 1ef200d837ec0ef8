package consumers

import (
	"errors"

	"github.com/segmentio/kafka-go"

	"github.com/trustpipe/trustpipe/sink"
)

// kafkaPermanent are the Kafka errors that no retry fixes, with what to
// do. The Writer retries leader changes and other transient errors itself;
// these it hands back for ever.
var kafkaPermanent = map[kafka.Error]string{
	kafka.UnknownTopicOrPartition:    "the dead-letter topic does not exist: create it or enable auto.create.topics.enable on the brokers",
	kafka.InvalidTopic:               "the dead-letter topic name is invalid: fix the configured name",
	kafka.TopicAuthorizationFailed:   "the Kafka principal may not write the dead-letter topic: grant it WRITE and DESCRIBE on the topic (ACLs)",
	kafka.ClusterAuthorizationFailed: "the Kafka principal lacks a cluster permission: grant it IDEMPOTENT_WRITE or CREATE on the cluster as needed (ACLs)",
	kafka.SASLAuthenticationFailed:   "Kafka rejected the credentials: check the SASL mechanism, username and password",
	kafka.MessageSizeTooLarge:        "a dead letter exceeds the broker's limit: raise max.message.bytes of the dead-letter topic to at least 1 MiB",
	kafka.RecordListTooLarge:         "a dead-letter batch exceeds the broker's limit: raise max.message.bytes of the dead-letter topic to at least 1 MiB",
}

// retryable is the pipeline's one classifier of failed store steps
// (publishing dead letters, writing ClickHouse): retry (with backoff) when a
// retry can succeed, otherwise stop with advice, rather than retry for ever
// with nothing committed. ClickHouse errors are classified by the sink.
func retryable(err error) (retry bool, advice string) {
	if err == nil {
		return false, ""
	}
	var we kafka.WriteErrors
	if errors.As(err, &we) {
		for _, e := range we {
			if e == nil {
				continue
			}
			if retry, advice := retryable(e); !retry {
				return false, advice
			}
		}
		return true, ""
	}
	var ke kafka.Error
	if errors.As(err, &ke) {
		if advice, ok := kafkaPermanent[ke]; ok {
			return false, advice
		}
		return true, ""
	}
	if !sink.Retryable(err) {
		return false, sink.Advice(err)
	}
	return true, ""
}
