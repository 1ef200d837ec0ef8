package report

import (
	"fmt"

	"github.com/trustpipe/trustpipe/aggregate/indicator"
)

// The account section (indicator.AccountRule): accounts in alarm, with
// their evidence, and every target account, by pseudonym. The caller
// passes the summary in Input.Accounts; nil (a dimension filter: accounts
// are not kept per campaign, channel, segment or source) leaves it out.

// maxAccountRows bounds the accounts the table prints in alarm (the JSON
// lists up to indicator.MaxAlarmList).
const maxAccountRows = 20

// accounts prints the section.
func (r Report) accounts(p *printer) {
	a := r.Accounts
	if a == nil {
		return
	}
	p.line("")
	p.line(fmt.Sprintf("ACCOUNTS   %s of %s active accounts in alarm on %s; target accounts: %s of %s in alarm",
		count(a.InAlarm), count(a.Accounts), dayRange(a.FirstDay, a.LastDay), count(a.TargetsInAlarm), count(a.Targets)))
	p.line(fmt.Sprintf("  in alarm: %d or more distinct contacts pulled back (unsubscribe, opt-down, complaint, too-personal feedback) within %d days,",
		a.Rule.MinPullbackContacts, a.Rule.PullbackDays))
	p.line(fmt.Sprintf("  or mean sentiment of the %d days from the first predictive send below 0 and below the %d days before (%d reports or more)",
		a.Rule.SentimentDays, a.Rule.BaselineDays, a.Rule.MinSentimentReports))
	rows := [][]string{{"ACCOUNT", "TARGET", "ALARM", "DELIVERED", "UNSUBS", "OPT-DOWNS", "COMPLAINTS", "TOO PERSONAL", "LOST", "SENTIMENT", "WHY"}}
	add := func(s indicator.AccountStatus) {
		target, alarm := "", "no"
		if s.Target {
			target = "yes"
		}
		if s.InAlarm {
			alarm = "YES"
		}
		why := s.Reasons[0]
		if len(s.Reasons) > 1 {
			why += "; " + s.Reasons[1]
		}
		rows = append(rows, []string{s.Account, target, alarm, count(s.Delivered), count(s.Unsubscribes), count(s.OptDowns),
			count(s.Complaints), count(s.TooPersonal), count(s.ContactsLost), fmt2(s.Sentiment.Mean), why})
	}
	shown := map[string]bool{}
	for i, s := range a.Alarms {
		if i == maxAccountRows {
			p.line(fmt.Sprintf("  (%d more accounts in alarm: see --format json)", len(a.Alarms)-maxAccountRows))
			break
		}
		add(s)
		shown[s.Account] = true
	}
	for _, s := range a.TargetAccounts {
		if !shown[s.Account] {
			add(s)
		}
	}
	if len(rows) > 1 {
		p.table(rows)
	}
}

// accountsPage is the page's account section.
type accountsPage struct {
	Summary, Rule string
	Rows          []accountRow
	More          int
}

type accountRow struct {
	Account, Target, Alarm, Delivered, Pullbacks, Lost, Sentiment, Why string
	InAlarm                                                            bool
}

// accountsSection renders the page's account section (nil without one):
// the accounts in alarm (up to maxAccountRows), then every target account
// not among them.
func accountsSection(a *indicator.AccountSummary) *accountsPage {
	if a == nil {
		return nil
	}
	pg := &accountsPage{
		Summary: fmt.Sprintf("%s of %s active accounts in alarm on %s; target accounts: %s of %s in alarm.",
			count(a.InAlarm), count(a.Accounts), dayRange(a.FirstDay, a.LastDay), count(a.TargetsInAlarm), count(a.Targets)),
		Rule: fmt.Sprintf("In alarm: %d or more distinct contacts pulled back (unsubscribe, opt-down, complaint, too-personal feedback) within %d days, or the mean sentiment of the %d days from the account's first predictive send is below 0 and below the %d days before (from %d reports). Accounts are shown by pseudonym.",
			a.Rule.MinPullbackContacts, a.Rule.PullbackDays, a.Rule.SentimentDays, a.Rule.BaselineDays, a.Rule.MinSentimentReports),
	}
	add := func(s indicator.AccountStatus) {
		row := accountRow{Account: s.Account, Alarm: "no", InAlarm: s.InAlarm, Delivered: count(s.Delivered),
			Pullbacks: count(s.Pullback.Contacts), Lost: count(s.ContactsLost), Sentiment: fmt2(s.Sentiment.Mean)}
		if s.Target {
			row.Target = "target"
		}
		if s.InAlarm {
			row.Alarm = "in alarm"
		}
		for i, r := range s.Reasons {
			if i > 0 {
				row.Why += "; "
			}
			row.Why += r
		}
		pg.Rows = append(pg.Rows, row)
	}
	shown := map[string]bool{}
	for i, s := range a.Alarms {
		if i == maxAccountRows {
			pg.More = len(a.Alarms) - maxAccountRows
			break
		}
		add(s)
		shown[s.Account] = true
	}
	for _, s := range a.TargetAccounts {
		if !shown[s.Account] {
			add(s)
		}
	}
	return pg
}
