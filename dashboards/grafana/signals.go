package grafana

import (
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
