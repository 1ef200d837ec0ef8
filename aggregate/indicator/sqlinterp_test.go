package indicator

// A tiny, independent interpreter for the SQL subset Selector.SQL emits. It
// parses the rendered text (it does not look at the Selector) and evaluates
// it over rows, so comparing its result with Definition.Evaluate checks that
// the two renderings of a formula agree — including literal escaping. It
// deliberately accepts only the subset that works on ClickHouse 18.16:
// sumIf, IN / NOT IN, AND, OR, =, !=, >=, + and -. Anything else is a parse
// error, so a rendering that strays outside the subset fails the tests.

import (
	"fmt"
	"strconv"
	"strings"
)

type tokKind int

const (
	tIdent tokKind = iota
	tString
	tNumber
	tPunct
	tEOF
)

type token struct {
	kind tokKind
	text string
}

func lex(s string) ([]token, error) {
	var out []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ':
			i++
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			j := i
			for j < len(s) && (s[j] == '_' || s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= '0' && s[j] <= '9') {
				j++
			}
			out = append(out, token{tIdent, s[i:j]})
			i = j
		case c >= '0' && c <= '9':
			j := i
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			out = append(out, token{tNumber, s[i:j]})
			i = j
		case c == '\'':
			var b strings.Builder
			j := i + 1
			for ; j < len(s) && s[j] != '\''; j++ {
				if s[j] == '\\' {
					j++
					if j == len(s) {
						return nil, fmt.Errorf("dangling backslash")
					}
					switch s[j] {
					case '\\', '\'':
						b.WriteByte(s[j])
					case 'n':
						b.WriteByte('\n')
					case 't':
						b.WriteByte('\t')
					case 'r':
						b.WriteByte('\r')
					case '0':
						b.WriteByte(0)
					default:
						return nil, fmt.Errorf("unsupported escape \\%c", s[j])
					}
					continue
				}
				if s[j] < 0x20 {
					return nil, fmt.Errorf("raw control byte %#x in literal", s[j])
				}
				b.WriteByte(s[j])
			}
			if j == len(s) {
				return nil, fmt.Errorf("unterminated string literal")
			}
			out = append(out, token{tString, b.String()})
			i = j + 1
		case c == '!' || c == '>':
			if i+1 < len(s) && s[i+1] == '=' {
				out = append(out, token{tPunct, s[i : i+2]})
				i += 2
			} else {
				return nil, fmt.Errorf("unexpected %q at %d", c, i)
			}
		case strings.IndexByte("(),=+-", c) >= 0:
			out = append(out, token{tPunct, string(c)})
			i++
		default:
			return nil, fmt.Errorf("unexpected %q at %d", c, i)
		}
	}
	return append(out, token{tEOF, ""}), nil
}

type parser struct {
	toks []token
	pos  int
}

func (p *parser) peek() token { return p.toks[p.pos] }
func (p *parser) next() token { t := p.toks[p.pos]; p.pos++; return t }
func (p *parser) expect(kind tokKind, text string) error {
	t := p.next()
	if t.kind != kind || (text != "" && t.text != text) {
		return fmt.Errorf("expected %q, got %q", text, t.text)
	}
	return nil
}

type pred func(Row) bool

// evalSQL evaluates a rendered aggregate expression over rows.
func evalSQL(sql string, rows []Row) (float64, error) {
	toks, err := lex(sql)
	if err != nil {
		return 0, err
	}
	p := &parser{toks: toks}
	var total float64
	sign := 1.0
	if t := p.peek(); t.kind == tPunct && t.text == "-" {
		p.next()
		sign = -1
	}
	for {
		if t := p.peek(); t.kind == tNumber && t.text == "0" {
			p.next() // "0": the empty sum
		} else {
			v, err := p.sumIf(rows)
			if err != nil {
				return 0, err
			}
			total += sign * v
		}
		t := p.next()
		switch {
		case t.kind == tEOF:
			return total, nil
		case t.kind == tPunct && t.text == "+":
			sign = 1
		case t.kind == tPunct && t.text == "-":
			sign = -1
		default:
			return 0, fmt.Errorf("unexpected %q after aggregate", t.text)
		}
	}
}

func (p *parser) sumIf(rows []Row) (float64, error) {
	if err := p.expect(tIdent, "sumIf"); err != nil {
		return 0, err
	}
	if err := p.expect(tPunct, "("); err != nil {
		return 0, err
	}
	col := p.next()
	if col.kind != tIdent || (col.text != "events" && col.text != "value_sum") {
		return 0, fmt.Errorf("sumIf over unknown column %q", col.text)
	}
	if err := p.expect(tPunct, ","); err != nil {
		return 0, err
	}
	cond, err := p.or()
	if err != nil {
		return 0, err
	}
	if err := p.expect(tPunct, ")"); err != nil {
		return 0, err
	}
	var events uint64
	var sum float64
	for _, r := range rows {
		if cond(r) {
			events += r.Events
			sum += r.ValueSum
		}
	}
	if col.text == "events" {
		return float64(events), nil
	}
	return sum, nil
}

func (p *parser) or() (pred, error) {
	left, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.peek().kind == tIdent && p.peek().text == "OR" {
		p.next()
		right, err := p.and()
		if err != nil {
			return nil, err
		}
		l := left
		left = func(r Row) bool { return l(r) || right(r) }
	}
	return left, nil
}

func (p *parser) and() (pred, error) {
	left, err := p.atom()
	if err != nil {
		return nil, err
	}
	for p.peek().kind == tIdent && p.peek().text == "AND" {
		p.next()
		right, err := p.atom()
		if err != nil {
			return nil, err
		}
		l := left
		left = func(r Row) bool { return l(r) && right(r) }
	}
	return left, nil
}

func (p *parser) atom() (pred, error) {
	t := p.next()
	switch {
	case t.kind == tPunct && t.text == "(":
		inner, err := p.or()
		if err != nil {
			return nil, err
		}
		return inner, p.expect(tPunct, ")")
	case t.kind == tNumber && t.text == "1":
		return func(Row) bool { return true }, nil
	case t.kind != tIdent:
		return nil, fmt.Errorf("unexpected %q in condition", t.text)
	}
	col := t.text
	if col == "consent_tier" {
		if err := p.expect(tPunct, ">="); err != nil {
			return nil, err
		}
		n := p.next()
		if n.kind != tNumber {
			return nil, fmt.Errorf("consent_tier compared to %q", n.text)
		}
		min, err := strconv.Atoi(n.text)
		if err != nil {
			return nil, err
		}
		return func(r Row) bool { return int(r.ConsentTier) >= min }, nil
	}
	var get func(Row) string
	switch col {
	case "event_type":
		get = func(r Row) string { return r.EventType }
	case "detail":
		get = func(r Row) string { return r.Detail }
	case "personalization":
		get = func(r Row) string { return r.Personalization }
	case "channel":
		get = func(r Row) string { return r.Channel }
	default:
		return nil, fmt.Errorf("unknown column %q", col)
	}
	op := p.next()
	switch {
	case op.kind == tPunct && (op.text == "=" || op.text == "!="):
		lit := p.next()
		if lit.kind != tString {
			return nil, fmt.Errorf("%s compared to non-string %q", col, lit.text)
		}
		eq := op.text == "="
		return func(r Row) bool { return (get(r) == lit.text) == eq }, nil
	case op.kind == tIdent && (op.text == "IN" || op.text == "NOT"):
		negate := op.text == "NOT"
		if negate {
			if err := p.expect(tIdent, "IN"); err != nil {
				return nil, err
			}
		}
		if err := p.expect(tPunct, "("); err != nil {
			return nil, err
		}
		set := map[string]bool{}
		for {
			lit := p.next()
			if lit.kind != tString {
				return nil, fmt.Errorf("non-string %q in IN list", lit.text)
			}
			set[lit.text] = true
			sep := p.next()
			if sep.kind == tPunct && sep.text == ")" {
				break
			}
			if sep.kind != tPunct || sep.text != "," {
				return nil, fmt.Errorf("unexpected %q in IN list", sep.text)
			}
		}
		return func(r Row) bool { return set[get(r)] != negate }, nil
	}
	return nil, fmt.Errorf("unexpected operator %q", op.text)
}
