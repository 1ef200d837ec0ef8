package sink

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/trustpipe/trustpipe/aggregate"
	"github.com/trustpipe/trustpipe/aggregate/indicator"
)

// Account-level trust (indicator.AccountRule): storage, views and reads.

// Base views over the account tables (CONTRACT.md §3).
const (
	// ViewAccountCountRows: the replaced per-block account rows: day (UTC,
	// of occurred_at), account (pseudonym), measure
	// (indicator.AccountMeasures), events, value_nanos (sentiment scores in
	// 1e-9 units). Several rows per key: always aggregate.
	ViewAccountCountRows = "account_count_rows"
	// ViewAccountPullbacks: day, account, measure (a pullback measure:
	// unsubscribe, opt_down, complaint, too_personal), contact
	// (pseudonym); one row each.
	ViewAccountPullbacks = "account_pullbacks"
	// ViewAccountTrustDaily: day, account, delivered, unsubscribes,
	// opt_downs, complaints, too_personal, predictive_sends,
	// sentiment_reports, sentiment_sum, contacts_lost (distinct contacts
	// who unsubscribed or opted down that day), pullback_contacts
	// (distinct contacts with any pullback that day). Distinct counts are
	// per day: do not sum them over days.
	ViewAccountTrustDaily = "account_trust_daily"
	// ViewTargetAccounts: account — the configured target accounts
	// (TRUSTPIPE_TARGET_ACCOUNTS), as pseudonyms; migrate writes the list
	// into the view's definition.
	ViewTargetAccounts = "target_accounts"
)

const accountColumns = "day, account, measure, topic, partition, block, events, value_nanos, version"

const accountContactColumns = "day, account, measure, contact"

// accountDDL returns the CREATE statements of the account tables
// (migration 9). Count rows follow the count rows' layout — keyed by day,
// account, measure and (topic, partition, block), versioned by offset — so
// they are exact for the same reasons; pullback contacts are a set, like
// unique_engagement_blocks.
func accountDDL(db string, t Tables) []string {
	return []string{
		fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s.%s (
	day Date,
	account String,
	measure String,
	topic String,
	partition Int32,
	block Int64,
	events UInt64,
	value_nanos Int64,
	version Int64
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(day)
ORDER BY (day, account, measure, topic, partition, block)`, db, t.Accounts),
		fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s.%s (
	day Date,
	account String,
	measure String,
	contact String
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(day)
ORDER BY (day, account, measure, contact)`, db, t.AccountContacts),
	}
}

// AccountViews are the account views: the per-day view and the target
// list (pseudonyms, see ViewTargetAccounts).
func AccountViews(targets []string) []View {
	sums := []string{}
	for _, m := range []struct{ measure, col string }{
		{indicator.AccountDelivered, "delivered"}, {indicator.AccountUnsubscribe, "unsubscribes"},
		{indicator.AccountOptDown, "opt_downs"}, {indicator.AccountComplaint, "complaints"},
		{indicator.AccountTooPersonal, "too_personal"}, {indicator.AccountPredictiveSend, "predictive_sends"},
		{indicator.AccountSentiment, "sentiment_reports"},
	} {
		sums = append(sums, fmt.Sprintf("sumIf(events, measure = %s) AS %s", quoteString(m.measure), m.col))
	}
	var lost []string
	for _, m := range indicator.AccountMeasures() {
		if indicator.IsLost(m) {
			lost = append(lost, quoteString(m))
		}
	}
	// An empty literal array is Array(Nothing) on 18.16; filter a dummy.
	list := append([]string{"''"}, quoteAll(targets)...)
	return []View{
		{Name: ViewAccountTrustDaily, Query: fmt.Sprintf(`SELECT day, account,
	sum(delivered) AS delivered, sum(unsubscribes) AS unsubscribes, sum(opt_downs) AS opt_downs,
	sum(complaints) AS complaints, sum(too_personal) AS too_personal, sum(predictive_sends) AS predictive_sends,
	sum(sentiment_reports) AS sentiment_reports, sum(nanos) / 1e9 AS sentiment_sum,
	sum(lost) AS contacts_lost, sum(pulled) AS pullback_contacts
FROM (
	SELECT day, account,
		%s,
		sumIf(value_nanos, measure = %s) AS nanos,
		toUInt64(0) AS lost, toUInt64(0) AS pulled
	FROM {db}.%s
	GROUP BY day, account
	UNION ALL
	SELECT day, account,
		toUInt64(0) AS delivered, toUInt64(0) AS unsubscribes, toUInt64(0) AS opt_downs, toUInt64(0) AS complaints,
		toUInt64(0) AS too_personal, toUInt64(0) AS predictive_sends, toUInt64(0) AS sentiment_reports, toInt64(0) AS nanos,
		toUInt64(uniqExactIf(contact, measure IN (%s))) AS lost, toUInt64(uniqExact(contact)) AS pulled
	FROM {db}.%s
	GROUP BY day, account
)
GROUP BY day, account`, strings.Join(sums, ",\n\t\t"), quoteString(indicator.AccountSentiment), ViewAccountCountRows,
			strings.Join(lost, ", "), ViewAccountPullbacks)},
		{Name: ViewTargetAccounts, Query: fmt.Sprintf(`SELECT account FROM (SELECT arrayJoin([%s]) AS account) WHERE account != ''`,
			strings.Join(list, ", "))},
	}
}

func (s *Store) writeAccounts(ctx context.Context, rows []aggregate.AccountRow, contacts []aggregate.AccountContactRow) error {
	for _, run := range byMonth(rows, func(r *aggregate.AccountRow) int64 { return r.Day }, MaxPartitionsPerInsert) {
		err := s.insert(ctx, s.tables.Accounts, accountColumns, len(run), func(b driver.Batch) error {
			n := len(run)
			day := make([]time.Time, n)
			account, measure, topic := make([]string, n), make([]string, n), make([]string, n)
			partition := make([]int32, n)
			block, nanos, version := make([]int64, n), make([]int64, n), make([]int64, n)
			events := make([]uint64, n)
			for i := range run {
				r := &run[i]
				day[i] = time.Unix(r.Day, 0).UTC()
				account[i], measure[i] = r.Account, r.Measure
				topic[i], partition[i], block[i] = r.Topic, r.Partition, r.Block
				events[i], nanos[i], version[i] = r.Events, r.ValueNanos, r.Version
			}
			return appendColumns(b, day, account, measure, topic, partition, block, events, nanos, version)
		})
		if err != nil {
			return err
		}
	}
	for _, run := range byMonth(contacts, func(r *aggregate.AccountContactRow) int64 { return r.Day }, MaxPartitionsPerInsert) {
		err := s.insert(ctx, s.tables.AccountContacts, accountContactColumns, len(run), func(b driver.Batch) error {
			n := len(run)
			day := make([]time.Time, n)
			account, measure, contact := make([]string, n), make([]string, n), make([]string, n)
			for i := range run {
				r := &run[i]
				day[i] = time.Unix(r.Day, 0).UTC()
				account[i], measure[i], contact[i] = r.Account, r.Measure, r.Contact
			}
			return appendColumns(b, day, account, measure, contact)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// AccountHistories reads what rule needs to judge every account over the
// UTC days first..last (inclusive): the counts of those days, the
// sentiment of the rule's BaselineDays before them, and the pullback
// contacts of those days. Accounts come sorted by pseudonym, days by day.
// It reads the storage tables through FINAL (the views' formulas), with
// conditions on the sorting key's leading day only, so the day range
// bounds what is read (see the comment at the top of read.go).
func (s *Store) AccountHistories(ctx context.Context, rule indicator.AccountRule, first, last time.Time) ([]indicator.AccountHistory, error) {
	first, last = first.UTC().Truncate(24*time.Hour), last.UTC().Truncate(24*time.Hour)
	baseline := first.AddDate(0, 0, -max(0, rule.BaselineDays))
	days := map[string]map[int64]*indicator.AccountDay{}
	get := func(account string, day time.Time) *indicator.AccountDay {
		a := days[account]
		if a == nil {
			a = map[int64]*indicator.AccountDay{}
			days[account] = a
		}
		d := a[day.Unix()]
		if d == nil {
			d = &indicator.AccountDay{Day: day}
			a[day.Unix()] = d
		}
		return d
	}
	dayArg := func(t time.Time) string { return t.Format("2006-01-02") }
	q := `SELECT day, account, measure, sum(events) AS n, sum(value_nanos) AS nanos
FROM ` + s.db + `.` + LiveTables().Accounts + ` FINAL
WHERE day >= toDate(?) AND day <= toDate(?) AND (day >= toDate(?) OR measure = ?)
GROUP BY day, account, measure`
	args := []any{dayArg(baseline), dayArg(last), dayArg(first), indicator.AccountSentiment}
	err := s.query(ctx, "account counts", q, args, func(rows driver.Rows) error {
		var day time.Time
		var account, measure string
		var n uint64
		var nanos int64
		if err := rows.Scan(&day, &account, &measure, &n, &nanos); err != nil {
			return err
		}
		get(account, day.UTC()).Add(measure, n, nanos)
		return nil
	})
	if err != nil {
		return nil, err
	}
	q = `SELECT day, account, contact, max(has(?, measure)) AS lost
FROM ` + s.db + `.` + LiveTables().AccountContacts + ` FINAL
WHERE day >= toDate(?) AND day <= toDate(?)
GROUP BY day, account, contact
ORDER BY day, account, contact`
	var lostMeasures []string
	for _, m := range indicator.AccountMeasures() {
		if indicator.IsLost(m) {
			lostMeasures = append(lostMeasures, m)
		}
	}
	err = s.query(ctx, "account pullback contacts", q, []any{lostMeasures, dayArg(first), dayArg(last)}, func(rows driver.Rows) error {
		var day time.Time
		var account, contact string
		var lost uint8
		if err := rows.Scan(&day, &account, &contact, &lost); err != nil {
			return err
		}
		d := get(account, day.UTC())
		d.PullbackContacts = append(d.PullbackContacts, contact)
		if lost == 1 {
			d.LostContacts = append(d.LostContacts, contact)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]indicator.AccountHistory, 0, len(days))
	for account, byDay := range days {
		h := indicator.AccountHistory{Account: account}
		for _, d := range byDay {
			h.Days = append(h.Days, *d)
		}
		slices.SortFunc(h.Days, func(a, b indicator.AccountDay) int { return a.Day.Compare(b.Day) })
		out = append(out, h)
	}
	slices.SortFunc(out, func(a, b indicator.AccountHistory) int { return strings.Compare(a.Account, b.Account) })
	return out, nil
}
