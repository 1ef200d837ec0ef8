package readback

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/trustpipe/trustpipe/aggregate/event"
	"github.com/trustpipe/trustpipe/aggregate/indicator"
)

// fakeRow is one row of the trust_counts view.
type fakeRow struct {
	bucket int64
	dims   dims
	indicator.Row
}

// dims are the breakdown columns of a trust_counts row.
type dims struct{ campaign, channel, segment, source string }

func (d dims) get(col string) string {
	switch col {
	case "campaign_id":
		return d.campaign
	case "channel":
		return d.channel
	case "segment":
		return d.segment
	case "source":
		return d.source
	}
	panic("unknown dimension column " + col)
}

// fakeQuerier answers the read-back's queries from in-memory trust_counts
// and ingest_ledger rows, with the semantics of the SQL in query.go. The
// SQL itself is checked against a real ClickHouse by the integration test.
type fakeQuerier struct {
	mu      sync.Mutex
	rows    []fakeRow
	ledger  []ledgerBlock
	err     error // returned by every Query when set
	queries []string
}

var (
	topDimRe       = regexp.MustCompile(`SELECT (\w+) AS dv`)
	limitRe        = regexp.MustCompile(`LIMIT (\d+)`)
	breakdownDimRe = regexp.MustCompile(`indexOf\(\?, (\w+)\)`)
)

func (f *fakeQuerier) Query(_ context.Context, q string, args ...any) (driver.Rows, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queries = append(f.queries, q)
	if f.err != nil {
		return nil, f.err
	}
	if n := strings.Count(q, "?"); n != len(args) {
		return nil, fmt.Errorf("fake: query has %d placeholders but %d arguments:\n%s", n, len(args), q)
	}
	switch {
	case strings.Contains(q, "cohort_count_rows"):
		// Attributed queries: the integration test checks them against a
		// real ClickHouse; the unit tests' trust_counts fixture has no
		// cohort rows.
		return &fakeRows{}, nil
	case strings.Contains(q, " AS seg,"):
		return f.segments(args)
	case strings.Contains(q, " AS dv,"):
		return f.top(q, args)
	case strings.Contains(q, " AS k,"):
		return f.breakdown(q, args)
	case strings.Contains(q, ".ingest_ledger"):
		out := &fakeRows{}
		// Every block, whatever the floors: the fixtures are far smaller
		// than LedgerBlocks. Block numbers assume the default block size.
		for _, b := range f.ledger {
			out.rows = append(out.rows, []any{b.topic, b.partition, b.first / 10000, b.first, b.last})
		}
		return out, nil
	}
	return nil, fmt.Errorf("fake: unexpected query:\n%s", q)
}

func unix(a any) int64 { return a.(int64) }

type totKey struct {
	group, sub int
	et, detail string
	channel    string
	pers       string
	tier       uint8
}

type totVal struct {
	n      uint64
	v      float64
	newest int64
}

// sums groups rows like GROUP BY, returning keys in an order that is
// deliberately not sorted, so the code under test must not depend on it.
func sums(rows []fakeRow, classify func(r fakeRow) (group, sub int, ok bool)) ([]totKey, map[totKey]*totVal) {
	m := map[totKey]*totVal{}
	var keys []totKey
	for _, r := range rows {
		g, s, ok := classify(r)
		if !ok {
			continue
		}
		k := totKey{g, s, r.EventType, r.Detail, r.dims.channel, r.Personalization, r.ConsentTier}
		v := m[k]
		if v == nil {
			v = &totVal{}
			m[k] = v
			keys = append(keys, k)
		}
		v.n += r.Events
		v.v += r.ValueSum
		v.newest = max(v.newest, r.bucket)
	}
	slices.Reverse(keys)
	return keys, m
}

func (f *fakeQuerier) segments(args []any) (driver.Rows, error) {
	lower := args[:len(args)-2]
	lo, hi := unix(args[len(args)-2]), unix(args[len(args)-1])
	keys, m := sums(f.rows, func(r fakeRow) (int, int, bool) {
		if r.bucket < lo || r.bucket >= hi {
			return 0, 0, false
		}
		for i, b := range lower {
			if r.bucket >= unix(b) {
				return i, 0, true
			}
		}
		return len(lower), 0, true
	})
	out := &fakeRows{}
	for _, k := range keys {
		v := m[k]
		out.rows = append(out.rows, []any{uint32(k.group), k.et, k.detail, k.channel, k.pers, k.tier, v.n, v.v, uint32(v.newest)})
	}
	return out, nil
}

func (f *fakeQuerier) top(q string, args []any) (driver.Rows, error) {
	dim := topDimRe.FindStringSubmatch(q)[1]
	limit, _ := strconv.Atoi(limitRe.FindStringSubmatch(q)[1])
	lo, hi := unix(args[0]), unix(args[1])
	vol := map[string]uint64{}
	for _, r := range f.rows {
		v := r.dims.get(dim)
		if r.bucket >= lo && r.bucket < hi && v != "" && v != OtherValue && len(v) <= MaxDimensionValueBytes {
			vol[v] += r.Events
		}
	}
	vals := make([]string, 0, len(vol))
	for v := range vol {
		vals = append(vals, v)
	}
	slices.SortFunc(vals, func(a, b string) int { return cmp.Or(cmp.Compare(vol[b], vol[a]), strings.Compare(a, b)) })
	out := &fakeRows{}
	for _, v := range vals[:min(limit, len(vals))] {
		out.rows = append(out.rows, []any{v, vol[v]})
	}
	return out, nil
}

func (f *fakeQuerier) breakdown(q string, args []any) (driver.Rows, error) {
	dim := breakdownDimRe.FindStringSubmatch(q)[1]
	top := args[0].([]string)
	curLo, lo, hi := unix(args[1]), unix(args[2]), unix(args[3])
	keys, m := sums(f.rows, func(r fakeRow) (int, int, bool) {
		if r.bucket < lo || r.bucket >= hi {
			return 0, 0, false
		}
		cur := 0
		if r.bucket >= curLo {
			cur = 1
		}
		return slices.Index(top, r.dims.get(dim)) + 1, cur, true
	})
	out := &fakeRows{}
	for _, k := range keys {
		v := m[k]
		out.rows = append(out.rows, []any{uint32(k.group), uint8(k.sub), k.et, k.detail, k.channel, k.pers, k.tier, v.n, v.v})
	}
	return out, nil
}

// fakeRows implements driver.Rows over values whose Go types must match the
// Scan destinations exactly, as clickhouse-go requires for these columns.
type fakeRows struct {
	rows [][]any
	i    int
}

func (r *fakeRows) Next() bool { r.i++; return r.i <= len(r.rows) }

func (r *fakeRows) Scan(dest ...any) error {
	row := r.rows[r.i-1]
	if len(dest) != len(row) {
		return fmt.Errorf("fake: scan into %d destinations, row has %d columns", len(dest), len(row))
	}
	for i, d := range dest {
		dv, sv := reflect.ValueOf(d).Elem(), reflect.ValueOf(row[i])
		if dv.Type() != sv.Type() {
			return fmt.Errorf("fake: column %d is %s, scanned into %s", i, sv.Type(), dv.Type())
		}
		dv.Set(sv)
	}
	return nil
}

func (r *fakeRows) ScanStruct(any) error             { return errors.New("fake: ScanStruct") }
func (r *fakeRows) ColumnTypes() []driver.ColumnType { return nil }
func (r *fakeRows) Totals(...any) error              { return errors.New("fake: Totals") }
func (r *fakeRows) Columns() []string                { return nil }
func (r *fakeRows) Close() error                     { return nil }
func (r *fakeRows) Err() error                       { return nil }
func (r *fakeRows) HasData() bool                    { return len(r.rows) > 0 }

// mix is an event mix: how many events of each kind one profile adds.
type mix struct {
	delivered, opens, machineOpens, clicks, formFills  uint64
	unsubscribes, optDowns, prefVisits, complaints     uint64
	upgrades, downgrades, direct, organic, tooPersonal uint64
	sentiments                                         uint64
	sentimentSum                                       float64
	explained, unexplained, beyondConsent, plainSends  uint64
}

// good is a healthy mix: every trust indicator near its "good" threshold,
// every denominator above its minimum volume.
var good = mix{
	delivered: 10000, opens: 2500, machineOpens: 800, clicks: 300, formFills: 40,
	unsubscribes: 20, optDowns: 20, prefVisits: 12, complaints: 6,
	upgrades: 30, downgrades: 10, direct: 150, organic: 250, tooPersonal: 2,
	sentiments: 20, sentimentSum: 6.5,
	explained: 950, unexplained: 30, beyondConsent: 5, plainSends: 9000,
}

// clickTrap has better click metrics and worse trust: the divergence case.
var clickTrap = mix{
	delivered: 10000, opens: 3000, machineOpens: 800, clicks: 420, formFills: 55,
	unsubscribes: 70, optDowns: 8, prefVisits: 3, complaints: 25,
	upgrades: 10, downgrades: 30, direct: 60, organic: 340, tooPersonal: 12,
	sentiments: 20, sentimentSum: -3.25,
	explained: 600, unexplained: 300, beyondConsent: 100, plainSends: 9000,
}

// rows returns the trust_counts rows of m at bucket t with dimensions d.
func (m mix) rows(t time.Time, d dims) []fakeRow {
	r := func(typ event.Type, detail, pers string, tier uint8, n uint64) indicator.Row {
		return indicator.Row{EventType: typ.String(), Detail: detail, Personalization: pers, ConsentTier: tier, Events: n}
	}
	sentiment := r(event.Sentiment, "", "", 0, m.sentiments)
	sentiment.ValueSum = m.sentimentSum
	all := []indicator.Row{
		r(event.Send, event.DetailExplained, "basic", 2, m.explained),
		r(event.Send, "", "behavioral", 2, m.unexplained),
		r(event.Send, event.DetailExplained, "predictive", 1, m.beyondConsent),
		r(event.Send, "", "none", 0, m.plainSends),
		r(event.Delivered, "", "", 0, m.delivered),
		r(event.Open, "", "", 0, m.opens),
		r(event.Open, event.DetailMachine, "", 0, m.machineOpens),
		r(event.Click, "", "", 0, m.clicks),
		r(event.FormFill, "", "", 0, m.formFills),
		r(event.Unsubscribe, "", "", 0, m.unsubscribes),
		r(event.OptDown, "", "", 0, m.optDowns),
		r(event.PreferenceCenterVisit, "", "", 0, m.prefVisits),
		r(event.Complaint, "", "", 0, m.complaints),
		r(event.ConsentChange, indicator.ConsentChangeDetail(1, 2), "", 2, m.upgrades),
		r(event.ConsentChange, indicator.ConsentChangeDetail(3, 1), "", 1, m.downgrades),
		r(event.WebSession, indicator.TrafficDirect, "", 0, m.direct),
		r(event.WebSession, "organic", "", 0, m.organic),
		r(event.Feedback, indicator.FeedbackTooPersonal, "", 0, m.tooPersonal),
		r(event.Feedback, "helpful", "", 0, 5),
		sentiment,
	}
	var out []fakeRow
	for _, row := range all {
		if row.Events > 0 {
			out = append(out, fakeRow{bucket: t.Unix(), dims: d, Row: row})
		}
	}
	return out
}

// scale returns m with every count multiplied by k (and divided by div).
func (m mix) scale(k, div uint64) mix {
	f := func(n uint64) uint64 { return n * k / div }
	return mix{
		delivered: f(m.delivered), opens: f(m.opens), machineOpens: f(m.machineOpens), clicks: f(m.clicks), formFills: f(m.formFills),
		unsubscribes: f(m.unsubscribes), optDowns: f(m.optDowns), prefVisits: f(m.prefVisits), complaints: f(m.complaints),
		upgrades: f(m.upgrades), downgrades: f(m.downgrades), direct: f(m.direct), organic: f(m.organic), tooPersonal: f(m.tooPersonal),
		sentiments: f(m.sentiments), sentimentSum: m.sentimentSum * float64(k) / float64(div),
		explained: f(m.explained), unexplained: f(m.unexplained), beyondConsent: f(m.beyondConsent), plainSends: f(m.plainSends),
	}
}
