package grafana

import (
	"fmt"
	"strings"

	"github.com/trustpipe/trustpipe/aggregate/indicator"
	"github.com/trustpipe/trustpipe/sink"
)

// dimensionVar is a multi-value template variable listing the values of a
// trust_counts dimension seen in the time range: hex(value) is the
// variable's value, the value itself its text (see selected for why).
func dimensionVar(name, label, column, description string) *Variable {
	sql := fmt.Sprintf("SELECT hex(%[1]s) AS value, %[1]s AS text FROM (SELECT DISTINCT %[1]s FROM %[2]s WHERE $__timeFilter(bucket) AND %[1]s != '') ORDER BY text",
		column, countRows)
	return &Variable{
		Name: name, Label: label, Description: description, Type: "query", Datasource: clickhouse,
		Query: sql, Definition: sql,
		Refresh: 2, // on time-range change
		Multi:   true, IncludeAll: true, Sort: 1,
		Current: Obj{"selected": true, "text": []string{"All"}, "value": []string{"$__all"}},
		Options: []any{},
	}
}

// selectionSums is the inner query of the drill-down's Index panels: the
// trust indicator sums of the selection, grouped by keys (none: the whole
// selection), over the exact time range (hourly view).
func selectionSums(keyExprs, groupBy string) string {
	return sumsOfSelection(sink.ViewIndicatorsHourly, "$__timeFilter(hour)", keyExprs, groupBy)
}

// dailySelectionSums is selectionSums over whole UTC days (daily view),
// for panels whose buckets are days anyway: cheaper than the hourly view.
func dailySelectionSums(keyExprs, groupBy string) string {
	return sumsOfSelection(sink.ViewIndicatorsDaily, dayRange("day"), keyExprs, groupBy)
}

func sumsOfSelection(view, timeFilter, keyExprs, groupBy string) string {
	sel, group := "", ""
	if keyExprs != "" {
		sel, group = keyExprs+",\n\t", "\nGROUP BY "+groupBy
	}
	return `SELECT
	` + sel + trustSums() + `
FROM ` + view + `
WHERE ` + timeFilter + `
	AND ` + selection + group
}

// Drilldown is the campaign / segment drill-down: every panel honours the
// campaign, segment, channel and source variables.
func Drilldown() *Dashboard {
	d := newDashboard("campaign-drilldown.json", UIDDrilldown, "trustpipe — Campaign and segment drill-down",
		"Which campaigns, segments, channels and sources cost trust? Narrow the selection with the variables; the ranking "+
			"table lists campaigns by their trust impact on the selection.",
		"trust", "drilldown")
	d.Templating.List = append(d.Templating.List,
		dimensionVar("campaign", "Campaign", "campaign_id", "campaign_id of the events"),
		dimensionVar("segment", "Segment", "segment", "audience segment"),
		dimensionVar("channel", "Channel", "channel", "touchpoint: email, web, ads, sales, social, sms, other"),
		dimensionVar("source", "Source", "source", "the system that emitted the events"),
	)
	l := newLayout(d)

	// --- The selection's Index ---------------------------------------------
	l.row("Trust Index of the selection", "where-to-look")
	l.add(4, 8, stat("Trust Index (selection, range)",
		"The Trust Index over the whole selected range, for the selected campaigns, segments, channels and sources, with the "+
			"deployment's component settings (trust_index_config).",
		"none", indexSteps(),
		sqlTarget("A", true, `SELECT `+indexExpr+` AS "Trust Index"
FROM (
	`+indent(componentRows(nil, selectionSums("", "")), "\t")+`
)`),
	).set("decimals", 1).set("min", 0).set("max", 100))

	l.add(10, 8, timeseries("Trust Index of the selection",
		"The selection's Trust Index per interval (at least a day, so that components reach their minimum volume).",
		"none",
		sqlTarget("A", false, `SELECT time, `+indexExpr+` AS "Trust Index"
FROM (
	`+indent(componentRows([]string{"time"}, dailySelectionSums(dayBucket("day")+" AS time", "time")), "\t")+`
)
GROUP BY time
ORDER BY time`),
	).interval("1d").set("min", 0).set("max", 100).set("decimals", 1).thresholdLines(indexSteps()))

	l.add(10, 8, timeseries("What the selection's Index is made of",
		"Each component's contribution (renormalised weight × score) per interval; the stack's height is the selection's "+
			"Trust Index.",
		"none",
		sqlTarget("A", false, `SELECT time, component, if(total_weight > 0, w / total_weight, 0) AS contribution
FROM (
	SELECT time,
		groupArray(title) AS titles,
		groupArray(if(included, weight * score, 0)) AS weighted,
		sumIf(weight, included) AS total_weight
	FROM (
		SELECT * FROM (
			`+indent(componentRows([]string{"time"}, dailySelectionSums(dayBucket("day")+" AS time", "time")), "\t\t\t")+`
		)
		ORDER BY position
	)
	GROUP BY time
)
ARRAY JOIN titles AS component, weighted AS w
ORDER BY time`),
	).interval("1d").bars().stacked().set("min", 0).set("max", 100).set("decimals", 1).
		set("displayName", "${__field.labels.component}"))

	// --- Ranking ------------------------------------------------------------
	l.row("Which campaigns cost trust", "where-to-look")
	ctr := def(indicator.CTR)
	// Volume and backbone rates travel with the keys, so they do not depend
	// on which components trust_index_config includes. CTR's denominator is
	// the delivered count.
	rates := `,
	sum(c_delivered) AS delivered,
	n_` + indicator.ComplaintRate + ` / nullIf(d_` + indicator.ComplaintRate + `, 0) AS complaint,
	n_` + indicator.UnsubscribeRate + ` / nullIf(d_` + indicator.UnsubscribeRate + `, 0) AS unsubscribe,
	n_` + indicator.OptDownShare + ` / nullIf(d_` + indicator.OptDownShare + `, 0) AS opt_down,
	sum(c_clicks) / nullIf(sum(c_delivered), 0) AS ctr`
	rateSums := `,
		sum(` + sink.NumColumn(ctr.Name) + `) AS c_clicks, sum(` + sink.DenColumn(ctr.Name) + `) AS c_delivered`
	rateKeys := []string{"delivered", "complaint", "unsubscribe", "opt_down", "ctr"}
	// The ranking is report.RankCampaigns' rule (impact, absent impacts
	// last — ClickHouse sorts NULL last — then delivered, then campaign_id),
	// the one the report page uses; TestDashboardQueries checks the two
	// agree row by row on ClickHouse.
	rank := table("Campaigns ranked by trust impact",
		"Each campaign in the selection over the range: its own Trust Index, the difference to the Index of the whole "+
			"selection, and its trust impact = that difference × the campaign's share of delivered messages (index points the "+
			"campaign moves the selection by, roughly). Most harmful first. A campaign without enough volume has no Index.",
		sqlTarget("A", true, `SELECT
	if(tupleElement(r, 1) = '', '(no campaign)', tupleElement(r, 1)) AS "Campaign",
	tupleElement(r, 2) AS "Delivered",
	tupleElement(r, 3) AS "Trust Index",
	tupleElement(r, 3) - all_index AS "vs selection",
	(tupleElement(r, 3) - all_index) * tupleElement(r, 2) / nullIf(all_delivered, 0) AS "Trust impact",
	tupleElement(r, 4) AS "Complaint rate",
	tupleElement(r, 5) AS "Unsubscribe rate",
	tupleElement(r, 6) AS "Opt-down share",
	tupleElement(r, 7) AS "`+alias(ctr.Title)+`"
FROM (
	SELECT
		groupArrayIf((campaign, delivered, trust_index, complaint, unsubscribe, opt_down, ctr), is_all = 0) AS campaigns,
		`+pick("trust_index", "is_all = 1")+` AS all_index,
		anyIf(delivered, is_all = 1) AS all_delivered
	FROM (
		SELECT is_all, campaign, `+indexExpr+` AS trust_index, `+strings.Join(rateKeys, ", ")+`
		FROM (
			`+indent(componentRows(append([]string{"is_all", "campaign"}, rateKeys...), `SELECT
	tupleElement(k, 1) AS is_all, tupleElement(k, 2) AS campaign,
	`+sumsAs(prefixed("cn_"), prefixed("cd_"), "n_", "d_")+rates+`
FROM (
	SELECT campaign_id,
		`+sumsAs(sink.NumColumn, sink.DenColumn, "cn_", "cd_")+rateSums+`
	FROM `+sink.ViewIndicatorsHourly+`
	WHERE $__timeFilter(hour)
		AND `+selection+`
	GROUP BY campaign_id
)
ARRAY JOIN [(toUInt8(0), campaign_id), (toUInt8(1), '')] AS k
GROUP BY is_all, campaign`), "\t\t\t")+`
		)
		GROUP BY is_all, campaign, `+strings.Join(rateKeys, ", ")+`
	)
)
ARRAY JOIN campaigns AS r
ORDER BY "Trust impact" ASC, "Delivered" DESC, tupleElement(r, 1) ASC`))
	for _, name := range []string{"Complaint rate", "Unsubscribe rate", "Opt-down share", alias(ctr.Title)} {
		rank.override("byName", name, prop("unit", "percentunit"), prop("decimals", 2))
	}
	rank.override("byName", "Trust Index", prop("decimals", 1), prop("custom.cellOptions", Obj{"type": "color-background"}),
		prop("thresholds", indexSteps()))
	rank.override("byName", "vs selection", prop("decimals", 1))
	rank.override("byName", "Trust impact", prop("decimals", 2), prop("custom.cellOptions", Obj{"type": "color-text"}),
		prop("thresholds", steps(step("red", nil), step("text", 0))))
	l.add(24, 10, rank)

	l.add(12, 9, timeseries("Trust Index by campaign (daily)",
		"Each selected campaign's daily Trust Index over all its segments, channels and sources (trust_index_campaign_daily; "+
			"only the campaign variable applies). Days without enough volume have no point.",
		"none",
		sqlTarget("A", false, `SELECT toDateTime(day) AS time, campaign_id, trust_index
FROM `+sink.ViewIndexCampaignDaily+`
WHERE `+dayRange("day")+`
	AND `+selected("campaign_id", "campaign")+`
	AND trust_index IS NOT NULL
ORDER BY time, campaign_id`),
	).set("min", 0).set("max", 100).set("decimals", 1).set("displayName", "${__field.labels.campaign_id}").
		custom("showPoints", "always"))

	dimsInner := `SELECT tupleElement(dv, 1) AS dimension, tupleElement(dv, 2) AS value,
	` + sumsAs(prefixed("cn_"), prefixed("cd_"), "n_", "d_") + rates + `
FROM (
	SELECT segment, channel, source,
		` + sumsAs(sink.NumColumn, sink.DenColumn, "cn_", "cd_") + rateSums + `
	FROM ` + sink.ViewIndicatorsHourly + `
	WHERE $__timeFilter(hour)
		AND ` + selection + `
	GROUP BY segment, channel, source
)
ARRAY JOIN [('Segment', segment), ('Channel', channel), ('Source', source)] AS dv
GROUP BY dimension, value`
	dims := table("Trust by segment, channel and source",
		"The selection's Trust Index and backbone rates per segment, channel and source over the range.",
		sqlTarget("A", true, `SELECT
	dimension AS "Dimension",
	if(value = '', '(none)', value) AS "Value",
	`+indexExpr+` AS "Trust Index",
	delivered AS "Delivered",
	complaint AS "Complaint rate",
	unsubscribe AS "Unsubscribe rate",
	opt_down AS "Opt-down share"
FROM (
	`+indent(componentRows(append([]string{"dimension", "value"}, rateKeys...), dimsInner), "\t")+`
)
GROUP BY dimension, value, `+strings.Join(rateKeys, ", ")+`
ORDER BY dimension, "Trust Index", value`))
	dims.override("byName", "Trust Index", prop("decimals", 1), prop("custom.cellOptions", Obj{"type": "color-background"}),
		prop("thresholds", indexSteps()))
	for _, name := range []string{"Complaint rate", "Unsubscribe rate", "Opt-down share"} {
		dims.override("byName", name, prop("unit", "percentunit"), prop("decimals", 2))
	}
	l.add(12, 9, dims)

	// --- Indicators of the selection ---------------------------------------
	l.row("Indicators of the selection", "where-to-look")
	l.add(8, 8, timeseries("Leaving and complaining",
		"Unsubscribe, complaint and \"too personal\" rates of the selection per interval.", "percentunit",
		sqlTarget("A", false, `SELECT
	`+dayBucket("day")+` AS time,
	`+ratio(indicator.UnsubscribeRate)+` AS "`+alias(def(indicator.UnsubscribeRate).Title)+`",
	`+ratio(indicator.ComplaintRate)+` AS "`+alias(def(indicator.ComplaintRate).Title)+`",
	`+ratio(indicator.TooPersonalRate)+` AS "Too personal rate"
FROM `+sink.ViewIndicatorsDaily+`
WHERE `+dayRange("day")+`
	AND `+selection+`
GROUP BY time
ORDER BY time`),
	).interval("1d").set("decimals", 3))

	l.add(8, 8, timeseries("Click metrics",
		"Open rate (human opens), click-through, click-to-open and form-fill rates of the selection per interval.", "percentunit",
		sqlTarget("A", false, `SELECT
	`+dayBucket("day")+` AS time,
	`+ratio(indicator.OpenRate)+` AS "`+alias(def(indicator.OpenRate).Title)+`",
	`+ratio(indicator.CTR)+` AS "`+alias(ctr.Title)+`",
	`+ratio(indicator.ClickToOpen)+` AS "`+alias(def(indicator.ClickToOpen).Title)+`",
	`+ratio(indicator.FormFillRate)+` AS "`+alias(def(indicator.FormFillRate).Title)+`"
FROM `+sink.ViewIndicatorsDaily+`
WHERE `+dayRange("day")+`
	AND `+selection+`
GROUP BY time
ORDER BY time`),
	).interval("1d").set("decimals", 1))

	l.add(8, 8, timeseries("Opt-down share and personalization",
		"Opt-down share, explained personalization and consent coverage of the selection per interval.", "percentunit",
		sqlTarget("A", false, `SELECT
	`+dayBucket("day")+` AS time,
	`+ratio(indicator.OptDownShare)+` AS "`+alias(def(indicator.OptDownShare).Title)+`",
	`+ratio(indicator.ExplainedPersonalizationShare)+` AS "`+alias(def(indicator.ExplainedPersonalizationShare).Title)+`",
	`+ratio(indicator.ConsentCoverage)+` AS "`+alias(def(indicator.ConsentCoverage).Title)+`"
FROM `+sink.ViewIndicatorsDaily+`
WHERE `+dayRange("day")+`
	AND `+selection+`
GROUP BY time
ORDER BY time`),
	).interval("1d").set("decimals", 1).set("max", 1))

	l.add(12, 8, timeseries("Engaged reach of the selection",
		"Distinct engaged contacts of the selection per UTC day (counted over engaged_contacts, so a contact active in two "+
			"selected campaigns counts once).",
		"short",
		sqlTarget("A", false, `SELECT toDateTime(day) AS time, uniqExact(contact) AS "Engaged contacts"
FROM `+"engaged_contacts"+`
WHERE `+dayRange("day")+`
	AND `+selection+`
GROUP BY day
ORDER BY time`),
	).bars())

	l.add(12, 8, timeseries("Volume of the selection",
		"Delivered messages and all events of the selection per interval: the volume behind every ratio above.",
		"short",
		sqlTarget("A", false, `SELECT
	`+bucket("hour")+` AS time,
	sum(`+sink.DenColumn(ctr.Name)+`) AS "Delivered",
	sum(total_events) AS "All events"
FROM `+sink.ViewIndicatorsHourly+`
WHERE $__timeFilter(hour)
	AND `+selection+`
GROUP BY time
ORDER BY time`),
	).interval("1h"))
	return d
}
