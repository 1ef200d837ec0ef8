package main

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/trustpipe/trustpipe/aggregate/indicator"
	"github.com/trustpipe/trustpipe/aggregate/report"
	"github.com/trustpipe/trustpipe/aggregate/scenario"
	"github.com/trustpipe/trustpipe/sink/chdbtest"
	"github.com/trustpipe/trustpipe/sink/sinktest"
)

// TestReportSameOnBothEngines reads the report — every query it sends,
// without and with a filter, in every format — from ClickHouse 18.16 and
// from current ClickHouse over the same rows: the inputs and the rendered
// reports are identical.
func TestReportSameOnBothEngines(t *testing.T) {
	p := chdbtest.OpenPair(t, nil)
	end := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	p.Load(t, scenario.Config{Name: "trust-spiral", Events: 20000, Days: 14, Seed: 3, End: end, InvalidRatio: 0.01, DuplicateRatio: 0.01}, sinktest.LoadOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var campaign, channel string
	if err := p.Old.Conn().QueryRow(ctx, "SELECT campaign_id, channel FROM "+p.Old.Database()+
		".trust_count_rows WHERE campaign_id != '' GROUP BY campaign_id, channel ORDER BY sum(events) DESC, campaign_id, channel LIMIT 1").
		Scan(&campaign, &channel); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"--from", "2026-11-13", "--to", "2026-11-20"},
		{"--from", "2026-11-13", "--to", "2026-11-20", "--campaign", campaign, "--channel", channel},
	} {
		o, err := parseReportArgs(args, end)
		if err != nil {
			t.Fatal(err)
		}
		var inputs [2]report.Input
		for i, st := range p.Stores() {
			if inputs[i], err = readReportInput(ctx, st, o); err != nil {
				t.Fatalf("%v: %v", args, err)
			}
		}
		if inputs[0].Current.Empty() || inputs[0].Baseline.Empty() {
			t.Fatalf("%v: a period without events: the comparison proves nothing", args)
		}
		// Totals keep rows in the order the query returned them, which
		// is each engine's own: compare them as sets.
		for _, pick := range []func(report.Input) indicator.Totals{
			func(in report.Input) indicator.Totals { return in.Current },
			func(in report.Input) indicator.Totals { return in.Baseline },
		} {
			if a, b := sortedRows(pick(inputs[0])), sortedRows(pick(inputs[1])); !reflect.DeepEqual(a, b) {
				t.Errorf("%v: totals differ between ClickHouse %s:\n%v\n%v", args, p.Versions(), a, b)
			}
		}
		if !reflect.DeepEqual(inputs[0].Reach, inputs[1].Reach) || !reflect.DeepEqual(inputs[0].BaselineReach, inputs[1].BaselineReach) {
			t.Errorf("%v: reach differs between ClickHouse %s:\n%+v %+v\n%+v %+v", args, p.Versions(),
				inputs[0].Reach, inputs[0].BaselineReach, inputs[1].Reach, inputs[1].BaselineReach)
		}
		// Every format, the page's timeline and campaign ranking included.
		for _, format := range []string{"table", "json", "html"} {
			o.format = format
			var rendered [2]bytes.Buffer
			for i, st := range p.Stores() {
				if err := renderReport(ctx, st, indicator.DefaultDivergenceConfig(), nil, o, &rendered[i]); err != nil {
					t.Fatalf("%v --format %s: %v", args, format, err)
				}
			}
			if !bytes.Equal(rendered[0].Bytes(), rendered[1].Bytes()) {
				t.Errorf("%v --format %s: the reports differ between ClickHouse %s:\n%s\n%s", args, format, p.Versions(), rendered[0].String(), rendered[1].String())
			}
		}
	}
}

func sortedRows(t indicator.Totals) []string {
	var out []string
	for _, r := range t.Rows() {
		out = append(out, fmt.Sprintf("%+v", r))
	}
	slices.Sort(out)
	return out
}
