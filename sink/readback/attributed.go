package readback

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/trustpipe/trustpipe/aggregate/indicator"
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

// readAttributed adds the attributed series of one refresh.
func (r *ReadBack) readAttributed(ctx context.Context, b *builder, now time.Time) error {
	p := newPlan(now, indicator.AttributionWindows())
	all, bySend, err := r.deps.Source.CohortSegmentTotals(ctx, p.times())
	if err != nil {
		return fmt.Errorf("read-back: %w", err)
	}
	if len(all) != p.segments() || len(bySend) != p.segments() {
		return fmt.Errorf("read-back: %d and %d cohort segment totals for %d segments", len(all), len(bySend), p.segments())
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
			by, dim, channel string
			from             int64
			defs             []indicator.Definition
			other            bool
		}{
			{GroupCampaign, "campaign_id", "", lifetime, defs, false},
			{GroupMailboxProvider, "mailbox_provider", "email", w.cur.lo, []indicator.Definition{complaint}, false},
			{GroupSendingDomain, "sending_domain", "email", w.cur.lo, []indicator.Definition{complaint}, true},
		}
		for _, g := range groups {
			top, err := r.cohortTop(ctx, g.dim, g.channel, w.cur)
			if err != nil {
				return err
			}
			if len(top) == 0 {
				continue
			}
			totals, err := r.deps.Source.CohortGroupTotals(ctx, g.dim, g.channel, top, period{g.from, n}.report(), !g.other)
			if err != nil {
				return fmt.Errorf("read-back: attributed %s: %w", g.by, err)
			}
			if len(totals) != len(top)+1 {
				return fmt.Errorf("read-back: %d attributed %s totals for %d groups", len(totals), g.by, len(top)+1)
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

// cohortTop returns at most TopN distinct eligible values of dim on
// channel ("" every channel), most deliveries in per first.
func (r *ReadBack) cohortTop(ctx context.Context, dim, channel string, per period) ([]string, error) {
	top, err := r.deps.Source.CohortTopValues(ctx, dim, channel, per.report(), r.cfg.TopN, []string{OtherValue}, MaxDimensionValueBytes)
	if err != nil {
		return nil, fmt.Errorf("read-back: attributed top %s: %w", dim, err)
	}
	var out []string
	for _, v := range top {
		if len(out) < r.cfg.TopN && eligible(v) && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out, nil
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
