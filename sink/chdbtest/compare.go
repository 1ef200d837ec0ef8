package chdbtest

import (
	"context"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Result is a query's result in a form two engines can be compared in:
// column names and rows of canonical values (see canon).
type Result struct {
	Columns []string
	Rows    [][]Value
}

// Value is one canonical cell: NULL, a number (integers exactly, as
// big.Int, floats as float64), or any other value rendered as text (strings
// as they are, times as Unix seconds in UTC, arrays and tuples element by
// element).
type Value struct {
	Null  bool
	Int   *big.Int
	Float *float64
	Text  string
}

// Query runs q on conn and returns its canonical result.
func Query(ctx context.Context, conn driver.Conn, q string, args ...any) (Result, error) {
	rows, err := conn.Query(ctx, q, args...)
	if err != nil {
		return Result{}, err
	}
	defer rows.Close()
	res := Result{Columns: rows.Columns()}
	types := rows.ColumnTypes()
	for rows.Next() {
		dest := make([]any, len(types))
		for i, ct := range types {
			dest[i] = reflect.New(ct.ScanType()).Interface()
		}
		if err := rows.Scan(dest...); err != nil {
			return Result{}, fmt.Errorf("scan: %w", err)
		}
		row := make([]Value, len(dest))
		for i, d := range dest {
			row[i] = canon(reflect.ValueOf(d).Elem())
		}
		res.Rows = append(res.Rows, row)
	}
	return res, rows.Err()
}

func canon(v reflect.Value) Value {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return Value{Null: true}
		}
		v = v.Elem()
	}
	if t, ok := v.Interface().(time.Time); ok {
		return Value{Text: "t" + strconv.FormatInt(t.Unix(), 10)}
	}
	if b, ok := v.Interface().(big.Int); ok {
		return Value{Int: &b}
	}
	switch v.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return Value{Int: big.NewInt(v.Int())}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return Value{Int: new(big.Int).SetUint64(v.Uint())}
	case reflect.Bool:
		if v.Bool() {
			return Value{Int: big.NewInt(1)}
		}
		return Value{Int: big.NewInt(0)}
	case reflect.Float32, reflect.Float64:
		f := v.Float()
		return Value{Float: &f}
	case reflect.String:
		return Value{Text: "s" + v.String()}
	case reflect.Slice, reflect.Array:
		parts := make([]string, v.Len())
		for i := range parts {
			parts[i] = canon(v.Index(i)).String()
		}
		return Value{Text: "[" + strings.Join(parts, ",") + "]"}
	case reflect.Map:
		keys := v.MapKeys()
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = canon(k).String() + ":" + canon(v.MapIndex(k)).String()
		}
		slices.Sort(parts)
		return Value{Text: "{" + strings.Join(parts, ",") + "}"}
	}
	return Value{Text: fmt.Sprintf("%T:%v", v.Interface(), v.Interface())}
}

// String renders a value; floats with 9 significant digits, which is what
// sorting and nested values compare.
func (v Value) String() string {
	switch {
	case v.Null:
		return "NULL"
	case v.Int != nil:
		return v.Int.String()
	case v.Float != nil:
		return strconv.FormatFloat(*v.Float, 'g', 9, 64)
	}
	return v.Text
}

// floatTolerance is the relative difference two floats may have: sums of
// floats depend on the order ClickHouse's threads add them in, and the
// engines' formatting of float literals differs in the last bits.
const floatTolerance = 1e-9

// equal compares two values; numbers by value (an integer equals a float
// within tolerance, since an expression's type may differ between
// versions), floats within floatTolerance, NaN equal to NaN.
func (v Value) equal(w Value) bool {
	if v.Null || w.Null {
		return v.Null && w.Null
	}
	vf, vnum := v.number()
	wf, wnum := w.number()
	if vnum != wnum {
		return false
	}
	if !vnum {
		return v.Text == w.Text
	}
	if v.Int != nil && w.Int != nil {
		return v.Int.Cmp(w.Int) == 0
	}
	if math.IsNaN(vf) || math.IsNaN(wf) {
		return math.IsNaN(vf) && math.IsNaN(wf)
	}
	if math.IsInf(vf, 0) || math.IsInf(wf, 0) {
		return vf == wf
	}
	return math.Abs(vf-wf) <= floatTolerance*math.Max(1, math.Max(math.Abs(vf), math.Abs(wf)))
}

func (v Value) number() (float64, bool) {
	switch {
	case v.Int != nil:
		f, _ := new(big.Float).SetInt(v.Int).Float64()
		return f, true
	case v.Float != nil:
		return *v.Float, true
	}
	return 0, false
}

// Diff describes how b differs from a, or returns "" when they agree: the
// same column names and the same rows, as multisets. With an ORDER BY
// (orderBy, see OrderBy) the order must agree too: where every key is an
// output column, the sequence of key values (rows that tie may come in any
// order); otherwise the sequence of whole rows.
func Diff(a, b Result, orderBy []string) string {
	if len(a.Rows) > 0 && len(b.Rows) > 0 && !slices.Equal(a.Columns, b.Columns) {
		return fmt.Sprintf("columns differ:\n  %q\n  %q", a.Columns, b.Columns)
	}
	if len(a.Rows) != len(b.Rows) {
		return fmt.Sprintf("%d rows vs %d rows%s", len(a.Rows), len(b.Rows), firstRows(a, b))
	}
	if d := diffRows(sorted(a.Rows), sorted(b.Rows), a.Columns); d != "" || orderBy == nil {
		return d
	}
	keys := make([]int, len(orderBy))
	for i, k := range orderBy {
		keys[i] = slices.IndexFunc(a.Columns, func(c string) bool { return c == strings.Trim(k, "`\"") })
		if keys[i] < 0 {
			return diffRows(a.Rows, b.Rows, a.Columns)
		}
	}
	project := func(rows [][]Value) [][]Value {
		out := make([][]Value, len(rows))
		for i, r := range rows {
			for _, k := range keys {
				out[i] = append(out[i], r[k])
			}
		}
		return out
	}
	return diffRows(project(a.Rows), project(b.Rows), orderBy)
}

func diffRows(ra, rb [][]Value, columns []string) string {
	for i := range ra {
		if len(ra[i]) != len(rb[i]) {
			return fmt.Sprintf("row %d: %d vs %d values", i, len(ra[i]), len(rb[i]))
		}
		for j := range ra[i] {
			if !ra[i][j].equal(rb[i][j]) {
				col := ""
				if j < len(columns) {
					col = columns[j]
				}
				return fmt.Sprintf("row %d, column %d (%s): %s vs %s\n  row: %s\n  row: %s", i, j, col, ra[i][j], rb[i][j], rowString(ra[i]), rowString(rb[i]))
			}
		}
	}
	return ""
}

func firstRows(a, b Result) string {
	var s strings.Builder
	for _, r := range [][][]Value{a.Rows, b.Rows} {
		s.WriteString("\n  first rows:")
		for _, row := range r[:min(3, len(r))] {
			s.WriteString(" " + rowString(row) + ";")
		}
	}
	return s.String()
}

func rowString(r []Value) string {
	parts := make([]string, len(r))
	for i, v := range r {
		parts[i] = v.String()
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

func sorted(rows [][]Value) [][]Value {
	keyed := make([]struct {
		key string
		row []Value
	}, len(rows))
	for i, r := range rows {
		keyed[i].key, keyed[i].row = rowString(r), r
	}
	slices.SortFunc(keyed, func(x, y struct {
		key string
		row []Value
	}) int {
		return strings.Compare(x.key, y.key)
	})
	out := make([][]Value, len(rows))
	for i, k := range keyed {
		out[i] = k.row
	}
	return out
}

// OrderBy returns the expressions of the outermost SELECT's ORDER BY —
// the one outside every parenthesis and string literal — without ASC or
// DESC, or nil when it has none.
func OrderBy(q string) []string {
	depth, at := 0, -1
	for i := 0; i < len(q); i++ {
		switch c := q[i]; {
		case c == '\'' || c == '`' || c == '"':
			i = closing(q, i) - 1
		case c == '(' || c == '[':
			depth++
		case c == ')' || c == ']':
			depth--
		case depth == 0 && (c == 'O' || c == 'o') && len(q)-i >= 8 && strings.EqualFold(q[i:i+8], "ORDER BY"):
			at = i + 8
		}
	}
	if at < 0 {
		return nil
	}
	clause := q[at:]
	if j := strings.Index(strings.ToUpper(clause), "LIMIT"); j >= 0 {
		clause = clause[:j]
	}
	var keys []string
	for _, k := range splitTop(clause) {
		k = strings.TrimSpace(k)
		for _, dir := range []string{" DESC", " ASC", " desc", " asc"} {
			k = strings.TrimSpace(strings.TrimSuffix(k, dir))
		}
		keys = append(keys, k)
	}
	return keys
}

// splitTop splits s at commas outside parentheses and quotes.
func splitTop(s string) []string {
	var parts []string
	depth, last := 0, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\'' || c == '`' || c == '"':
			i = closing(s, i) - 1
		case c == '(' || c == '[':
			depth++
		case c == ')' || c == ']':
			depth--
		case c == ',' && depth == 0:
			parts = append(parts, s[last:i])
			last = i + 1
		}
	}
	return append(parts, s[last:])
}
