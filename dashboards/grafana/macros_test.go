package grafana_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

// An expander that turns a dashboard query into the SQL the
// grafana-clickhouse-datasource plugin (v4) sends to ClickHouse, in the
// plugin's order:
//
//  1. frontend, applyConditionalAll: every $__conditionalAll(cond, $var),
//     last first, becomes cond — or 1=1 when the variable's current value is
//     "All" ($__all) or empty — through JavaScript's String.replace, so "$&",
//     "$'", "$`" and "$$" in cond are replacement patterns;
//  2. frontend, getTemplateSrv().replace with the plugin's format function:
//     $var, ${var} and [[var]] become, for an array value, 'a','b' (values
//     joined, not escaped) and for a single value the raw value; an explicit
//     ${var:singlequote} quotes each value with \' escaping and
//     ${var:sqlstring} with '' escaping (neither escapes \, which ClickHouse
//     reads as an escape), ${var:percentencode} percent-encodes "{a,b}"
//     (an array) or the value like encodeURIComponent, and also !'()*;
//     "All" without a custom all value stands for every option;
//  3. backend, the plugin's macros (pkg/macros): $__timeFilter(c) ->
//     c >= toDateTime(from) AND c <= toDateTime(to) with Unix seconds,
//     $__fromTime / $__toTime -> toDateTime(s), $__dateFilter(c) ->
//     c >= toDate('YYYY-MM-DD') AND c <= toDate('YYYY-MM-DD'),
//     $__interval_s -> the query interval in whole seconds (at least 1).
//
// Anything else left with a $ is an error: the plugin would send it as is
// and ClickHouse would reject it.

// varValue is a template variable's current state.
type varValue struct {
	all     bool     // "All" is selected
	values  []string // the selection, or every option when all
	multi   bool
	allText *string // the variable's custom all value, if any
}

type macroEnv struct {
	from, to time.Time
	interval time.Duration
	vars     map[string]varValue
}

const conditionalAll = "$__conditionalAll("

// getMacroArgs is the plugin's CHDatasource.getMacroArgs: the arguments of
// the call whose "(" is at argsIndex, split at top-level commas, untrimmed.
func getMacroArgs(query string, argsIndex int) []string {
	var args []string
	depth, last := 0, 1
	sub := query[argsIndex:]
	for i := 0; i < len(sub); i++ {
		switch sub[i] {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 1 {
				args = append(args, sub[last:i])
				last = i + 1
			}
			continue
		default:
			continue
		}
		if depth == 0 {
			return append(args, sub[last:i])
		}
	}
	return nil
}

var conditionalVarRe = regexp.MustCompile(`\$\{(\w+)\}|\$(\w+)`)

func applyConditionalAll(q string, env macroEnv) (string, error) {
	for i := strings.LastIndex(q, conditionalAll); i >= 0; i = strings.LastIndex(q, conditionalAll) {
		args := getMacroArgs(q, i+len(conditionalAll)-1)
		if len(args) != 2 {
			return "", fmt.Errorf("$__conditionalAll at %d: want 2 arguments, got %q", i, args)
		}
		phrase := args[0]
		if m := conditionalVarRe.FindStringSubmatch(strings.TrimSpace(args[1])); m != nil {
			name := m[1] + m[2]
			v, ok := env.vars[name]
			if !ok {
				return "", fmt.Errorf("$__conditionalAll: unknown variable %s", name)
			}
			if v.all || len(v.values) == 0 {
				phrase = "1=1"
			}
		}
		q = jsReplace(q, conditionalAll+args[0]+","+args[1]+")", phrase)
	}
	return q, nil
}

// jsReplace is String.prototype.replace with a string pattern: the first
// occurrence of pattern, with the replacement patterns $$, $&, $` and $'.
func jsReplace(s, pattern, replacement string) string {
	i := strings.Index(s, pattern)
	if i < 0 {
		return s
	}
	var b strings.Builder
	for j := 0; j < len(replacement); j++ {
		c := replacement[j]
		if c == '$' && j+1 < len(replacement) {
			switch replacement[j+1] {
			case '$':
				b.WriteByte('$')
				j++
				continue
			case '&':
				b.WriteString(pattern)
				j++
				continue
			case '`':
				b.WriteString(s[:i])
				j++
				continue
			case '\'':
				b.WriteString(s[i+len(pattern):])
				j++
				continue
			}
		}
		b.WriteByte(c)
	}
	return s[:i] + b.String() + s[i+len(pattern):]
}

// encodeURIComponentStrict is Grafana's: encodeURIComponent (UTF-8 bytes
// outside A-Z a-z 0-9 - _ . ! ~ * ' ( ) as %XX) that also encodes !'()*.
func encodeURIComponentStrict(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte("-_.~", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// templateVarRe is Grafana's variable regex (templateSrv).
var templateVarRe = regexp.MustCompile(`\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^\}]+))?(?::([^\}]+))?\}`)

func replaceVariables(q string, env macroEnv) (string, error) {
	var err error
	out := templateVarRe.ReplaceAllStringFunc(q, func(m string) string {
		g := templateVarRe.FindStringSubmatch(m)
		name := g[1] + g[2] + g[4]
		format := g[3] + g[6]
		v, ok := env.vars[name]
		if !ok {
			return m // not a variable: macros and built-ins stay for later
		}
		if v.all && v.allText != nil {
			return *v.allText
		}
		vals := v.values
		switch format {
		case "singlequote":
			q := make([]string, len(vals))
			for i, s := range vals {
				q[i] = "'" + strings.ReplaceAll(s, "'", `\'`) + "'"
			}
			return strings.Join(q, ",")
		case "percentencode":
			if v.multi || v.all {
				return encodeURIComponentStrict("{" + strings.Join(vals, ",") + "}")
			}
			if len(vals) == 1 {
				return encodeURIComponentStrict(vals[0])
			}
			err = fmt.Errorf("variable %s: %d values for a single-value variable", name, len(vals))
			return m
		case "sqlstring":
			q := make([]string, len(vals))
			for i, s := range vals {
				q[i] = "'" + strings.ReplaceAll(s, "'", "''") + "'"
			}
			return strings.Join(q, ",")
		case "":
			if v.multi || v.all {
				return "'" + strings.Join(vals, "','") + "'"
			}
			if len(vals) == 1 {
				return vals[0]
			}
			err = fmt.Errorf("variable %s: %d values for a single-value variable", name, len(vals))
			return m
		default:
			err = fmt.Errorf("variable %s: format %q not implemented by the test expander", name, format)
			return m
		}
	})
	return out, err
}

var macroRe = regexp.MustCompile(`\$__(\w+)`)

func expandBackendMacros(q string, env macroEnv) (string, error) {
	var b strings.Builder
	for {
		loc := macroRe.FindStringSubmatchIndex(q)
		if loc == nil {
			b.WriteString(q)
			return b.String(), nil
		}
		b.WriteString(q[:loc[0]])
		name := q[loc[2]:loc[3]]
		rest := q[loc[1]:]
		var args []string
		if strings.HasPrefix(rest, "(") {
			raw := getMacroArgs(rest, 0)
			if raw == nil {
				return "", fmt.Errorf("$__%s: unbalanced parentheses", name)
			}
			n := len("(") + len(")") + len(raw) - 1
			for _, a := range raw {
				n += len(a)
				args = append(args, strings.TrimSpace(a))
			}
			rest = rest[n:]
		}
		from, to := env.from.UTC(), env.to.UTC()
		var out string
		switch name {
		case "timeFilter":
			if len(args) != 1 {
				return "", fmt.Errorf("$__timeFilter: want 1 argument, got %d", len(args))
			}
			out = fmt.Sprintf("%s >= toDateTime(%d) AND %s <= toDateTime(%d)", args[0], from.Unix(), args[0], to.Unix())
		case "dateFilter":
			if len(args) != 1 {
				return "", fmt.Errorf("$__dateFilter: want 1 argument, got %d", len(args))
			}
			out = fmt.Sprintf("%s >= toDate('%s') AND %s <= toDate('%s')", args[0], from.Format("2006-01-02"), args[0], to.Format("2006-01-02"))
		case "fromTime":
			out = fmt.Sprintf("toDateTime(%d)", from.Unix())
		case "toTime":
			out = fmt.Sprintf("toDateTime(%d)", to.Unix())
		case "interval_s":
			out = fmt.Sprint(max(int64(env.interval/time.Second), 1))
		default:
			return "", fmt.Errorf("$__%s: not a macro the plugin expands for ClickHouse 18.16 here", name)
		}
		b.WriteString(out)
		q = rest
	}
}

var leftoverRe = regexp.MustCompile(`\$\{?\w|\[\[\w`)

// expand turns a dashboard query into the SQL the plugin sends.
func expand(q string, env macroEnv) (string, error) {
	q, err := applyConditionalAll(q, env)
	if err != nil {
		return "", err
	}
	if q, err = replaceVariables(q, env); err != nil {
		return "", err
	}
	if q, err = expandBackendMacros(q, env); err != nil {
		return "", err
	}
	if m := leftoverRe.FindString(q); m != "" {
		return "", fmt.Errorf("unexpanded %q left in the query", m)
	}
	return q, nil
}

func TestExpand(t *testing.T) {
	from := time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC)
	env := macroEnv{from: from, to: from.Add(48 * time.Hour), interval: 90 * time.Minute, vars: map[string]varValue{
		"campaign": {all: true, values: []string{"a", "b"}, multi: true},
		"segment":  {values: []string{"s1", "o'neil"}, multi: true},
		"channel":  {values: []string{"email"}, multi: true},
		"single":   {values: []string{"x"}},
	}}
	cases := []struct{ in, want string }{
		{"WHERE $__timeFilter(hour)", "WHERE hour >= toDateTime(1790856000) AND hour <= toDateTime(1791028800)"},
		{"$__dateFilter( day )", "day >= toDate('2026-10-01') AND day <= toDate('2026-10-03')"},
		{"intDiv(toUInt32(t), $__interval_s) * $__interval_s", "intDiv(toUInt32(t), 5400) * 5400"},
		{"toDate($__fromTime) AND $__toTime", "toDate(toDateTime(1790856000)) AND toDateTime(1791028800)"},
		{"$__conditionalAll(campaign_id IN (${campaign:singlequote}), $campaign)", "1=1"},
		{"$__conditionalAll(segment IN (${segment:singlequote}), $segment)", `segment IN ('s1','o\'neil')`},
		{"$__conditionalAll(channel IN ($channel), $channel) AND x", "channel IN ('email') AND x"},
		{"campaign_id IN ($campaign)", "campaign_id IN ('a','b')"},
		{"v = '$single' AND w = ${single:sqlstring}", "v = 'x' AND w = 'x'"},
		{"'${segment:percentencode}' '${single:percentencode}'", "'%7Bs1%2Co%27neil%7D' 'x'"},
		{"$__conditionalAll(a = '${channel:percentencode}' $' $$, $channel) AND b", "a = '%7Bemail%7D'  AND b $ AND b"},
		{"a AND $__conditionalAll(f(x, (y)) = 1, ${channel}) AND $__conditionalAll(g = 2, $campaign)", "a AND f(x, (y)) = 1 AND 1=1"},
	}
	for _, c := range cases {
		got, err := expand(c.in, env)
		if err != nil || got != c.want {
			t.Errorf("expand(%q)\n got  %q, %v\n want %q", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"$__timeInterval(t)", "$unknown", "${nope:csv}", "$__timeFilter(a, b)"} {
		if got, err := expand(bad, env); err == nil {
			t.Errorf("expand(%q) = %q, want an error", bad, got)
		}
	}
}
