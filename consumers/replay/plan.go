package replay

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/trustpipe/trustpipe/consumers"
)

// InputError is a request that cannot be replayed as asked: a malformed or
// inverted range, an unknown topic or partition, offsets outside the
// partition. The command reports it as bad input (exit code 2).
type InputError struct{ msg string }

func (e *InputError) Error() string { return e.msg }

func inputErrorf(format string, args ...any) error {
	return &InputError{fmt.Sprintf(format, args...)}
}

// Offset sentinels of a Range.
const (
	// ToEnd as Range.To means "through the partition's last record"
	// (high watermark - 1, read when the plan is made).
	ToEnd int64 = -1
	// FromStart as Range.From means "from the partition's log start".
	FromStart int64 = -2
)

// Range is an inclusive range of offsets of one partition.
type Range struct {
	Topic     string
	Partition int
	From, To  int64
}

func (r Range) String() string {
	to := strconv.FormatInt(r.To, 10)
	if r.To == ToEnd {
		to = "end"
	}
	from := strconv.FormatInt(r.From, 10)
	if r.From == FromStart {
		from = "start"
	}
	return fmt.Sprintf("%s/%d:%s-%s", r.Topic, r.Partition, from, to)
}

// Len is the number of offsets in r.
func (r Range) Len() int64 { return r.To - r.From + 1 }

// Selection is what to replay. Exactly one of All, a time range (From and
// To set) or Offsets is used.
type Selection struct {
	// Topics are replayed in the All and time modes. Offsets name their own.
	Topics []string
	// Partitions restricts the All and time modes; empty means every
	// partition.
	Partitions []int
	// All replays every retained record.
	All bool
	// From and To select records by Kafka timestamp, From <= t < To, through
	// the broker's timestamp index (the first offset at or after a time).
	From, To time.Time
	// Offsets are explicit inclusive ranges. A range whose From is at or past
	// the partition's end is treated as "nothing new" only when its To is
	// ToEnd (a catch-up); otherwise offsets outside the partition are an
	// InputError.
	Offsets []Range
}

// Validate checks a Selection without asking the broker.
func (s Selection) Validate() error {
	modes := 0
	if s.All {
		modes++
	}
	if !s.From.IsZero() || !s.To.IsZero() {
		modes++
		if s.From.IsZero() || s.To.IsZero() {
			return inputErrorf("give both --from and --to")
		}
		if !s.From.Before(s.To) {
			return inputErrorf("--from %s is not before --to %s", s.From.Format(time.RFC3339), s.To.Format(time.RFC3339))
		}
	}
	if len(s.Offsets) > 0 {
		modes++
		if len(s.Partitions) > 0 {
			return inputErrorf("--partitions applies to --from/--to and --all; --offsets names its own partitions")
		}
	}
	if modes != 1 {
		return inputErrorf("choose exactly one of --from/--to, --offsets or --all")
	}
	if len(s.Offsets) == 0 && len(s.Topics) == 0 {
		return inputErrorf("no topic to replay")
	}
	for _, r := range s.Offsets {
		if r.From < 0 && r.From != FromStart || r.To < 0 && r.To != ToEnd {
			return inputErrorf("offsets %s: offsets are non-negative", r)
		}
		if r.To != ToEnd && r.From > r.To {
			return inputErrorf("offsets %s: FROM is after TO", r)
		}
	}
	return nil
}

// ParseOffsets parses --offsets: P:FROM-TO[,P:FROM-TO…], inclusive; TO may
// be omitted ("P:FROM-") to read to the partition's end.
func ParseOffsets(topic, spec string) ([]Range, error) {
	var out []Range
	for item := range strings.SplitSeq(spec, ",") {
		item = strings.TrimSpace(item)
		bad := func(why string) error {
			return inputErrorf("--offsets %q: %s; want PARTITION:FROM-TO[,PARTITION:FROM-TO…], e.g. 0:1000-4999,2:0-", item, why)
		}
		p, rng, ok := strings.Cut(item, ":")
		if !ok {
			return nil, bad("missing ':'")
		}
		part, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || part < 0 {
			return nil, bad("partition is not a non-negative integer")
		}
		f, t, ok := strings.Cut(rng, "-")
		if !ok {
			return nil, bad("missing '-' between FROM and TO")
		}
		from, err := strconv.ParseInt(strings.TrimSpace(f), 10, 64)
		if err != nil || from < 0 {
			return nil, bad("FROM is not a non-negative integer")
		}
		to := ToEnd
		if t = strings.TrimSpace(t); t != "" {
			if to, err = strconv.ParseInt(t, 10, 64); err != nil || to < 0 {
				return nil, bad("TO is not a non-negative integer")
			}
			if from > to {
				return nil, bad("FROM is after TO")
			}
		}
		out = append(out, Range{Topic: topic, Partition: part, From: from, To: to})
	}
	return out, nil
}

// ParsePartitions parses --partitions: a comma-separated list like 0,2,5.
func ParsePartitions(spec string) ([]int, error) {
	var out []int
	for item := range strings.SplitSeq(spec, ",") {
		p, err := strconv.Atoi(strings.TrimSpace(item))
		if err != nil || p < 0 {
			return nil, inputErrorf("--partitions %q: want a comma-separated list of partition numbers, e.g. 0,2", spec)
		}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out, nil
}

// ParseTime parses --from/--to: RFC 3339 ("2026-11-20T08:00:00Z"), a UTC
// date ("2026-11-20") or date and time ("2026-11-20T08:00", "2026-11-20
// 08:00:00"), "now", or a duration before now ("-36h", "now-36h").
func ParseTime(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "now" {
		return now, nil
	}
	if d, ok := strings.CutPrefix(s, "now"); ok && d != "" {
		s = d
	}
	if strings.HasPrefix(s, "-") {
		if d, err := time.ParseDuration(s[1:]); err == nil && d >= 0 {
			return now.Add(-d), nil
		}
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02T15:04", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t, nil
		}
	}
	return time.Time{}, inputErrorf("time %q: use RFC 3339 (2026-11-20T08:00:00Z), a UTC date (2026-11-20), \"now\" or a duration before now (-36h)", s)
}

// Widen extends r (inclusive offsets, within [logStart, hw)) to whole blocks
// of blockSize offsets: from the start of the block holding r.From to the end
// of the block holding r.To, but not past the partition's last record
// (hw-1). Replaying whole blocks is what keeps a replay from writing a
// partial block's counts over a complete one (DESIGN.md, "Exactness").
//
// A block that begins before logStart was partly deleted by retention:
// re-reading what is left of it would replace its complete rows with partial
// ones, so it is not rewritten. skipped holds those offsets (or is empty),
// and ok is false when nothing of r can be rewritten.
func Widen(r Range, blockSize, logStart, hw int64) (w Range, skipped Range, ok bool) {
	w = r
	w.From = r.From / blockSize * blockSize
	w.To = min((r.To/blockSize+1)*blockSize-1, hw-1)
	if w.From < logStart {
		safe := (logStart + blockSize - 1) / blockSize * blockSize
		skipped = Range{Topic: r.Topic, Partition: r.Partition, From: w.From, To: min(safe-1, w.To)}
		w.From = safe
	} else {
		skipped = Range{Topic: r.Topic, Partition: r.Partition, From: 0, To: -1}
	}
	return w, skipped, w.From <= w.To
}

// Planned is one partition range of a Plan.
type Planned struct {
	// Requested is the range asked for, resolved to offsets (for a time
	// range: the offsets the timestamp index returned).
	Requested Range
	// Widened is what is read: Requested extended to whole blocks.
	Widened Range
	// LogStart and HighWatermark bound the partition when the plan was made.
	LogStart, HighWatermark int64
}

// Plan is a Selection resolved against the broker.
type Plan struct {
	BlockSize int64
	Ranges    []Planned
	// Skipped are blocks not rewritten because retention deleted part of them.
	Skipped []Range
	// Empty lists partitions where the selection holds no records.
	Empty []string
}

// Offsets is the number of offsets the plan reads.
func (p *Plan) Offsets() int64 {
	var n int64
	for _, r := range p.Ranges {
		n += r.Widened.Len()
	}
	return n
}

// Partitions is the number of distinct partitions the plan reads.
func (p *Plan) Partitions() int {
	seen := map[string]bool{}
	for _, r := range p.Ranges {
		seen[fmt.Sprintf("%s/%d", r.Widened.Topic, r.Widened.Partition)] = true
	}
	return len(seen)
}

// Blocks is the number of blocks the plan reads.
func (p *Plan) Blocks() int64 {
	var n int64
	for _, r := range p.Ranges {
		n += r.Widened.To/p.BlockSize - r.Widened.From/p.BlockSize + 1
	}
	return n
}

// partitionInfo bounds one partition: offsets in [logStart, hw) exist.
type partitionInfo struct {
	logStart, hw int64
}

// broker is what planning needs from Kafka; *kafka.Client implements it
// through the adapter in replay.go, tests fake it.
type broker interface {
	partitions(ctx context.Context, topic string) ([]int, error)
	bounds(ctx context.Context, topic string, parts []int) (map[int]partitionInfo, error)
	// offsetsAt returns, per partition, the first offset whose timestamp is
	// at or after t, or -1 when there is none.
	offsetsAt(ctx context.Context, topic string, parts []int, t time.Time) (map[int]int64, error)
}

// plan resolves sel against b.
func plan(ctx context.Context, b broker, sel Selection, blockSize int64) (*Plan, error) {
	if err := sel.Validate(); err != nil {
		return nil, err
	}
	p := &Plan{BlockSize: blockSize}
	var requested []Planned
	topics := sel.Topics
	byTopic := map[string][]Range{}
	if len(sel.Offsets) > 0 {
		topics = nil
		for _, r := range sel.Offsets {
			if _, ok := byTopic[r.Topic]; !ok {
				topics = append(topics, r.Topic)
			}
			byTopic[r.Topic] = append(byTopic[r.Topic], r)
		}
	}
	for _, topic := range topics {
		all, err := b.partitions(ctx, topic)
		if err != nil {
			return nil, err
		}
		parts := all
		if len(sel.Partitions) > 0 {
			parts = sel.Partitions
		}
		if len(sel.Offsets) > 0 {
			parts = nil
			for _, r := range byTopic[topic] {
				if !slices.Contains(parts, r.Partition) {
					parts = append(parts, r.Partition)
				}
			}
		}
		for _, pt := range parts {
			if !slices.Contains(all, pt) {
				return nil, inputErrorf("partition %d: topic %s has partitions %s", pt, topic, describeParts(all))
			}
		}
		info, err := b.bounds(ctx, topic, parts)
		if err != nil {
			return nil, err
		}
		switch {
		case len(sel.Offsets) > 0:
			for _, r := range byTopic[topic] {
				in := info[r.Partition]
				if r.From == FromStart {
					r.From = in.logStart
				}
				if r.To == ToEnd {
					if r.From >= in.hw {
						p.Empty = append(p.Empty, fmt.Sprintf("%s/%d: no records at or after offset %d", topic, r.Partition, r.From))
						continue
					}
					r.To = in.hw - 1
				}
				if in.hw <= in.logStart {
					return nil, inputErrorf("offsets %s: partition %d of %s holds no records (log start = high watermark = %d)", r, r.Partition, topic, in.hw)
				}
				if r.To >= in.hw || r.To < in.logStart {
					return nil, inputErrorf("offsets %s are outside the topic: partition %d of %s holds offsets %d-%d", r, r.Partition, topic, in.logStart, in.hw-1)
				}
				requested = append(requested, Planned{Requested: r, LogStart: in.logStart, HighWatermark: in.hw})
			}
		case sel.All:
			for _, pt := range parts {
				in := info[pt]
				if in.hw <= in.logStart {
					p.Empty = append(p.Empty, fmt.Sprintf("%s/%d: no records", topic, pt))
					continue
				}
				requested = append(requested, Planned{Requested: Range{topic, pt, in.logStart, in.hw - 1}, LogStart: in.logStart, HighWatermark: in.hw})
			}
		default:
			from, err := b.offsetsAt(ctx, topic, parts, sel.From)
			if err != nil {
				return nil, err
			}
			to, err := b.offsetsAt(ctx, topic, parts, sel.To)
			if err != nil {
				return nil, err
			}
			for _, pt := range parts {
				in := info[pt]
				start, end := from[pt], to[pt]
				if end < 0 {
					end = in.hw
				}
				if start < 0 || end <= start {
					p.Empty = append(p.Empty, fmt.Sprintf("%s/%d: no records in the time range (partition holds offsets %d-%d)", topic, pt, in.logStart, in.hw-1))
					continue
				}
				requested = append(requested, Planned{Requested: Range{topic, pt, start, end - 1}, LogStart: in.logStart, HighWatermark: in.hw})
			}
		}
	}
	for _, r := range requested {
		w, skipped, ok := Widen(r.Requested, blockSize, r.LogStart, r.HighWatermark)
		if skipped.Len() > 0 {
			p.Skipped = append(p.Skipped, skipped)
		}
		if ok {
			r.Widened = w
			p.Ranges = append(p.Ranges, r)
		}
	}
	p.Ranges = mergeOverlaps(p.Ranges)
	p.Skipped = mergeRanges(p.Skipped)
	return p, nil
}

// mergeOverlaps sorts planned ranges and merges those whose widened ranges
// overlap or touch: a partition must be read forwards, each block once.
func mergeOverlaps(in []Planned) []Planned {
	slices.SortFunc(in, func(a, b Planned) int {
		return cmp.Or(strings.Compare(a.Widened.Topic, b.Widened.Topic), cmp.Compare(a.Widened.Partition, b.Widened.Partition), cmp.Compare(a.Widened.From, b.Widened.From))
	})
	var out []Planned
	for _, r := range in {
		if n := len(out); n > 0 {
			last := &out[n-1]
			if last.Widened.Topic == r.Widened.Topic && last.Widened.Partition == r.Widened.Partition && r.Widened.From <= last.Widened.To+1 {
				last.Widened.To = max(last.Widened.To, r.Widened.To)
				last.Requested.From = min(last.Requested.From, r.Requested.From)
				last.Requested.To = max(last.Requested.To, r.Requested.To)
				continue
			}
		}
		out = append(out, r)
	}
	return out
}

func mergeRanges(in []Range) []Range {
	ps := make([]Planned, len(in))
	for i, r := range in {
		ps[i] = Planned{Requested: r, Widened: r}
	}
	var out []Range
	for _, p := range mergeOverlaps(ps) {
		out = append(out, p.Widened)
	}
	return out
}

func describeParts(parts []int) string {
	if len(parts) == 0 {
		return "none"
	}
	s := slices.Sorted(slices.Values(parts))
	if s[len(s)-1]-s[0] == len(s)-1 {
		return fmt.Sprintf("%d-%d", s[0], s[len(s)-1])
	}
	strs := make([]string, len(s))
	for i, p := range s {
		strs[i] = strconv.Itoa(p)
	}
	return strings.Join(strs, ",")
}

// clientBroker asks a Kafka cluster through kafka-go's Client.
type clientBroker struct {
	client *kafka.Client
}

func (c clientBroker) partitions(ctx context.Context, topic string) ([]int, error) {
	md, err := c.client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return nil, fmt.Errorf("metadata of topic %s: %w: %w", topic, consumers.ErrUnreachable, err)
	}
	for _, t := range md.Topics {
		if t.Name != topic {
			continue
		}
		if errors.Is(t.Error, kafka.UnknownTopicOrPartition) || (t.Error == nil && len(t.Partitions) == 0) {
			return nil, inputErrorf("topic %s does not exist", topic)
		}
		if t.Error != nil {
			return nil, fmt.Errorf("metadata of topic %s: %w", topic, t.Error)
		}
		parts := make([]int, len(t.Partitions))
		for i, p := range t.Partitions {
			parts[i] = p.ID
		}
		slices.Sort(parts)
		return parts, nil
	}
	return nil, inputErrorf("topic %s does not exist", topic)
}

func (c clientBroker) list(ctx context.Context, topic string, reqs []kafka.OffsetRequest) ([]kafka.PartitionOffsets, error) {
	res, err := c.client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: reqs}})
	if err != nil {
		return nil, fmt.Errorf("list offsets of %s: %w", topic, err)
	}
	out := res.Topics[topic]
	for _, p := range out {
		if p.Error != nil {
			return nil, fmt.Errorf("list offsets of %s/%d: %w", topic, p.Partition, p.Error)
		}
	}
	return out, nil
}

func (c clientBroker) bounds(ctx context.Context, topic string, parts []int) (map[int]partitionInfo, error) {
	var reqs []kafka.OffsetRequest
	for _, p := range parts {
		reqs = append(reqs, kafka.FirstOffsetOf(p), kafka.LastOffsetOf(p))
	}
	res, err := c.list(ctx, topic, reqs)
	if err != nil {
		return nil, err
	}
	out := map[int]partitionInfo{}
	for _, p := range res {
		out[p.Partition] = partitionInfo{logStart: p.FirstOffset, hw: p.LastOffset}
	}
	for _, p := range parts {
		if _, ok := out[p]; !ok {
			return nil, fmt.Errorf("list offsets of %s/%d: no answer from the broker", topic, p)
		}
	}
	return out, nil
}

func (c clientBroker) offsetsAt(ctx context.Context, topic string, parts []int, t time.Time) (map[int]int64, error) {
	var reqs []kafka.OffsetRequest
	for _, p := range parts {
		reqs = append(reqs, kafka.TimeOffsetOf(p, t))
	}
	res, err := c.list(ctx, topic, reqs)
	if err != nil {
		return nil, err
	}
	out := map[int]int64{}
	for _, p := range parts {
		out[p] = -1
	}
	for _, p := range res {
		for off := range p.Offsets {
			if off >= 0 {
				out[p.Partition] = off
			}
		}
	}
	return out, nil
}
