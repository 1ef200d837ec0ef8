package sink

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/trustpipe/trustpipe/aggregate"
	"github.com/trustpipe/trustpipe/aggregate/event"
	"github.com/trustpipe/trustpipe/aggregate/indicator"
)

// Names of the indicator views (CONTRACT.md §3, "Indicator views"). They read
// only the read surface (trust_count_rows, engaged_contacts, and each other), never
// the storage tables, so they stay exact whatever the storage layout.
const (
	// ViewIndicatorsHourly: hour, campaign_id, channel, segment, source,
	// total_events, and <indicator>_num, <indicator>_den for every indicator.
	ViewIndicatorsHourly = "trust_indicators_hourly"
	// ViewIndicatorsDaily: as ViewIndicatorsHourly with day (Date) instead
	// of hour.
	ViewIndicatorsDaily = "trust_indicators_daily"
	// ViewIndicatorSeries: the hourly view in long format: hour,
	// campaign_id, channel, segment, source, indicator, numerator,
	// denominator (Float64).
	ViewIndicatorSeries = "trust_indicator_series"
	// ViewIndicatorsWindow: window ('1h', '24h', '7d', '28d', ending now),
	// indicator, numerator, denominator, value (NULL when denominator = 0).
	ViewIndicatorsWindow = "trust_indicators_window"
	// ViewConsentMigrationDaily: day, from_tier, to_tier, events.
	ViewConsentMigrationDaily = "consent_migration_daily"
	// ViewEngagedReachDaily: day, campaign_id, channel, segment, source,
	// contacts (distinct engaged contacts of that exact combination).
	ViewEngagedReachDaily = "engaged_reach_daily"
	// ViewEngagedReachTotalDaily: day, contacts (distinct engaged contacts
	// over all dimensions).
	ViewEngagedReachTotalDaily = "engaged_reach_total_daily"
	// ViewAttributedHourly: the attributed indicators by send-time cohort:
	// cohort (UTC hour of the send), by_send_time, campaign_id, channel,
	// total_events and <indicator>_num, <indicator>_den for every
	// indicator.AttributedDefinitions(). A cohort's numerators only grow as
	// late follow-ups arrive; its denominator (deliveries) is complete once
	// the send is. Rows with by_send_time = 0 are follow-ups without sent_at,
	// in their own hour: sum over a campaign's rows to attribute them.
	ViewAttributedHourly = "trust_attributed_hourly"
	// ViewAttributedDaily: as ViewAttributedHourly with day (Date of the
	// send) instead of cohort.
	ViewAttributedDaily = "trust_attributed_daily"
	// ViewEmailComplaintsDaily: day (of the send), mailbox_provider,
	// sending_domain, complaint_rate_num, complaint_rate_den: the email
	// complaint rate as mailbox providers judge it, per provider and domain.
	ViewEmailComplaintsDaily = "email_complaints_daily"
	// ViewUniqueEngagementDaily: day (of the send), campaign_id, channel,
	// recipients, openers, clickers (distinct contacts), unique_opens and
	// unique_clicks (recipients who opened / clicked: never more than
	// recipients, so the unique rates never exceed 100 %).
	ViewUniqueEngagementDaily = "unique_engagement_daily"
)

// NumColumn and DenColumn name the numerator and denominator columns of an
// indicator in trust_indicators_hourly and trust_indicators_daily.
func NumColumn(name string) string { return name + "_num" }

// DenColumn: see NumColumn.
func DenColumn(name string) string { return name + "_den" }

// IndicatorViews returns the indicator views, generated from indicator.All():
// every numerator and denominator is Definition.NumeratorSQL/DenominatorSQL,
// never a formula written here. Views are returned in creation order (a view
// is created after the views it reads).
//
// Exactness: the wide and long views carry sums (numerator, denominator),
// never ratios, so any filter and re-aggregation stays exact:
// sum(x_num) / sum(x_den) over any set of rows is the indicator over the
// union of those rows. Averaging per-row ratios is not.
//
// Distinct counts are not additive: engaged_reach_daily counts the distinct
// contacts of one (day, campaign, channel, segment, source) combination, so
// summing its contacts over several combinations or days overcounts every
// contact who engaged in more than one. Use engaged_reach_total_daily for a
// day's reach, or uniqExact(contact) over engaged_contacts for any other set.
//
// Everything used — sumIf, toStartOfHour, toDate, arrayJoin over tuples,
// tupleElement, splitByString, if(…, NULL, …), UNION ALL of identical types —
// runs on ClickHouse 18.16 and current releases.
func IndicatorViews() []View {
	defs := indicator.All()
	var cols []string
	for _, d := range defs {
		cols = append(cols,
			d.NumeratorSQL()+" AS "+NumColumn(d.Name),
			d.DenominatorSQL()+" AS "+DenColumn(d.Name))
	}
	measures := "\t" + strings.Join(cols, ",\n\t")

	wide := func(timeExpr, timeCol string) string {
		return fmt.Sprintf(`SELECT
	%s AS %s,
	campaign_id, channel, segment, source,
	sum(events) AS total_events,
%s
FROM {db}.trust_count_rows
GROUP BY %s, campaign_id, channel, segment, source`, timeExpr, timeCol, measures, timeCol)
	}

	// Long format: one (indicator, numerator, denominator) tuple per
	// indicator, unrolled with arrayJoin.
	var tuples []string
	for _, d := range defs {
		tuples = append(tuples, fmt.Sprintf("(%s, toFloat64(%s), toFloat64(%s))",
			quoteString(d.Name), NumColumn(d.Name), DenColumn(d.Name)))
	}
	series := fmt.Sprintf(`SELECT
	hour, campaign_id, channel, segment, source,
	arrayJoin([
		%s
	]) AS s,
	tupleElement(s, 1) AS indicator,
	tupleElement(s, 2) AS numerator,
	tupleElement(s, 3) AS denominator
FROM {db}.%s`, strings.Join(tuples, ",\n\t\t"), ViewIndicatorsHourly)
	// The helper column s would be visible to SELECT *; wrap to drop it.
	series = `SELECT hour, campaign_id, channel, segment, source, indicator, numerator, denominator
FROM (
` + series + `
)`

	return append([]View{
		{Name: ViewIndicatorsHourly, Query: wide("toStartOfHour(bucket)", "hour")},
		{Name: ViewIndicatorsDaily, Query: wide("toDate(bucket)", "day")},
		{Name: ViewIndicatorSeries, Query: series},
		{Name: ViewIndicatorsWindow, Query: windowQuery(defs)},
		{Name: ViewConsentMigrationDaily, Query: fmt.Sprintf(`SELECT
	toDate(bucket) AS day,
	toUInt8(splitByString('->', detail)[1]) AS from_tier,
	toUInt8(splitByString('->', detail)[2]) AS to_tier,
	sum(events) AS events
FROM {db}.trust_count_rows
WHERE event_type = %s
GROUP BY day, from_tier, to_tier`, quoteString(event.ConsentChange.String()))},
		{Name: ViewEngagedReachDaily, Query: `SELECT
	day, campaign_id, channel, segment, source,
	uniqExact(contact) AS contacts
FROM {db}.engaged_contacts
GROUP BY day, campaign_id, channel, segment, source`},
		{Name: ViewEngagedReachTotalDaily, Query: `SELECT
	day,
	uniqExact(contact) AS contacts
FROM {db}.engaged_contacts
GROUP BY day`},
	}, append(attributedViews(), audienceViews()...)...)
}

// attributedViews renders the views over the send-time cohorts and the
// unique-engagement sets. Like the event-time views they carry sums, never
// ratios, and every formula is a Definition's SQL.
func attributedViews() []View {
	var cols []string
	for _, d := range indicator.AttributedDefinitions() {
		cols = append(cols,
			d.NumeratorSQL()+" AS "+NumColumn(d.Name),
			d.DenominatorSQL()+" AS "+DenColumn(d.Name))
	}
	measures := "\t" + strings.Join(cols, ",\n\t")
	wide := func(timeExpr, timeCol, extra string) string {
		return fmt.Sprintf(`SELECT
	%s AS %s,%s
	campaign_id, channel,
	sum(events) AS total_events,
%s
FROM {db}.%s
GROUP BY %s,%s campaign_id, channel`, timeExpr, timeCol, extra, measures, ViewCohortRows, timeCol, extra)
	}
	complaint, _ := indicator.ByName(indicator.ComplaintRate)
	return []View{
		{Name: ViewAttributedHourly, Query: wide("cohort", "cohort_hour", " by_send_time,")},
		{Name: ViewAttributedDaily, Query: wide("toDate(cohort)", "day", "")},
		{Name: ViewEmailComplaintsDaily, Query: fmt.Sprintf(`SELECT
	toDate(cohort) AS day, mailbox_provider, sending_domain,
	%s AS %s,
	%s AS %s
FROM {db}.%s
WHERE channel = %s
GROUP BY day, mailbox_provider, sending_domain`, complaint.NumeratorSQL(), NumColumn(complaint.Name),
			complaint.DenominatorSQL(), DenColumn(complaint.Name), ViewCohortRows, quoteString(indicator.ChannelEmail))},
		{Name: ViewUniqueEngagementDaily, Query: fmt.Sprintf(`SELECT
	day, campaign_id, channel,
	sum(r) AS recipients, sum(o) AS openers, sum(c) AS clickers,
	sum(r * o) AS unique_opens, sum(r * c) AS unique_clicks
FROM (
	SELECT day, campaign_id, channel, contact,
		max(kind = %s) AS r, max(kind = %s) AS o, max(kind = %s) AS c
	FROM {db}.%s
	GROUP BY day, campaign_id, channel, contact
)
GROUP BY day, campaign_id, channel`, quoteString(aggregate.UniqueRecipient), quoteString(aggregate.UniqueOpener),
			quoteString(aggregate.UniqueClicker), ViewUniqueEngagement)},
	}
}

// windowQuery renders trust_indicators_window. The windows are nested
// (1h within 24h within 7d within 28d), so each trust_count_rows row of the last
// 28 days is put in one class — the shortest window that holds it — and
// summed per class; a window is then the sum of its class and the shorter
// ones. That sums each row once, instead of once per window, and repeats
// only the (at most four) per-class rows. One zero row per class is added
// (UNION ALL) so that every (window, indicator) pair is always present, with
// value NULL when there is no data, instead of missing.
//
// The column is quoted as `window` because WINDOW is a clause keyword in
// current ClickHouse releases.
func windowQuery(defs []indicator.Definition) string {
	wins := indicator.Windows()
	var classes, windows, names, ids []string
	for i, w := range wins {
		id := strconv.Itoa(i + 1)
		ids = append(ids, "toUInt8("+id+")")
		if i < len(wins)-1 {
			classes = append(classes, fmt.Sprintf("bucket >= now() - %d, toUInt8(%s)", int64(w.Length/time.Second), id))
		} else {
			classes = append(classes, "toUInt8("+id+")")
		}
		windows = append(windows, fmt.Sprintf("(toUInt8(%s), %s)", id, quoteString(w.Name)))
		names = append(names, quoteString(w.Name))
	}
	longest := wins[len(wins)-1].Length
	var cols, sums, tuples []string
	for _, d := range defs {
		num, den := NumColumn(d.Name), DenColumn(d.Name)
		cols = append(cols, d.NumeratorSQL()+" AS "+num, d.DenominatorSQL()+" AS "+den)
		sums = append(sums, "sum("+num+") AS w_"+num, "sum("+den+") AS w_"+den)
		tuples = append(tuples, fmt.Sprintf("(%s, toFloat64(w_%s), toFloat64(w_%s))", quoteString(d.Name), num, den))
	}
	// Longer placeholders first: NewReplacer prefers earlier pairs.
	return strings.NewReplacer(
		"$WINDOWS", strings.Join(windows, ", "),
		"$W", "`window`",
		"$TUPLES", strings.Join(tuples, ",\n\t\t\t"),
		"$SUMS", strings.Join(sums, ",\n\t\t\t"),
		"$COLS", strings.Join(cols, ",\n\t\t\t\t"),
		"$CLASSES", strings.Join(classes, ", "),
		"$LONGEST", strconv.FormatInt(int64(longest/time.Second), 10),
		"$IDS", strings.Join(ids, ", "),
		"$NAMES", strings.Join(names, ", "),
		"$INDICATORS", strings.Join(quoteAll(indicator.Names()), ", "),
	).Replace(`SELECT $W, indicator, numerator, denominator, value
FROM (
	SELECT
		$W,
		arrayJoin([
			$TUPLES
		]) AS s,
		tupleElement(s, 1) AS indicator,
		tupleElement(s, 2) AS numerator,
		tupleElement(s, 3) AS denominator,
		if(denominator = 0, NULL, numerator / denominator) AS value
	FROM (
		SELECT
			tupleElement(w, 2) AS $W,
			$SUMS
		FROM (
			SELECT arrayJoin([$WINDOWS]) AS w, *
			FROM (
				SELECT
					class,
					$COLS
				FROM (
					SELECT multiIf($CLASSES) AS class,
						event_type, detail, channel, personalization, consent_tier, events, value_sum
					FROM {db}.trust_count_rows
					WHERE bucket >= now() - $LONGEST
					UNION ALL
					SELECT arrayJoin([$IDS]) AS class, '' AS event_type, '' AS detail, '' AS channel, '' AS personalization,
						toUInt8(0) AS consent_tier, toUInt64(0) AS events, toFloat64(0) AS value_sum
				)
				GROUP BY class
			)
		)
		WHERE class <= tupleElement(w, 1)
		GROUP BY $W
	)
)
ORDER BY indexOf([$NAMES], $W), indexOf([$INDICATORS], indicator)`)
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = quoteString(s)
	}
	return out
}

// quoteString renders a ClickHouse string literal. The views only quote
// compile-time names (indicator names, windows, event types), but escape
// anyway so a future name cannot break the SQL.
func quoteString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}
