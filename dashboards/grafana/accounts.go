package grafana

import (
	"strings"

	"github.com/trustpipe/trustpipe/aggregate/indicator"
	"github.com/trustpipe/trustpipe/sink"
)

// addAccounts adds the overview's account-based marketing row: the target
// accounts' counts over the selected range and the accounts whose contacts
// pull back the most, by pseudonym, so a TargetAccountsInAlarm ticket lands
// on the account and its evidence. The alarm rule itself (7-day spans,
// sentiment after predictive sends) is evaluated by the report and the
// read-back; these tables show its inputs.
func addAccounts(l *layout) {
	var lost []string
	for _, m := range indicator.AccountMeasures() {
		if indicator.IsLost(m) {
			lost = append(lost, "'"+m+"'")
		}
	}
	l.row("Accounts: account-based marketing", "targetaccountsinalarm")
	l.add(12, 8, table("Target accounts",
		"The configured target accounts (TRUSTPIPE_TARGET_ACCOUNTS, by pseudonym) over the selected range: deliveries, "+
			"pullbacks, predictive sends and mean sales sentiment. Accounts without events in the range are not listed. "+
			"Whether an account is in alarm is in `trustpipe report` (ACCOUNTS) and trustpipe_accounts_in_alarm.",
		sqlTarget("A", true, `SELECT
	account AS "Account",
	sum(delivered) AS "Delivered",
	sum(unsubscribes) AS "Unsubscribes",
	sum(opt_downs) AS "Opt-downs",
	sum(complaints) AS "Complaints",
	sum(too_personal) AS "Too personal",
	sum(predictive_sends) AS "Predictive sends",
	sum(sentiment_sum) / nullIf(sum(sentiment_reports), 0) AS "Sentiment"
FROM `+sink.ViewAccountTrustDaily+`
WHERE `+dayRange("day")+` AND account IN (SELECT account FROM `+sink.ViewTargetAccounts+`)
GROUP BY account
ORDER BY "Unsubscribes" + "Opt-downs" + "Complaints" + "Too personal" DESC, account`),
	)).override("byName", "Sentiment", prop("decimals", 2))
	l.add(12, 8, table("Accounts whose contacts pull back",
		"The 20 accounts with the most distinct contacts who unsubscribed, opted down, complained or called a message "+
			"too personal in the selected range (two within 7 days put an account in alarm), and how many of them were lost "+
			"(unsubscribe or opt-down). Target accounts are marked.",
		sqlTarget("A", true, `SELECT
	account AS "Account",
	if(account IN (SELECT account FROM `+sink.ViewTargetAccounts+`), 'target', '') AS "Target",
	uniqExact(contact) AS "Contacts pulling back",
	uniqExactIf(contact, measure IN (`+strings.Join(lost, ", ")+`)) AS "Contacts lost"
FROM `+sink.ViewAccountPullbacks+`
WHERE `+dayRange("day")+`
GROUP BY account
ORDER BY "Contacts pulling back" DESC, account
LIMIT 20`),
	))
}
