package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/trustpipe/trustpipe/aggregate/event"
	"github.com/trustpipe/trustpipe/aggregate/report"
	"github.com/trustpipe/trustpipe/aggregate/scenario"
	"github.com/trustpipe/trustpipe/consumers/kafkatest"
	"github.com/trustpipe/trustpipe/sink/sinktest"
)

var reportNow = time.Date(2026, 11, 22, 9, 30, 15, 0, time.UTC)

func TestReportArgs(t *testing.T) {
	utc := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	cases := []struct {
		args                 []string
		from, to, cFrom, cTo string
		mode, format         string
		filter               string
	}{
		{nil, "2026-11-15T09:30:15Z", "2026-11-22T09:30:15Z", "2026-11-08T09:30:15Z", "2026-11-15T09:30:15Z", "previous", "table", "all campaigns, channels, segments and sources"},
		{[]string{"--from", "2026-11-01", "--to", "2026-11-08", "--format", "json"},
			"2026-11-01T00:00:00Z", "2026-11-08T00:00:00Z", "2026-10-25T00:00:00Z", "2026-11-01T00:00:00Z", "previous", "json", "all campaigns, channels, segments and sources"},
		{[]string{"-from", "2026-11-01T10:00:00+02:00", "-to", "today", "--compare-to", "2026-10-01..-30d", "--campaign", "", "--channel", "email"},
			"2026-11-01T08:00:00Z", "2026-11-22T00:00:00Z", "2026-10-01T00:00:00Z", "2026-10-23T09:30:15Z", "range", "table", `campaign_id="", channel="email"`},
		{[]string{"--from", "-12h", "--to", "-30m", "--segment", "vip", "--source", "marketo"},
			"2026-11-21T21:30:15Z", "2026-11-22T09:00:15Z", "2026-11-21T10:00:15Z", "2026-11-21T21:30:15Z", "previous", "table", `segment="vip", source="marketo"`},
		{[]string{"--from", "-2w", "--to", "now"},
			"2026-11-08T09:30:15Z", "2026-11-22T09:30:15Z", "2026-10-25T09:30:15Z", "2026-11-08T09:30:15Z", "previous", "table", "all campaigns, channels, segments and sources"},
	}
	for _, c := range cases {
		o, err := parseReportArgs(c.args, reportNow)
		if err != nil {
			t.Errorf("%q: %v", c.args, err)
			continue
		}
		want := report.Period{From: utc(c.from), To: utc(c.to)}
		wantC := report.Period{From: utc(c.cFrom), To: utc(c.cTo)}
		if !o.period.From.Equal(want.From) || !o.period.To.Equal(want.To) || !o.comparison.From.Equal(wantC.From) ||
			!o.comparison.To.Equal(wantC.To) || o.mode != c.mode || o.format != c.format || o.filter.String() != c.filter {
			t.Errorf("%q: got %v..%v compare %v..%v %s %s %s", c.args, o.period.From, o.period.To,
				o.comparison.From, o.comparison.To, o.mode, o.format, o.filter)
		}
	}
	if o, err := parseReportArgs([]string{"--help"}, reportNow); err != nil || !o.help {
		t.Errorf("--help: %+v %v", o, err)
	}
}

// Every bad argument is a usage error (exit code 2) that names the flag and
// shows an example.
func TestReportArgErrors(t *testing.T) {
	cases := []struct {
		args []string
		want []string // substrings of the message
	}{
		{[]string{"--from", "yesterday-ish"}, []string{"--from", "not a time", "e.g. --from 2026-11-01"}},
		{[]string{"--to", "2026-13-01"}, []string{"--to", "not a time", "e.g. --to"}},
		{[]string{"--from", "2026-11-08", "--to", "2026-11-01"}, []string{"--from 2026-11-08T00:00:00Z is not before --to 2026-11-01T00:00:00Z", "e.g. --from"}},
		{[]string{"--from", "2026-11-01", "--to", "2026-11-01"}, []string{"is not before --to", "e.g."}},
		{[]string{"--format", "xml"}, []string{`--format "xml"`, "table, json or html", "e.g. --format json"}},
		{[]string{"--compare-to", "last-year"}, []string{`--compare-to "last-year"`, "previous or T1..T2", "e.g."}},
		{[]string{"--compare-to", "2026-11-01..junk"}, []string{"--compare-to", `end "junk"`, "e.g."}},
		{[]string{"--compare-to", "2026-11-01..2026-10-01"}, []string{"--compare-to", "start is not before the end"}},
		{[]string{"--bogus", "1"}, []string{"flag provided but not defined: -bogus", "usage: trustpipe report --from"}},
		{[]string{"--from"}, []string{"flag needs an argument: -from", "usage:"}},
		{[]string{"stray"}, []string{`unexpected argument "stray"`, "e.g. trustpipe report"}},
		{[]string{"--from", "-7x"}, []string{"--from", "not a time"}},
	}
	for _, c := range cases {
		_, err := parseReportArgs(c.args, reportNow)
		var ue usageError
		if !errors.As(err, &ue) {
			t.Errorf("%q: err %v, want a usage error (exit 2)", c.args, err)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%q: message %q lacks %q", c.args, err, w)
			}
		}
	}
}

// TestReportArgErrorsExitCode runs the binary: bad arguments exit with 2
// and say what is wrong on stderr, before touching ClickHouse.
func TestReportArgErrorsExitCode(t *testing.T) {
	for _, args := range [][]string{
		{"--from", "nope"},
		{"--from", "2026-11-08", "--to", "2026-11-01"},
		{"--format", "yaml"},
		{"--nope"},
	} {
		cmd := exec.Command(binary, append([]string{"report"}, args...)...)
		cmd.Env = []string{"TRUSTPIPE_CLICKHOUSE_ADDR=127.0.0.1:1"}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 {
			t.Errorf("report %q: %v, want exit code 2; stderr %s", args, err, stderr.String())
			continue
		}
		if !strings.HasPrefix(stderr.String(), "trustpipe report: ") || !strings.Contains(stderr.String(), "e.g.") && !strings.Contains(stderr.String(), "usage:") {
			t.Errorf("report %q: stderr %q", args, stderr.String())
		}
	}
	out, err := exec.Command(binary, "report", "--help").Output()
	if err != nil || !strings.Contains(string(out), "Usage: trustpipe report") {
		t.Errorf("report --help: %v\n%s", err, out)
	}
}

// periodTotals is the generator's own bookkeeping summed over some days:
// the oracle, independent of the pipeline and of package indicator.
type periodTotals struct {
	types                          map[event.Type]int
	details                        map[scenario.DetailKey]int
	scoreSum                       float64
	personalized, explained, cover int
}

func sumDays(st scenario.Stats, from, to time.Time) periodTotals {
	p := periodTotals{types: map[event.Type]int{}, details: map[scenario.DetailKey]int{}}
	for _, d := range st.Days {
		if d.Day.Before(from) || !d.Day.Before(to) {
			continue
		}
		for k, n := range d.Types {
			p.types[k] += n
		}
		for k, n := range d.Details {
			p.details[k] += n
		}
		p.scoreSum += d.ScoreSum
		p.personalized += d.PersonalizedSends
		p.explained += d.ExplainedSends
		p.cover += d.CoveredSends
	}
	return p
}

func ratio(num, den float64) *float64 {
	if den == 0 {
		return nil
	}
	v := num / den
	return &v
}

// consent returns upgrades and downgrades (between known tiers: tier 0 is
// "unknown") and transitions "a->b" -> count.
func (p periodTotals) consent() (up, down int, tr map[string]int) {
	tr = map[string]int{}
	for k, n := range p.details {
		if k.Type != event.ConsentChange {
			continue
		}
		a, b, _ := strings.Cut(k.Detail, "->")
		from, _ := strconv.Atoi(a)
		to, _ := strconv.Atoi(b)
		switch {
		case from == 0 || to == 0:
		case to > from:
			up += n
		case to < from:
			down += n
		}
		tr[k.Detail] += n
	}
	return up, down, tr
}

// expected applies the DESIGN.md formulas, written out by hand, to the
// generator's totals; email counts the email deliveries and complaints of
// the same days, from the produced records.
func (p periodTotals) expected(email channelCounts) map[string]*float64 {
	n := func(t event.Type) float64 { return float64(p.types[t]) }
	d := func(t event.Type, detail string) float64 {
		return float64(p.details[scenario.DetailKey{Type: t, Detail: detail}])
	}
	delivered := n(event.Delivered)
	humanOpens := n(event.Open) - d(event.Open, "machine")
	humanClicks := n(event.Click) - d(event.Click, "bot")
	up, down, tr := p.consent()
	known := 0 // consent changes between known tiers (tier 0 is "unknown")
	for k, c := range tr {
		if !strings.HasPrefix(k, "0->") && !strings.HasSuffix(k, "->0") {
			known += c
		}
	}
	return map[string]*float64{
		"unsubscribe_rate":                ratio(n(event.Unsubscribe), delivered),
		"complaint_rate":                  ratio(float64(email.complaints), float64(email.delivered)),
		"opt_down_share":                  ratio(n(event.OptDown), n(event.OptDown)+n(event.Unsubscribe)),
		"preference_center_rate":          ratio(n(event.PreferenceCenterVisit), delivered),
		"direct_traffic_share":            ratio(d(event.WebSession, "direct"), n(event.WebSession)),
		"sentiment_avg":                   ratio(p.scoreSum, n(event.Sentiment)),
		"consent_momentum":                ratio(float64(up-down), float64(known)),
		"too_personal_rate":               ratio(d(event.Feedback, "too_personal"), delivered),
		"explained_personalization_share": ratio(float64(p.explained), float64(p.personalized)),
		"consent_coverage":                ratio(float64(p.cover), float64(p.personalized)),
		"too_frequent_rate":               ratio(d(event.Feedback, "too_frequent"), delivered),
		"not_relevant_rate":               ratio(d(event.Feedback, "not_relevant"), delivered),
		"bounce_rate":                     ratio(n(event.Bounce), delivered+n(event.Bounce)),
		"delivery_rate":                   ratio(delivered, delivered+n(event.Bounce)),
		"open_rate":                       ratio(humanOpens, delivered),
		"ctr":                             ratio(humanClicks, delivered),
		"click_to_open":                   ratio(humanClicks, humanOpens),
		"form_fill_rate":                  ratio(n(event.FormFill), delivered),
	}
}

// channelCounts are the email deliveries and complaints of a period.
type channelCounts struct{ delivered, complaints int }

// emailOracle counts, from the produced records, email deliveries and
// complaints per UTC day (a record without a channel is "other").
type emailOracle map[string]*channelCounts

var channelRe = regexp.MustCompile(`"channel":"([^"]*)"`)

func (eo emailOracle) add(rec scenario.Record) {
	if rec.Invalid != "" || (rec.Type != event.Delivered && rec.Type != event.Complaint) {
		return
	}
	if m := channelRe.FindSubmatch(rec.Value); m == nil || string(m[1]) != "email" {
		return
	}
	day := rec.Time.UTC().Format("2006-01-02")
	if eo[day] == nil {
		eo[day] = &channelCounts{}
	}
	if rec.Type == event.Delivered {
		eo[day].delivered++
	} else {
		eo[day].complaints++
	}
}

func (eo emailOracle) sum(from, to time.Time) channelCounts {
	var c channelCounts
	for d := from; d.Before(to); d = d.AddDate(0, 0, 1) {
		if x := eo[d.Format("2006-01-02")]; x != nil {
			c.delivered += x.delivered
			c.complaints += x.complaints
		}
	}
	return c
}

// testIndex is the Trust Index configuration of the integration test, with
// every threshold spelled out so that the test computes the Index by hand.
// sentiment_avg is left out (weight 0): its input is a float sum of decimal
// scores, which no independent oracle can reproduce to the last bit.
var testIndex = []struct {
	name              string
	weight, good, bad float64
}{
	{"complaint_rate", 3, 0.001, 0.003},
	{"unsubscribe_rate", 2, 0.002, 0.008},
	{"consent_coverage", 2, 0.995, 0.95},
	{"opt_down_share", 1, 0.5, 0.1},
	{"too_personal_rate", 1, 0.0002, 0.001},
	{"consent_momentum", 1, 0.2, -0.2},
	{"explained_personalization_share", 1, 0.95, 0.5},
	{"direct_traffic_share", 1, 0.3, 0.1},
	{"sentiment_avg", 0, 0.5, -0.5},
	{"preference_center_rate", 0.5, 0.001, 0.0001},
	{"too_frequent_rate", 0.5, 0.0005, 0.002},
	{"not_relevant_rate", 0.5, 0.0005, 0.002},
}

func testIndexEnv() string {
	var parts []string
	for _, c := range testIndex {
		f := func(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }
		parts = append(parts, fmt.Sprintf("%s:weight=%s,good=%s,bad=%s,min_volume=0", c.name, f(c.weight), f(c.good), f(c.bad)))
	}
	return strings.Join(parts, ";")
}

type handComponent struct {
	name                        string
	value, score                *float64
	weight, contribution        float64
	excluded                    bool
	configuredWeight, good, bad float64
}

// handIndex: score = clamp(100 (v − bad) / (good − bad), 0, 100); weights
// renormalised over the components with data; Index = Σ weight × score.
func handIndex(vals map[string]*float64) (*float64, []handComponent) {
	var comps []handComponent
	var total float64
	for _, c := range testIndex {
		hc := handComponent{name: c.name, value: vals[c.name], configuredWeight: c.weight, good: c.good, bad: c.bad}
		if c.weight == 0 || hc.value == nil {
			hc.excluded = true
		} else {
			s := 100 * (*hc.value - c.bad) / (c.good - c.bad)
			s = math.Min(math.Max(s, 0), 100)
			hc.score = &s
			total += c.weight
		}
		comps = append(comps, hc)
	}
	if total == 0 {
		return nil, comps
	}
	var idx float64
	for i := range comps {
		if comps[i].excluded {
			continue
		}
		comps[i].weight = comps[i].configuredWeight / total
		comps[i].contribution = comps[i].weight * *comps[i].score
		idx += comps[i].contribution
	}
	return &idx, comps
}

// reportJSON is the documented JSON shape, decoded without the Go types.
type reportJSON struct {
	Empty      bool                `json:"empty"`
	Message    string              `json:"message"`
	Events     uint64              `json:"events"`
	Indicators map[string]*float64 `json:"indicators"`
	TrustIndex indexJSON           `json:"trust_index"`
	Comparison struct {
		Events     uint64              `json:"events"`
		Indicators map[string]*float64 `json:"indicators"`
		TrustIndex indexJSON           `json:"trust_index"`
	} `json:"comparison"`
	Change struct {
		Delta *float64 `json:"delta"`
	} `json:"change"`
	Divergence struct {
		Flag   bool   `json:"flag"`
		Reason string `json:"reason"`
	} `json:"divergence"`
	AudienceDivergence struct {
		Flag             bool     `json:"flag"`
		Reason           string   `json:"reason"`
		BaselineContacts int      `json:"baseline_engaged_contacts"`
		BaselineRate     *float64 `json:"baseline_engaged_reach_rate"`
	} `json:"audience_divergence"`
	Audience *struct {
		Counts  audienceCounts `json:"counts"`
		Signals []struct {
			Name  string   `json:"name"`
			Value *float64 `json:"value"`
		} `json:"signals"`
	} `json:"audience"`
	ConsentMigration struct {
		Transitions []struct {
			From           int `json:"from_tier"`
			To             int `json:"to_tier"`
			Events         int `json:"events"`
			PreviousEvents int `json:"previous_events"`
		} `json:"transitions"`
		Upgrades   int `json:"upgrades"`
		Downgrades int `json:"downgrades"`
	} `json:"consent_migration"`
	ByChannel []struct {
		Channel string `json:"channel"`
		Events  uint64 `json:"events"`
	} `json:"by_channel"`
	Attributed struct {
		Available  bool `json:"available"`
		Indicators []struct {
			Name        string  `json:"name"`
			Denominator float64 `json:"denominator"`
		} `json:"indicators"`
		Unique struct {
			Recipients     uint64   `json:"recipients"`
			UniqueOpens    uint64   `json:"unique_opens"`
			UniqueOpenRate *float64 `json:"unique_open_rate"`
		} `json:"unique_engagement"`
	} `json:"attributed"`
	EngagedReach struct {
		Contacts         int `json:"contacts"`
		PreviousContacts int `json:"previous_contacts"`
		Days             []struct {
			Day      string `json:"day"`
			Contacts int    `json:"contacts"`
		} `json:"days"`
	} `json:"engaged_reach"`
}

type indexJSON struct {
	Value      *float64 `json:"value"`
	Components []struct {
		Name         string   `json:"name"`
		Value        *float64 `json:"value"`
		Score        *float64 `json:"score"`
		Weight       float64  `json:"weight"`
		Contribution float64  `json:"contribution"`
		Excluded     bool     `json:"excluded"`
	} `json:"components"`
}

func eqPtr(a, b *float64) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

func fmtPtr(p *float64) string {
	if p == nil {
		return "null"
	}
	return strconv.FormatFloat(*p, 'g', -1, 64)
}

func checkIndicators(t *testing.T, side string, got, want map[string]*float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d indicators, want %d", side, len(got), len(want))
	}
	for name, w := range want {
		g, ok := got[name]
		switch {
		case !ok:
			t.Errorf("%s: %s missing", side, name)
		case name == "sentiment_avg" && g != nil && w != nil:
			// The oracle's score sum is a float sum in generation order of
			// decimal scores; storage sums exact nano-units. They agree to
			// a few ulps, not bit for bit.
			if math.Abs(*g-*w) > 1e-12*math.Max(1, math.Abs(*w)) {
				t.Errorf("%s: %s = %s, want %s", side, name, fmtPtr(g), fmtPtr(w))
			}
		case !eqPtr(g, w):
			t.Errorf("%s: %s = %s, want exactly %s", side, name, fmtPtr(g), fmtPtr(w))
		}
	}
}

func checkIndex(t *testing.T, side string, got indexJSON, vals map[string]*float64) *float64 {
	t.Helper()
	want, comps := handIndex(vals)
	if !eqPtr(got.Value, want) {
		t.Errorf("%s: trust_index.value = %s, want exactly %s", side, fmtPtr(got.Value), fmtPtr(want))
	}
	if len(got.Components) != len(comps) {
		t.Fatalf("%s: %d components, want %d", side, len(got.Components), len(comps))
	}
	for i, w := range comps {
		g := got.Components[i]
		if g.Name != w.name || g.Excluded != w.excluded || !eqPtr(g.Score, w.score) || g.Weight != w.weight ||
			g.Contribution != w.contribution || (!w.excluded && !eqPtr(g.Value, w.value)) {
			t.Errorf("%s: component %d = %s value %s score %s weight %v contribution %v excluded %v\nwant %s value %s score %s weight %v contribution %v excluded %v",
				side, i, g.Name, fmtPtr(g.Value), fmtPtr(g.Score), g.Weight, g.Contribution, g.Excluded,
				w.name, fmtPtr(w.value), fmtPtr(w.score), w.weight, w.contribution, w.excluded)
		}
	}
	return want
}

// getReportPage fetches a report page and checks it is served as a page
// under the report's Content-Security-Policy.
func getReportPage(t *testing.T, url string) []byte {
	t.Helper()
	code, resp := getReportPageStatus(url)
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, code, resp.body)
	}
	if resp.contentType != "text/html; charset=utf-8" || resp.csp != report.CSP {
		t.Errorf("GET %s: Content-Type %q, Content-Security-Policy %q", url, resp.contentType, resp.csp)
	}
	return resp.body
}

type pageResponse struct {
	body             []byte
	contentType, csp string
}

func getReportPageStatus(url string) (int, pageResponse) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, pageResponse{body: []byte(err.Error())}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, pageResponse{body: []byte(err.Error())}
	}
	return resp.StatusCode, pageResponse{body: body, contentType: resp.Header.Get("Content-Type"),
		csp: resp.Header.Get("Content-Security-Policy")}
}

func runReport(t *testing.T, env []string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"report"}, args...)...)
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("report %q: %v\n%s", args, err, stderr.String())
	}
	return out
}

// TestReportMatchesScenarioTotals is the acceptance test of `trustpipe
// report`: the drifting trust-spiral scenario is run through the real
// pipeline binary, and
// `report --format json` must equal the DESIGN.md formulas applied to the
// generator's own totals and to the produced records — exactly, to the last
// bit of the float64.
func TestReportMatchesScenarioTotals(t *testing.T) {
	chAddr := sinktest.Addr(t)
	db := sinktest.Database(t)
	brokers := kafkatest.Start(t, 3, "trust-events", "trust-events-dlq")
	const n = 40000
	end := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	g, err := scenario.New(scenario.Config{Name: "trust-spiral", Events: n, Days: 14, Seed: 20261120, End: end, InvalidRatio: 0.01})
	if err != nil {
		t.Fatal(err)
	}
	reach, email, render, audience, lineage, contacts := reachOracle{}, emailOracle{}, renderOracle{}, newAudienceOracle(), lineageOracle{}, newContactOracle()
	produceGenerated(t, brokers, g, func(rec scenario.Record) {
		reach.add(rec)
		email.add(rec)
		render.add(t, rec)
		audience.add(t, rec)
		lineage.add(t, rec)
		contacts.add(t, rec)
	})
	stats := g.Stats()

	httpAddr := freeAddr(t)
	env := testEnv(brokers, chAddr, db, "TRUSTPIPE_BLOCK_SIZE=5000", "TRUSTPIPE_FLUSH_INTERVAL=200ms",
		"TRUSTPIPE_INDEX_COMPONENTS="+testIndexEnv(), "TRUSTPIPE_HTTP_ADDR="+httpAddr)
	st := openLiveStore(t, chAddr, db)
	proc, out := startTrustpipe(t, env, "run")
	waitFor(t, "every record in the ledger", 3*time.Minute, out, func() bool {
		c, err := st.Consumed(context.Background())
		return err == nil && c == n
	})
	// The page `run` serves at /report, with the report's flags as query
	// parameters.
	served := getReportPage(t, "http://"+httpAddr+"/report?from=2026-11-13&to=2026-11-20")
	if code, _ := getReportPageStatus("http://" + httpAddr + "/report?from=yesterday"); code != http.StatusBadRequest {
		t.Errorf("GET /report?from=yesterday: %d, want 400", code)
	}
	if err := proc.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := proc.Wait(); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}

	from, to := time.Date(2026, 11, 13, 0, 0, 0, 0, time.UTC), end
	prevFrom := from.AddDate(0, 0, -7)
	cur, prev := sumDays(stats, from, to), sumDays(stats, prevFrom, from)
	var j reportJSON
	raw := runReport(t, env, "--from", "2026-11-13", "--to", "2026-11-20", "--format", "json")
	if err := json.Unmarshal(raw, &j); err != nil {
		t.Fatalf("%v\n%s", err, raw)
	}

	// Events and indicators, both periods.
	wantEvents := func(p periodTotals) uint64 {
		var s int
		for _, n := range p.types {
			s += n
		}
		return uint64(s)
	}
	if j.Empty || j.Events != wantEvents(cur) || j.Comparison.Events != wantEvents(prev) {
		t.Errorf("events %d / %d (empty %v), want %d / %d", j.Events, j.Comparison.Events, j.Empty, wantEvents(cur), wantEvents(prev))
	}
	wantCur, wantPrev := cur.expected(email.sum(from, to)), prev.expected(email.sum(prevFrom, from))
	render.set(wantCur, from, to)
	render.set(wantPrev, prevFrom, from)
	lineage.set(wantCur, from, to)
	lineage.set(wantPrev, prevFrom, from)
	contacts.set(wantCur, from, to)
	contacts.set(wantPrev, prevFrom, from)
	checkIndicators(t, "current", j.Indicators, wantCur)
	checkIndicators(t, "comparison", j.Comparison.Indicators, wantPrev)

	// Trust Index, by hand, both periods; the change is their difference.
	ci := checkIndex(t, "current", j.TrustIndex, wantCur)
	pi := checkIndex(t, "comparison", j.Comparison.TrustIndex, wantPrev)
	if ci == nil || pi == nil || j.Change.Delta == nil || *j.Change.Delta != *ci-*pi {
		t.Errorf("change.delta = %s, want %s − %s", fmtPtr(j.Change.Delta), fmtPtr(ci), fmtPtr(pi))
	}
	// Divergence by its documented rule: a click metric up >= 5 % while
	// the Index fell >= 3 points.
	lift := false
	for _, m := range []string{"open_rate", "ctr", "click_to_open"} {
		if wantCur[m] != nil && wantPrev[m] != nil && *wantPrev[m] > 0 && *wantCur[m] / *wantPrev[m] - 1 >= 0.05 {
			lift = true
		}
	}
	wantFlag := lift && *pi-*ci >= 3
	if j.Divergence.Flag != wantFlag {
		t.Errorf("divergence flag %v (%s), want %v", j.Divergence.Flag, j.Divergence.Reason, wantFlag)
	}
	t.Logf("Trust Index %.2f -> %.2f; divergence %v: %s", *pi, *ci, j.Divergence.Flag, j.Divergence.Reason)

	// Consent migration.
	up, down, tr := cur.consent()
	_, _, trPrev := prev.consent()
	if j.ConsentMigration.Upgrades != up || j.ConsentMigration.Downgrades != down {
		t.Errorf("consent migration %d up %d down, want %d and %d", j.ConsentMigration.Upgrades, j.ConsentMigration.Downgrades, up, down)
	}
	seen := 0
	for _, x := range j.ConsentMigration.Transitions {
		k := fmt.Sprintf("%d->%d", x.From, x.To)
		if x.Events != tr[k] || x.PreviousEvents != trPrev[k] {
			t.Errorf("transition %s: %d / %d, want %d / %d", k, x.Events, x.PreviousEvents, tr[k], trPrev[k])
		}
		if x.Events > 0 {
			seen++
		}
	}
	if seen != len(tr) || len(tr) == 0 {
		t.Errorf("%d transitions with events reported, want %d", seen, len(tr))
	}

	// Engaged reach: distinct contacts over the range, and per day.
	if want := reach.distinct(from, to); j.EngagedReach.Contacts != want || want == 0 {
		t.Errorf("engaged reach %d, want %d", j.EngagedReach.Contacts, want)
	}
	if want := reach.distinct(prevFrom, from); j.EngagedReach.PreviousContacts != want {
		t.Errorf("previous engaged reach %d, want %d", j.EngagedReach.PreviousContacts, want)
	}
	checkAudience(t, j, audience.counts(reach, from, to), audience.counts(reach, prevFrom, from), wantCur["ctr"], wantPrev["ctr"])
	if len(j.EngagedReach.Days) != 7 {
		t.Errorf("%d reach days, want 7", len(j.EngagedReach.Days))
	}
	for _, d := range j.EngagedReach.Days {
		if want := len(reach[d.Day]); d.Contacts != want {
			t.Errorf("engaged reach on %s: %d, want %d", d.Day, d.Contacts, want)
		}
	}

	// The HTML page is the same report: the served page equals `report
	// --format html`, and in a browser it shows the JSON's Index and flag.
	page := runReport(t, env, "--from", "2026-11-13", "--to", "2026-11-20", "--format", "html")
	if !bytes.Equal(page, served) {
		t.Errorf("GET /report (%d bytes) differs from report --format html (%d bytes)", len(served), len(page))
	}
	checkReportPage(t, page, j)

	// Per channel: every event in exactly one channel.
	var perChannel uint64
	for _, c := range j.ByChannel {
		perChannel += c.Events
	}
	if perChannel != j.Events || len(j.ByChannel) == 0 {
		t.Errorf("by_channel sums to %d events over %d channels, want %d", perChannel, len(j.ByChannel), j.Events)
	}
	// Attributed: a delivery is its own cohort, so the attributed
	// denominator of the unsubscribe rate is the range's deliveries; unique
	// openers never exceed recipients.
	if !j.Attributed.Available {
		t.Error("attributed section not available without a segment or source filter")
	}
	for _, v := range j.Attributed.Indicators {
		if v.Name == "unsubscribe_rate" && v.Denominator != float64(cur.types[event.Delivered]) {
			t.Errorf("attributed unsubscribe_rate denominator %v, want the %d deliveries of the range", v.Denominator, cur.types[event.Delivered])
		}
	}
	if u := j.Attributed.Unique; u.Recipients == 0 || u.UniqueOpens > u.Recipients || u.UniqueOpenRate == nil || *u.UniqueOpenRate > 1 {
		t.Errorf("unique engagement %+v: want recipients, and unique opens within them", u)
	}

	// The table renders the same report.
	table := string(runReport(t, env, "--from", "2026-11-13", "--to", "2026-11-20"))
	for _, want := range []string{"TRUST REPORT  2026-11-13 00:00 to 2026-11-20 00:00 UTC (7 days)", "TRUST INDEX",
		"WHAT MOVED THE INDEX", "DIVERGENCE", "CONSENT MIGRATION", "ENGAGED REACH", "BY CHANNEL", "ATTRIBUTED", "UNIQUE ENGAGEMENT", "components,"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
	t.Logf("table report:\n%s", table)

	// An empty range says so and exits 0; so does a filter that matches
	// nothing, even one built to break out of a string literal.
	for _, args := range [][]string{
		{"--from", "2025-01-01", "--to", "2025-01-08", "--format", "json"},
		{"--from", "2026-11-13", "--to", "2026-11-20", "--campaign", `x' OR '1'='1`, "--format", "json"},
		{"--from", "2026-11-13", "--to", "2026-11-20", "--segment", `\' OR 1=1 --`, "--format", "json"},
	} {
		var e reportJSON
		if err := json.Unmarshal(runReport(t, env, args...), &e); err != nil {
			t.Fatal(err)
		}
		if !e.Empty || e.Events != 0 || !strings.HasPrefix(e.Message, "no events between") || e.TrustIndex.Value != nil {
			t.Errorf("report %q: empty %v, events %d, message %q", args, e.Empty, e.Events, e.Message)
		}
	}
	emptyTable := string(runReport(t, env, "--from", "2025-01-01", "--to", "2025-01-08"))
	if !strings.Contains(emptyTable, "No events between 2025-01-01T00:00:00Z and 2025-01-08T00:00:00Z") {
		t.Errorf("empty table:\n%s", emptyTable)
	}
}

// The page's query parameters are the report's flags.
func TestReportPageQuery(t *testing.T) {
	q, _ := url.ParseQuery("to=2026-11-20&from=2026-11-13&campaign=&format=json")
	if got, want := strings.Join(queryArgs(q), " "), "--campaign= --format=json --from=2026-11-13 --to=2026-11-20"; got != want {
		t.Errorf("queryArgs = %q, want %q", got, want)
	}
	o, err := parseReportArgs(queryArgs(url.Values{"from": {"2026-11-13"}}), reportNow)
	if err != nil || o.format != "html" || o.filter.Campaign != nil {
		t.Errorf("default page: format %q, campaign %v, err %v", o.format, o.filter.Campaign, err)
	}
	for _, c := range []struct{ addr, want string }{
		{"127.0.0.1:9464", "http://127.0.0.1:9464/report?compare-to=previous&from=2026-11-13T00%3A00%3A00Z"},
		{"[::]:9464", "http://localhost:9464/report?compare-to=previous&from=2026-11-13T00%3A00%3A00Z"},
		{":9464", "http://localhost:9464/report?compare-to=previous&from=2026-11-13T00%3A00%3A00Z"},
	} {
		if got := reportURL(c.addr, []string{"--from", "2026-11-13T00:00:00Z", "--compare-to", "previous"}); got != c.want {
			t.Errorf("reportURL(%q) = %q, want %q", c.addr, got, c.want)
		}
	}
}
