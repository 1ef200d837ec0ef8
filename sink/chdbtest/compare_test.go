package chdbtest

import (
	"math/big"
	"slices"
	"strings"
	"testing"
)

func TestBind(t *testing.T) {
	cases := []struct {
		q    string
		args []any
		want string
	}{
		{"SELECT 1", nil, "SELECT 1"},
		{"x = ? AND y IN ?", []any{"o'ne\\", []string{"a", "b"}}, `x = 'o\'ne\\' AND y IN ['a', 'b']`},
		{"f(?, ?, ?, ?)", []any{int32(-3), uint64(7), 0.5, true}, "f(-3, 7, 0.5, 1)"},
		{"'?' = ? -- ?\n AND `a?` = ?", []any{"x", "y"}, "'?' = 'x' -- ?\n AND `a?` = 'y'"},
	}
	for _, c := range cases {
		got, err := bind(c.q, c.args)
		if err != nil || got != c.want {
			t.Errorf("bind(%q, %v) = %q, %v; want %q", c.q, c.args, got, err, c.want)
		}
	}
	for _, bad := range []struct {
		q    string
		args []any
	}{
		{"? ?", []any{1}},
		{"?", []any{1, 2}},
		{"?", []any{struct{}{}}},
	} {
		if got, err := bind(bad.q, bad.args); err == nil {
			t.Errorf("bind(%q, %v) = %q, want an error", bad.q, bad.args, got)
		}
	}
}

func TestOrderBy(t *testing.T) {
	cases := []struct {
		q    string
		want []string
	}{
		{"SELECT a FROM t", nil},
		{"SELECT a FROM (SELECT a FROM t ORDER BY a) GROUP BY a", nil},
		{"SELECT a, b FROM t ORDER BY a DESC, f(b, c) LIMIT 3", []string{"a", "f(b, c)"}},
		{"SELECT x FROM t ORDER BY indexOf(['ORDER BY'], x)", []string{"indexOf(['ORDER BY'], x)"}},
		{`SELECT 1 AS "Trust impact" ORDER BY "Trust impact" ASC`, []string{`"Trust impact"`}},
	}
	for _, c := range cases {
		if got := OrderBy(c.q); !slices.Equal(got, c.want) {
			t.Errorf("OrderBy(%q) = %q, want %q", c.q, got, c.want)
		}
	}
}

func num(i int64) Value   { return Value{Int: big.NewInt(i)} }
func flt(f float64) Value { return Value{Float: &f} }
func txt(s string) Value  { return Value{Text: "s" + s} }

func TestDiff(t *testing.T) {
	cols := []string{"k", "v"}
	res := func(rows ...[]Value) Result { return Result{Columns: cols, Rows: rows} }
	a := res([]Value{txt("x"), flt(1)}, []Value{txt("y"), num(2)})
	cases := []struct {
		name    string
		b       Result
		orderBy []string
		want    string // "" = agree, else a substring of the difference
	}{
		{"same", a, nil, ""},
		{"rows in another order", res([]Value{txt("y"), num(2)}, []Value{txt("x"), flt(1)}), nil, ""},
		{"float within tolerance, integer as float", res([]Value{txt("x"), flt(1 + 1e-12)}, []Value{txt("y"), flt(2)}), nil, ""},
		{"float beyond tolerance", res([]Value{txt("x"), flt(1.001)}, []Value{txt("y"), num(2)}), nil, "1 vs 1.001"},
		{"NULL is not 0", res([]Value{txt("x"), {Null: true}}, []Value{txt("y"), num(2)}), nil, "NULL"},
		{"missing row", res([]Value{txt("x"), flt(1)}), nil, "2 rows vs 1 rows"},
		{"other column names", Result{Columns: []string{"k", "w"}, Rows: a.Rows}, nil, "columns differ"},
		{"order of an ordered key", res([]Value{txt("y"), num(2)}, []Value{txt("x"), flt(1)}), []string{"k"}, "row 0"},
		{"order by an expression", res([]Value{txt("y"), num(2)}, []Value{txt("x"), flt(1)}), []string{"f(k)"}, "row 0"},
	}
	for _, c := range cases {
		got := Diff(a, c.b, c.orderBy)
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("%s: Diff = %q, want %q", c.name, got, c.want)
		}
	}
	// Rows that tie on the ORDER BY keys may come in any order.
	tie := res([]Value{txt("x"), num(1)}, []Value{txt("x"), num(2)})
	swapped := res([]Value{txt("x"), num(2)}, []Value{txt("x"), num(1)})
	if d := Diff(tie, swapped, []string{"k"}); d != "" {
		t.Errorf("tied rows: %s", d)
	}
}
