package readback

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Account gauges (indicator.AccountRule). Each refresh judges every account
// over the rule's pullback span of UTC days ending today (7 by default,
// today included) — the same rule and the same days as `trustpipe report`
// over that span — and exports only counts: how many accounts were active,
// how many are in alarm, and how many target accounts are. Never a series
// per account: accounts are unbounded, and a pseudonym in a label would
// travel to every Prometheus and alert receiver. Which accounts are in
// alarm is in the report and the dashboards, by pseudonym.

// Scopes of trustpipe_accounts_in_alarm (label scope).
const (
	ScopeAll    = "all"
	ScopeTarget = "target"
)

// accountDescs are the account gauges.
type accountDescs struct {
	inAlarm, active *prometheus.Desc
}

func newAccountDescs() accountDescs {
	return accountDescs{
		inAlarm: prometheus.NewDesc("trustpipe_accounts_in_alarm",
			"Accounts in alarm over the last 7 UTC days (today included): two or more distinct contacts pulled back, or sentiment turned negative after predictive sends (README, Account-level trust). scope=all counts every account, scope=target the configured TRUSTPIPE_TARGET_ACCOUNTS.",
			[]string{"scope"}, nil),
		active: prometheus.NewDesc("trustpipe_accounts_active",
			"Accounts with a delivery, pullback, predictive send or sentiment report over the same 7 UTC days.",
			nil, nil),
	}
}

// targetsMetric is the static gauge of configured target accounts.
func targetsMetric(n int) (prometheus.Metric, error) {
	return prometheus.NewConstMetric(prometheus.NewDesc("trustpipe_target_accounts",
		"Target accounts configured (TRUSTPIPE_TARGET_ACCOUNTS); trustpipe_accounts_in_alarm{scope=\"target\"} counts those in alarm.",
		nil, nil), prometheus.GaugeValue, float64(n))
}

// readAccounts adds the account gauges of one refresh at now.
func (r *ReadBack) readAccounts(ctx context.Context, b *builder, now time.Time) error {
	rule := r.cfg.AccountRule
	last := now.UTC().Truncate(24 * time.Hour)
	first := last.AddDate(0, 0, 1-max(1, rule.PullbackDays))
	hs, err := r.deps.Source.AccountHistories(ctx, rule, first, last)
	if err != nil {
		return err
	}
	sum := rule.EvaluateAccounts(hs, r.cfg.TargetAccounts, first, last)
	d := r.m.trust.accounts
	if err := b.add(d.inAlarm, float64(sum.InAlarm), ScopeAll); err != nil {
		return err
	}
	if err := b.add(d.inAlarm, float64(sum.TargetsInAlarm), ScopeTarget); err != nil {
		return err
	}
	return b.add(d.active, float64(sum.Accounts))
}
