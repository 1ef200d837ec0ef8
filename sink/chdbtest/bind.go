package chdbtest

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// bind replaces each positional ? outside string literals, quoted
// identifiers and comments with the next argument as a SQL literal, as
// clickhouse-go binds positional arguments client-side. It knows the
// argument types the project passes (strings, numbers, booleans, times and
// slices of them, which become arrays) and rejects any other, and a count
// of arguments that does not match the placeholders.
func bind(query string, args []any) (string, error) {
	if len(args) == 0 {
		return query, nil
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case c == '\'' || c == '`' || c == '"':
			j := closing(query, i)
			b.WriteString(query[i:j])
			i = j - 1
		case c == '-' && strings.HasPrefix(query[i:], "--"):
			j := strings.IndexByte(query[i:], '\n')
			if j < 0 {
				j = len(query) - i
			}
			b.WriteString(query[i : i+j])
			i += j - 1
		case c == '?':
			if n >= len(args) {
				return "", fmt.Errorf("chdb: bind: more placeholders than the %d arguments", len(args))
			}
			lit, err := literal(args[n])
			if err != nil {
				return "", fmt.Errorf("chdb: bind argument %d: %w", n+1, err)
			}
			b.WriteString(lit)
			n++
		default:
			b.WriteByte(c)
		}
	}
	if n != len(args) {
		return "", fmt.Errorf("chdb: bind: %d placeholders for %d arguments", n, len(args))
	}
	return b.String(), nil
}

// closing returns the index just past the quoted section starting at i
// (backslash escapes, doubled quotes), or len(q) if it is not closed.
func closing(q string, i int) int {
	quote := q[i]
	for j := i + 1; j < len(q); j++ {
		switch q[j] {
		case '\\':
			j++
		case quote:
			if j+1 < len(q) && q[j+1] == quote {
				j++
				continue
			}
			return j + 1
		}
	}
	return len(q)
}

var quoter = strings.NewReplacer(`\`, `\\`, `'`, `\'`)

func literal(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "NULL", nil
	case string:
		return "'" + quoter.Replace(x) + "'", nil
	case bool:
		if x {
			return "1", nil
		}
		return "0", nil
	case time.Time:
		return fmt.Sprintf("toDateTime(%d)", x.Unix()), nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(rv.Int(), 10), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return strconv.FormatUint(rv.Uint(), 10), nil
	case reflect.Float32, reflect.Float64:
		return strconv.FormatFloat(rv.Float(), 'g', -1, 64), nil
	case reflect.Slice, reflect.Array:
		parts := make([]string, rv.Len())
		for i := range parts {
			s, err := literal(rv.Index(i).Interface())
			if err != nil {
				return "", err
			}
			parts[i] = s
		}
		return "[" + strings.Join(parts, ", ") + "]", nil
	}
	return "", fmt.Errorf("type %T is not supported", v)
}
