package readback

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/trustpipe/trustpipe/aggregate/indicator"
	"github.com/trustpipe/trustpipe/aggregate/report"
	"github.com/trustpipe/trustpipe/sink"
)

// Every query goes through the read API of package sink (Source); this
// file plans what to ask and merges the answers.

// period is [lo, hi) in Unix seconds of bucket start.
type period struct{ lo, hi int64 }

// windowPlan is one window and its baseline.
type windowPlan struct {
	name      string
	cur, base period
}

// plan cuts the union of every window and baseline into consecutive
// segments: segment i is [bounds[i+1], bounds[i]), bounds descending.
type plan struct {
	bounds  []int64
	windows []windowPlan
	// audience is the audience comparison (readAudience): cur the last
	// AudienceDays complete UTC days, base the AudienceDays before. Its
	// bounds are among the plan's, so its ctr totals come from the same
	// one scan as every window's.
	audience windowPlan
}

func newPlan(now time.Time, windows []indicator.Window) plan {
	n := now.Unix()
	p := plan{bounds: []int64{n}}
	for _, w := range windows {
		l, b := int64(w.Length/time.Second), int64(BaselinePeriod/time.Second)
		wp := windowPlan{name: w.Name, cur: period{n - l, n}, base: period{n - l - b, n - l}}
		p.windows = append(p.windows, wp)
		p.bounds = append(p.bounds, wp.cur.lo, wp.base.lo)
	}
	end, week := now.UTC().Truncate(24*time.Hour).Unix(), int64(AudienceDays*24*time.Hour/time.Second)
	p.audience = windowPlan{name: "audience", cur: period{end - week, end}, base: period{end - 2*week, end - week}}
	p.bounds = append(p.bounds, end, end-week, end-2*week)
	slices.SortFunc(p.bounds, func(a, b int64) int { return cmp.Compare(b, a) })
	p.bounds = slices.Compact(p.bounds)
	return p
}

func (p plan) segments() int { return len(p.bounds) - 1 }

// totals merges the segments that make up per, in segment order, so the
// result does not depend on the order ClickHouse returned rows in.
func (p plan) totals(segs []indicator.Totals, per period) indicator.Totals {
	var t indicator.Totals
	for i := range p.segments() {
		if p.bounds[i+1] >= per.lo && p.bounds[i] <= per.hi {
			t = t.Merge(segs[i])
		}
	}
	return t
}

// times returns the bounds as times, for Source.SegmentTotals.
func (p plan) times() []time.Time {
	out := make([]time.Time, len(p.bounds))
	for i, b := range p.bounds {
		out[i] = time.Unix(b, 0).UTC()
	}
	return out
}

func (p period) report() report.Period {
	return report.Period{From: time.Unix(p.lo, 0).UTC(), To: time.Unix(p.hi, 0).UTC()}
}

// querySegments returns the totals of every segment and the start (Unix
// seconds) of the newest bucket with events in [now − 56d, now), 0 if none.
func (r *ReadBack) querySegments(ctx context.Context, p plan) ([]indicator.Totals, int64, error) {
	segs, newest, err := r.deps.Source.SegmentTotals(ctx, p.times())
	if err != nil {
		return nil, 0, fmt.Errorf("read-back: %w", err)
	}
	if len(segs) != p.segments() {
		return nil, 0, fmt.Errorf("read-back: %d segment totals for %d segments", len(segs), p.segments())
	}
	if newest.IsZero() {
		return segs, 0, nil
	}
	return segs, newest.Unix(), nil
}

// eligible says whether a breakdown value may get its own group: non-empty
// (the empty value would collide with the aggregate series, whose
// dimension_value is absent), not the reserved "other", and at most
// MaxDimensionValueBytes long. The query for the top values applies the
// same filter, so its LIMIT is not wasted on them.
func eligible(v string) bool {
	return v != "" && v != OtherValue && len(v) <= MaxDimensionValueBytes
}

// labelValue is the dimension_value of a group. Prometheus label values must
// be valid UTF-8; the decoder only accepts valid UTF-8, but should a value
// not be, its invalid bytes are replaced (the group is still selected by
// the exact value in SQL).
func labelValue(v string) string { return strings.ToValidUTF8(v, "\uFFFD") }

// group is one breakdown group of a window.
type group struct {
	value     string
	cur, base indicator.Totals
}

// queryBreakdown returns the groups of a window: the top values, then
// "other". cur and base are the window's aggregate totals, which are the
// "other" group when no value qualifies.
func (r *ReadBack) queryBreakdown(ctx context.Context, w windowPlan, cur, base indicator.Totals) ([]group, error) {
	dim := r.cfg.Breakdown
	// top holds the values as stored (they select the rows in SQL),
	// labels their label values; both at most TopN long whatever the
	// query returns, and labels unique, so no two series collide.
	var top, labels []string
	seen := map[string]bool{}
	values, err := r.deps.Source.TopValues(ctx, dim, w.cur.report(), r.cfg.TopN, []string{OtherValue}, MaxDimensionValueBytes)
	if err != nil {
		return nil, fmt.Errorf("read-back: %w", err)
	}
	for _, v := range values {
		if l := labelValue(v); len(top) < r.cfg.TopN && eligible(v) && !seen[l] {
			seen[l] = true
			top, labels = append(top, v), append(labels, l)
		}
	}
	if len(top) == 0 {
		return []group{{value: OtherValue, cur: cur, base: base}}, nil
	}
	curs, bases, err := r.deps.Source.SplitTotals(ctx, dim, top, time.Unix(w.cur.lo, 0).UTC(), period{w.base.lo, w.cur.hi}.report())
	if err != nil {
		return nil, fmt.Errorf("read-back: %w", err)
	}
	if len(curs) != len(top)+1 || len(bases) != len(top)+1 {
		return nil, fmt.Errorf("read-back: %d and %d group totals for %d groups", len(curs), len(bases), len(top)+1)
	}
	groups := make([]group, len(top)+1)
	groups[0].value = OtherValue
	for i := range groups {
		if i > 0 {
			groups[i].value = labels[i-1]
		}
		groups[i].cur, groups[i].base = curs[i], bases[i]
	}
	return groups, nil
}

// ledgerGap sums, over (topic, partition), the offsets that lie between
// consecutive ledger blocks ordered by first_offset: next.first_offset −
// (highest last_offset so far) − 1, when positive. Only holes between blocks
// count — not offsets before the first block (retention, a group that
// started late), after the last one (lag), or inside a block (the ledger
// keeps only a block's first and last offset). Overlapping blocks (a changed
// block size) are not a gap.
//
// Kafka offsets can have legitimate holes: transaction markers and aborted
// transactions occupy offsets no consumer sees, and compaction deletes
// records. A hole that falls exactly on a block boundary is counted here;
// the LedgerGap alert therefore waits 15 minutes, and on transactional or
// compacted input topics the value may stay above 0 without data loss.
func ledgerGap(blocks []sink.LedgerBlock) int64 {
	slices.SortFunc(blocks, func(a, b sink.LedgerBlock) int {
		return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition),
			cmp.Compare(a.First, b.First), cmp.Compare(a.Last, b.Last))
	})
	var gap, reach int64
	for i, b := range blocks {
		if i == 0 || b.Topic != blocks[i-1].Topic || b.Partition != blocks[i-1].Partition {
			reach = b.Last
			continue
		}
		if b.First > reach+1 {
			gap += b.First - reach - 1
		}
		reach = max(reach, b.Last)
	}
	return gap
}

// LedgerBlocks is how many of each partition's newest ingest_ledger blocks
// the ledger gap looks at (10 million offsets at the default block size).
// Reading the whole ledger every refresh would cost more with every block
// ever stored; a hole is found as soon as the block after it is stored, and
// stays reported while it is among the newest LedgerBlocks blocks.
const LedgerBlocks = 1000

// queryLedgerGap returns the ledger gap over each partition's newest
// LedgerBlocks blocks, and moves each partition's floor up behind its
// newest block. The first refresh reads the whole ledger once; later ones
// read each known partition from its floor on, and new partitions whole.
func (r *ReadBack) queryLedgerGap(ctx context.Context) (int64, error) {
	read, err := r.deps.Source.LedgerBlocks(ctx, r.floors)
	if err != nil {
		return 0, fmt.Errorf("read-back: %w", err)
	}
	for _, b := range read {
		r.floors[b.LedgerPartition] = max(r.floors[b.LedgerPartition], b.Block-LedgerBlocks+1)
	}
	// A partition's first read returns all its blocks: keep the newest
	// LedgerBlocks, so the gap means the same on every refresh.
	recent := read[:0]
	for _, b := range read {
		if b.Block >= r.floors[b.LedgerPartition] {
			recent = append(recent, b)
		}
	}
	return ledgerGap(recent), nil
}
