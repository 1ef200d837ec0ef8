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
