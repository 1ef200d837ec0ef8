package indicator

import "time"

// Window is a rolling period ending now over which indicators are reported
// (the trust_indicators_window and trust_index_window views, and the
// trustpipe_indicator{window} gauges).
type Window struct {
	Name   string // the window label, e.g. "24h"
	Length time.Duration
}

// Windows are the rolling windows, shortest first: the last hour, day, week
// and four weeks. Each is nested in the next, which the window views rely on.
func Windows() []Window {
	return []Window{
		{"1h", time.Hour},
		{"24h", 24 * time.Hour},
		{"7d", 7 * 24 * time.Hour},
		{"28d", 28 * 24 * time.Hour},
	}
}

// AttributionWindows are the windows of the attributed rates: the cohorts
// sent in the last day and week. No hour: a cohort an hour old has too few
// of its follow-ups to judge.
func AttributionWindows() []Window {
	w := Windows()
	return []Window{w[1], w[2]}
}

// DirectTrafficGrowth is the change of direct web sessions per unit of time
// from a prior period to the current one (DESIGN.md: the direct-traffic
// share "and its growth vs the prior period"): (direct sessions in cur /
// curLen) / (direct sessions in prior / priorLen) − 1, so periods of
// different lengths compare fairly. +0.1 means 10 % more buyers a day came
// on their own. Nil when the prior period had no direct sessions or a
// length is not positive. Direct sessions are DirectTrafficShare's
// numerator, so the two never disagree about what "direct" is.
func DirectTrafficGrowth(cur, prior Totals, curLen, priorLen time.Duration) *float64 {
	d, _ := ByName(DirectTrafficShare)
	c, p := cur.sumTerms(d.Numerator), prior.sumTerms(d.Numerator)
	if p <= 0 || curLen <= 0 || priorLen <= 0 {
		return nil
	}
	g := (c/curLen.Seconds())/(p/priorLen.Seconds()) - 1
	return &g
}
