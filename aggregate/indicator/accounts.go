package indicator

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/trustpipe/trustpipe/aggregate/event"
)

// Account-level trust for account-based marketing (issue 16, item 4).
//
// An ABM team sells to a company, not to a contact: one buying committee of
// a handful of people. Two of them leaving, complaining or calling a message
// "too personal" in a week is a relationship problem that no rate over the
// whole programme shows (they are two events among thousands), and neither
// is one account's sales sentiment souring right after it was put into a
// predictive campaign. So these are counted per account (pseudonymized
// account_id) and UTC day, and an explicit rule says when an account is in
// alarm. The rule is evaluated here, once, for the report, the read-back
// gauges and (rendered by sink) the accounts_in_alarm view.

// Account measures: what is counted per account and UTC day. The names are
// stored (the measure column of the account tables), so never rename one.
const (
	AccountDelivered      = "delivered"       // deliveries
	AccountUnsubscribe    = "unsubscribe"     // unsubscribes
	AccountOptDown        = "opt_down"        // opt-downs
	AccountComplaint      = "complaint"       // complaints (marked as spam)
	AccountTooPersonal    = "too_personal"    // feedback of kind too_personal
	AccountSentiment      = "sentiment"       // sales sentiment reports (value: the score)
	AccountPredictiveSend = "predictive_send" // sends with personalization predictive
)

// AccountMeasures lists every account measure in a fixed order.
func AccountMeasures() []string {
	return []string{AccountDelivered, AccountUnsubscribe, AccountOptDown, AccountComplaint, AccountTooPersonal,
		AccountSentiment, AccountPredictiveSend}
}

// AccountMeasure returns the measure ev counts under on its account, or ""
// when it counts under none (or carries no account).
func AccountMeasure(ev *event.Event) string {
	if ev.AccountID == "" {
		return ""
	}
	switch ev.Type {
	case event.Delivered:
		return AccountDelivered
	case event.Unsubscribe:
		return AccountUnsubscribe
	case event.OptDown:
		return AccountOptDown
	case event.Complaint:
		return AccountComplaint
	case event.Feedback:
		if ev.Detail == feedbackTooPersonal {
			return AccountTooPersonal
		}
	case event.Sentiment:
		return AccountSentiment
	case event.Send:
		if ev.Personalization == personalizationPredictive {
			return AccountPredictiveSend
		}
	}
	return ""
}

const (
	feedbackTooPersonal       = "too_personal"
	personalizationPredictive = "predictive"
)

// IsPullback reports whether a measure is a contact pulling back from the
// account's programme: leaving (unsubscribe), asking for less (opt_down),
// complaining, or saying a message was too personal. Their contacts are
// kept (pseudonymized) so the rule counts distinct people, not events: one
// angry contact complaining three times is one person.
func IsPullback(measure string) bool {
	switch measure {
	case AccountUnsubscribe, AccountOptDown, AccountComplaint, AccountTooPersonal:
		return true
	}
	return false
}

// IsLost reports whether a pullback measure loses the contact's reach:
// an unsubscribe (gone from the channel) or an opt-down (fewer messages or
// topics). "Contacts lost" counts the distinct contacts behind these.
func IsLost(measure string) bool { return measure == AccountUnsubscribe || measure == AccountOptDown }

// ScoreScale converts a sentiment score to the integer nano-units that are
// summed (aggregate.ScoreScale is this constant): integer sums are exact in
// any order.
const ScoreScale = 1e9

// AccountRule is when an account is in alarm. Its defaults are the issue's
// rule; they are data so the view, the report and the gauges render the
// same numbers and the README can quote them.
type AccountRule struct {
	// PullbackDays and MinPullbackContacts: in alarm when at least
	// MinPullbackContacts distinct contacts pulled back within
	// PullbackDays consecutive UTC days of the period.
	PullbackDays        int `json:"pullback_days"`
	MinPullbackContacts int `json:"min_pullback_contacts"`
	// SentimentDays, BaselineDays and MinSentimentReports: in alarm when
	// the mean sentiment of the SentimentDays from the account's first
	// predictive send in the period (that day included, at most to the
	// period's end) is below 0 and below the mean of the BaselineDays
	// before that send (0, neutral, when there were no reports then), over
	// at least MinSentimentReports reports, so one sour call does not
	// raise an alarm.
	SentimentDays       int `json:"sentiment_days"`
	BaselineDays        int `json:"baseline_days"`
	MinSentimentReports int `json:"min_sentiment_reports"`
}

// DefaultAccountRule: two distinct contacts within 7 days; sentiment over
// the 7 days from the first predictive send, against the 28 days before,
// from 3 reports.
func DefaultAccountRule() AccountRule {
	return AccountRule{PullbackDays: 7, MinPullbackContacts: 2, SentimentDays: 7, BaselineDays: 28, MinSentimentReports: 3}
}

// AccountDay is one account's counts on one UTC day (the account_trust_daily
// view's row, plus the pullback contacts behind its distinct counts).
type AccountDay struct {
	Day time.Time // UTC midnight
	// Events per measure (AccountMeasures).
	Delivered, Unsubscribes, OptDowns, Complaints, TooPersonal, PredictiveSends uint64
	SentimentReports                                                            uint64
	// SentimentNanos is the sum of the day's scores in 1/ScoreScale units.
	SentimentNanos int64
	// PullbackContacts are the pseudonyms of the distinct contacts with a
	// pullback that day; LostContacts those with an unsubscribe or
	// opt-down (a subset). Read only for the days of the period.
	PullbackContacts []string
	LostContacts     []string
}

// Add counts n events of measure m (value: nano-units of sentiment).
func (d *AccountDay) Add(m string, n uint64, nanos int64) {
	switch m {
	case AccountDelivered:
		d.Delivered += n
	case AccountUnsubscribe:
		d.Unsubscribes += n
	case AccountOptDown:
		d.OptDowns += n
	case AccountComplaint:
		d.Complaints += n
	case AccountTooPersonal:
		d.TooPersonal += n
	case AccountPredictiveSend:
		d.PredictiveSends += n
	case AccountSentiment:
		d.SentimentReports += n
		d.SentimentNanos += nanos
	}
}

// AccountHistory is one account's days, in any order: the days of the
// period, and before it the BaselineDays a sentiment baseline may need.
type AccountHistory struct {
	Account string // pseudonym
	Days    []AccountDay
}

// SentimentStat is the sentiment of a span of days.
type SentimentStat struct {
	From    string   `json:"from,omitempty"` // YYYY-MM-DD, inclusive
	To      string   `json:"to,omitempty"`
	Reports uint64   `json:"reports"`
	Mean    *float64 `json:"mean"` // null without reports
}

// PullbackEvidence is the pullback side of an account's verdict.
type PullbackEvidence struct {
	Alarm bool `json:"alarm"`
	// Contacts is the most distinct contacts that pulled back within
	// PullbackDays consecutive days of the period, From..To the first span
	// with that many.
	Contacts uint64 `json:"contacts"`
	From     string `json:"from,omitempty"`
	To       string `json:"to,omitempty"`
}

// SentimentEvidence is the predictive-sentiment side of an account's
// verdict.
type SentimentEvidence struct {
	Alarm bool `json:"alarm"`
	// FirstPredictiveSend is the day of the account's first predictive send
	// in the period; empty (and no comparison) without one.
	FirstPredictiveSend string        `json:"first_predictive_send,omitempty"`
	After               SentimentStat `json:"after"`
	Before              SentimentStat `json:"before"`
}

// AccountStatus is one account over a period: its counts and its verdict.
type AccountStatus struct {
	Account string `json:"account"` // pseudonym
	Target  bool   `json:"target"`
	InAlarm bool   `json:"in_alarm"`
	// Reasons explain the alarm (one per side that raised it), or why not.
	Reasons         []string `json:"reasons"`
	Delivered       uint64   `json:"delivered"`
	Unsubscribes    uint64   `json:"unsubscribes"`
	OptDowns        uint64   `json:"opt_downs"`
	Complaints      uint64   `json:"complaints"`
	TooPersonal     uint64   `json:"too_personal"`
	PredictiveSends uint64   `json:"predictive_sends"`
	// Sentiment over the whole period.
	Sentiment SentimentStat `json:"sentiment"`
	// ContactsLost: distinct contacts who unsubscribed or opted down in the
	// period; PullbackContacts: distinct contacts with any pullback.
	ContactsLost     uint64            `json:"contacts_lost"`
	PullbackContacts uint64            `json:"pullback_contacts"`
	Pullback         PullbackEvidence  `json:"pullback"`
	PredictiveMood   SentimentEvidence `json:"predictive_sentiment"`
}

const accountDayFormat = "2006-01-02"

// Evaluate applies the rule to one account over the UTC days first..last
// (inclusive, both UTC midnights). Days of h outside first-BaselineDays ..
// last are ignored, as are pullback contacts before first.
func (r AccountRule) Evaluate(h AccountHistory, first, last time.Time) AccountStatus {
	s := AccountStatus{Account: h.Account, Reasons: []string{}}
	byDay := map[int64]*AccountDay{}
	for i := range h.Days {
		byDay[h.Days[i].Day.Unix()] = &h.Days[i]
	}
	day := func(t time.Time) *AccountDay { return byDay[t.Unix()] }
	lost, pulled := map[string]bool{}, map[string]bool{}
	var sentiment AccountDay
	var firstPredictive time.Time
	for t := first; !t.After(last); t = t.AddDate(0, 0, 1) {
		d := day(t)
		if d == nil {
			continue
		}
		s.Delivered += d.Delivered
		s.Unsubscribes += d.Unsubscribes
		s.OptDowns += d.OptDowns
		s.Complaints += d.Complaints
		s.TooPersonal += d.TooPersonal
		s.PredictiveSends += d.PredictiveSends
		sentiment.SentimentReports += d.SentimentReports
		sentiment.SentimentNanos += d.SentimentNanos
		for _, c := range d.LostContacts {
			lost[c] = true
		}
		for _, c := range d.PullbackContacts {
			pulled[c] = true
		}
		if d.PredictiveSends > 0 && firstPredictive.IsZero() {
			firstPredictive = t
		}
	}
	s.Sentiment = sentimentOf(sentiment, first, last)
	s.ContactsLost, s.PullbackContacts = uint64(len(lost)), uint64(len(pulled))

	// Pullbacks: the most distinct contacts within PullbackDays consecutive
	// days, over every span that ends in the period (spans are cut at the
	// period's start).
	span := max(1, r.PullbackDays)
	for end := first; !end.After(last); end = end.AddDate(0, 0, 1) {
		start := end.AddDate(0, 0, 1-span)
		if start.Before(first) {
			start = first
		}
		seen := map[string]bool{}
		for t := start; !t.After(end); t = t.AddDate(0, 0, 1) {
			if d := day(t); d != nil {
				for _, c := range d.PullbackContacts {
					seen[c] = true
				}
			}
		}
		if n := uint64(len(seen)); n > s.Pullback.Contacts {
			s.Pullback = PullbackEvidence{Contacts: n, From: start.Format(accountDayFormat), To: end.Format(accountDayFormat)}
		}
	}
	s.Pullback.Alarm = s.Pullback.Contacts >= uint64(max(1, r.MinPullbackContacts))

	// Sentiment after the first predictive send of the period.
	if !firstPredictive.IsZero() {
		m := &s.PredictiveMood
		m.FirstPredictiveSend = firstPredictive.Format(accountDayFormat)
		afterEnd := firstPredictive.AddDate(0, 0, max(1, r.SentimentDays)-1)
		if afterEnd.After(last) {
			afterEnd = last
		}
		beforeStart, beforeEnd := firstPredictive.AddDate(0, 0, -max(0, r.BaselineDays)), firstPredictive.AddDate(0, 0, -1)
		var after, before AccountDay
		for t := beforeStart; !t.After(afterEnd); t = t.AddDate(0, 0, 1) {
			d := day(t)
			if d == nil {
				continue
			}
			if t.Before(firstPredictive) {
				before.SentimentReports += d.SentimentReports
				before.SentimentNanos += d.SentimentNanos
			} else {
				after.SentimentReports += d.SentimentReports
				after.SentimentNanos += d.SentimentNanos
			}
		}
		m.After = sentimentOf(after, firstPredictive, afterEnd)
		if r.BaselineDays > 0 {
			m.Before = sentimentOf(before, beforeStart, beforeEnd)
		}
		baseline := 0.0 // neutral without earlier reports
		if m.Before.Mean != nil {
			baseline = *m.Before.Mean
		}
		m.Alarm = m.After.Reports >= uint64(max(1, r.MinSentimentReports)) && *m.After.Mean < 0 && *m.After.Mean < baseline
	}

	s.InAlarm = s.Pullback.Alarm || s.PredictiveMood.Alarm
	if s.Pullback.Alarm {
		s.Reasons = append(s.Reasons, fmt.Sprintf("%d distinct contacts pulled back (unsubscribe, opt-down, complaint or too-personal feedback) within %s..%s: %d or more within %d days",
			s.Pullback.Contacts, s.Pullback.From, s.Pullback.To, r.MinPullbackContacts, r.PullbackDays))
	}
	if m := s.PredictiveMood; m.Alarm {
		s.Reasons = append(s.Reasons, fmt.Sprintf("mean sentiment %s over %d reports in %s..%s, from the first predictive send, is below 0 and below %s before it",
			fmtScore(m.After.Mean), m.After.Reports, m.After.From, m.After.To, baselineText(m.Before)))
	}
	if !s.InAlarm {
		s.Reasons = append(s.Reasons, fmt.Sprintf("at most %d distinct contacts pulled back within %d days (alarm from %d); %s",
			s.Pullback.Contacts, r.PullbackDays, r.MinPullbackContacts, moodText(r, s.PredictiveMood)))
	}
	return s
}

func sentimentOf(d AccountDay, from, to time.Time) SentimentStat {
	s := SentimentStat{From: from.Format(accountDayFormat), To: to.Format(accountDayFormat), Reports: d.SentimentReports}
	if d.SentimentReports > 0 {
		m := float64(d.SentimentNanos) / ScoreScale / float64(d.SentimentReports)
		s.Mean = &m
	}
	return s
}

func fmtScore(m *float64) string {
	if m == nil {
		return "n/a"
	}
	return strconv.FormatFloat(*m, 'f', 2, 64)
}

func baselineText(b SentimentStat) string {
	if b.Mean == nil {
		return "neutral (0: no reports in the " + b.From + ".." + b.To + " baseline)"
	}
	return fmt.Sprintf("%s over %d reports in %s..%s", fmtScore(b.Mean), b.Reports, b.From, b.To)
}

func moodText(r AccountRule, m SentimentEvidence) string {
	switch {
	case m.FirstPredictiveSend == "":
		return "no predictive send in the period"
	case m.After.Reports < uint64(max(1, r.MinSentimentReports)):
		return fmt.Sprintf("%d sentiment reports since the first predictive send (%s), fewer than %d", m.After.Reports, m.FirstPredictiveSend, r.MinSentimentReports)
	}
	return fmt.Sprintf("mean sentiment %s since the first predictive send (%s) is not below 0 and below %s", fmtScore(m.After.Mean), m.FirstPredictiveSend, baselineText(m.Before))
}

// AccountSummary is the account section of a period: how many accounts
// were active, which are in alarm and how every target account stands.
type AccountSummary struct {
	FirstDay string      `json:"first_day"`
	LastDay  string      `json:"last_day"`
	Rule     AccountRule `json:"rule"`
	// Accounts is the number of accounts with any counted event in the
	// period.
	Accounts       uint64 `json:"accounts"`
	InAlarm        uint64 `json:"in_alarm"`
	Targets        uint64 `json:"targets"` // configured target accounts
	TargetsInAlarm uint64 `json:"targets_in_alarm"`
	// Alarms lists the accounts in alarm, target accounts first, then by
	// pullback contacts (most first) and pseudonym; at most MaxAlarmList,
	// Truncated says when more were in alarm.
	Alarms    []AccountStatus `json:"alarms"`
	Truncated bool            `json:"truncated,omitempty"`
	// TargetAccounts lists every configured target account, in alarm or
	// not, in configuration order (one without events shows zeros).
	TargetAccounts []AccountStatus `json:"target_accounts"`
}

// MaxAlarmList bounds the accounts an AccountSummary lists in alarm.
const MaxAlarmList = 100

// EvaluateAccounts applies the rule to every account over the UTC days
// first..last and to every target (pseudonyms; duplicates ignored).
func (r AccountRule) EvaluateAccounts(hs []AccountHistory, targets []string, first, last time.Time) AccountSummary {
	sum := AccountSummary{FirstDay: first.Format(accountDayFormat), LastDay: last.Format(accountDayFormat), Rule: r,
		Alarms: []AccountStatus{}, TargetAccounts: []AccountStatus{}}
	isTarget := map[string]bool{}
	for _, t := range targets {
		isTarget[t] = true
	}
	status := map[string]AccountStatus{}
	for _, h := range hs {
		s := r.Evaluate(h, first, last)
		s.Target = isTarget[h.Account]
		if !active(s) {
			continue // only baseline days: not active in the period
		}
		status[h.Account] = s
		sum.Accounts++
		if s.InAlarm {
			sum.InAlarm++
			if s.Target {
				sum.TargetsInAlarm++
			}
			sum.Alarms = append(sum.Alarms, s)
		}
	}
	slices.SortFunc(sum.Alarms, func(a, b AccountStatus) int {
		if a.Target != b.Target {
			if a.Target {
				return -1
			}
			return 1
		}
		return cmp.Or(cmp.Compare(b.Pullback.Contacts, a.Pullback.Contacts), cmp.Compare(a.Account, b.Account))
	})
	if len(sum.Alarms) > MaxAlarmList {
		sum.Alarms, sum.Truncated = sum.Alarms[:MaxAlarmList], true
	}
	seen := map[string]bool{}
	for _, t := range targets {
		if seen[t] {
			continue
		}
		seen[t] = true
		s, ok := status[t]
		if !ok {
			s = r.Evaluate(AccountHistory{Account: t}, first, last)
			s.Target = true
		}
		sum.TargetAccounts = append(sum.TargetAccounts, s)
	}
	sum.Targets = uint64(len(sum.TargetAccounts))
	return sum
}

// active reports whether the account had any counted event in the period.
func active(s AccountStatus) bool {
	return s.Delivered+s.Unsubscribes+s.OptDowns+s.Complaints+s.TooPersonal+s.PredictiveSends+s.Sentiment.Reports > 0
}
