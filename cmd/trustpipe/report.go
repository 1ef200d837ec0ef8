package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/trustpipe/trustpipe/aggregate/indicator"
	"github.com/trustpipe/trustpipe/aggregate/report"
	"github.com/trustpipe/trustpipe/sink"
)

const reportExample = "trustpipe report --from 2026-11-01 --to 2026-11-08 --channel email --format json"

const reportUsage = `Usage: trustpipe report [--from T] [--to T] [--campaign X] [--channel Z] [--segment Y] [--source S]
                        [--compare-to previous|T1..T2] [--format table|json|html]

Prints the trust indicators of the range [from, to) with their 95% intervals,
the Trust Index with its components, what moved it since the comparison
period, the divergence verdict (click metrics up while trust falls), consent
tier migration and engaged reach. It reads the ClickHouse read surface only.
--format html writes the same as one self-contained page with charts (the
Index over time, clicks against trust, complaints, the campaign ranking);
'trustpipe run' and 'trustpipe demo' serve it at /report.

  --from T         start of the range, inclusive (default -7d)
  --to T           end of the range, exclusive (default now)
  --campaign X     only campaign_id X (also --channel, --segment, --source;
                   an empty value selects events without that dimension)
  --compare-to C   previous: the same length just before --from (default);
                   T1..T2: an explicit range, e.g. 2026-10-01..2026-11-01
  --format F       table (default), json or html

Times: RFC 3339 (2026-11-01T09:30:00Z), a UTC date (2026-11-01), now, today
(UTC midnight), or relative to now: -30m, -12h, -7d, -2w.

The Trust Index uses TRUSTPIPE_INDEX_COMPONENTS (see 'trustpipe help').
Example: ` + reportExample + "\n"

// reportOptions are the parsed arguments of `trustpipe report`.
type reportOptions struct {
	period     report.Period
	comparison report.Period
	mode       string
	filter     report.Filter
	format     string
	help       bool
}

// parseReportArgs parses the arguments; now anchors "now", "today" and the
// relative times. Every error is a usage error (exit code 2) naming the
// flag and showing an example.
func parseReportArgs(args []string, now time.Time) (reportOptions, error) {
	var o reportOptions
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	from := fs.String("from", "-7d", "")
	to := fs.String("to", "now", "")
	compare := fs.String("compare-to", report.ComparePrevious, "")
	fs.StringVar(&o.format, "format", "table", "")
	dims := map[string]*string{}
	for _, name := range []string{"campaign", "channel", "segment", "source"} {
		dims[name] = fs.String(name, "", "")
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			o.help = true
			return o, nil
		}
		return o, usagef("%v\nusage: %s\n(see trustpipe report --help)", err, reportExample)
	}
	if fs.NArg() > 0 {
		return o, usagef("unexpected argument %q: every option is a flag, e.g. %s", fs.Arg(0), reportExample)
	}
	// A dimension flag filters only when given, so that --campaign ""
	// selects the events without a campaign.
	fs.Visit(func(f *flag.Flag) {
		v := dims[f.Name]
		if v == nil {
			return
		}
		switch f.Name {
		case "campaign":
			o.filter.Campaign = v
		case "channel":
			o.filter.Channel = v
		case "segment":
			o.filter.Segment = v
		case "source":
			o.filter.Source = v
		}
	})
	now = now.UTC().Truncate(time.Second)
	var err error
	if o.period.From, err = parseReportTime(*from, now); err != nil {
		return o, usagef("--from %q: %v, e.g. --from 2026-11-01", *from, err)
	}
	if o.period.To, err = parseReportTime(*to, now); err != nil {
		return o, usagef("--to %q: %v, e.g. --to 2026-11-08", *to, err)
	}
	if !o.period.From.Before(o.period.To) {
		return o, usagef("--from %s is not before --to %s: the range is [from, to), e.g. --from 2026-11-01 --to 2026-11-08",
			o.period.From.Format(time.RFC3339), o.period.To.Format(time.RFC3339))
	}
	switch c := strings.TrimSpace(*compare); {
	case c == report.ComparePrevious:
		o.mode = report.ComparePrevious
		o.comparison = report.Period{From: o.period.From.Add(-o.period.To.Sub(o.period.From)), To: o.period.From}
	case strings.Contains(c, ".."):
		a, b, _ := strings.Cut(c, "..")
		o.mode = report.CompareRange
		if o.comparison.From, err = parseReportTime(a, now); err != nil {
			return o, usagef("--compare-to %q: start %q: %v, e.g. --compare-to 2026-10-01..2026-11-01", *compare, a, err)
		}
		if o.comparison.To, err = parseReportTime(b, now); err != nil {
			return o, usagef("--compare-to %q: end %q: %v, e.g. --compare-to 2026-10-01..2026-11-01", *compare, b, err)
		}
		if !o.comparison.From.Before(o.comparison.To) {
			return o, usagef("--compare-to %q: the start is not before the end, e.g. --compare-to 2026-10-01..2026-11-01", *compare)
		}
	default:
		return o, usagef("--compare-to %q: use previous or T1..T2, e.g. --compare-to 2026-10-01..2026-11-01", *compare)
	}
	if o.format != "table" && o.format != "json" && o.format != "html" {
		return o, usagef("--format %q: use table, json or html, e.g. --format json", o.format)
	}
	return o, nil
}

// parseReportTime parses RFC 3339, a UTC date, now, today, or a time
// relative to now (-30m, -12h, -7d, -2w).
func parseReportTime(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	switch s {
	case "now":
		return now, nil
	case "today":
		return now.Truncate(24 * time.Hour), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	if len(s) >= 3 && s[0] == '-' {
		units := map[byte]time.Duration{'m': time.Minute, 'h': time.Hour, 'd': 24 * time.Hour, 'w': 7 * 24 * time.Hour}
		unit, ok := units[s[len(s)-1]]
		n, err := strconv.ParseUint(s[1:len(s)-1], 10, 32)
		if ok && err == nil && n <= 100*366 {
			return now.Add(-time.Duration(n) * unit), nil
		}
	}
	return time.Time{}, errors.New("not a time: use RFC 3339 (2026-11-01T09:30:00Z), a UTC date (2026-11-01), now, today or -30m/-12h/-7d/-2w")
}

func cmdReport(ctx context.Context, args []string) error {
	o, err := parseReportArgs(args, time.Now())
	if err != nil {
		return err
	}
	if o.help {
		fmt.Print(reportUsage)
		return nil
	}
	c, err := loadConfig()
	if err != nil {
		return err
	}
	return writeReport(ctx, c, o, os.Stdout)
}

// writeReport reads the report's inputs from ClickHouse and writes it in the
// requested format; `report` and `demo` share it.
func writeReport(ctx context.Context, c Config, o reportOptions, w io.Writer) error {
	dcfg, err := divergenceConfig(c)
	if err != nil {
		return err
	}
	log, err := newLogger(c)
	if err != nil {
		return err
	}
	targets, err := c.targetAccounts()
	if err != nil {
		return err
	}
	st, err := openStore(ctx, c, false, log)
	if err != nil {
		return err
	}
	defer st.Close()
	return renderReport(ctx, st, dcfg, targets, o, w)
}

// renderReport reads the report's inputs through st and writes the report
// in o.format, with the target accounts (pseudonyms) marked; writeReport
// and the /report page share it.
func renderReport(ctx context.Context, st *sink.Store, dcfg indicator.DivergenceConfig, targets []string, o reportOptions, w io.Writer) error {
	in, err := readReportInput(ctx, st, o)
	if err != nil {
		return err
	}
	if in.Accounts, err = readAccounts(ctx, st, o, targets); err != nil {
		return err
	}
	if in.Duplicates, err = st.Duplicates(ctx, o.period.From, o.period.To); err != nil {
		return err
	}
	in.Divergence = dcfg
	r := report.Build(in)
	switch o.format {
	case "json":
		return r.WriteJSON(w)
	case "html":
		// The page adds the timeline and the campaign ranking.
		var oi report.OverviewInput
		oi.Span, oi.Step = report.TimelineSpan(o.period, o.comparison, o.mode)
		if oi.Series, err = st.TotalsByStep(ctx, oi.Span, o.filter, oi.Step); err != nil {
			return err
		}
		if oi.Campaigns, err = st.TotalsByCampaign(ctx, o.period, o.filter); err != nil {
			return err
		}
		if oi.Audience, err = st.AudienceDays(ctx, oi.Span, o.filter); err != nil {
			return err
		}
		return report.BuildOverview(r, dcfg.Index, oi).WriteHTML(w)
	}
	return r.WriteTable(w)
}

// divergenceConfig is the report's divergence configuration, with the
// Trust Index of TRUSTPIPE_INDEX_COMPONENTS.
func divergenceConfig(c Config) (indicator.DivergenceConfig, error) {
	icfg, err := indicator.ParseIndexComponents(c.IndexComponents, indicator.DefaultIndexConfig())
	if err != nil {
		return indicator.DivergenceConfig{}, err
	}
	dcfg := indicator.DefaultDivergenceConfig()
	dcfg.Index = icfg
	return dcfg, nil
}

// readAccounts reads the account section's inputs and judges the accounts
// over the UTC days the period touches. Accounts are not kept per
// campaign, channel, segment or source, so with a filter there is no
// account section (nil).
func readAccounts(ctx context.Context, st *sink.Store, o reportOptions, targets []string) (*indicator.AccountSummary, error) {
	if len(o.filter.Dimensions()) > 0 {
		return nil, nil
	}
	rule := indicator.DefaultAccountRule()
	first, last := o.period.From.UTC().Truncate(24*time.Hour), o.period.To.UTC().Add(-time.Second).Truncate(24*time.Hour)
	hs, err := st.AccountHistories(ctx, rule, first, last)
	if err != nil {
		return nil, err
	}
	sum := rule.EvaluateAccounts(hs, targets, first, last)
	return &sum, nil
}

// readReportInput reads both periods' totals and reach through sink's read
// API.
func readReportInput(ctx context.Context, st *sink.Store, o reportOptions) (report.Input, error) {
	in := report.Input{Period: o.period, Comparison: o.comparison, ComparisonMode: o.mode, Filter: o.filter}
	var err error
	if in.Current, err = st.Totals(ctx, o.period, o.filter); err != nil {
		return in, err
	}
	if in.Baseline, err = st.Totals(ctx, o.comparison, o.filter); err != nil {
		return in, err
	}
	if in.Reach, err = st.Reach(ctx, o.period, o.filter, true); err != nil {
		return in, err
	}
	if in.BaselineReach, err = st.Reach(ctx, o.comparison, o.filter, false); err != nil {
		return in, err
	}
	if in.Cohorts, err = st.Cohorts(ctx, o.period, o.filter); err != nil {
		return in, err
	}
	if in.Audience, err = st.Audience(ctx, o.period, o.filter); err != nil {
		return in, err
	}
	if in.BaselineAudience, err = st.Audience(ctx, o.comparison, o.filter); err != nil {
		return in, err
	}
	if in.Provenance, err = st.Provenance(ctx, o.period, o.filter); err != nil {
		return in, err
	}
	return in, nil
}
