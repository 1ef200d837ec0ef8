package consumers

import (
	"context"
	"strings"
	"testing"

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
