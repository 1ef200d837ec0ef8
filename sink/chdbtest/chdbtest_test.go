package chdbtest_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/trustpipe/trustpipe/sink/chdbtest"
)

func TestMain(m *testing.M) { os.Exit(chdbtest.Run(m)) }

// The harness must catch what only ClickHouse 18.16 accepts or computes:
// a join of unaliased subqueries (Code 206 on current releases), ANY INNER
// JOIN, which keeps every left row with a match on 18.16 but one row per
// key on current releases, and round, which rounds halves differently.
func TestNegativeControl(t *testing.T) {
	p := chdbtest.OpenPair(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cases := []struct{ name, sql, want string }{
		{"unaliased joined subqueries", "SELECT a, b FROM (SELECT 1 AS a) ANY INNER JOIN (SELECT 1 AS a, 2 AS b) USING a", "Code: 206"},
		{"ANY INNER JOIN strictness", "SELECT count() FROM (SELECT 1 AS k FROM system.numbers LIMIT 3) AS l ANY INNER JOIN (SELECT 1 AS k) AS r USING k", "3 vs 1"},
		{"round of a half (away from zero on 18.16, to even now)", "SELECT round(0.025, 2)", "0.03 vs 0.02"},
	}
	for _, c := range cases {
		_, err := p.Compare(ctx, c.sql)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Compare = %v, want an error containing %q", c.name, err, c.want)
		}
	}
	if _, err := p.Compare(ctx, "SELECT count() FROM (SELECT 1 AS k FROM system.numbers LIMIT 3) AS l ALL INNER JOIN (SELECT 1 AS k) AS r USING k"); err != nil {
		t.Errorf("the portable join: %v", err)
	}
}
