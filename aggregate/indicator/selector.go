package indicator

import (
	"slices"
	"strconv"
	"strings"
)

// Measure is the trust_counts column a Selector sums.
type Measure uint8

const (
	// Events sums the `events` column: how many events match.
	Events Measure = iota
	// ValueSum sums the `value_sum` column: the sum of sentiment scores
	// (0 for every other event type).
	ValueSum
)

// Column returns the trust_counts column name of the measure.
func (m Measure) Column() string {
	if m == ValueSum {
		return "value_sum"
	}
	return "events"
}

// String returns the column name, so a Measure prints as what it sums.
func (m Measure) String() string { return m.Column() }

// ConsentRule is one "personalization level within consent" conjunction:
// personalization = Personalization AND consent_tier >= MinTier.
type ConsentRule struct {
	Personalization string
	MinTier         uint8
}

// Selector describes a subset of trust_counts rows and the measure summed
// over them. Every non-empty field is a constraint and all constraints must
// hold (AND); an empty field does not constrain. The zero Selector therefore
// counts every event.
//
// A Selector is plain data: the Go evaluation (Matches, Totals.Sum) and the
// SQL rendering (SQL) are both derived from it, which is what keeps the two
// from disagreeing.
type Selector struct {
	Measure Measure
	// EventTypes: event_type IN EventTypes.
	EventTypes []string
	// Details: detail IN Details.
	Details []string
	// ExcludeDetails: detail NOT IN ExcludeDetails.
	ExcludeDetails []string
	// Channels: channel IN Channels.
	Channels []string
	// Personalization: personalization IN Personalization.
	Personalization []string
	// Consent: at least one rule holds (the rules are OR-ed).
	Consent []ConsentRule
}

// Matches reports whether a row is in the selected subset (the measure is
// not considered).
func (s Selector) Matches(r Row) bool {
	if len(s.EventTypes) > 0 && !slices.Contains(s.EventTypes, r.EventType) {
		return false
	}
	if len(s.Details) > 0 && !slices.Contains(s.Details, r.Detail) {
		return false
	}
	if slices.Contains(s.ExcludeDetails, r.Detail) {
		return false
	}
	if len(s.Channels) > 0 && !slices.Contains(s.Channels, r.Channel) {
		return false
	}
	if len(s.Personalization) > 0 && !slices.Contains(s.Personalization, r.Personalization) {
		return false
	}
	if len(s.Consent) > 0 {
		ok := false
		for _, c := range s.Consent {
			if r.Personalization == c.Personalization && r.ConsentTier >= c.MinTier {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// SQL renders the selector as a ClickHouse aggregate expression over the
// columns of trust_counts, e.g.
//
//	sumIf(events, event_type = 'unsubscribe')
//
// Only sumIf, IN / NOT IN, AND, OR, =, != and >= are used, so the expression
// is valid on ClickHouse 18.16 and on current releases. List values are
// sorted and de-duplicated, so the text is deterministic and two selectors
// that select the same rows with the same lists render identically.
func (s Selector) SQL() string {
	return "sumIf(" + s.Measure.Column() + ", " + s.condition() + ")"
}

// condition renders the WHERE-like condition of the selector ("1" when the
// selector does not constrain anything).
func (s Selector) condition() string {
	var parts []string
	if len(s.EventTypes) > 0 {
		parts = append(parts, inList("event_type", s.EventTypes, false))
	}
	if len(s.Details) > 0 {
		parts = append(parts, inList("detail", s.Details, false))
	}
	if len(s.ExcludeDetails) > 0 {
		parts = append(parts, inList("detail", s.ExcludeDetails, true))
	}
	if len(s.Channels) > 0 {
		parts = append(parts, inList("channel", s.Channels, false))
	}
	if len(s.Personalization) > 0 {
		parts = append(parts, inList("personalization", s.Personalization, false))
	}
	if len(s.Consent) > 0 {
		rules := slices.Clone(s.Consent)
		slices.SortFunc(rules, func(a, b ConsentRule) int {
			if c := strings.Compare(a.Personalization, b.Personalization); c != 0 {
				return c
			}
			return int(a.MinTier) - int(b.MinTier)
		})
		rules = slices.Compact(rules)
		alts := make([]string, len(rules))
		for i, c := range rules {
			alts[i] = "(personalization = " + quote(c.Personalization) +
				" AND consent_tier >= " + strconv.Itoa(int(c.MinTier)) + ")"
		}
		if len(alts) == 1 {
			parts = append(parts, alts[0])
		} else {
			parts = append(parts, "("+strings.Join(alts, " OR ")+")")
		}
	}
	if len(parts) == 0 {
		return "1"
	}
	return strings.Join(parts, " AND ")
}

// inList renders `col = 'v'` / `col != 'v'` for one value and
// `col IN ('a', 'b')` / `col NOT IN (...)` for several.
func inList(col string, vals []string, negate bool) string {
	vs := slices.Clone(vals)
	slices.Sort(vs)
	vs = slices.Compact(vs)
	if len(vs) == 1 {
		if negate {
			return col + " != " + quote(vs[0])
		}
		return col + " = " + quote(vs[0])
	}
	q := make([]string, len(vs))
	for i, v := range vs {
		q[i] = quote(v)
	}
	op := " IN ("
	if negate {
		op = " NOT IN ("
	}
	return col + op + strings.Join(q, ", ") + ")"
}

// quote renders s as a ClickHouse single-quoted string literal. Backslash and
// quote are escaped with a backslash (ClickHouse's escaping, also in 18.16);
// NUL, tab, newline and carriage return use their backslash escapes so that
// the SQL text stays on one line and never carries a raw NUL byte.
func quote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			b.WriteString(`\\`)
		case '\'':
			b.WriteString(`\'`)
		case 0:
			b.WriteString(`\0`)
		case '\t':
			b.WriteString(`\t`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

// Term is one signed Selector in a sum: Negate subtracts it. A signed sum is
// needed by consent_momentum (upgrades − downgrades).
type Term struct {
	Negate   bool
	Selector Selector
}

// Plus returns the Term that adds s.
func Plus(s Selector) Term { return Term{Selector: s} }

// Minus returns the Term that subtracts s.
func Minus(s Selector) Term { return Term{Negate: true, Selector: s} }

// termsSQL renders a signed sum of selectors, e.g. "sumIf(...) - sumIf(...)".
// ClickHouse types UInt64 − UInt64 (and unary minus) as Int64, in 18.16 too,
// so a negative result does not wrap around.
func termsSQL(ts []Term) string {
	if len(ts) == 0 {
		return "0"
	}
	var b strings.Builder
	for i, t := range ts {
		switch {
		case i == 0 && t.Negate:
			b.WriteString("-")
		case t.Negate:
			b.WriteString(" - ")
		case i > 0:
			b.WriteString(" + ")
		}
		b.WriteString(t.Selector.SQL())
	}
	return b.String()
}
