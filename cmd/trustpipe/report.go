package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/trustpipe/trustpipe/aggregate"
	"github.com/trustpipe/trustpipe/aggregate/event"
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
	st, err := openStore(ctx, c, false, log)
	if err != nil {
		return err
	}
	defer st.Close()
	return renderReport(ctx, st, dcfg, o, w)
}

// renderReport reads the report's inputs through st and writes the report
// in o.format; writeReport and the /report page share it.
func renderReport(ctx context.Context, st *sink.Store, dcfg indicator.DivergenceConfig, o reportOptions, w io.Writer) error {
	in, err := readReportInput(ctx, reportReader{conn: st.Conn(), db: st.Database()}, o)
	if err != nil {
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

func readReportInput(ctx context.Context, rr reportReader, o reportOptions) (report.Input, error) {
	in := report.Input{Period: o.period, Comparison: o.comparison, ComparisonMode: o.mode, Filter: o.filter}
	var err error
	if in.Current, err = rr.totals(ctx, o.period, o.filter); err != nil {
		return in, err
	}
	if in.Baseline, err = rr.totals(ctx, o.comparison, o.filter); err != nil {
		return in, err
	}
	if in.Reach, err = rr.reach(ctx, o.period, o.filter, true); err != nil {
		return in, err
	}
	if in.BaselineReach, err = rr.reach(ctx, o.comparison, o.filter, false); err != nil {
		return in, err
	}
	if in.Cohorts, err = rr.cohorts(ctx, o.period, o.filter); err != nil {
		return in, err
	}
	return in, nil
}

// maxComplaintGroups bounds the per-provider and per-domain complaint rows
// of a report (the most email deliveries first).
const maxComplaintGroups = 10

// cohorts reads the attributed inputs of the messages sent in [p.From,
// p.To): cohort totals, unique engagement and email complaints per mailbox
// provider and sending domain. The cohort views keep campaign and channel
// only, so with a segment or source filter nothing is read.
func (rr reportReader) cohorts(ctx context.Context, p report.Period, f report.Filter) (report.Cohorts, error) {
	var c report.Cohorts
	if f.Segment != nil || f.Source != nil {
		return c, nil
	}
	c.Available = true
	cond, args := where("cohort >= toDateTime(?) AND cohort < toDateTime(?)", []any{p.From.Unix(), p.To.Unix()}, f)
	rows, err := rr.conn.Query(ctx, fmt.Sprintf(`SELECT by_send_time, event_type, detail, channel, sum(events)
FROM %s.%s%s
GROUP BY by_send_time, event_type, detail, channel`, rr.db, sink.ViewCohortRows, cond), args...)
	if err != nil {
		return c, queryError("cohort counts", err)
	}
	for rows.Next() {
		var bst uint8
		var r indicator.Row
		if err := rows.Scan(&bst, &r.EventType, &r.Detail, &r.Channel, &r.Events); err != nil {
			rows.Close()
			return c, queryError("cohort counts", err)
		}
		c.Totals.Add(r)
		if t, ok := event.ParseType(r.EventType); ok && t != event.Delivered && t != event.Bounce {
			c.FollowUps += r.Events
			if bst == 1 {
				c.BySendTime += r.Events
			}
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return c, queryError("cohort counts", err)
	}
	// Unique engagement: distinct (campaign, contact) pairs of the send days
	// the range touches; a recipient counts as a unique opener or clicker
	// only if they also opened or clicked.
	ucond, uargs := where("day >= toDate(toDateTime(?)) AND day <= toDate(toDateTime(?))", []any{p.From.Unix(), p.To.Add(-time.Second).Unix()}, f)
	u := &c.Unique
	if err := rr.conn.QueryRow(ctx, fmt.Sprintf(`SELECT toUInt64(sum(r)), toUInt64(sum(o)), toUInt64(sum(k)), toUInt64(sum(r * o)), toUInt64(sum(r * k))
FROM (
	SELECT campaign_id, contact, max(kind = ?) AS r, max(kind = ?) AS o, max(kind = ?) AS k
	FROM %s.%s%s
	GROUP BY campaign_id, contact
)`, rr.db, sink.ViewUniqueEngagement, ucond), append([]any{aggregate.UniqueRecipient, aggregate.UniqueOpener, aggregate.UniqueClicker}, uargs...)...).
		Scan(&u.Recipients, &u.Openers, &u.Clickers, &u.UniqueOpens, &u.UniqueClicks); err != nil {
		return c, queryError("unique engagement", err)
	}
	for _, by := range []string{"mailbox_provider", "sending_domain"} {
		groups := map[string]*indicator.Totals{}
		rows, err := rr.conn.Query(ctx, fmt.Sprintf(`SELECT %s, event_type, detail, channel, sum(events)
FROM %s.%s%s AND channel = 'email' AND %s != ''
GROUP BY %s, event_type, detail, channel`, by, rr.db, sink.ViewCohortRows, cond, by, by), args...)
		if err != nil {
			return c, queryError("email complaints by "+by, err)
		}
		for rows.Next() {
			var g string
			var r indicator.Row
			if err := rows.Scan(&g, &r.EventType, &r.Detail, &r.Channel, &r.Events); err != nil {
				rows.Close()
				return c, queryError("email complaints by "+by, err)
			}
			if groups[g] == nil {
				groups[g] = &indicator.Totals{}
			}
			groups[g].Add(r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return c, queryError("email complaints by "+by, err)
		}
		var list []report.ComplaintGroup
		for g, t := range groups {
			list = append(list, report.ComplaintTotals(by, g, *t))
		}
		slices.SortFunc(list, func(a, b report.ComplaintGroup) int {
			return cmp.Or(cmp.Compare(b.Value.Denominator, a.Value.Denominator), cmp.Compare(a.Group, b.Group))
		})
		c.Complaints = append(c.Complaints, list[:min(len(list), maxComplaintGroups)]...)
	}
	return c, nil
}

// reportReader reads the report's inputs from the read surface
// (trust_counts, engaged_contacts). User input is always bound as a query
// parameter, never spliced into the SQL text; db was validated by sink.Open.
type reportReader struct {
	conn driver.Conn
	db   string
}

// where renders the range and filter conditions and their arguments.
func where(timeCond string, timeArgs []any, f report.Filter) (string, []any) {
	conds := []string{timeCond}
	args := timeArgs
	for _, d := range f.Dimensions() {
		conds = append(conds, d[0]+" = ?")
		args = append(args, d[1])
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

func queryError(what string, err error) error {
	if a := sink.Advice(err); a != "" {
		return fmt.Errorf("read %s: %w (%s)", what, err, a)
	}
	return fmt.Errorf("read %s: %w", what, err)
}

// totals sums trust_count_rows (trust_counts before its GROUP BY, so the
// query groups only once) over [p.From, p.To) under the filter, grouped as
// finely as any indicator selects.
//
// Sentiment is summed as exact integer nano-units (value_nanos,
// aggregate.ScoreScale) and divided once: a Float64 sum in ClickHouse
// depends on the order of its threads, which would make two runs of the
// same report differ in the last bits.
func (rr reportReader) totals(ctx context.Context, p report.Period, f report.Filter) (indicator.Totals, error) {
	cond, args := where("bucket >= toDateTime(?) AND bucket < toDateTime(?)", []any{p.From.Unix(), p.To.Unix()}, f)
	q := fmt.Sprintf(`SELECT event_type, detail, channel, personalization, consent_tier, sum(events), sum(value_nanos)
FROM %s.trust_count_rows%s
GROUP BY event_type, detail, channel, personalization, consent_tier`, rr.db, cond)
	rows, err := rr.conn.Query(ctx, q, args...)
	if err != nil {
		return indicator.Totals{}, queryError("trust_counts", err)
	}
	defer rows.Close()
	var t indicator.Totals
	for rows.Next() {
		var r indicator.Row
		var nanos int64
		if err := rows.Scan(&r.EventType, &r.Detail, &r.Channel, &r.Personalization, &r.ConsentTier, &r.Events, &nanos); err != nil {
			return t, queryError("trust_counts", err)
		}
		r.ValueSum = float64(nanos) / aggregate.ScoreScale
		t.Add(r)
	}
	if err := rows.Err(); err != nil {
		return t, queryError("trust_counts", err)
	}
	return t, nil
}

// reach counts distinct engaged contacts over the whole UTC days that
// [p.From, p.To) touches, and per day when perDay is set.
func (rr reportReader) reach(ctx context.Context, p report.Period, f report.Filter, perDay bool) (report.Reach, error) {
	r := report.Reach{
		FirstDay: p.From.UTC().Truncate(24 * time.Hour),
		LastDay:  p.To.UTC().Add(-time.Second).Truncate(24 * time.Hour),
	}
	cond, args := where("day >= toDate(?) AND day <= toDate(?)",
		[]any{r.FirstDay.Format("2006-01-02"), r.LastDay.Format("2006-01-02")}, f)
	if err := rr.conn.QueryRow(ctx, "SELECT uniqExact(contact) FROM "+rr.db+".engaged_contacts"+cond, args...).Scan(&r.Contacts); err != nil {
		return r, queryError("engaged_contacts", err)
	}
	if !perDay {
		return r, nil
	}
	rows, err := rr.conn.Query(ctx, "SELECT toString(day), uniqExact(contact) FROM "+rr.db+".engaged_contacts"+cond+" GROUP BY day ORDER BY day", args...)
	if err != nil {
		return r, queryError("engaged_contacts", err)
	}
	defer rows.Close()
	for rows.Next() {
		var d report.DayReach
		if err := rows.Scan(&d.Day, &d.Contacts); err != nil {
			return r, queryError("engaged_contacts", err)
		}
		r.Days = append(r.Days, d)
	}
	if err := rows.Err(); err != nil {
		return r, queryError("engaged_contacts", err)
	}
	return r, nil
}
