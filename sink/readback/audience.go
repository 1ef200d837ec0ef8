package readback

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/trustpipe/trustpipe/aggregate/indicator"
	"github.com/trustpipe/trustpipe/aggregate/report"
)

// The audience gauges (indicator.AudienceSignals and the shrinking-audience
// rule) compare the last AudienceDays complete UTC days with the
// AudienceDays before them. Whole days, because the contact tables count
// distinct contacts per UTC day; complete days, because a partial today
// against a whole baseline would always look like a shrinking audience;
// equal lengths, because the rule compares distinct engaged contacts.
const AudienceDays = 7

// audienceDescs are the descriptors of the audience gauges.
type audienceDescs struct {
	signal, baseline, count, shrinking *prometheus.Desc
}

func newAudienceDescs() audienceDescs {
	return audienceDescs{
		signal: prometheus.NewDesc("trustpipe_audience_signal",
			"Audience signal (engaged_reach_rate, clicks_per_clicker, top_decile_click_share) over the last 7 complete UTC days. Absent when its denominator is 0.",
			[]string{"signal"}, nil),
		baseline: prometheus.NewDesc("trustpipe_audience_signal_baseline",
			"Audience signal over the 7 complete UTC days before those of trustpipe_audience_signal. Absent when its denominator is 0.",
			[]string{"signal"}, nil),
		count: prometheus.NewDesc("trustpipe_audience_count",
			"Contact-level count behind the audience signals (engaged_contacts, delivered_contacts, clicks, clickers, top_decile_clicks) over the last 7 complete UTC days (period=current) or the 7 before (period=baseline).",
			[]string{"count", "period"}, nil),
		shrinking: prometheus.NewDesc("trustpipe_shrinking_audience",
			"1 when ctr rose by the divergence click lift or more while distinct engaged contacts or engaged_reach_rate fell by the minimum reach drop or more, last 7 complete UTC days against the 7 before; 0 otherwise. Absent without engaged contacts in the earlier week.",
			nil, nil),
	}
}

// audienceCounts are the Audience counts the count gauge exports, in order.
var audienceCounts = []string{"engaged_contacts", "delivered_contacts", "clicks", "clickers", "top_decile_clicks"}

// audienceSeries is the number of audience samples: a value and a baseline
// per signal, every count in both periods, the rule's flag.
func audienceSeries() int { return 2*len(indicator.AudienceSignals()) + 2*len(audienceCounts) + 1 }

// readAudience adds the audience gauges of the plan's audience weeks; segs
// are the plan's segment totals (ctr of both weeks).
func (r *ReadBack) readAudience(ctx context.Context, b *builder, p plan, segs []indicator.Totals) error {
	d := r.m.trust.audience
	ca, err := r.deps.Source.Audience(ctx, p.audience.cur.report(), report.Filter{})
	if err != nil {
		return err
	}
	ba, err := r.deps.Source.Audience(ctx, p.audience.base.report(), report.Filter{})
	if err != nil {
		return err
	}
	for _, s := range indicator.AudienceSignals() {
		if v := s.Evaluate(*ca); v.Value != nil {
			if err := b.add(d.signal, *v.Value, s.Name); err != nil {
				return err
			}
		}
		if v := s.Evaluate(*ba); v.Value != nil {
			if err := b.add(d.baseline, *v.Value, s.Name); err != nil {
				return err
			}
		}
	}
	for _, c := range audienceCounts {
		if err := b.add(d.count, float64(ca.Count(c)), c, "current"); err != nil {
			return err
		}
		if err := b.add(d.count, float64(ba.Count(c)), c, "baseline"); err != nil {
			return err
		}
	}
	s := indicator.DetectShrinkingAudience(r.cfg.Divergence, p.totals(segs, p.audience.base), p.totals(segs, p.audience.cur), *ba, *ca)
	if s.ReachChange == nil && s.RateChange == nil {
		return nil
	}
	flag := 0.0
	if s.Flag {
		flag = 1
	}
	return b.add(d.shrinking, flag)
}
