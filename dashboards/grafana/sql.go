package grafana

import (
	"fmt"
	"strings"

	"github.com/trustpipe/trustpipe/aggregate/indicator"
	"github.com/trustpipe/trustpipe/sink"
)

// countRows is the read-surface view of trust_counts rows before their
// final GROUP BY (sink/schema.go): any query that aggregates anyway reads it
// rather than trust_counts, so it groups once, at its own level — several
// times faster on ClickHouse 18.16, which does not push filters into views.
const countRows = "trust_count_rows"

// def returns an indicator definition; the names are compile-time constants,
// so a miss is a programming error.
func def(name string) indicator.Definition {
	d, ok := indicator.ByName(name)
	if !ok {
		panic("grafana: unknown indicator " + name)
	}
	return d
}

// trustIndicators are the indicators the Trust Index can score, in
// definition order.
func trustIndicators() []indicator.Definition {
	var out []indicator.Definition
	for _, d := range indicator.All() {
		if d.Kind == indicator.Trust {
			out = append(out, d)
		}
	}
	return out
}

// ratio is an indicator over the rows of a wide indicator view:
// sum(<name>_num) / nullIf(sum(<name>_den), 0) — the exact value over the
// union of the rows, never an average of ratios.
func ratio(name string) string {
	def(name)
	return fmt.Sprintf("sum(%s) / nullIf(sum(%s), 0)", sink.NumColumn(name), sink.DenColumn(name))
}

// countsRatio is an indicator over trust_counts rows, from the definition's
// own SQL rendering (for breakdowns the wide views do not carry, such as
// personalization).
func countsRatio(name string) string {
	d := def(name)
	return fmt.Sprintf("(%s) / nullIf(%s, 0)", d.NumeratorSQL(), d.DenominatorSQL())
}

// bucket truncates a DateTime column to the panel interval. ClickHouse 18.16
// has no toStartOfInterval (the plugin's $__timeInterval); whole multiples
// of the interval since the epoch are the same buckets, aligned to UTC days
// whenever the interval divides a day.
func bucket(col string) string {
	return fmt.Sprintf("toDateTime(intDiv(toUInt32(%s), $__interval_s) * $__interval_s)", col)
}

// dayBucket truncates a Date column to the panel interval (a whole number
// of days: panels reading the daily views have a minimum interval of 1d).
func dayBucket(col string) string {
	return fmt.Sprintf("toDateTime(intDiv(toUInt32(toDateTime(%s)), $__interval_s) * $__interval_s)", col)
}

// selection is the drill-down filter: each variable narrows its column unless
// "All" is selected ($__conditionalAll then renders 1=1).
var selection = strings.Join([]string{
	selected("campaign_id", "campaign"), selected("segment", "segment"),
	selected("channel", "channel"), selected("source", "source"),
}, "\n\tAND ")

// selected filters col by the values of the dimension variable name
// (dimensionVar) without ever splicing a value into SQL as a string literal.
// Grafana's quoting formats are not safe for ClickHouse: singlequote escapes
// ' but not \, so a value ending in \ followed by ') OR 1=1 -- closes the
// literal and rewrites the query, and sqlstring has the same hole. Two layers
// instead: the variable's values are hex(col) (the plugin takes a query's
// first column as the value, the second as the text shown), and the panel
// interpolates them with ${var:percentencode}, whose output holds only
// [A-Za-z0-9-_.~%] — nothing that can end a literal, whatever a URL's
// var-<name>= carries. ClickHouse decodes the list ("{v1,v2}"), unhexes each
// value and compares the bytes; hex has no comma, so splitting is exact, and
// a value that is not the hex of a stored id matches nothing (empty pieces
// are dropped: unhexed, they would select the events without that
// dimension, which the variables never offer). The condition holds no "$"
// but the variable's own: the plugin substitutes it with JavaScript's
// String.replace, where "$'" or "$&" would splice in other text.
func selected(col, name string) string {
	return fmt.Sprintf("$__conditionalAll(has(arrayMap(v -> unhex(v), arrayFilter(v -> v != '', splitByChar(',', "+
		"replaceRegexpAll(decodeURLComponent('${%[2]s:percentencode}'), '[{}]', '')))), %[1]s), $%[2]s)", col, name)
}

// trustSums renders, for every trust indicator, the sums of its numerator
// and denominator columns of a wide indicator view as n_<name>, d_<name>.
func trustSums() string {
	return sumsAs(sink.NumColumn, sink.DenColumn, "n_", "d_")
}

// sumsAs renders sum(num(name)) AS <np><name>, sum(den(name)) AS <dp><name>
// for every trust indicator. Re-aggregating sums needs new names: an alias
// equal to the column it sums confuses ClickHouse 18.16.
func sumsAs(num, den func(string) string, np, dp string) string {
	var parts []string
	for _, d := range trustIndicators() {
		parts = append(parts, fmt.Sprintf("sum(%s) AS %s%s, sum(%s) AS %s%s",
			num(d.Name), np, d.Name, den(d.Name), dp, d.Name))
	}
	return strings.Join(parts, ",\n\t")
}

// prefixed returns a column namer: prefixed("x_")(name) = "x_"+name.
func prefixed(p string) func(string) string { return func(name string) string { return p + name } }

// componentRows turns a subquery that yields keys plus n_<name>, d_<name>
// per trust indicator (see trustSums) into one row per (keys, Index
// component): the indicator's numerator n and denominator d, the component's
// settings from trust_index_config (so the deployment's Index component settings apply),
// whether it is included and its score. These are ComputeIndex's rules:
// included when d > 0 and d >= min_volume; score 100 * (n/d - bad) /
// (good - bad) clamped to [0, 100]. indexExpr then renormalises the weights
// of the included components. The sink tests and the dashboard query test
// check the result against indicator.ComputeIndex.
//
// The join is ALL INNER JOIN between aliased subqueries: current ClickHouse
// rejects a join of unaliased subqueries (Code 206), and its ANY INNER JOIN
// keeps only one left row per key — one group's components, not every
// group's — where 18.16 keeps them all. trust_index_config has one row per
// indicator, so ALL joins each left row exactly once on both.
func componentRows(keys []string, inner string) string {
	var tuples []string
	for _, d := range trustIndicators() {
		tuples = append(tuples, fmt.Sprintf("('%s', toFloat64(n_%s), toFloat64(d_%s))", d.Name, d.Name, d.Name))
	}
	k := ""
	if len(keys) > 0 {
		k = strings.Join(keys, ", ") + ", "
	}
	return fmt.Sprintf(`SELECT %sindicator, position, title, n, d, weight, good, bad, min_volume,
	(d > 0 AND d >= min_volume) AS included,
	least(greatest(100 * (n / d - bad) / (good - bad), 0), 100) AS score
FROM (
	SELECT %stupleElement(s, 1) AS indicator, tupleElement(s, 2) AS n, tupleElement(s, 3) AS d
	FROM (
		%s
	)
	ARRAY JOIN [
		%s
	] AS s
) AS sums
ALL INNER JOIN (SELECT indicator, position, title, weight, good, bad, min_volume FROM %s) AS config USING indicator`,
		k, k, indent(inner, "\t\t"), strings.Join(tuples, ",\n\t\t"), sink.ViewIndexConfig)
}

// pick is anyIf(x, cond) for a Nullable x: the matching row's x, NULL when
// that is NULL or no row matches. ClickHouse 18.16's anyIf returns 0
// instead when another row of the group has a value; current releases
// return NULL, and so does pick on both.
func pick(x, cond string) string {
	return fmt.Sprintf("if(countIf(%s AND isNotNull(%s)) = 0, NULL, anyIf(%s, %s))", cond, x, x, cond)
}

// roundHalfUp rounds x to digits decimals, halves upwards. ClickHouse's
// round rounds halves away from zero on 18.16 but to even on current
// releases (0.025 becomes 0.03 and 0.02): a displayed value must not
// depend on the version.
func roundHalfUp(x string, digits int) string {
	scale := "1" + strings.Repeat("0", digits)
	return fmt.Sprintf("floor((%s) * %s + 0.5) / %s", x, scale, scale)
}

// indexExpr aggregates componentRows into the Trust Index: the weighted mean
// of the included components' scores, NULL when none is included.
const indexExpr = "if(sumIf(weight, included) = 0, NULL, sumIf(weight * score, included) / sumIf(weight, included))"

// contributionExpr is one component's contribution within its group, given
// the group's total included weight (a column named total_weight).
const contributionExpr = "if(included AND total_weight > 0, weight * score / total_weight, 0)"

func indent(s, prefix string) string {
	return strings.ReplaceAll(s, "\n", "\n"+prefix)
}

// orderedLevels are the personalization levels from none to predictive.
var orderedLevels = []string{"none", "basic", "behavioral", "predictive"}

func quotedList(vs []string) string {
	q := make([]string, len(vs))
	for i, v := range vs {
		q[i] = "'" + v + "'"
	}
	return strings.Join(q, ", ")
}
