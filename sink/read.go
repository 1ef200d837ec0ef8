package sink

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

	"github.com/trustpipe/trustpipe/aggregate"
	"github.com/trustpipe/trustpipe/aggregate/event"
	"github.com/trustpipe/trustpipe/aggregate/indicator"
	"github.com/trustpipe/trustpipe/aggregate/report"
)

// This file is the read API over the read surface (CONTRACT.md §3): the
// report's totals and reach, the read-back's windowed totals, breakdowns
// and ledger blocks, and the ledger sum the demo waits on. (The comparison
// of two sets of storage tables, for `trustpipe replay swap`, is in
// swap.go.) Callers never see SQL: that keeps every statement in one
// package, where it is tested against ClickHouse 18.16 and current
// releases.
//
// Rules every query here follows: user input (times, dimension values) is
// always bound as a parameter, never spliced into the SQL text — only the
// database (validated by Open) and dimension columns (checked against
// Dimensions) are; times are bound as Unix seconds inside toDateTime, which
// is absolute whatever the server's time zone; aliases never reuse a column
// name (18.16 rejects `sum(events) AS events` as a cyclic alias); and
// totals read trust_count_rows, not trust_counts, so they group once, at
// their own level.
//
// The read-back's functions (SegmentTotals, TopValues, SplitTotals,
// LedgerBlocks) run every refresh, so they read the storage tables through
// FINAL with the views' formulas instead of the views trust_count_rows and
// ingest_ledger: ClickHouse 18.16 does not push a WHERE into a view, so
// every refresh would read the whole history, while on the tables the time
// range (the counts' partitions and sorting key start with the bucket) and
// the ledger's block floors bound what is read. Their conditions are on
// sorting-key columns only, which is what makes them safe before FINAL's
// replacement.
//
// Sentiment is summed as exact integer nano-units (value_nanos,
// aggregate.ScoreScale) and divided once in Go: a Float64 sum in ClickHouse
// depends on the order of its threads, which would make two reads of the
// same data differ in the last bits.

// dimensions are the trust_counts and engaged_contacts columns a filter or a
// breakdown may name.
var dimensions = []string{"campaign_id", "channel", "segment", "source"}

// Dimensions lists the dimension columns a breakdown may use.
func Dimensions() []string { return slices.Clone(dimensions) }

func checkDimension(dim string) error {
	if !slices.Contains(dimensions, dim) {
		return fmt.Errorf("dimension %q: use one of %s", dim, strings.Join(dimensions, ", "))
	}
	return nil
}

// query runs q and calls scan for every row; errors name what was read.
func (s *Store) query(ctx context.Context, what, q string, args []any, scan func(driver.Rows) error) error {
	rows, err := s.conn.Query(ctx, q, args...)
	if err != nil {
		return readError(what, err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return readError(what, fmt.Errorf("read row: %w", err))
		}
	}
	if err := rows.Err(); err != nil {
		return readError(what, err)
	}
	return nil
}

// totalsColumns are the indicator.Row columns of a totals query, followed
// by the aliases n (events) and nanos (value_nanos); scanRow reads them.
const totalsColumns = totalsGroup + ", sum(events) AS n, sum(value_nanos) AS nanos"

// scanRow scans the columns before totalsColumns into lead, then one
// indicator.Row (the columns totalsGroup names, n and nanos).
func scanRow(rows driver.Rows, lead ...any) (indicator.Row, error) {
	var r indicator.Row
	var nanos int64
	dest := append(lead, &r.EventType, &r.Detail, &r.Channel, &r.Personalization, &r.ConsentTier, &r.Events, &nanos)
	if err := rows.Scan(dest...); err != nil {
		return r, err
	}
	r.ValueSum = float64(nanos) / aggregate.ScoreScale
	return r, nil
}

// bucketRange is the condition "bucket in [p.From, p.To)" and its arguments.
func bucketRange(p report.Period) (string, []any) {
	return "bucket >= toDateTime(?) AND bucket < toDateTime(?)", []any{p.From.Unix(), p.To.Unix()}
}

// countRows is what the read-back's count queries read: trust_count_rows
// without the view (see the comment at the top).
func (s *Store) countRows() string { return s.db + "." + LiveTables().Counts + " FINAL" }

// where renders a time condition and the filter's conditions.
func where(cond string, args []any, f report.Filter) (string, []any) {
	conds := []string{cond}
	for _, d := range f.Dimensions() {
		conds = append(conds, d[0]+" = ?")
		args = append(args, d[1])
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

// Totals sums trust_counts over the buckets starting in [p.From, p.To)
// under the filter, as finely as any indicator selects.
func (s *Store) Totals(ctx context.Context, p report.Period, f report.Filter) (indicator.Totals, error) {
	cond, args := bucketRange(p)
	cond, args = where(cond, args, f)
	q := "SELECT " + totalsColumns + " FROM " + s.db + ".trust_count_rows" + cond + " GROUP BY " + totalsGroup
	var t indicator.Totals
	err := s.query(ctx, "trust_counts", q, args, func(rows driver.Rows) error {
		r, err := scanRow(rows)
		if err != nil {
			return err
		}
		t.Add(r)
		return nil
	})
	return t, err
}

// Reach counts the distinct engaged contacts (engaged_contacts) over the
// whole UTC days that [p.From, p.To) touches under the filter, and per day
// when perDay is set.
func (s *Store) Reach(ctx context.Context, p report.Period, f report.Filter, perDay bool) (report.Reach, error) {
	r := report.Reach{
		FirstDay: p.From.UTC().Truncate(24 * time.Hour),
		LastDay:  p.To.UTC().Add(-time.Second).Truncate(24 * time.Hour),
	}
	cond, args := where("day >= toDate(?) AND day <= toDate(?)",
		[]any{r.FirstDay.Format("2006-01-02"), r.LastDay.Format("2006-01-02")}, f)
	from := " FROM " + s.db + ".engaged_contacts" + cond
	if err := s.conn.QueryRow(ctx, "SELECT uniqExact(contact)"+from, args...).Scan(&r.Contacts); err != nil {
		return r, readError("engaged_contacts", err)
	}
	if !perDay {
		return r, nil
	}
	err := s.query(ctx, "engaged_contacts", "SELECT toString(day), uniqExact(contact)"+from+" GROUP BY day ORDER BY day", args, func(rows driver.Rows) error {
		var d report.DayReach
		if err := rows.Scan(&d.Day, &d.Contacts); err != nil {
			return err
		}
		r.Days = append(r.Days, d)
		return nil
	})
	return r, err
}

// Consumed is the number of records the ledger (ingest_ledger) accounts
// for: every record stored, accepted or rejected, by any instance.
func (s *Store) Consumed(ctx context.Context) (uint64, error) {
	var n uint64
	if err := s.conn.QueryRow(ctx, "SELECT sum(consumed) FROM "+s.db+".ingest_ledger").Scan(&n); err != nil {
		return 0, readError("ingest_ledger", err)
	}
	return n, nil
}

// SegmentTotals sums trust_counts per segment of consecutive periods, in
// one scan: bounds are descending, and segment i holds the buckets starting
// in [bounds[i+1], bounds[i]). It also returns the start of the newest
// bucket with events, the zero time if there is none.
func (s *Store) SegmentTotals(ctx context.Context, bounds []time.Time) ([]indicator.Totals, time.Time, error) {
	if len(bounds) < 2 || !slices.IsSortedFunc(bounds, func(a, b time.Time) int { return b.Compare(a) }) {
		return nil, time.Time{}, fmt.Errorf("segment totals: bounds %v: want at least two, descending", bounds)
	}
	n := len(bounds) - 1
	seg, args := segmentExpr("bucket", bounds)
	cond, rangeArgs := bucketRange(report.Period{From: bounds[n], To: bounds[0]})
	q := "SELECT toUInt32(" + seg + ") AS seg, toUInt32(max(bucket)) AS newest, " + totalsColumns +
		" FROM " + s.countRows() + " WHERE " + cond + " GROUP BY seg, " + totalsGroup
	segs := make([]indicator.Totals, n)
	var newest int64
	err := s.query(ctx, "trust_counts by segment", q, append(args, rangeArgs...), func(rows driver.Rows) error {
		var i, bucket uint32
		r, err := scanRow(rows, &i, &bucket)
		if err != nil {
			return err
		}
		if int(i) >= n {
			return fmt.Errorf("segment %d out of range 0..%d", i, n-1)
		}
		segs[i].Add(r)
		if r.Events > 0 {
			newest = max(newest, int64(bucket))
		}
		return nil
	})
	if err != nil || newest == 0 {
		return segs, time.Time{}, err
	}
	return segs, time.Unix(newest, 0).UTC(), nil
}

// segmentExpr renders the segment number of a row by its time column col
// (see SegmentTotals) and its arguments, one lower bound per segment but
// the last.
func segmentExpr(col string, bounds []time.Time) (string, []any) {
	n := len(bounds) - 1
	if n <= 1 {
		return "0", nil
	}
	var b strings.Builder
	var args []any
	b.WriteString("multiIf(")
	for i := range n - 1 {
		fmt.Fprintf(&b, "%s >= toDateTime(?), %d, ", col, i)
		args = append(args, bounds[i+1].Unix())
	}
	fmt.Fprintf(&b, "%d)", n-1)
	return b.String(), args
}

// TopValues returns up to n values of the dimension column dim with the
// most events in the buckets starting in [p.From, p.To), most first, ties
// by value. The empty value, the values in exclude and values longer than
// maxBytes are left out.
func (s *Store) TopValues(ctx context.Context, dim string, p report.Period, n int, exclude []string, maxBytes int) ([]string, error) {
	if err := checkDimension(dim); err != nil {
		return nil, fmt.Errorf("top values: %w", err)
	}
	cond, args := bucketRange(p)
	q := "SELECT " + dim + " AS dv, sum(events) AS n FROM " + s.countRows() + " WHERE " + cond +
		" AND NOT has(?, " + dim + ") AND length(" + dim + ") <= " + strconv.Itoa(maxBytes) +
		" GROUP BY dv ORDER BY n DESC, dv LIMIT " + strconv.Itoa(n)
	return s.topValues(ctx, "top "+dim+" values", q, args, exclude)
}

// topValues runs q, a "SELECT value, count … NOT has(?, value)" ranking,
// with args and then exclude as its last argument, and returns the values
// in order. The empty value is always excluded, which also keeps the
// array non-empty: ClickHouse 18.16 types an empty one Array(Nothing),
// which has() rejects.
func (s *Store) topValues(ctx context.Context, what, q string, args []any, exclude []string) ([]string, error) {
	exclude = append([]string{""}, exclude...)
	var out []string
	err := s.query(ctx, what, q, append(args, exclude), func(rows driver.Rows) error {
		var v string
		var events uint64
		if err := rows.Scan(&v, &events); err != nil {
			return err
		}
		out = append(out, v)
		return nil
	})
	return out, err
}

// SplitTotals sums trust_counts over the buckets starting in [p.From,
// p.To) per value of the dimension column dim and side of split: element
// i+1 of cur and base holds values[i], element 0 every other value; cur
// holds the buckets starting at split or later, base the earlier ones.
func (s *Store) SplitTotals(ctx context.Context, dim string, values []string, split time.Time, p report.Period) (cur, base []indicator.Totals, err error) {
	if err := checkDimension(dim); err != nil {
		return nil, nil, fmt.Errorf("split totals: %w", err)
	}
	cond, args := bucketRange(p)
	q := "SELECT toUInt32(indexOf(?, " + dim + ")) AS k, toUInt8(bucket >= toDateTime(?)) AS cur, " + totalsColumns +
		" FROM " + s.countRows() + " WHERE " + cond + " GROUP BY k, cur, " + totalsGroup
	cur, base = make([]indicator.Totals, len(values)+1), make([]indicator.Totals, len(values)+1)
	err = s.query(ctx, "trust_counts by "+dim, q, append([]any{values, split.Unix()}, args...), func(rows driver.Rows) error {
		var k uint32
		var in uint8
		r, err := scanRow(rows, &k, &in)
		if err != nil {
			return err
		}
		if int(k) > len(values) {
			return fmt.Errorf("value %d out of range 0..%d", k, len(values))
		}
		if in == 1 {
			cur[k].Add(r)
		} else {
			base[k].Add(r)
		}
		return nil
	})
	return cur, base, err
}

// LedgerPartition is one partition of one topic in the ledger.
type LedgerPartition struct {
	Topic     string
	Partition int32
}

// LedgerBlock is the block number and offset range of one ingest_ledger
// row.
type LedgerBlock struct {
	LedgerPartition
	Block       int64
	First, Last int64
}

// LedgerBlocks lists the ledger's blocks (ingest_ledger), in no particular
// order: of each partition in floors the blocks numbered floors[p] or
// higher, of every other partition all of them. A caller that reads the
// ledger repeatedly passes floors to bound what each read costs (only on
// the storage table do conditions on its sorting key, topic, partition,
// block, limit what is read, see the comment at the top).
func (s *Store) LedgerBlocks(ctx context.Context, floors map[LedgerPartition]int64) ([]LedgerBlock, error) {
	q := "SELECT topic, partition, block, first_offset, last_offset FROM " + s.db + "." + LiveTables().Ledger + " FINAL"
	var args []any
	if len(floors) > 0 {
		known := slices.SortedFunc(maps.Keys(floors), func(a, b LedgerPartition) int {
			return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
		})
		for _, p := range known {
			args = append(args, p.Topic, p.Partition, floors[p])
		}
		for _, p := range known {
			args = append(args, p.Topic, p.Partition)
		}
		above := strings.TrimSuffix(strings.Repeat("(topic = ? AND partition = ? AND block >= ?) OR ", len(known)), " OR ")
		seen := strings.TrimSuffix(strings.Repeat("(topic = ? AND partition = ?) OR ", len(known)), " OR ")
		q += " WHERE " + above + " OR NOT (" + seen + ")"
	}
	var out []LedgerBlock
	err := s.query(ctx, "ingest_ledger", q, args, func(rows driver.Rows) error {
		var b LedgerBlock
		if err := rows.Scan(&b.Topic, &b.Partition, &b.Block, &b.First, &b.Last); err != nil {
			return err
		}
		out = append(out, b)
		return nil
	})
	return out, err
}

// cohortDimensions are the cohort_count_rows columns a cohort read may
// group by.
var cohortDimensions = []string{"campaign_id", "mailbox_provider", "sending_domain"}

func checkCohortDimension(dim string) error {
	if !slices.Contains(cohortDimensions, dim) {
		return fmt.Errorf("cohort dimension %q: use one of %s", dim, strings.Join(cohortDimensions, ", "))
	}
	return nil
}

// cohortTotalsColumns are the indicator.Row columns of a cohort totals query (the
// cohort views keep no personalization, consent tier or sentiment);
// scanCohortRow reads them.
const cohortTotalsColumns = "event_type, detail, channel, sum(events) AS n"

// cohortGroup is what a cohort totals query groups by besides its key.
const cohortGroup = "event_type, detail, channel"

// scanCohortRow scans the columns before cohortTotalsColumns into lead, then one
// indicator.Row.
func scanCohortRow(rows driver.Rows, lead ...any) (indicator.Row, error) {
	var r indicator.Row
	err := rows.Scan(append(lead, &r.EventType, &r.Detail, &r.Channel, &r.Events)...)
	return r, err
}

// cohortRange is the condition "cohort in [p.From, p.To)" and its
// arguments.
func cohortRange(p report.Period) (string, []any) {
	return "cohort >= toDateTime(?) AND cohort < toDateTime(?)", []any{p.From.Unix(), p.To.Unix()}
}

// channelCond restricts a cohort query to one channel; "" means every
// channel.
func channelCond(channel string) (string, []any) {
	if channel == "" {
		return "", nil
	}
	return " AND channel = ?", []any{channel}
}

// CohortSegmentTotals sums the send-time cohort counts (cohort_count_rows)
// per segment of consecutive periods, in one scan, as SegmentTotals does
// for trust_counts: bounds are descending, and segment i holds the cohorts
// in [bounds[i+1], bounds[i]). all holds every row, bySend only the rows
// attributed by send time (by_send_time = 1).
func (s *Store) CohortSegmentTotals(ctx context.Context, bounds []time.Time) (all, bySend []indicator.Totals, err error) {
	if len(bounds) < 2 || !slices.IsSortedFunc(bounds, func(a, b time.Time) int { return b.Compare(a) }) {
		return nil, nil, fmt.Errorf("cohort segment totals: bounds %v: want at least two, descending", bounds)
	}
	n := len(bounds) - 1
	seg, args := segmentExpr("cohort", bounds)
	cond, rangeArgs := cohortRange(report.Period{From: bounds[n], To: bounds[0]})
	q := "SELECT toUInt32(" + seg + ") AS seg, by_send_time AS bst, " + cohortTotalsColumns +
		" FROM " + s.db + "." + ViewCohortRows + " WHERE " + cond + " GROUP BY seg, bst, " + cohortGroup
	all, bySend = make([]indicator.Totals, n), make([]indicator.Totals, n)
	err = s.query(ctx, "cohort_count_rows by segment", q, append(args, rangeArgs...), func(rows driver.Rows) error {
		var i uint32
		var bst uint8
		r, err := scanCohortRow(rows, &i, &bst)
		if err != nil {
			return err
		}
		if int(i) >= n {
			return fmt.Errorf("segment %d out of range 0..%d", i, n-1)
		}
		all[i].Add(r)
		if bst == 1 {
			bySend[i].Add(r)
		}
		return nil
	})
	return all, bySend, err
}

// CohortTopValues returns up to n values of the cohort dimension column dim
// with the most deliveries in the cohorts of [p.From, p.To) on channel ("":
// every channel), most first, ties by value. The empty value, the values in
// exclude and values longer than maxBytes are left out.
func (s *Store) CohortTopValues(ctx context.Context, dim, channel string, p report.Period, n int, exclude []string, maxBytes int) ([]string, error) {
	if err := checkCohortDimension(dim); err != nil {
		return nil, fmt.Errorf("cohort top values: %w", err)
	}
	cond, args := cohortRange(p)
	ch, chArgs := channelCond(channel)
	q := "SELECT " + dim + " AS dv, sum(events) AS n FROM " + s.db + "." + ViewCohortRows + " WHERE " + cond +
		" AND event_type = 'delivered'" + ch + " AND NOT has(?, " + dim + ") AND length(" + dim + ") <= " + strconv.Itoa(maxBytes) +
		" GROUP BY dv ORDER BY n DESC, dv LIMIT " + strconv.Itoa(n)
	return s.topValues(ctx, "top cohort "+dim+" values", q, append(args, chArgs...), exclude)
}

// CohortGroupTotals sums the cohorts of [p.From, p.To) on channel (""
// every channel) per value of the cohort dimension column dim: element i+1
// holds values[i], element 0 every other value (left empty, and not read,
// when onlyValues is set).
func (s *Store) CohortGroupTotals(ctx context.Context, dim, channel string, values []string, p report.Period, onlyValues bool) ([]indicator.Totals, error) {
	if err := checkCohortDimension(dim); err != nil {
		return nil, fmt.Errorf("cohort group totals: %w", err)
	}
	cond, args := cohortRange(p)
	ch, chArgs := channelCond(channel)
	cond += ch
	args = append(args, chArgs...)
	if onlyValues {
		cond += " AND has(?, " + dim + ")"
		args = append(args, values)
	}
	q := "SELECT toUInt32(indexOf(?, " + dim + ")) AS k, " + cohortTotalsColumns +
		" FROM " + s.db + "." + ViewCohortRows + " WHERE " + cond + " GROUP BY k, " + cohortGroup
	out := make([]indicator.Totals, len(values)+1)
	err := s.query(ctx, "cohort_count_rows by "+dim, q, append([]any{values}, args...), func(rows driver.Rows) error {
		var k uint32
		r, err := scanCohortRow(rows, &k)
		if err != nil {
			return err
		}
		if int(k) > len(values) {
			return fmt.Errorf("value %d out of range 0..%d", k, len(values))
		}
		out[k].Add(r)
		return nil
	})
	return out, err
}

// maxComplaintGroups bounds the per-provider and per-domain complaint rows
// of a report (the most email deliveries first).
const maxComplaintGroups = 10

// Cohorts reads the report's attributed inputs for the messages sent in
// [p.From, p.To): cohort totals, unique engagement and email complaints per
// mailbox provider and sending domain. The cohort views keep campaign and
// channel only, so with a segment or source filter nothing is read.
func (s *Store) Cohorts(ctx context.Context, p report.Period, f report.Filter) (report.Cohorts, error) {
	var c report.Cohorts
	if f.Segment != nil || f.Source != nil {
		return c, nil
	}
	c.Available = true
	cond, args := cohortRange(p)
	cond, args = where(cond, args, f)
	q := "SELECT by_send_time AS bst, " + cohortTotalsColumns + " FROM " + s.db + "." + ViewCohortRows + cond + " GROUP BY bst, " + cohortGroup
	err := s.query(ctx, "cohort counts", q, args, func(rows driver.Rows) error {
		var bst uint8
		r, err := scanCohortRow(rows, &bst)
		if err != nil {
			return err
		}
		c.Totals.Add(r)
		if t, ok := event.ParseType(r.EventType); ok && t != event.Delivered && t != event.Bounce {
			c.FollowUps += r.Events
			if bst == 1 {
				c.BySendTime += r.Events
			}
		}
		return nil
	})
	if err != nil {
		return c, err
	}
	// Unique engagement: distinct (campaign, contact) pairs of the send days
	// the range touches; a recipient counts as a unique opener or clicker
	// only if they also opened or clicked.
	ucond, uargs := where("day >= toDate(toDateTime(?)) AND day <= toDate(toDateTime(?))", []any{p.From.Unix(), p.To.Add(-time.Second).Unix()}, f)
	u := &c.Unique
	if err := s.conn.QueryRow(ctx, `SELECT toUInt64(sum(r)), toUInt64(sum(o)), toUInt64(sum(k)), toUInt64(sum(r * o)), toUInt64(sum(r * k))
FROM (
	SELECT campaign_id, contact, max(kind = ?) AS r, max(kind = ?) AS o, max(kind = ?) AS k
	FROM `+s.db+`.`+ViewUniqueEngagement+ucond+`
	GROUP BY campaign_id, contact
)`, append([]any{aggregate.UniqueRecipient, aggregate.UniqueOpener, aggregate.UniqueClicker}, uargs...)...).
		Scan(&u.Recipients, &u.Openers, &u.Clickers, &u.UniqueOpens, &u.UniqueClicks); err != nil {
		return c, readError("unique engagement", err)
	}
	for _, by := range []string{"mailbox_provider", "sending_domain"} {
		groups := map[string]*indicator.Totals{}
		q := "SELECT " + by + " AS g, " + cohortTotalsColumns + " FROM " + s.db + "." + ViewCohortRows + cond +
			" AND channel = 'email' AND " + by + " != '' GROUP BY g, " + cohortGroup
		err := s.query(ctx, "email complaints by "+by, q, args, func(rows driver.Rows) error {
			var g string
			r, err := scanCohortRow(rows, &g)
			if err != nil {
				return err
			}
			if groups[g] == nil {
				groups[g] = &indicator.Totals{}
			}
			groups[g].Add(r)
			return nil
		})
		if err != nil {
			return c, err
		}
		var list []report.ComplaintGroup
		for g, t := range groups {
			list = append(list, report.ComplaintTotals(by, g, *t))
		}
		slices.SortFunc(list, func(a, b report.ComplaintGroup) int {
			return cmp.Or(cmp.Compare(b.Value.Denominator, a.Value.Denominator), cmp.Compare(a.Group, b.Group))
		})
		c.Complaints = append(c.Complaints, list[:min(len(list), maxComplaintGroups)]...)
	}
	return c, nil
}
