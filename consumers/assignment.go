package consumers

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"

	"github.com/segmentio/kafka-go"

	"github.com/trustpipe/trustpipe/aggregate"
)

// ErrAssignmentUnknown is wrapped when the group coordinator's answer does
// not say for sure which partitions this member holds (the group is
// rebalancing, or this member is not, or not yet, among its members).
var ErrAssignmentUnknown = errors.New("partition assignment not known")

// Assignment reports the partitions the consumer group assigns to this
// member. kafka-go's group reader does not tell which partitions a
// rebalance took away, so the pipeline asks after each rebalance and frees
// the state of the others.
type Assignment interface {
	// Assigned returns the partitions held, or an error wrapping
	// ErrAssignmentUnknown when the answer is not definite.
	Assigned(ctx context.Context) (map[aggregate.Partition]bool, error)
}

// UniqueClientID returns a Kafka client id no other process shares
// (trustpipe-<host>-<pid>-<random>): the group coordinator lists members by
// it, and GroupAssignment finds this process's member by it.
func UniqueClientID() string {
	host, err := os.Hostname()
	if err != nil {
		host = "unknown"
	}
	var b [4]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24)
	return fmt.Sprintf("trustpipe-%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// GroupAssignment asks the group coordinator (DescribeGroups) which
// partitions the member whose client id is ClientID holds. The reader must
// dial with that client id (kafka.Dialer.ClientID).
type GroupAssignment struct {
	Client   *kafka.Client
	Group    string
	ClientID string
}

// Assigned implements Assignment. Only a Stable group with exactly one
// member of this client id gives a definite answer: while the group
// rebalances, assignments are those of a generation being replaced.
func (g GroupAssignment) Assigned(ctx context.Context) (map[aggregate.Partition]bool, error) {
	res, err := g.Client.DescribeGroups(ctx, &kafka.DescribeGroupsRequest{GroupIDs: []string{g.Group}})
	if err != nil {
		return nil, fmt.Errorf("describe consumer group %s: %w", g.Group, err)
	}
	if len(res.Groups) != 1 {
		return nil, fmt.Errorf("%w: %d groups described, want 1", ErrAssignmentUnknown, len(res.Groups))
	}
	grp := res.Groups[0]
	if grp.Error != nil {
		return nil, fmt.Errorf("describe consumer group %s: %w", g.Group, grp.Error)
	}
	if grp.GroupState != "Stable" {
		return nil, fmt.Errorf("%w: group %s is %s", ErrAssignmentUnknown, g.Group, grp.GroupState)
	}
	var owned map[aggregate.Partition]bool
	for _, m := range grp.Members {
		if m.ClientID != g.ClientID {
			continue
		}
		if owned != nil {
			return nil, fmt.Errorf("%w: client id %s is not unique in group %s", ErrAssignmentUnknown, g.ClientID, g.Group)
		}
		owned = make(map[aggregate.Partition]bool)
		for _, t := range m.MemberAssignments.Topics {
			for _, p := range t.Partitions {
				owned[aggregate.Partition{Topic: t.Topic, Partition: int32(p)}] = true
			}
		}
	}
	if owned == nil {
		return nil, fmt.Errorf("%w: client id %s is not a member of group %s", ErrAssignmentUnknown, g.ClientID, g.Group)
	}
	return owned, nil
}
