package sink

import (
	"fmt"
	"strings"

	"github.com/trustpipe/trustpipe/aggregate/indicator"
)

// Names of the Trust Index views. Like the indicator views they read only the
// read surface (the indicator views), never the storage tables.
const (
	// ViewIndexHourly: hour, trust_index, included_components, and per
	// component the Index columns (see IndexColumns), over all dimensions.
	ViewIndexHourly = "trust_index_hourly"
	// ViewIndexDaily: as ViewIndexHourly with day (Date) instead of hour.
	ViewIndexDaily = "trust_index_daily"
	// ViewIndexCampaignDaily: as ViewIndexDaily, per (day, campaign_id).
	ViewIndexCampaignDaily = "trust_index_campaign_daily"
	// ViewIndexWindow: as ViewIndexHourly per rolling window of
	// trust_indicators_window (`window` = '1h', '24h', '7d', '28d').
	ViewIndexWindow = "trust_index_window"
	// ViewIndexWindowComponents: the explanation of trust_index_window in
	// long format: window, position, component, title, value, volume,
	// min_volume, included, score, weight, contribution.
	ViewIndexWindowComponents = "trust_index_window_components"
	// ViewIndexConfig: the components that can take part in the Index, one
	// row each: position, indicator, title, direction, weight (configured,
	// not renormalised), good, bad, min_volume. Dashboards join it to
	// compute the Index over an arbitrary filter with the same settings.
	ViewIndexConfig = "trust_index_config"
)

// Index column suffixes, per component of the wide index views.
const (
	SuffixValue        = "_value"        // Nullable(Float64): numerator / denominator
	SuffixVolume       = "_volume"       // Float64: the denominator
	SuffixIncluded     = "_included"     // UInt8: 1 when the component qualifies
	SuffixScore        = "_score"        // Nullable(Float64): 0-100, NULL when not included
	SuffixWeight       = "_weight"       // Float64: renormalised weight, 0 when not included
	SuffixContribution = "_contribution" // Float64: weight * score; they sum to trust_index
)

// IndexColumns returns the suffixes of the per-component columns, in the
// order the wide index views list them.
func IndexColumns() []string {
	return []string{SuffixValue, SuffixVolume, SuffixIncluded, SuffixScore, SuffixWeight, SuffixContribution}
}

// IndexViews returns the Trust Index views for cfg (create them after
// IndicatorViews, which they read). The Index expressions are
// indicator.IndexSQL over the numerator and denominator sums of the
// indicator views, so a row of trust_index_hourly equals
// indicator.ComputeIndex(cfg, totals of that hour) — the same exclusions,
// scores, renormalised weights and contributions.
//
// The Index is not additive: the Index of a day is not the mean of its
// hours. Each view computes it from the sums of its own grouping; for any
// other grouping or filter, sum the <indicator>_num/_den columns of the
// indicator views and score them with the settings of trust_index_config.
//
// Components that can never take part (an unknown indicator, a click
// metric, a repeated name, invalid thresholds) get no columns: ComputeIndex
// reports them as excluded whatever the data. A weight-0 component keeps its
// columns (value and volume are reported, it is never included). Validate
// the configuration before creating views from it.
func IndexViews(cfg indicator.IndexConfig) []View {
	inner := func(name string) string { return "n_" + name }
	innerDen := func(name string) string { return "d_" + name }
	exprs := indicator.IndexSQL(cfg, inner, innerDen)

	var comps []indicator.ComponentExprs
	for _, c := range exprs.Components {
		if c.Static && c.StaticReason != "weight is 0" {
			continue
		}
		comps = append(comps, c)
	}
	// Sums per component indicator, read by the index expressions.
	var sums, winSums []string
	for _, c := range comps {
		sums = append(sums,
			fmt.Sprintf("sum(%s) AS %s", NumColumn(c.Name), inner(c.Name)),
			fmt.Sprintf("sum(%s) AS %s", DenColumn(c.Name), innerDen(c.Name)))
		winSums = append(winSums,
			fmt.Sprintf("sumIf(numerator, indicator = %s) AS %s", quoteString(c.Name), inner(c.Name)),
			fmt.Sprintf("sumIf(denominator, indicator = %s) AS %s", quoteString(c.Name), innerDen(c.Name)))
	}
	cols := []string{
		exprs.Index + " AS trust_index",
		exprs.Included + " AS included_components",
	}
	for _, c := range comps {
		cols = append(cols,
			c.Value+" AS "+c.Name+SuffixValue,
			c.Denominator+" AS "+c.Name+SuffixVolume,
			"toUInt8("+c.Included+") AS "+c.Name+SuffixIncluded,
			c.Score+" AS "+c.Name+SuffixScore,
			c.Weight+" AS "+c.Name+SuffixWeight,
			c.Contribution+" AS "+c.Name+SuffixContribution)
	}
	selectList := "\t" + strings.Join(cols, ",\n\t")

	wide := func(keys, source string, sumList []string) string {
		return fmt.Sprintf(`SELECT
	%s,
%s
FROM (
	SELECT
		%s,
		%s
	FROM {db}.%s
	GROUP BY %s
)`, keys, selectList, keys, strings.Join(sumList, ",\n\t\t"), source, keys)
	}

	var windowNames []string
	for _, w := range indicator.Windows() {
		windowNames = append(windowNames, quoteString(w.Name))
	}
	window := wide("`window`", ViewIndicatorsWindow, winSums) +
		"\nORDER BY indexOf([" + strings.Join(windowNames, ", ") + "], `window`)"

	return []View{
		{Name: ViewIndexHourly, Query: wide("hour", ViewIndicatorsHourly, sums)},
		{Name: ViewIndexDaily, Query: wide("day", ViewIndicatorsDaily, sums)},
		{Name: ViewIndexCampaignDaily, Query: wide("day, campaign_id", ViewIndicatorsDaily, sums)},
		{Name: ViewIndexWindow, Query: window},
		{Name: ViewIndexWindowComponents, Query: explainQuery(comps)},
		{Name: ViewIndexConfig, Query: configQuery(comps)},
	}
}

// explainQuery unrolls trust_index_window into one row per (window,
// component).
func explainQuery(comps []indicator.ComponentExprs) string {
	if len(comps) == 0 {
		// No component: an empty result with the documented columns.
		return "SELECT '' AS `window`, toUInt32(0) AS position, '' AS component, '' AS title, " +
			nullFloat + " AS value, toFloat64(0) AS volume, toFloat64(0) AS min_volume, toUInt8(0) AS included, " +
			nullFloat + " AS score, toFloat64(0) AS weight, toFloat64(0) AS contribution, " +
			nullFloat + " AS trust_index FROM system.one WHERE 0"
	}
	var tuples []string
	for i, c := range comps {
		tuples = append(tuples, fmt.Sprintf("(toUInt32(%d), %s, %s, toNullable(%s), %s, toFloat64(%s), %s, toNullable(%s), %s, %s)",
			i+1, quoteString(c.Name), quoteString(title(c.Name)),
			c.Name+SuffixValue, c.Name+SuffixVolume, floatLit(c.MinVolume), c.Name+SuffixIncluded,
			c.Name+SuffixScore, c.Name+SuffixWeight, c.Name+SuffixContribution))
	}
	return fmt.Sprintf(`SELECT `+"`window`"+`, position, component, title, value, volume, min_volume, included, score, weight, contribution, trust_index
FROM (
	SELECT
		`+"`window`"+`, trust_index,
		arrayJoin([
			%s
		]) AS c,
		tupleElement(c, 1) AS position,
		tupleElement(c, 2) AS component,
		tupleElement(c, 3) AS title,
		tupleElement(c, 4) AS value,
		tupleElement(c, 5) AS volume,
		tupleElement(c, 6) AS min_volume,
		tupleElement(c, 7) AS included,
		tupleElement(c, 8) AS score,
		tupleElement(c, 9) AS weight,
		tupleElement(c, 10) AS contribution
	FROM {db}.%s
)`, strings.Join(tuples, ",\n\t\t\t"), ViewIndexWindow)
}

// configQuery lists the components that can take part, with their effective
// settings.
func configQuery(comps []indicator.ComponentExprs) string {
	var tuples []string
	pos := 0
	for _, c := range comps {
		if c.Static { // weight 0: never part of the Index
			continue
		}
		pos++
		d, _ := indicator.ByName(c.Name)
		tuples = append(tuples, fmt.Sprintf("(toUInt32(%d), %s, %s, %s, toFloat64(%s), toFloat64(%s), toFloat64(%s), toFloat64(%s))",
			pos, quoteString(c.Name), quoteString(d.Title), quoteString(d.Direction.String()),
			floatLit(c.ConfiguredWeight), floatLit(c.Good), floatLit(c.Bad), floatLit(c.MinVolume)))
	}
	if len(tuples) == 0 {
		return "SELECT toUInt32(0) AS position, '' AS indicator, '' AS title, '' AS direction, toFloat64(0) AS weight, " +
			"toFloat64(0) AS good, toFloat64(0) AS bad, toFloat64(0) AS min_volume FROM system.one WHERE 0"
	}
	return fmt.Sprintf(`SELECT
	tupleElement(c, 1) AS position,
	tupleElement(c, 2) AS indicator,
	tupleElement(c, 3) AS title,
	tupleElement(c, 4) AS direction,
	tupleElement(c, 5) AS weight,
	tupleElement(c, 6) AS good,
	tupleElement(c, 7) AS bad,
	tupleElement(c, 8) AS min_volume
FROM (SELECT arrayJoin([
	%s
]) AS c)`, strings.Join(tuples, ",\n\t"))
}

func title(name string) string {
	if d, ok := indicator.ByName(name); ok {
		return d.Title
	}
	return name
}

// nullFloat is a typed NULL (Nullable(Float64)).
const nullFloat = "CAST(NULL AS Nullable(Float64))"

// floatLit renders a finite float as a literal that parses back exactly
// (ClickHouse reads float literals with strtod); negative values are
// parenthesised.
func floatLit(f float64) string {
	s := fmt.Sprintf("%v", f)
	if strings.HasPrefix(s, "-") {
		return "(" + s + ")"
	}
	return s
}

// ReadSurfaceViews are the views Migrate creates beyond the storage read
// surface: the indicator views, generated from the indicator definitions,
// and the Trust Index views for cfg.
func ReadSurfaceViews(cfg indicator.IndexConfig) []View {
	return append(IndicatorViews(), IndexViews(cfg)...)
}
