package sink

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/trustpipe/trustpipe/aggregate/indicator"
	"github.com/trustpipe/trustpipe/aggregate/report"
)

// The overview's reads (the HTML report): the report's totals per time step
// and per campaign, over trust_count_rows like the report's own totals, so
// every figure of the page is scored by package indicator from the same
// sums as the terminal report and the indicator views.
//
// Sentiment is summed as exact integer nano-units (value_nanos) and divided
// once in Go, as the report does: Float64 sums in ClickHouse depend on the
// order of its threads. User input (times, filter values) is bound as a
// query parameter; aliases never reuse a column name (18.16 rejects
// `sum(events) AS events`).

// totalsGroup is what a grouped totals query groups by besides its key.
const totalsGroup = "event_type, detail, channel, personalization, consent_tier"

// TotalsByStep sums trust_counts over [p.From, p.To) under f, per step (a
// whole number of seconds; buckets are grouped by multiples of step since
// the Unix epoch, i.e. UTC hours and days). Steps without events are
// absent; the result is ordered by Start.
func (s *Store) TotalsByStep(ctx context.Context, p report.Period, f report.Filter, step time.Duration) ([]report.Bucket, error) {
	sec := int64(step / time.Second)
	if sec <= 0 || step%time.Second != 0 {
		return nil, fmt.Errorf("read trust_counts per step: step %v is not a positive whole number of seconds", step)
	}
	n := strconv.FormatInt(sec, 10)
	var out []report.Bucket
	err := s.groupedTotals(ctx, "trust_counts per step", "intDiv(toUInt32(bucket), "+n+") * "+n, p, f,
		func(rows driver.Rows) (string, indicator.Row, error) {
			var start uint64
			r, err := scanRow(rows, &start)
			return strconv.FormatUint(start, 10), r, err
		},
		func(key string, t indicator.Totals) {
			u, _ := strconv.ParseInt(key, 10, 64)
			out = append(out, report.Bucket{Start: time.Unix(u, 0).UTC(), Totals: t})
		})
	return out, err
}

// TotalsByCampaign sums trust_counts over [p.From, p.To) under f, per
// campaign_id, ordered by campaign_id.
func (s *Store) TotalsByCampaign(ctx context.Context, p report.Period, f report.Filter) ([]report.CampaignTotals, error) {
	var out []report.CampaignTotals
	err := s.groupedTotals(ctx, "trust_counts per campaign", "campaign_id", p, f,
		func(rows driver.Rows) (string, indicator.Row, error) {
			var c string
			r, err := scanRow(rows, &c)
			return c, r, err
		},
		func(key string, t indicator.Totals) {
			out = append(out, report.CampaignTotals{Campaign: key, Totals: t})
		})
	return out, err
}

// groupedTotals runs a totals query grouped by keyExpr (aliased group_key)
// and hands each key's Totals to emit, in key order.
func (s *Store) groupedTotals(ctx context.Context, what, keyExpr string, p report.Period, f report.Filter,
	scan func(driver.Rows) (string, indicator.Row, error), emit func(string, indicator.Totals)) error {
	conds := []string{"bucket >= toDateTime(?)", "bucket < toDateTime(?)"}
	args := []any{p.From.Unix(), p.To.Unix()}
	for _, d := range f.Dimensions() {
		conds = append(conds, d[0]+" = ?")
		args = append(args, d[1])
	}
	q := fmt.Sprintf(`SELECT %s AS group_key, %s, sum(events) AS n, sum(value_nanos) AS nanos
FROM %s.trust_count_rows
WHERE %s
GROUP BY group_key, %s
ORDER BY group_key`, keyExpr, totalsGroup, s.db, strings.Join(conds, " AND "), totalsGroup)
	rows, err := s.conn.Query(ctx, q, args...)
	if err != nil {
		return readError(what, err)
	}
	defer rows.Close()
	var (
		key  string
		cur  indicator.Totals
		have bool
	)
	for rows.Next() {
		k, r, err := scan(rows)
		if err != nil {
			return readError(what, fmt.Errorf("scan: %w", err))
		}
		if have && k != key {
			emit(key, cur)
			cur = indicator.Totals{}
		}
		key, have = k, true
		cur.Add(r)
	}
	if err := rows.Err(); err != nil {
		return readError(what, err)
	}
	if have {
		emit(key, cur)
	}
	return nil
}

// readError names what was read and adds what a person should do about a
// permanent error (see Advice).
func readError(what string, err error) error {
	if a := Advice(err); a != "" {
		return fmt.Errorf("read %s: %w (%s)", what, err, a)
	}
	return fmt.Errorf("read %s: %w", what, err)
}
