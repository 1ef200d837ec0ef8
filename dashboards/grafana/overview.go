package grafana

import (
	"fmt"
	"strings"

	"github.com/trustpipe/trustpipe/aggregate/indicator"
	"github.com/trustpipe/trustpipe/sink"
)

// UIDs of the dashboards.
const (
	UIDOverview  = "trustpipe-overview"
	UIDDrilldown = "trustpipe-drilldown"
	UIDPipeline  = "trustpipe-pipeline"
)

// dayRange keeps the days that overlap the dashboard's time range (a daily
// row covers its whole UTC day).
func dayRange(col string) string {
	return fmt.Sprintf("%s >= toDate($__fromTime) AND %s <= toDate($__toTime)", col, col)
}

// formatValue renders an indicator value for a table cell: ratios as a
// percentage, scores (sentiment) as a number. nameCol holds the indicator
// name, valueCol the value.
func formatValue(nameCol, valueCol string) string {
	var scores []string
	for _, d := range indicator.All() {
		if d.Unit == indicator.Score {
			scores = append(scores, d.Name)
		}
	}
	return fmt.Sprintf("multiIf(isNull(%[2]s), '–', %[1]s IN (%[3]s), toString(%[4]s), concat(toString(%[5]s), ' %%'))",
		nameCol, valueCol, quotedList(scores), roundHalfUp(valueCol, 2), roundHalfUp(valueCol+" * 100", 3))
}

// Overview is the leaders' dashboard: the Trust Index, why it moved, and
// every trust indicator next to the click metrics.
func Overview() *Dashboard {
	d := newDashboard("trust-overview.json", UIDOverview, "trustpipe — Trust overview",
		"Is buyer trust holding while the click metrics move? Start with the Trust Index (top left) and its explanation; "+
			"then the divergence row: clicks rising while the Index falls is the self-referential optimisation trap.",
		"trust", "leaders")
	l := newLayout(d)

	// --- The Index now ------------------------------------------------------
	l.row("Trust Index — start here", "trustindexdrop")
	l.add(6, 8, stat("Trust Index now",
		"Trust Index (0–100) over the rolling windows ending now: a weighted mean of component scores, each 0 at its documented "+
			"\"bad\" threshold and 100 at \"good\". Below 50 is red, below 70 orange. Components with too little volume are left out "+
			"(see the next panels) and the weights renormalised.",
		"none", indexSteps(),
		sqlTarget("A", true, `SELECT
	`+pick("trust_index", "`window` = '24h'")+` AS "Last 24 h",
	`+pick("trust_index", "`window` = '7d'")+` AS "Last 7 days",
	`+pick("trust_index", "`window` = '28d'")+` AS "Last 28 days"
FROM `+sink.ViewIndexWindow),
	).set("decimals", 1).set("min", 0).set("max", 100).option("textMode", "value_and_name").option("orientation", "horizontal"))

	l.add(4, 8, stat("Clicks up, trust down?",
		"The service's divergence check (Prometheus trustpipe:divergence): 1 when click metrics improved against their baseline "+
			"while the Trust Index fell — the self-referential optimisation trap. Look at the divergence row below.",
		"none", steps(step("green", nil), step("red", 1)),
		promInstant("A", `max(trustpipe:divergence{window="24h"})`, "24 h"),
		promInstant("B", `max(trustpipe:divergence{window="7d"})`, "7 days"),
	).set("mappings", []any{Obj{"type": "value", "options": Obj{
		"0": Obj{"text": "no", "color": "green", "index": 0},
		"1": Obj{"text": "DIVERGING", "color": "red", "index": 1},
	}}}).option("textMode", "value_and_name"))

	l.add(4, 8, stat("Index coverage (24 h)",
		"What the 24-hour Index rests on: the share of the configured Index weight whose components had enough data, and "+
			"how many of the configured components were scored. Read it next to the Index: 100 from one component of twelve is "+
			"not 100 from all of them.",
		"percentunit", steps(step("red", nil), step("orange", 0.5), step("green", 0.8)),
		promInstant("A", `max(trustpipe_trust_index_coverage_ratio{window="24h",dimension_value=""})`, "of the weight"),
		promInstant("B", `max(trustpipe_trust_index_components_used{window="24h",dimension_value=""})`, "components scored"),
		promInstant("C", `max(trustpipe_trust_index_components_configured)`, "configured"),
	).set("decimals", 0).option("textMode", "value_and_name").
		override("byName", "components scored", prop("unit", "none"), prop("color", Obj{"mode": "fixed", "fixedColor": "text"})).
		override("byName", "configured", prop("unit", "none"), prop("color", Obj{"mode": "fixed", "fixedColor": "text"})))

	l.add(4, 8, stat("Left out of the Index (24 h)",
		"Components whose volume in the last 24 hours is below their minimum (or zero): they are not scored, and the other "+
			"weights are renormalised. Many left out means the Index rests on few signals.",
		"none", greenSteps(),
		sqlTarget("A", true, `SELECT if(count() = 0, 'none', arrayStringConcat(groupArray(title), ', ')) AS "Left out"
FROM (
	SELECT title
	FROM `+sink.ViewIndexWindowComponents+`
	WHERE `+"`window`"+` = '24h' AND included = 0
	ORDER BY position
)`),
	).option("colorMode", "none").option("textMode", "value"))

	explain := table("Why: the Index explained (last 24 h)",
		"Each component's value, volume (its denominator), score (0 at bad, 100 at good), renormalised weight and contribution "+
			"(weight × score). Contributions add up to the Index. Compare with the 7-day column to see what moved.",
		sqlTarget("A", true, `SELECT
	title AS "Component",
	`+formatValue("component", "value_24h")+` AS "Value",
	volume_24h AS "Volume",
	score_24h AS "Score",
	weight_24h AS "Weight",
	contribution_24h AS "Contribution",
	score_7d AS "Score 7 d",
	if(included_24h = 1, 'scored', if(volume_24h = 0, 'no data', 'left out: low volume')) AS "Status"
FROM (
	SELECT position, component, title,
		`+pick("value", "`window` = '24h'")+` AS value_24h,
		anyIf(volume, `+"`window`"+` = '24h') AS volume_24h,
		anyIf(included, `+"`window`"+` = '24h') AS included_24h,
		`+pick("score", "`window` = '24h'")+` AS score_24h,
		anyIf(weight, `+"`window`"+` = '24h') AS weight_24h,
		anyIf(contribution, `+"`window`"+` = '24h') AS contribution_24h,
		`+pick("score", "`window` = '7d'")+` AS score_7d
	FROM `+sink.ViewIndexWindowComponents+`
	WHERE `+"`window`"+` IN ('24h', '7d')
	GROUP BY position, component, title
)
ORDER BY position`))
	explain.override("byName", "Weight", prop("unit", "percentunit"), prop("decimals", 1))
	explain.override("byName", "Score", prop("decimals", 1), prop("custom.cellOptions", Obj{"type": "color-background"}),
		prop("thresholds", indexSteps()))
	explain.override("byName", "Score 7 d", prop("decimals", 1))
	explain.override("byName", "Contribution", prop("decimals", 1))
	explain.override("byName", "Volume", prop("decimals", 0))
	l.add(6, 8, explain)

	// --- The Index over time ----------------------------------------------
	l.row("Trust Index over time", "trustindexdrop")
	components := indicator.DefaultIndexConfig().Components
	var contribCols []string
	for _, c := range components {
		contribCols = append(contribCols, fmt.Sprintf("%s%s AS \"%s\"", c.Indicator, sink.SuffixContribution, alias(def(c.Indicator).Title)))
	}
	l.add(12, 9, timeseries("Trust Index over time",
		"Daily Trust Index (each UTC day scored on its own totals) and, dashed, the hourly one. Hourly values score only the "+
			"components with enough volume in that hour, so they are noisier; trust the daily line.",
		"none",
		sqlTarget("A", false, `SELECT toDateTime(day) AS time, trust_index AS "Daily Trust Index"
FROM `+sink.ViewIndexDaily+`
WHERE `+dayRange("day")+`
ORDER BY time`),
		sqlTarget("B", false, `SELECT hour AS time, trust_index AS "Hourly Trust Index"
FROM `+sink.ViewIndexHourly+`
WHERE $__timeFilter(hour)
ORDER BY time`),
	).set("min", 0).set("max", 100).set("decimals", 1).thresholdLines(indexSteps()).
		override("byName", "Hourly Trust Index", dashed("#8AB8FF")...))

	l.add(12, 9, timeseries("What the Index is made of: component contributions (daily)",
		"Stacked contributions (renormalised weight × score) of each component per day; the stack's height is the daily Trust "+
			"Index. A band that shrinks is a component that pulled the Index down; a band that disappears was left out for low volume.",
		"none",
		sqlTarget("A", false, `SELECT
	toDateTime(day) AS time,
	`+strings.Join(contribCols, ",\n\t")+`
FROM `+sink.ViewIndexDaily+`
WHERE `+dayRange("day")+`
ORDER BY time`),
	).bars().stacked().set("min", 0).set("max", 100).set("decimals", 1))

	// --- Divergence ---------------------------------------------------------
	l.row("Clicks vs trust — the divergence view", "trustengagementdivergence")
	l.add(12, 9, timeseries("Click metrics vs Trust Index (daily)",
		"Left axis: the daily Trust Index. Right axis: the click metrics marketing optimises. Clicks rising while the Index "+
			"falls is the self-referential optimisation trap: the programme is buying clicks with trust.",
		"none",
		sqlTarget("A", false, `SELECT toDateTime(day) AS time, trust_index AS "Trust Index"
FROM `+sink.ViewIndexDaily+`
WHERE `+dayRange("day")+`
ORDER BY time`),
		sqlTarget("B", false, `SELECT
	toDateTime(day) AS time,
	`+ratio(indicator.OpenRate)+` AS "`+alias(def(indicator.OpenRate).Title)+`",
	`+ratio(indicator.CTR)+` AS "`+alias(def(indicator.CTR).Title)+`",
	`+ratio(indicator.ClickToOpen)+` AS "`+alias(def(indicator.ClickToOpen).Title)+`",
	`+ratio(indicator.FormFillRate)+` AS "`+alias(def(indicator.FormFillRate).Title)+`"
FROM `+sink.ViewIndicatorsDaily+`
WHERE `+dayRange("day")+`
GROUP BY day
ORDER BY time`),
	).set("decimals", 1).override("byFrameRefID", "B", rightAxis("percentunit")...).
		override("byName", "Trust Index", prop("custom.lineWidth", 4), prop("color", Obj{"mode": "fixed", "fixedColor": "purple"})))

	l.add(12, 9, timeseries("Leaving vs clicking",
		"Unsubscribe, complaint and \"too personal\" rates (left) on the same time axis as the click-through rate (right), per "+
			"interval. The trap shows as the right-hand line rising with the left-hand ones.",
		"percentunit",
		sqlTarget("A", false, `SELECT
	`+bucket("hour")+` AS time,
	`+ratio(indicator.UnsubscribeRate)+` AS "`+alias(def(indicator.UnsubscribeRate).Title)+`",
	`+ratio(indicator.ComplaintRate)+` AS "`+alias(def(indicator.ComplaintRate).Title)+`",
	`+ratio(indicator.TooPersonalRate)+` AS "Too personal rate",
	`+ratio(indicator.CTR)+` AS "`+alias(def(indicator.CTR).Title)+`"
FROM `+sink.ViewIndicatorsHourly+`
WHERE $__timeFilter(hour)
GROUP BY time
ORDER BY time`),
	).interval("1h").set("decimals", 2).override("byName", def(indicator.CTR).Title, rightAxis("percentunit")...))

	// --- Leaving vs tuning --------------------------------------------------
	l.row("Pulling back: leaving or tuning?", "optdownsharecollapse")
	l.add(8, 8, timeseries("Opt-down vs unsubscribe",
		"Bars: opt-downs (chose fewer messages) and unsubscribes (left the channel) per interval. Line (right): opt-down share "+
			"= opt-downs / (opt-downs + unsubscribes), good at 50 % or more. A falling share means people leave instead of tuning.",
		"short",
		sqlTarget("A", false, `SELECT
	`+dayBucket("day")+` AS time,
	sum(`+sink.NumColumn(indicator.OptDownShare)+`) AS "Opt-downs",
	sum(`+sink.NumColumn(indicator.UnsubscribeRate)+`) AS "Unsubscribes",
	`+ratio(indicator.OptDownShare)+` AS "`+alias(def(indicator.OptDownShare).Title)+`"
FROM `+sink.ViewIndicatorsDaily+`
WHERE `+dayRange("day")+`
GROUP BY time
ORDER BY time`),
	).interval("1d").bars().override("byName", def(indicator.OptDownShare).Title,
		append(rightAxis("percentunit"), prop("custom.drawStyle", "line"), prop("custom.fillOpacity", 0), prop("custom.lineWidth", 3))...))

	l.add(8, 8, timeseries("Preference-centre engagement",
		"Preference-centre visits per delivered message (left; good at 0.1 % or more, bad at 0.01 %) and visits (bars, right): "+
			"contacts who adjust what they receive instead of leaving.",
		"percentunit",
		sqlTarget("A", false, `SELECT
	`+dayBucket("day")+` AS time,
	`+ratio(indicator.PreferenceCenterRate)+` AS "`+alias(def(indicator.PreferenceCenterRate).Title)+`",
	sum(`+sink.NumColumn(indicator.PreferenceCenterRate)+`) AS "Visits"
FROM `+sink.ViewIndicatorsDaily+`
WHERE `+dayRange("day")+`
GROUP BY time
ORDER BY time`),
	).interval("1d").set("decimals", 3).override("byName", "Visits",
		append(rightAxis("short"), prop("custom.drawStyle", "bars"), prop("custom.fillOpacity", 40))...))

	l.add(8, 8, timeseries("Direct-traffic share",
		"Direct web sessions / all web sessions: buyers who come back on their own. Good at 30 % or more, bad at 10 % or less.",
		"percentunit",
		sqlTarget("A", false, `SELECT
	`+dayBucket("day")+` AS time,
	`+ratio(indicator.DirectTrafficShare)+` AS "`+alias(def(indicator.DirectTrafficShare).Title)+`"
FROM `+sink.ViewIndicatorsDaily+`
WHERE `+dayRange("day")+`
GROUP BY time
ORDER BY time`),
	).interval("1d").set("decimals", 1).thresholdLines(steps(step("red", nil), step("orange", 0.1), step("green", 0.3))))

	// --- Complaints ---------------------------------------------------------
	l.row("Complaints and the mailbox-provider limits", "complaintratehigh")
	complaint := def(indicator.ComplaintRate)
	l.add(16, 8, timeseries("Complaint rate vs mailbox-provider limits",
		"Spam complaints per delivered message, per day. Mailbox providers ask senders to stay below 0.1 % and act (throttling, "+
			"spam-foldering, blocking) at 0.3 %: both are drawn. Above the orange line the sender's reputation is at risk.",
		"percentunit",
		sqlTarget("A", false, `SELECT
	`+dayBucket("day")+` AS time,
	`+ratio(indicator.ComplaintRate)+` AS "`+alias(complaint.Title)+`",
	`+fmt.Sprint(complaint.Good)+` AS "Keep below (0.1 %)",
	`+fmt.Sprint(complaint.Bad)+` AS "Never reach (0.3 %)"
FROM `+sink.ViewIndicatorsDaily+`
WHERE `+dayRange("day")+`
GROUP BY time
ORDER BY time`),
	).interval("1d").set("decimals", 3).set("min", 0).
		thresholdLines(steps(step("green", nil), step("orange", complaint.Good), step("red", complaint.Bad))).
		override("byName", "Keep below (0.1 %)", dashed("orange")...).
		override("byName", "Never reach (0.3 %)", dashed("red")...))

	l.add(4, 8, stat("Complaint rate (24 h)",
		"Complaints / delivered over the last 24 hours. Orange from 0.1 %, red from 0.3 % (mailbox-provider guidance).",
		"percentunit", steps(step("green", nil), step("orange", complaint.Good), step("red", complaint.Bad)),
		sqlTarget("A", true, `SELECT value AS "Complaint rate (24 h)"
FROM `+sink.ViewIndicatorsWindow+`
WHERE `+"`window`"+` = '24h' AND indicator = '`+indicator.ComplaintRate+`'`),
	).set("decimals", 3))

	l.add(4, 8, stat("Direct traffic vs previous period",
		"Direct-traffic share over the selected range and its change against the period of the same length just before it.",
		"percentunit", greenSteps(),
		sqlTarget("A", true, `SELECT
	sumIf(n, cur) / nullIf(sumIf(d, cur), 0) AS "This period",
	(sumIf(n, cur) / nullIf(sumIf(d, cur), 0)) / nullIf(sumIf(n, NOT cur) / nullIf(sumIf(d, NOT cur), 0), 0) - 1 AS "Change"
FROM (
	SELECT (hour >= $__fromTime) AS cur,
		`+sink.NumColumn(indicator.DirectTrafficShare)+` AS n,
		`+sink.DenColumn(indicator.DirectTrafficShare)+` AS d
	FROM `+sink.ViewIndicatorsHourly+`
	WHERE hour >= toDateTime(2 * toUInt32($__fromTime) - toUInt32($__toTime)) AND hour <= $__toTime
)`),
	).set("decimals", 1).option("colorMode", "value").option("textMode", "value_and_name").option("orientation", "horizontal"))

	// --- Consent and personalization ---------------------------------------
	l.row("Consent and personalization", "thresholds")
	l.add(8, 8, timeseries("Consent-tier migration",
		"Consent changes per day: upgrades (a higher tier) up, downgrades down. Line (right): consent momentum = (upgrades − "+
			"downgrades) / changes, good at +20 %, bad at −20 %.",
		"short",
		sqlTarget("A", false, `SELECT
	toDateTime(day) AS time,
	sumIf(events, to_tier > from_tier) AS "Upgrades",
	-sumIf(events, to_tier < from_tier) AS "Downgrades"
FROM `+sink.ViewConsentMigrationDaily+`
WHERE `+dayRange("day")+`
GROUP BY day
ORDER BY time`),
		sqlTarget("B", false, `SELECT
	toDateTime(day) AS time,
	`+ratio(indicator.ConsentMomentum)+` AS "`+alias(def(indicator.ConsentMomentum).Title)+`"
FROM `+sink.ViewIndicatorsDaily+`
WHERE `+dayRange("day")+`
GROUP BY day
ORDER BY time`),
	).bars().override("byFrameRefID", "B",
		append(rightAxis("percentunit"), prop("custom.drawStyle", "line"), prop("custom.fillOpacity", 0), prop("custom.lineWidth", 3))...).
		override("byName", "Downgrades", prop("color", Obj{"mode": "fixed", "fixedColor": "red"})).
		override("byName", "Upgrades", prop("color", Obj{"mode": "fixed", "fixedColor": "green"})))

	l.add(6, 8, barchart("Consent moves (from → to)",
		"Consent changes in the selected range by tier move (0 unknown, 1 basic communication, 2 behavioural tracking, "+
			"3 predictive modelling).", "short", "Move",
		sqlTarget("A", true, `SELECT concat(toString(from_tier), ' → ', toString(to_tier)) AS "Move", sum(events) AS "Changes"
FROM `+sink.ViewConsentMigrationDaily+`
WHERE `+dayRange("day")+`
GROUP BY from_tier, to_tier
ORDER BY from_tier, to_tier`)))

	l.add(10, 8, timeseries("Complaint rate by personalization level",
		"Complaints / delivered per day, split by how the message was personalized. Rising complaints on predictive or "+
			"behavioral sends point at personalization buyers did not expect (compare consent coverage below).",
		"percentunit",
		sqlTarget("A", false, `SELECT
	`+bucket("bucket")+` AS time,
	personalization AS level,
	`+countsRatio(indicator.ComplaintRate)+` AS complaint_rate
FROM `+countRows+`
WHERE $__timeFilter(bucket) AND personalization IN (`+quotedList(orderedLevels)+`)
GROUP BY time, level
ORDER BY time`),
	).interval("1d").set("decimals", 3).set("displayName", "${__field.labels.level}"))

	l.add(8, 8, barchart("Personalization level vs complaints and \"too personal\" feedback",
		"Over the selected range, per personalization level: complaints and \"too personal\" feedback per delivered message. "+
			"Both should not grow with the level of personalization.", "percentunit", "Level",
		sqlTarget("A", true, `SELECT
	personalization AS "Level",
	`+countsRatio(indicator.ComplaintRate)+` AS "`+alias(complaint.Title)+`",
	`+countsRatio(indicator.TooPersonalRate)+` AS "Too personal rate"
FROM `+countRows+`
WHERE $__timeFilter(bucket) AND personalization IN (`+quotedList(orderedLevels)+`)
GROUP BY personalization
ORDER BY indexOf([`+quotedList(orderedLevels)+`], personalization)`)).set("decimals", 3))

	l.add(8, 8, timeseries("Explained personalization and consent coverage",
		"Explained personalization: personalized sends that carry a documented reason (good at 95 %). Consent coverage: "+
			"personalized sends within the contact's consent tier (good at 99.5 %; anything less is personalization without consent).",
		"percentunit",
		sqlTarget("A", false, `SELECT
	`+dayBucket("day")+` AS time,
	`+ratio(indicator.ExplainedPersonalizationShare)+` AS "`+alias(def(indicator.ExplainedPersonalizationShare).Title)+`",
	`+ratio(indicator.ConsentCoverage)+` AS "`+alias(def(indicator.ConsentCoverage).Title)+`"
FROM `+sink.ViewIndicatorsDaily+`
WHERE `+dayRange("day")+`
GROUP BY time
ORDER BY time`),
	).interval("1d").set("decimals", 1).set("max", 1).
		thresholdLines(steps(step("red", nil), step("orange", def(indicator.ExplainedPersonalizationShare).Good), step("green", def(indicator.ConsentCoverage).Good))))

	l.add(8, 8, timeseries("Engaged reach",
		"Distinct contacts who engaged (human opens, clicks, form fills, web sessions, preference-centre visits, opt-ups) per "+
			"UTC day. A shrinking engaged cohort under rising clicks means fewer people are doing more of the clicking.",
		"short",
		sqlTarget("A", false, `SELECT toDateTime(day) AS time, contacts AS "Engaged contacts"
FROM `+sink.ViewEngagedReachTotalDaily+`
WHERE `+dayRange("day")+`
ORDER BY time`),
	).bars())

	l.add(4, 8, stat("Engaged contacts, 7 days",
		"Distinct engaged contacts in the last 7 days (today included) and in the 7 days before: a contact counts once per period.",
		"short", greenSteps(),
		sqlTarget("A", true, `SELECT
	uniqExactIf(contact, day > today() - 7) AS "Last 7 days",
	uniqExactIf(contact, day <= today() - 7) AS "7 days before"
FROM `+"engaged_contacts"+`
WHERE day > today() - 14`),
	).option("colorMode", "none").option("textMode", "value_and_name").option("orientation", "horizontal"))

	// --- What the numbers follow: attribution, channels, unique ------------
	l.row("Attributed, per channel and unique", "attributedunsubscribespike")
	unsub := def(indicator.UnsubscribeRate)
	attributed := table("Campaigns: follow-ups over the deliveries they follow",
		"Per campaign and channel, over the messages sent in the selected range: unsubscribes, complaints (email over email) and "+
			"human clicks counted against the campaign's own deliveries, whenever they arrived. A young campaign's rates only rise as "+
			"late follow-ups come in; AttributedUnsubscribeSpike pages at 3x the program's trailing rate and 0.5 %.",
		sqlTarget("A", true, `SELECT
	campaign_id AS "Campaign",
	channel AS "Channel",
	sum(`+sink.DenColumn(indicator.UnsubscribeRate)+`) AS "Delivered",
	`+ratio(indicator.UnsubscribeRate)+` AS "`+alias(unsub.Title)+`",
	`+ratio(indicator.ComplaintRate)+` AS "`+alias(def(indicator.ComplaintRate).Title)+`",
	`+ratio(indicator.CTR)+` AS "`+alias(def(indicator.CTR).Title)+`",
	`+ratio(indicator.BounceRate)+` AS "`+alias(def(indicator.BounceRate).Title)+`"
FROM `+sink.ViewAttributedDaily+`
WHERE `+dayRange("day")+`
GROUP BY campaign_id, channel
ORDER BY "Delivered" DESC
LIMIT 20`))
	for _, c := range []string{unsub.Title, def(indicator.ComplaintRate).Title, def(indicator.CTR).Title, def(indicator.BounceRate).Title} {
		attributed.override("byName", alias(c), prop("unit", "percentunit"), prop("decimals", 2))
	}
	l.add(12, 9, attributed)

	perChannel := table("Every rate per channel",
		"The event-time rates of the selected range, one row per channel: a channel's denominators stay in the channel "+
			"(the complaint rate is email complaints over email deliveries in every row).",
		sqlTarget("A", true, `SELECT
	channel AS "Channel",
	`+ratio(indicator.DeliveryRate)+` AS "`+alias(def(indicator.DeliveryRate).Title)+`",
	`+ratio(indicator.UnsubscribeRate)+` AS "`+alias(unsub.Title)+`",
	`+ratio(indicator.ComplaintRate)+` AS "`+alias(def(indicator.ComplaintRate).Title)+`",
	`+ratio(indicator.OpenRate)+` AS "`+alias(def(indicator.OpenRate).Title)+`",
	`+ratio(indicator.CTR)+` AS "`+alias(def(indicator.CTR).Title)+`"
FROM `+sink.ViewIndicatorsDaily+`
WHERE `+dayRange("day")+`
GROUP BY channel
ORDER BY sum(total_events) DESC`))
	for _, n := range []string{indicator.DeliveryRate, indicator.UnsubscribeRate, indicator.ComplaintRate, indicator.OpenRate, indicator.CTR} {
		perChannel.override("byName", alias(def(n).Title), prop("unit", "percentunit"), prop("decimals", 2))
	}
	l.add(12, 9, perChannel)

	complaints := table("Email complaints by mailbox provider and sending domain",
		"Email complaints over the email deliveries they follow, per mailbox provider and sending domain (contract v1.1 fields), "+
			"for the messages sent in the selected range. Google and Yahoo ask senders to stay below 0.1 % and never reach 0.3 %.",
		sqlTarget("A", true, `SELECT
	mailbox_provider AS "Provider",
	sending_domain AS "Sending domain",
	sum(`+sink.DenColumn(indicator.ComplaintRate)+`) AS "Email delivered",
	`+ratio(indicator.ComplaintRate)+` AS "Complaint rate"
FROM `+sink.ViewEmailComplaintsDaily+`
WHERE `+dayRange("day")+`
GROUP BY mailbox_provider, sending_domain
ORDER BY "Email delivered" DESC
LIMIT 20`))
	complaints.override("byName", "Complaint rate", prop("unit", "percentunit"), prop("decimals", 3),
		prop("custom.cellOptions", Obj{"type": "color-background"}),
		prop("thresholds", steps(step("green", nil), step("orange", def(indicator.ComplaintRate).Good), step("red", def(indicator.ComplaintRate).Bad))))
	l.add(12, 8, complaints)

	l.add(12, 8, timeseries("Unique open and click rates",
		"Recipients who opened (human opens) or clicked (human clicks, bot clicks left out) over recipients, per send day: "+
			"distinct contacts, so repeat opens count once and the rates never exceed 100 %. Compare with the total open rate, "+
			"which counts every open.",
		"percentunit",
		sqlTarget("A", false, `SELECT
	toDateTime(day) AS time,
	sum(unique_opens) / nullIf(sum(recipients), 0) AS "Unique open rate",
	sum(unique_clicks) / nullIf(sum(recipients), 0) AS "Unique click rate"
FROM `+sink.ViewUniqueEngagementDaily+`
WHERE `+dayRange("day")+`
GROUP BY time
ORDER BY time`),
	).interval("1d").set("decimals", 1).set("min", 0).set("max", 1))

	addPersonalizationQA(l)
	addAudience(l)
	addAccounts(l)
	addProvenance(l)
	addContactBreaches(l)

	// --- Scorecard ----------------------------------------------------------
	l.row("Scorecard", "thresholds")
	score := table("Every Index component over the selected range",
		"Each component of the Trust Index over the whole selected range: value, volume, thresholds and score. "+
			"The settings come from trust_index_config (the deployment's Index component settings), so this table follows the deployment's Index.",
		sqlTarget("A", true, `SELECT
	title AS "Indicator",
	`+formatValue("indicator", "if(d = 0, NULL, n / d)")+` AS "Value",
	d AS "Volume",
	`+formatValue("indicator", "good")+` AS "Good",
	`+formatValue("indicator", "bad")+` AS "Bad",
	if(included, score, NULL) AS "Score",
	if(included, 'scored', if(d = 0, 'no data', 'left out: low volume')) AS "Status"
FROM (
	`+indent(componentRows(nil, `SELECT `+trustSums()+`
FROM `+sink.ViewIndicatorsHourly+`
WHERE $__timeFilter(hour)`), "\t")+`
)
ORDER BY position`))
	score.override("byName", "Score", prop("decimals", 1), prop("custom.cellOptions", Obj{"type": "color-background"}),
		prop("thresholds", indexSteps()))
	score.override("byName", "Volume", prop("decimals", 0))
	l.add(24, 9, score)
	return d
}

// alias turns a title into a double-quoted column alias (without the
// quotation marks some titles carry).
func alias(title string) string { return strings.ReplaceAll(title, `"`, "") }
