package grafana_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/trustpipe/trustpipe/sink/chdbtest"
	"github.com/trustpipe/trustpipe/sink/sinktest"
)

func TestMain(m *testing.M) { os.Exit(chdbtest.Run(m)) }

// engineDatasetEvents sizes the dataset of the two-engine comparison: the
// known dataset's 30 days with a fifth of its events, so every query runs
// on both engines, for every selection, within the test budget.
const engineDatasetEvents = datasetEvents / 5

// TestDashboardQueriesSameOnBothEngines runs every ClickHouse query of
// every dashboard — template variables and panels, expanded as the plugin
// expands them, for every variable selection — on ClickHouse 18.16 (the
// test server) and on current ClickHouse (chDB) over the same rows, and
// compares the results. It then checks the Index panels against
// indicator.ComputeIndex on current ClickHouse as TestDashboardQueries does
// on 18.16, so a query that is wrong on both alike is caught too.
func TestDashboardQueriesSameOnBothEngines(t *testing.T) {
	panels, varQueries := clickhouseQueries(t)
	p := chdbtest.OpenPair(t, datasetViews())
	end := time.Now().UTC().Truncate(time.Minute)
	start := time.Now()
	l := p.Load(t, dataset(engineDatasetEvents, end), sinktest.LoadOptions{})
	p.Load(t, rogueDataset(engineDatasetEvents/3, end), rogueOptions)
	t.Logf("ClickHouse %s: %d records loaded into both in %s", p.Versions(), l.Records, time.Since(start).Round(time.Millisecond))
	// The dashboards' queries leave the database to the datasource.
	p = p.InDatabase(t)
	from := end.Add(-datasetDays * 24 * time.Hour)
	old := testDB{conn: p.Old.Conn(), name: p.Old.Database(), from: from, to: end}
	cur := testDB{conn: p.New.Conn(), name: p.New.Database(), from: from, to: end}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	// Both engines see the same "now": a query that reads the clock (the
	// data's age) would otherwise differ by the time between the runs.
	now := fmt.Sprintf("toDateTime(%d)", time.Now().Unix())
	compare := func(q query, vars map[string]varValue, sel string) {
		t.Helper()
		sql, err := expand(q.sql, macroEnv{from: from, to: end, interval: q.interval, vars: vars})
		if err != nil {
			t.Fatalf("%s: expand: %v", q.id, err)
		}
		sql = strings.ReplaceAll(sql, "now()", now)
		res, err := p.Compare(ctx, sql)
		if err != nil {
			t.Errorf("%s [%s]: %v", q.id, sel, err)
			return
		}
		if len(res.Rows) == 0 && sel == "all" {
			if _, ok := noRowsExpected[q.id]; !ok {
				t.Errorf("%s: no rows on either engine", q.id)
			}
		}
	}
	options := map[string][]string{}
	n, distinct := 0, len(panels)
	for _, vqs := range varQueries {
		distinct += len(vqs)
		for name, vals := range variableValues(t, ctx, old, vqs) {
			options[name] = vals
		}
		for _, q := range vqs {
			compare(q, nil, "all")
			n++
		}
	}
	sels := selections(t, ctx, old, options)
	for _, q := range panels {
		usesVars := strings.Contains(q.sql, "$campaign") || strings.Contains(q.sql, "${campaign")
		for _, name := range []string{"all", "combination", "two campaigns"} {
			if name != "all" && !usesVars {
				continue
			}
			compare(q, sels[name], name)
			n++
		}
	}
	t.Logf("%d expanded queries (%d panel and variable queries) compared", n, distinct)

	checkIndexPanels(t, ctx, cur, panels, sels)
}
