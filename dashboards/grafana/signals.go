package grafana

import (
	"github.com/trustpipe/trustpipe/aggregate"
	"github.com/trustpipe/trustpipe/aggregate/indicator"
	"github.com/trustpipe/trustpipe/sink"
)

// addPersonalizationQA adds the overview's personalization QA row: the
// render-check defect rates over time and the campaigns they come from, so
// a page from PersonalizationDefectsHigh lands on the campaign to stop.
func addPersonalizationQA(l *layout) {
	merge, link := def(indicator.MergeDefectRate), def(indicator.BrokenLinkRate)
	l.row("Personalization QA: what the buyer actually sees", "personalizationdefectshigh")
	l.add(12, 8, timeseries("Merge-tag defects and broken links",
		"Sends whose render check left a merge tag unresolved (\"Hi [FirstName]\") or found a broken personalized link, "+
			"per send, per interval. A sound template stays under 0.1 % (green line); the page fires at 2 % of a campaign's "+
			"sends of the last hour.",
		"percentunit",
		sqlTarget("A", false, `SELECT
	`+bucket("hour")+` AS time,
	`+ratio(indicator.MergeDefectRate)+` AS "`+alias(merge.Title)+`",
	`+ratio(indicator.BrokenLinkRate)+` AS "`+alias(link.Title)+`"
FROM `+sink.ViewIndicatorsHourly+`
WHERE $__timeFilter(hour)
GROUP BY time
ORDER BY time`),
	).interval("1h").set("decimals", 2).set("min", 0).
		thresholdLines(steps(step("green", nil), step("orange", merge.Good), step("red", merge.Bad))))
	l.add(12, 8, table("Campaigns with render-check defects",
		"The 20 campaigns of the selected range with the most defective sends first (then the most sends): their sends and their merge-defect "+
			"and broken-link rates.",
		sqlTarget("A", true, `SELECT
	campaign_id AS "Campaign",
	sum(`+sink.DenColumn(indicator.MergeDefectRate)+`) AS "Sends",
	`+ratio(indicator.MergeDefectRate)+` AS "`+alias(merge.Title)+`",
	`+ratio(indicator.BrokenLinkRate)+` AS "`+alias(link.Title)+`"
FROM `+sink.ViewIndicatorsHourly+`
WHERE $__timeFilter(hour)
GROUP BY campaign_id
ORDER BY sum(`+sink.NumColumn(indicator.MergeDefectRate)+`) + sum(`+sink.NumColumn(indicator.BrokenLinkRate)+`) DESC, "Sends" DESC, campaign_id
LIMIT 20`),
	)).override("byName", alias(merge.Title), prop("unit", "percentunit"), prop("decimals", 2)).
		override("byName", alias(link.Title), prop("unit", "percentunit"), prop("decimals", 2))
}

// audienceRatio is an audience signal per row of audience_daily, from its
// definition's two counts (indicator.AudienceSignals).
func audienceRatio(name string) string {
	s, ok := indicator.AudienceSignalByName(name)
	if !ok {
		panic("grafana: no audience signal " + name)
	}
	return "sum(" + s.Numerator + ") / nullIf(sum(" + s.Denominator + "), 0)"
}

// addAudience adds the overview's audience row: the three audience signals
// per UTC day, so a ShrinkingAudience ticket shows whether the clicks
// concentrate on fewer, keener contacts while fewer of those reached
// engage. A day's values are distinct counts and rankings of that day.
func addAudience(l *layout) {
	reach, _ := indicator.AudienceSignalByName(indicator.EngagedReachRate)
	top, _ := indicator.AudienceSignalByName(indicator.TopDecileClickShare)
	cpc, _ := indicator.AudienceSignalByName(indicator.ClicksPerClicker)
	l.row("Audience: who is still engaging", "shrinkingaudience")
	l.add(12, 8, timeseries("Engaged reach and top-decile click share",
		"Per UTC day: distinct engaged contacts / distinct delivered contacts, and the share of human clicks made by the "+
			"top 10 % of clickers. Reach falling while the top decile's share rises: the clicks come from a shrinking core.",
		"percentunit",
		sqlTarget("A", false, `SELECT
	toDateTime(day) AS time,
	`+audienceRatio(reach.Name)+` AS "`+alias(reach.Title)+`",
	`+audienceRatio(top.Name)+` AS "`+alias(top.Title)+`"
FROM `+sink.ViewAudienceDaily+`
WHERE `+dayRange("day")+`
GROUP BY time
ORDER BY time`),
	).interval("1d").set("decimals", 1).set("min", 0))
	l.add(12, 8, timeseries("Clicks per clicker",
		"Per UTC day: human clicks / distinct human clickers. Rising under a rising CTR: the same few people click more.",
		"short",
		sqlTarget("A", false, `SELECT
	toDateTime(day) AS time,
	`+audienceRatio(cpc.Name)+` AS "`+alias(cpc.Title)+`"
FROM `+sink.ViewAudienceDaily+`
WHERE `+dayRange("day")+`
GROUP BY time
ORDER BY time`),
	).interval("1d").set("decimals", 2).set("min", 0))
}

// addProvenance adds the overview's provenance row: per input of the
// sends' personalization and per reason visibility, the complaint and "too
// personal" rates of the deliveries of those sends — the definitions'
// own SQL over the lineage rows (indicator.FactIndicators) — so a leader
// sees which data source unsettles buyers and whether explaining helps.
func addProvenance(l *layout) {
	complaint, tooPersonal := def(indicator.ComplaintRate), def(indicator.TooPersonalRate)
	l.row("Provenance: what personalized a message, and what the buyer saw", "complaintratehigh")
	l.add(24, 9, table("Complaints and \"too personal\" by input and by reason visibility",
		"The sends made on the selected days, one row per input of their personalization (a send with three inputs is in three rows; "+
			"'none': personalized without naming its inputs) and per reason visibility of personalized sends; the complaint rate (email "+
			"complaints / email deliveries) and the \"too personal\" rate (per delivery) of the follow-ups attributed to those sends by "+
			"message_id. Compare a row with the programme's rates above; few deliveries make a rate noisy (the report gives 95 % intervals).",
		sqlTarget("A", true, `SELECT
	facet AS "Facet",
	fact AS "Fact",
	sumIf(events, event_type = 'send') AS "Sends",
	sumIf(events, event_type = 'delivered') AS "Delivered",
	`+countsRatio(indicator.ComplaintRate)+` AS "`+alias(complaint.Title)+`",
	`+countsRatio(indicator.TooPersonalRate)+` AS "`+alias(tooPersonal.Title)+`"
FROM `+sink.ViewLineageRows+`
WHERE `+dayRange("day")+` AND facet != '`+aggregate.FacetUnattributed+`'
GROUP BY facet, fact
ORDER BY facet, "Delivered" DESC, fact`),
	)).override("byName", alias(complaint.Title), prop("unit", "percentunit"), prop("decimals", 2)).
		override("byName", alias(tooPersonal.Title), prop("unit", "percentunit"), prop("decimals", 2))
}

// addContactBreaches adds the overview's row of sends that should not have
// happened: their rates over time, and who sent them against whose record
// (contact_breaches), so a SendsNotAllowed ticket or page lands on the
// system to stop.
func addContactBreaches(l *layout) {
	post, claim := def(indicator.PostUnsubscribeSendRate), def(indicator.ConsentClaimMismatchRate)
	l.row("Sends that should not have happened", "sendsnotallowed")
	l.add(12, 8, timeseries("Sends after unsubscribe, consent claims above the record",
		"Sends to contacts who unsubscribed from the channel 48 h or more before, per send; personalized sends claiming a "+
			"consent tier above the contact's consent record, per personalized send. Any is a breach (a ticket); the page "+
			"fires at 0.1 % and 1 % of the last hour.",
		"percentunit",
		sqlTarget("A", false, `SELECT
	`+bucket("hour")+` AS time,
	`+ratio(indicator.PostUnsubscribeSendRate)+` AS "`+alias(post.Title)+`",
	`+ratio(indicator.ConsentClaimMismatchRate)+` AS "`+alias(claim.Title)+`"
FROM `+sink.ViewIndicatorsHourly+`
WHERE $__timeFilter(hour)
GROUP BY time
ORDER BY time`),
	).interval("1h").set("decimals", 3).set("min", 0).
		thresholdLines(steps(step("green", nil), step("red", post.Bad))))
	l.add(12, 8, table("Breaches by sending and recording system",
		"The sends that should not have happened in the selected range, by kind, the system that sent them (source), the "+
			"system that recorded the unsubscribe or the consent tier they breach (record source) and campaign; most first.",
		sqlTarget("A", true, `SELECT
	kind AS "Kind",
	source AS "Sent by",
	record_source AS "Recorded by",
	campaign_id AS "Campaign",
	count() AS "Sends"
FROM `+sink.ViewContactBreaches+`
WHERE $__timeFilter(sent_at)
GROUP BY kind, source, record_source, campaign_id
ORDER BY "Sends" DESC, kind, source, record_source, campaign_id
LIMIT 20`),
	))
}
