package readback

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/trustpipe/trustpipe/aggregate/indicator"
	"github.com/trustpipe/trustpipe/sink"
)

// The SQL below reads the storage tables through FINAL with the same
// formulas as the read-surface views trust_count_rows and ingest_ledger,
// not the views themselves: ClickHouse 18.16 does not push a WHERE into a
// view, so every refresh would read the whole history, while on the tables
// the time range (the counts' partitions and sorting key start with the
// bucket) and the ledger's block floors bound what is read. The conditions
// are on sorting-key columns only, which is what makes them safe before
// FINAL's replacement. It binds every time and value as a parameter (times as Unix seconds inside
// toDateTime, which is absolute whatever the server's time zone), and uses
// only multiIf, indexOf, toDateTime, toUInt8/32, length, sum and max, so it
// runs on ClickHouse 18.16 and current releases. Aliases never reuse a
// column name (18.16 rejects `sum(events) AS events` as a cyclic alias), and
// the segment alias is seg because trust_counts has a segment column.

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

// countRows is what the count queries read: trust_count_rows without the
// view (see the comment at the top).
func countRows(db string) string { return db + "." + sink.LiveTables().Counts + " FINAL" }

// segmentSQL renders the totals query: the rows of trust_counts in
// [lowest bound, now), summed per segment and indicator key (the columns
// indicator.Totals keeps), with the newest bucket of each group.
// Arguments: the lower bounds of segments 0..K-2, then the lowest bound and
// now.
func segmentSQL(db string, segments int) string {
	return `SELECT toUInt32(` + segmentExpr("bucket", segments) + `) AS seg, event_type, detail, channel, personalization, consent_tier,
	sum(events) AS n, sum(value_nanos) / 1e9 AS v, toUInt32(max(bucket)) AS newest
FROM ` + countRows(db) + `
WHERE bucket >= toDateTime(?) AND bucket < toDateTime(?)
GROUP BY seg, event_type, detail, channel, personalization, consent_tier`
}

// segmentExpr renders the segment number of a row by its time column col:
// one bound argument per segment but the last.
func segmentExpr(col string, segments int) string {
	if segments <= 1 {
		return "0"
	}
	var b strings.Builder
	b.WriteString("multiIf(")
	for i := range segments - 1 {
		fmt.Fprintf(&b, "%s >= toDateTime(?), %d, ", col, i)
	}
	fmt.Fprintf(&b, "%d)", segments-1)
	return b.String()
}

func (p plan) segmentArgs() []any {
	args := make([]any, 0, len(p.bounds)+1)
	for _, b := range p.bounds[1 : len(p.bounds)-1] {
		args = append(args, b)
	}
	return append(args, p.bounds[len(p.bounds)-1], p.bounds[0])
}

// querySegments returns the totals of every segment and the start (Unix
// seconds) of the newest bucket with events in [now − 56d, now), 0 if none.
func (r *ReadBack) querySegments(ctx context.Context, p plan) ([]indicator.Totals, int64, error) {
	segs := make([]indicator.Totals, p.segments())
	var newest int64
	err := r.query(ctx, "totals", segmentSQL(r.cfg.Database, p.segments()), p.segmentArgs(), func(rows driver.Rows) error {
		var (
			seg, bucket uint32
			row         indicator.Row
		)
		if err := rows.Scan(&seg, &row.EventType, &row.Detail, &row.Channel, &row.Personalization, &row.ConsentTier, &row.Events, &row.ValueSum, &bucket); err != nil {
			return err
		}
		if int(seg) >= len(segs) {
			return fmt.Errorf("segment %d out of range 0..%d", seg, len(segs)-1)
		}
		segs[seg].Add(row)
		if row.Events > 0 {
			newest = max(newest, int64(bucket))
		}
		return nil
	})
	return segs, newest, err
}

// topSQL renders the query for the breakdown values with the most events in
// a window. Values that may never get a group of their own are filtered
// here already (and again in Go, see eligible), so the LIMIT is not wasted
// on them. Arguments: window start, now.
func topSQL(db, dim string, n int) string {
	return `SELECT ` + dim + ` AS dv, sum(events) AS n
FROM ` + countRows(db) + `
WHERE bucket >= toDateTime(?) AND bucket < toDateTime(?)
	AND ` + dim + ` != '' AND ` + dim + ` != '` + OtherValue + `' AND length(` + dim + `) <= ` + strconv.Itoa(MaxDimensionValueBytes) + `
GROUP BY dv
ORDER BY n DESC, dv
LIMIT ` + strconv.Itoa(n)
}

// breakdownSQL renders the per-group totals of a window and its baseline:
// k is the 1-based position of the value in the top list, 0 for every other
// value; cur is 1 for rows in the window, 0 for the baseline. Arguments: the
// top values (an array), window start, baseline start, now.
func breakdownSQL(db, dim string) string {
	return `SELECT toUInt32(indexOf(?, ` + dim + `)) AS k, toUInt8(bucket >= toDateTime(?)) AS cur,
	event_type, detail, channel, personalization, consent_tier, sum(events) AS n, sum(value_nanos) / 1e9 AS v
FROM ` + countRows(db) + `
WHERE bucket >= toDateTime(?) AND bucket < toDateTime(?)
GROUP BY k, cur, event_type, detail, channel, personalization, consent_tier`
}

// eligible says whether a breakdown value may get its own group: non-empty
// (the empty value would collide with the aggregate series, whose
// dimension_value is absent), not the reserved "other", and at most
// MaxDimensionValueBytes long. topSQL applies the same filter.
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
	err := r.query(ctx, "breakdown top values", topSQL(r.cfg.Database, dim, r.cfg.TopN), []any{w.cur.lo, w.cur.hi}, func(rows driver.Rows) error {
		var (
			v string
			n uint64
		)
		if err := rows.Scan(&v, &n); err != nil {
			return err
		}
		if l := labelValue(v); len(top) < r.cfg.TopN && eligible(v) && !seen[l] {
			seen[l] = true
			top, labels = append(top, v), append(labels, l)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(top) == 0 {
		return []group{{value: OtherValue, cur: cur, base: base}}, nil
	}
	groups := make([]group, len(top)+1)
	groups[0].value = OtherValue
	for i, l := range labels {
		groups[i+1].value = l
	}
	err = r.query(ctx, "breakdown totals", breakdownSQL(r.cfg.Database, dim), []any{top, w.cur.lo, w.base.lo, w.cur.hi}, func(rows driver.Rows) error {
		var (
			k   uint32
			in  uint8
			row indicator.Row
		)
		if err := rows.Scan(&k, &in, &row.EventType, &row.Detail, &row.Channel, &row.Personalization, &row.ConsentTier, &row.Events, &row.ValueSum); err != nil {
			return err
		}
		if int(k) >= len(groups) {
			return fmt.Errorf("group %d out of range 0..%d", k, len(groups)-1)
		}
		if in == 1 {
			groups[k].cur.Add(row)
		} else {
			groups[k].base.Add(row)
		}
		return nil
	})
	return groups, err
}

// LedgerBlocks is how many of each partition's newest ingest_ledger blocks
// the ledger gap looks at (10 million offsets at the default block size).
// Reading the whole ledger every refresh would cost more with every block
// ever stored; a hole is found as soon as the block after it is stored, and
// stays reported while it is among the newest LedgerBlocks blocks.
const LedgerBlocks = 1000

// partitionID is one partition of one topic.
type partitionID struct {
	topic     string
	partition int32
}

// ledgerSQL lists the blocks of the ledger from each known partition's floor
// on, and every block of partitions not seen before (the first refresh reads
// the whole ledger once). It reads the storage table with FINAL, not the
// ingest_ledger view: ClickHouse 18.16 does not push a WHERE into a view,
// and only on the table do conditions on the sorting key (topic, partition,
// block) limit what is read. Arguments: topic, partition and floor of each
// known partition, then topic and partition of each again.
func ledgerSQL(db string, known int) string {
	q := `SELECT topic, partition, block, first_offset, last_offset FROM ` + db + `.` + sink.LiveTables().Ledger + ` FINAL`
	if known == 0 {
		return q
	}
	floors := strings.TrimSuffix(strings.Repeat("(topic = ? AND partition = ? AND block >= ?) OR ", known), " OR ")
	seen := strings.TrimSuffix(strings.Repeat("(topic = ? AND partition = ?) OR ", known), " OR ")
	return q + `
WHERE ` + floors + `
	OR NOT (` + seen + `)`
}

// ledgerBlock is the offset range of one ingest_ledger row.
type ledgerBlock struct {
	topic       string
	partition   int32
	first, last int64
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
func ledgerGap(blocks []ledgerBlock) int64 {
	slices.SortFunc(blocks, func(a, b ledgerBlock) int {
		return cmp.Or(cmp.Compare(a.topic, b.topic), cmp.Compare(a.partition, b.partition),
			cmp.Compare(a.first, b.first), cmp.Compare(a.last, b.last))
	})
	var gap, reach int64
	for i, b := range blocks {
		if i == 0 || b.topic != blocks[i-1].topic || b.partition != blocks[i-1].partition {
			reach = b.last
			continue
		}
		if b.first > reach+1 {
			gap += b.first - reach - 1
		}
		reach = max(reach, b.last)
	}
	return gap
}

// queryLedgerGap returns the ledger gap over each partition's newest
// LedgerBlocks blocks, and moves each partition's floor up behind its
// newest block.
func (r *ReadBack) queryLedgerGap(ctx context.Context) (int64, error) {
	known := slices.SortedFunc(maps.Keys(r.floors), func(a, b partitionID) int {
		return cmp.Or(cmp.Compare(a.topic, b.topic), cmp.Compare(a.partition, b.partition))
	})
	args := make([]any, 0, 5*len(known))
	for _, id := range known {
		args = append(args, id.topic, id.partition, r.floors[id])
	}
	for _, id := range known {
		args = append(args, id.topic, id.partition)
	}
	var (
		read   []ledgerBlock
		blocks []int64 // block numbers of read
	)
	err := r.query(ctx, "ledger", ledgerSQL(r.cfg.Database, len(known)), args, func(rows driver.Rows) error {
		var (
			b     ledgerBlock
			block int64
		)
		if err := rows.Scan(&b.topic, &b.partition, &block, &b.first, &b.last); err != nil {
			return err
		}
		read, blocks = append(read, b), append(blocks, block)
		return nil
	})
	if err != nil {
		return 0, err
	}
	for i, b := range read {
		id := partitionID{b.topic, b.partition}
		r.floors[id] = max(r.floors[id], blocks[i]-LedgerBlocks+1)
	}
	// A partition's first read returns all its blocks: keep the newest
	// LedgerBlocks, so the gap means the same on every refresh.
	recent := read[:0]
	for i, b := range read {
		if blocks[i] >= r.floors[partitionID{b.topic, b.partition}] {
			recent = append(recent, b)
		}
	}
	return ledgerGap(recent), nil
}

// query runs q and calls scan for every row; errors name the query.
func (r *ReadBack) query(ctx context.Context, what, q string, args []any, scan func(driver.Rows) error) error {
	rows, err := r.deps.Querier.Query(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("read-back %s query: %w", what, err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return fmt.Errorf("read-back %s query: read row: %w", what, err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read-back %s query: %w", what, err)
	}
	return nil
}
