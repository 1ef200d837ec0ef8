package readback

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/trustpipe/trustpipe/aggregate/indicator"
	"github.com/trustpipe/trustpipe/sink"
)

// Attributed read-back (DESIGN.md, "Attribution"). The indicators whose
// events follow a message (indicator.AttributedDefinitions) are evaluated a
// second time over the send-time cohorts of cohort_count_rows, so a late
// unsubscribe is judged against the deliveries it follows rather than
// against whatever was delivered in the hour it arrived. Per window w of
// indicator.AttributionWindows() and read-back time now:
//
//	group_by="program"           cohorts sent in [now − w, now), follow-ups
//	                             that carry sent_at (by_send_time = 1)
//	group_by="campaign"          the TopN campaigns with the most deliveries
//	                             sent in [now − w, now): all of each
//	                             campaign's rows of the last CampaignLifetime,
//	                             follow-ups without sent_at included (campaign
//	                             attribution)
//	group_by="mailbox_provider"  email rows of cohorts in [now − w, now) per
//	group_by="sending_domain"    provider (the contract's enum) and per the
//	                             TopN sending domains + "other"; complaint
//	                             rate only
//	baseline                     every row of cohorts in
//	                             [now − w − 28d, now − w): the program's
//	                             trailing rate, attributed where it can be
//
// A young cohort's rate only rises as follow-ups arrive and converges to the
// rate of its messages, so a healthy blast approaches its baseline from below
// instead of spiking hours later; a blast with a real problem crosses it as
// soon as enough follow-ups are in. Volumes (deliveries) gate every alert.

// CampaignLifetime is how far back a campaign's rows are summed for its
// attributed rate: long enough for the follow-ups of a send to arrive.
const CampaignLifetime = 28 * 24 * time.Hour

// Group kinds of the attributed gauges (label group_by).
const (
	GroupProgram         = "program"
	GroupCampaign        = "campaign"
	GroupMailboxProvider = "mailbox_provider"
	GroupSendingDomain   = "sending_domain"
)

// attributedDescs are the attributed gauges.
type attributedDescs struct {
	rate, volume, baseline *prometheus.Desc
}

// attributedRow is one row of the cohort queries: a group index and the
// columns indicator.Totals keeps.
type attributedRow struct {
	k   uint32
	row indicator.Row
}

// cohortSegmentSQL sums cohort rows per segment of the plan (as segmentSQL
// does for trust_count_rows) and by_send_time. Arguments: the segment lower
// bounds, then the lowest bound and now.
func cohortSegmentSQL(db string, segments int) string {
	return `SELECT toUInt32(` + segmentExpr("cohort", segments) + `) AS seg, by_send_time AS bst, event_type, detail, channel, sum(events) AS n
FROM ` + db + `.` + sink.ViewCohortRows + `
WHERE cohort >= toDateTime(?) AND cohort < toDateTime(?)
GROUP BY seg, bst, event_type, detail, channel`
}

// cohortTopSQL lists the values of dim with the most email or all
// deliveries in cohorts of [?, ?), filtered like topSQL.
func cohortTopSQL(db, dim, cond string, n int) string {
	return `SELECT ` + dim + ` AS dv, sum(events) AS n
FROM ` + db + `.` + sink.ViewCohortRows + `
WHERE cohort >= toDateTime(?) AND cohort < toDateTime(?) AND event_type = 'delivered' AND ` + cond + `
	AND ` + dim + ` != '' AND ` + dim + ` != '` + OtherValue + `' AND length(` + dim + `) <= ` + strconv.Itoa(MaxDimensionValueBytes) + `
GROUP BY dv
ORDER BY n DESC, dv
LIMIT ` + strconv.Itoa(n)
}

// cohortGroupSQL sums the rows of [?, ?) per group: k is the 1-based
// position of dim's value in the array argument, 0 for any other value.
// Arguments: the values, from, to.
func cohortGroupSQL(db, dim, cond string) string {
	return `SELECT toUInt32(indexOf(?, ` + dim + `)) AS k, event_type, detail, channel, sum(events) AS n
FROM ` + db + `.` + sink.ViewCohortRows + `
WHERE cohort >= toDateTime(?) AND cohort < toDateTime(?) AND ` + cond + `
GROUP BY k, event_type, detail, channel`
}

// readAttributed adds the attributed series of one refresh.
func (r *ReadBack) readAttributed(ctx context.Context, b *builder, now time.Time) error {
	p := newPlan(now, indicator.AttributionWindows())
	bySend := make([]indicator.Totals, p.segments())
	all := make([]indicator.Totals, p.segments())
	err := r.query(ctx, "attributed totals", cohortSegmentSQL(r.cfg.Database, p.segments()), p.segmentArgs(), func(rows driver.Rows) error {
		var (
			seg uint32
			bst uint8
			row indicator.Row
		)
		if err := rows.Scan(&seg, &bst, &row.EventType, &row.Detail, &row.Channel, &row.Events); err != nil {
			return err
		}
		if int(seg) >= len(all) {
			return fmt.Errorf("segment %d out of range 0..%d", seg, len(all)-1)
		}
		all[seg].Add(row)
		if bst == 1 {
			bySend[seg].Add(row)
		}
		return nil
	})
	if err != nil {
		return err
	}
	defs := indicator.AttributedDefinitions()
	complaint, _ := indicator.ByName(indicator.ComplaintRate)
	d := r.m.trust.attributed
	n := now.Unix()
	for _, w := range p.windows {
		if err := r.addAttributed(b, defs, w.name, GroupProgram, "", p.totals(bySend, w.cur)); err != nil {
			return err
		}
		for _, def := range defs {
			if v := def.Evaluate(p.totals(all, w.base)); v.Value != nil {
				if err := b.add(d.baseline, *v.Value, def.Name, w.name); err != nil {
					return err
				}
			}
		}
		lifetime := n - int64(CampaignLifetime/time.Second)
		groups := []struct {
			by, dim, cond string
			from          int64
			defs          []indicator.Definition
			other         bool
		}{
			{GroupCampaign, "campaign_id", "1", lifetime, defs, false},
			{GroupMailboxProvider, "mailbox_provider", "channel = 'email'", w.cur.lo, []indicator.Definition{complaint}, false},
			{GroupSendingDomain, "sending_domain", "channel = 'email'", w.cur.lo, []indicator.Definition{complaint}, true},
		}
		for _, g := range groups {
			top, err := r.cohortTop(ctx, g.dim, g.cond, w.cur)
			if err != nil {
				return err
			}
			if len(top) == 0 {
				continue
			}
			totals := make([]indicator.Totals, len(top)+1)
			cond, args := g.cond, []any{top, g.from, n}
			if !g.other {
				cond += " AND has(?, " + g.dim + ")"
				args = append(args, top)
			}
			err = r.query(ctx, "attributed "+g.by, cohortGroupSQL(r.cfg.Database, g.dim, cond), args, func(rows driver.Rows) error {
				var ar attributedRow
				if err := rows.Scan(&ar.k, &ar.row.EventType, &ar.row.Detail, &ar.row.Channel, &ar.row.Events); err != nil {
					return err
				}
				if int(ar.k) >= len(totals) {
					return fmt.Errorf("group %d out of range 0..%d", ar.k, len(totals)-1)
				}
				totals[ar.k].Add(ar.row)
				return nil
			})
			if err != nil {
				return err
			}
			for i, v := range top {
				if err := r.addAttributed(b, g.defs, w.name, g.by, labelValue(v), totals[i+1]); err != nil {
					return err
				}
			}
			if g.other {
				if err := r.addAttributed(b, g.defs, w.name, g.by, OtherValue, totals[0]); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// cohortTop returns at most TopN distinct eligible values of dim, most
// deliveries in per first.
func (r *ReadBack) cohortTop(ctx context.Context, dim, cond string, per period) ([]string, error) {
	var top []string
	err := r.query(ctx, "attributed top "+dim, cohortTopSQL(r.cfg.Database, dim, cond, r.cfg.TopN), []any{per.lo, per.hi}, func(rows driver.Rows) error {
		var (
			v string
			n uint64
		)
		if err := rows.Scan(&v, &n); err != nil {
			return err
		}
		if len(top) < r.cfg.TopN && eligible(v) && !slices.Contains(top, v) {
			top = append(top, v)
		}
		return nil
	})
	return top, err
}

// addAttributed exports the attributed rate (when it has a denominator) and
// volume of every definition over t.
func (r *ReadBack) addAttributed(b *builder, defs []indicator.Definition, window, by, group string, t indicator.Totals) error {
	d := r.m.trust.attributed
	for _, def := range defs {
		v := def.Evaluate(t)
		if err := b.add(d.volume, v.Denominator, def.Name, window, by, group); err != nil {
			return err
		}
		if v.Value != nil {
			if err := b.add(d.rate, *v.Value, def.Name, window, by, group); err != nil {
				return err
			}
		}
	}
	return nil
}
