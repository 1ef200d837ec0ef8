package consumers

import (
	"context"
	"strings"
	"testing"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
)

// TestCheckTopicsNamesMissingOnes: against a broker that auto-creates
// topics, a missing input topic is reported, not created (kafka-go's group
// reader would spin on it without an error).
func TestCheckTopicsNamesMissingOnes(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "present"), kfake.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	if err := CheckTopics(ctx, c.ListenAddrs(), nil, []string{"present"}); err != nil {
		t.Fatalf("existing topic: %v", err)
	}
	err = CheckTopics(ctx, c.ListenAddrs(), nil, []string{"present", "typo-events"})
	if err == nil || !strings.Contains(err.Error(), "do not exist: typo-events") {
		t.Fatalf("CheckTopics = %v, want typo-events named as missing", err)
	}
	if err := CheckTopics(ctx, c.ListenAddrs(), nil, []string{"typo-events"}); err == nil {
		t.Fatal("the check created the missing topic")
	}
}

// TestNewReaderQueue: the queue holds as many records as the byte budget
// holds at the largest record size, never more than the record limit nor
// fewer than one, and a fetch never asks for more than the budget.
func TestNewReaderQueue(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct {
		name                           string
		records, budget, largestRecord int
		want                           ReaderQueue
	}{
		{"defaults, broker default record", 8192, 64 * mib, DefaultMaxMessageBytes, ReaderQueue{Capacity: 63, MaxBytes: FetchMaxBytes}},
		{"small records: the record limit binds", 8192, 64 * mib, 1024, ReaderQueue{Capacity: 8192, MaxBytes: FetchMaxBytes}},
		{"budget exactly 100 records", 8192, 100 * 4096, 4096, ReaderQueue{Capacity: 100, MaxBytes: 100 * 4096}},
		{"record larger than the budget: one", 8192, 2 * mib, 10 * mib, ReaderQueue{Capacity: 1, MaxBytes: 2 * mib}},
		{"budget below one fetch", 10, 3 * mib, mib, ReaderQueue{Capacity: 3, MaxBytes: 3 * mib}},
		{"unknown record size is not a division by zero", 5, mib, 0, ReaderQueue{Capacity: 5, MaxBytes: mib}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := NewReaderQueue(tc.records, tc.budget, tc.largestRecord)
			if got != tc.want {
				t.Fatalf("NewReaderQueue(%d, %d, %d) = %+v, want %+v", tc.records, tc.budget, tc.largestRecord, got, tc.want)
			}
			if tc.largestRecord > 0 && got.Capacity > 1 && got.Capacity*tc.largestRecord > tc.budget {
				t.Fatalf("queued records may hold %d bytes, above the budget %d", got.Capacity*tc.largestRecord, tc.budget)
			}
		})
	}
}

// TestTopicMaxMessageBytes reads the largest max.message.bytes of the
// topics from the broker.
func TestTopicMaxMessageBytes(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "a", "b"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cl := &kafka.Client{Addr: kafka.TCP(c.ListenAddrs()...)}
	ctx := context.Background()
	res, err := cl.AlterConfigs(ctx, &kafka.AlterConfigsRequest{Resources: []kafka.AlterConfigRequestResource{{
		ResourceType: kafka.ResourceTypeTopic, ResourceName: "b",
		Configs: []kafka.AlterConfigRequestConfig{{Name: "max.message.bytes", Value: "5000000"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range res.Errors {
		if e != nil {
			t.Fatal(e)
		}
	}
	got, err := TopicMaxMessageBytes(ctx, c.ListenAddrs(), nil, []string{"a"})
	if err != nil || got != DefaultMaxMessageBytes {
		t.Fatalf("topic a: %d, %v; want the default %d", got, err, DefaultMaxMessageBytes)
	}
	if got, err := TopicMaxMessageBytes(ctx, c.ListenAddrs(), nil, []string{"a", "b"}); err != nil || got != 5000000 {
		t.Fatalf("topics a, b: %d, %v; want 5000000", got, err)
	}
}
