package readback

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/trustpipe/trustpipe/aggregate/event"
	"github.com/trustpipe/trustpipe/aggregate/indicator"
	"github.com/trustpipe/trustpipe/aggregate/report"
	"github.com/trustpipe/trustpipe/sink"
)

// fakeRow is one row of the trust_counts view.
type fakeRow struct {
	bucket int64
	dims   dims
	indicator.Row
}

// row is the indicator.Row of r, with the channel of its dimensions (the
// totals keep the channel).
func (r fakeRow) row() indicator.Row {
	row := r.Row
	row.Channel = r.dims.channel
	return row
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

// fakeSource answers the read-back's reads from in-memory trust_counts
// and ingest_ledger rows, with the semantics documented on sink's read
// API. The SQL behind that API is checked against a real ClickHouse by the
// integration test and by sink's own tests.
type fakeSource struct {
	mu     sync.Mutex
	rows   []fakeRow
	ledger []sink.LedgerBlock
	err    error // returned by every read when set
	reads  []string
	// audience answers Audience by the period's start (zero counts for
	// any other period).
	audience map[time.Time]indicator.Audience
	// accounts are returned by AccountHistories, which records the days
	// it was asked for.
	accounts    []indicator.AccountHistory
	accountDays [2]time.Time
}

func (f *fakeSource) AccountHistories(_ context.Context, _ indicator.AccountRule, first, last time.Time) ([]indicator.AccountHistory, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.read("AccountHistories"); err != nil {
		return nil, err
	}
	f.accountDays = [2]time.Time{first, last}
	return f.accounts, nil
}

// read records a call and returns the error every read fails with, if set.
func (f *fakeSource) read(name string) error {
	f.reads = append(f.reads, name)
	return f.err
}

func in(t time.Time, p report.Period) bool { return !t.Before(p.From) && t.Before(p.To) }

func (f *fakeSource) SegmentTotals(_ context.Context, bounds []time.Time) ([]indicator.Totals, time.Time, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.read("SegmentTotals"); err != nil {
		return nil, time.Time{}, err
	}
	segs := make([]indicator.Totals, len(bounds)-1)
	var newest time.Time
	for _, i := range f.order() {
		r := f.rows[i]
		t := time.Unix(r.bucket, 0)
		for s := range segs {
			if in(t, report.Period{From: bounds[s+1], To: bounds[s]}) {
				segs[s].Add(r.row())
				if r.Events > 0 && t.After(newest) {
					newest = t
				}
			}
		}
	}
	return segs, newest, nil
}

func (f *fakeSource) TopValues(_ context.Context, dim string, p report.Period, n int, exclude []string, maxBytes int) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.read("TopValues"); err != nil {
		return nil, err
	}
	vol := map[string]uint64{}
	for _, r := range f.rows {
		v := r.dims.get(dim)
		if in(time.Unix(r.bucket, 0), p) && v != "" && !slices.Contains(exclude, v) && len(v) <= maxBytes {
			vol[v] += r.Events
		}
	}
	vals := make([]string, 0, len(vol))
	for v := range vol {
		vals = append(vals, v)
	}
	slices.SortFunc(vals, func(a, b string) int { return cmp.Or(cmp.Compare(vol[b], vol[a]), strings.Compare(a, b)) })
	return vals[:min(n, len(vals))], nil
}

func (f *fakeSource) SplitTotals(_ context.Context, dim string, values []string, split time.Time, p report.Period) (cur, base []indicator.Totals, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.read("SplitTotals"); err != nil {
		return nil, nil, err
	}
	cur, base = make([]indicator.Totals, len(values)+1), make([]indicator.Totals, len(values)+1)
	for _, i := range f.order() {
		r := f.rows[i]
		t := time.Unix(r.bucket, 0)
		if !in(t, p) {
			continue
		}
		k := slices.Index(values, r.dims.get(dim)) + 1
		if t.Before(split) {
			base[k].Add(r.row())
		} else {
			cur[k].Add(r.row())
		}
	}
	return cur, base, nil
}

func (f *fakeSource) LedgerBlocks(_ context.Context, floors map[sink.LedgerPartition]int64) ([]sink.LedgerBlock, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.read("LedgerBlocks"); err != nil {
		return nil, err
	}
	var out []sink.LedgerBlock
	for _, b := range f.ledger {
		if floor, ok := floors[b.LedgerPartition]; !ok || b.Block >= floor {
			out = append(out, b)
		}
	}
	return out, nil
}

// order returns the row indexes in an order that is deliberately not the
// fixture's, as a GROUP BY in ClickHouse would, so the code under test must
// not depend on it.
func (f *fakeSource) order() []int {
	idx := make([]int, len(f.rows))
	for i := range idx {
		idx[i] = len(idx) - 1 - i
	}
	return idx
}

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
		// Explained sends name their inputs; those beyond consent use an
		// input beyond it too (event.SendFlags).
		r(event.Send, event.DetailExplained+"+lineage", "basic", 2, m.explained),
		r(event.Send, "", "behavioral", 2, m.unexplained),
		r(event.Send, event.DetailExplained+"+lineage+input_beyond_consent", "predictive", 1, m.beyondConsent),
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

// The fake holds no cohort rows: the attributed reads find nothing. The
// integration test checks them against a real ClickHouse.

func (f *fakeSource) CohortSegmentTotals(_ context.Context, bounds []time.Time) (all, bySend []indicator.Totals, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.read("CohortSegmentTotals"); err != nil {
		return nil, nil, err
	}
	return make([]indicator.Totals, len(bounds)-1), make([]indicator.Totals, len(bounds)-1), nil
}

func (f *fakeSource) CohortTopValues(context.Context, string, string, report.Period, int, []string, int) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return nil, f.read("CohortTopValues")
}

func (f *fakeSource) CohortGroupTotals(_ context.Context, _, _ string, values []string, _ report.Period, _ bool) ([]indicator.Totals, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.read("CohortGroupTotals"); err != nil {
		return nil, err
	}
	return make([]indicator.Totals, len(values)+1), nil
}

func (f *fakeSource) Audience(_ context.Context, p report.Period, _ report.Filter) (*indicator.Audience, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.read("Audience"); err != nil {
		return nil, err
	}
	a := f.audience[p.From]
	return &a, nil
}
