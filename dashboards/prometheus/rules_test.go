// Package prometheus_test checks trustpipe's Prometheus rule files
// (recording.rules.yml, alerts.rules.yml) and their runbook:
//
//   - promtool check rules and promtool test rules pass (tests/*.yml);
//   - every alert has severity page|ticket, a summary, a description and a
//     runbook_url annotation (absolute, from a configurable base) whose
//     anchor is a heading of RUNBOOK.md, and a dashboard_url;
//   - every trust alert is gated on pipeline health and minimum volume;
//   - every alert has a firing and a silent unit test;
//   - the unit tests catch deliberate breakage (mutation tests).
//
// promtool comes from Debian's prometheus package. Without it on PATH the
// promtool tests are skipped, except under CI=true, where they fail.
// The structural checks scan the rule files as text, line by line, which
// their fixed layout allows; promtool check rules validates the YAML itself.
package prometheus_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/trustpipe/trustpipe/aggregate/testkit"
)

const (
	recordingFile = "recording.rules.yml"
	alertsFile    = "alerts.rules.yml"
	runbookFile   = "RUNBOOK.md"
	testsGlob     = "tests/*.yml"
	// runbookPrefix is how runbook_url annotations reference RUNBOOK.md: an
	// absolute URL from the external label runbook_url, by default the
	// project's copy (the dashboards' default too).
	runbookPrefix = `{{ or $externalLabels.runbook_url "https://github.com/trustpipe/trustpipe/blob/main/dashboards/prometheus/RUNBOOK.md" }}#`
)

// runPromtool runs promtool with args in dir and returns its combined output
// and whether it exited successfully.
func runPromtool(t *testing.T, bin, dir string, args ...string) (string, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("promtool %s: timed out\n%s", strings.Join(args, " "), out)
	}
	if err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatalf("promtool %s: %v", strings.Join(args, " "), err)
		}
		return string(out), false
	}
	return string(out), true
}

func testFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(testsGlob)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no promtool unit tests match %s", testsGlob)
	}
	return files
}

func TestPromtoolCheckRules(t *testing.T) {
	bin := testkit.Tool(t, "promtool", "prometheus")
	args := []string{"check", "rules", "--lint-fatal", recordingFile, alertsFile}
	if out, ok := runPromtool(t, bin, ".", args...); !ok {
		t.Fatalf("promtool %s failed:\n%s", strings.Join(args, " "), out)
	}
}

func TestPromtoolTestRules(t *testing.T) {
	bin := testkit.Tool(t, "promtool", "prometheus")
	args := append([]string{"test", "rules"}, testFiles(t)...)
	if out, ok := runPromtool(t, bin, ".", args...); !ok {
		t.Fatalf("promtool %s failed:\n%s", strings.Join(args, " "), out)
	}
}

// alertRule is what the text scan extracts from one `- alert:` block.
type alertRule struct {
	name, block string
	line        int
}

var (
	alertLineRE = regexp.MustCompile(`^\s*- alert:\s*(\S+)\s*$`)
	groupLineRE = regexp.MustCompile(`^\s*- name:\s*`)
	severityRE  = regexp.MustCompile(`(?m)^\s+severity:\s*(\S+)\s*$`)
	categoryRE  = regexp.MustCompile(`(?m)^\s+category:\s*(\S+)\s*$`)
	runbookRE   = regexp.MustCompile(`(?m)^\s+runbook_url:\s*'(.+)'\s*$`)
	dashURLRE   = regexp.MustCompile(`(?m)^\s+dashboard_url:\s*'\{\{ or \$externalLabels.grafana_url "http://localhost:3000" \}\}/d/trustpipe-(overview|pipeline)'\s*$`)
	summaryRE   = regexp.MustCompile(`(?m)^\s+summary:\s*\S`)
	descRE      = regexp.MustCompile(`(?m)^\s+description:\s*\S`)
	exprRE      = regexp.MustCompile(`(?m)^\s+expr:\s*\S`)
)

// parseAlerts splits alerts.rules.yml into its alert blocks: from a
// `- alert:` line to the next alert or group.
func parseAlerts(t *testing.T) []alertRule {
	t.Helper()
	data, err := os.ReadFile(alertsFile)
	if err != nil {
		t.Fatal(err)
	}
	var (
		rules []alertRule
		cur   *alertRule
		sb    strings.Builder
	)
	flush := func() {
		if cur != nil {
			cur.block = sb.String()
			rules = append(rules, *cur)
			cur = nil
		}
		sb.Reset()
	}
	for i, line := range strings.Split(string(data), "\n") {
		if m := alertLineRE.FindStringSubmatch(line); m != nil {
			flush()
			cur = &alertRule{name: m[1], line: i + 1}
		} else if groupLineRE.MatchString(line) {
			flush()
		}
		if cur != nil && !strings.HasPrefix(strings.TrimSpace(line), "#") {
			sb.WriteString(line)
			sb.WriteByte('\n')
		}
	}
	flush()
	if len(rules) == 0 {
		t.Fatalf("%s: no alerts found", alertsFile)
	}
	return rules
}

// githubAnchor turns a Markdown heading into its GitHub anchor: lower case,
// spaces to '-', everything but letters, digits, '-' and '_' dropped.
func githubAnchor(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(heading)) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9'):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// runbookAnchors returns the anchors of the headings in RUNBOOK.md, ignoring
// fenced code blocks (whose '#' lines are shell comments, not headings).
func runbookAnchors(t *testing.T) map[string]bool {
	t.Helper()
	f, err := os.Open(runbookFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	anchors := map[string]bool{}
	inFence := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			inFence = !inFence
			continue
		}
		if inFence || !strings.HasPrefix(line, "#") {
			continue
		}
		anchors[githubAnchor(strings.TrimLeft(line, "#"))] = true
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return anchors
}

func TestGithubAnchor(t *testing.T) {
	for heading, want := range map[string]string{
		" TrustIndexDrop":            "trustindexdrop",
		" Trust drop or data drop?":  "trust-drop-or-data-drop",
		" Where to look":             "where-to-look",
		" consumer_lag (per-topic)!": "consumer_lag-per-topic",
	} {
		if got := githubAnchor(heading); got != want {
			t.Errorf("githubAnchor(%q) = %q, want %q", heading, got, want)
		}
	}
}

// TestAlertsStructure checks, without promtool, that every alert carries
// what on-call relies on.
func TestAlertsStructure(t *testing.T) {
	anchors := runbookAnchors(t)
	seen := map[string]bool{}
	for _, a := range parseAlerts(t) {
		where := fmt.Sprintf("%s:%d: alert %s", alertsFile, a.line, a.name)
		if seen[a.name] {
			t.Errorf("%s: duplicate alert name", where)
		}
		seen[a.name] = true
		if !exprRE.MatchString(a.block) {
			t.Errorf("%s: no expr", where)
		}
		if m := severityRE.FindStringSubmatch(a.block); m == nil {
			t.Errorf("%s: no labels.severity", where)
		} else if m[1] != "page" && m[1] != "ticket" {
			t.Errorf("%s: severity %q, want page or ticket", where, m[1])
		}
		if !summaryRE.MatchString(a.block) {
			t.Errorf("%s: no summary annotation", where)
		}
		if !descRE.MatchString(a.block) {
			t.Errorf("%s: no description annotation", where)
		}
		if !dashURLRE.MatchString(a.block) {
			t.Errorf("%s: no dashboard_url annotation linking a trustpipe dashboard from the grafana_url base", where)
		}
		m := runbookRE.FindStringSubmatch(a.block)
		if m == nil {
			t.Errorf("%s: no runbook_url annotation", where)
			continue
		}
		anchor, ok := strings.CutPrefix(m[1], runbookPrefix)
		if !ok {
			t.Errorf("%s: runbook %q does not start with %q", where, m[1], runbookPrefix)
			continue
		}
		if want := strings.ToLower(a.name); anchor != want {
			t.Errorf("%s: runbook anchor %q, want %q (the lower-cased alert name)", where, anchor, want)
		}
		if !anchors[anchor] {
			t.Errorf("%s: runbook anchor #%s is not a heading of %s (add a section \"## %s\")", where, anchor, runbookFile, a.name)
		}
	}
	for _, name := range []string{
		"TrustIndexDrop", "AttributedUnsubscribeSpike", "ComplaintRateHigh", "ComplaintRateCritical", "AttributedComplaintRateCritical",
		"OptDownShareCollapse", "DirectTrafficShareDrop", "TrustEngagementDivergence", "ShrinkingAudience",
		"ConsumerLagHigh", "SinkFailing", "DeadLetterRateHigh", "DataStale", "LedgerGap",
	} {
		if !seen[name] {
			t.Errorf("required alert %s is missing from %s", name, alertsFile)
		}
	}
}

// TestTrustAlertsAreGated: "data dropped" must never page as "trust
// dropped", so every trust alert requires pipeline health and volume.
func TestTrustAlertsAreGated(t *testing.T) {
	n := 0
	for _, a := range parseAlerts(t) {
		m := categoryRE.FindStringSubmatch(a.block)
		if m == nil {
			t.Errorf("alert %s: no labels.category (trust or pipeline)", a.name)
			continue
		}
		switch m[1] {
		case "trust":
			n++
			if !strings.Contains(a.block, "and on () (trustpipe:pipeline_healthy == 1)") {
				t.Errorf("trust alert %s is not gated with `and on () (trustpipe:pipeline_healthy == 1)`", a.name)
			}
			if !regexp.MustCompile(`and on \([a-z_, ]*\) \(trustpipe:(indicator|trust_index|attributed|audience|accounts)_volume_ok(:by_dimension)? == 1\)`).MatchString(a.block) {
				t.Errorf("trust alert %s is not gated on minimum volume (trustpipe:indicator_volume_ok, trustpipe:attributed_volume_ok, trustpipe:indicator_volume_ok:by_dimension, trustpipe:trust_index_volume_ok, trustpipe:audience_volume_ok or trustpipe:accounts_volume_ok)", a.name)
			}
		case "pipeline":
		default:
			t.Errorf("alert %s: category %q, want trust or pipeline", a.name, m[1])
		}
	}
	if n == 0 {
		t.Error("no trust alerts found")
	}
}

// TestEveryAlertIsUnitTested: each alert has at least one expectation that
// it fires and one that it stays silent in tests/*.yml.
func TestEveryAlertIsUnitTested(t *testing.T) {
	var all strings.Builder
	for _, f := range testFiles(t) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		all.Write(data)
	}
	text := all.String()
	for _, a := range parseAlerts(t) {
		name := regexp.QuoteMeta(a.name)
		fires := regexp.MustCompile(`alertname: ` + name + `\s*\n\s*exp_alerts:\s*(\*\w+\s*\n|\n\s*- exp_labels:)` +
			`|alertname: ` + name + `, exp_alerts: \*\w+\}`)
		silent := regexp.MustCompile(`alertname: ` + name + `, exp_alerts: \[\]\}`)
		if !fires.MatchString(text) {
			t.Errorf("alert %s has no unit test in %s where it fires (exp_alerts with exp_labels)", a.name, testsGlob)
		}
		if !silent.MatchString(text) {
			t.Errorf("alert %s has no unit test in %s where it stays silent (exp_alerts: [])", a.name, testsGlob)
		}
	}
}

// TestUnitTestsCatchBreakage breaks the rules on purpose, one change at a
// time, and requires promtool test rules to fail: the unit tests pin the
// thresholds, the gates and the aggregation rather than just running. Each
// mutation runs only the test file that should catch it (promtool needs
// several seconds for the trust tests); skipped with -short.
func TestUnitTestsCatchBreakage(t *testing.T) {
	if testing.Short() {
		t.Skip("mutation tests are slow; skipped with -short")
	}
	bin := testkit.Tool(t, "promtool", "prometheus")
	const (
		trustTests    = "tests/trust_alerts.test.yml"
		pipelineTests = "tests/pipeline_alerts.test.yml"
		recordTests   = "tests/recording.test.yml"
		// personalizationTests covers PersonalizationDefectsHigh.
		personalizationTests = "tests/personalization_alerts.test.yml"
		// audienceTests covers ShrinkingAudience.
		audienceTests = "tests/audience_alerts.test.yml"
		// accountTests covers TargetAccountsInAlarm.
		accountTests = "tests/account_alerts.test.yml"
		// contactTests covers SendsNotAllowed and SendsNotAllowedHigh.
		contactTests = "tests/contact_alerts.test.yml"
	)
	mutations := []struct {
		name, file, old, new, tests string
	}{
		{"ComplaintRateCritical threshold 0.3 % -> 0.4 %", alertsFile,
			`window="24h"} >= 0.003)`, `window="24h"} >= 0.004)`, trustTests},
		{"TrustIndexDrop without pipeline gate", alertsFile,
			"(trustpipe:trust_index:drop_vs_baseline{window=\"24h\"} >= 10)\n          and on (window) (trustpipe:trust_index_volume_ok == 1)\n          and on () (trustpipe:pipeline_healthy == 1)",
			"(trustpipe:trust_index:drop_vs_baseline{window=\"24h\"} >= 10)\n          and on (window) (trustpipe:trust_index_volume_ok == 1)", trustTests},
		{"breakdown series leak into the aggregate", recordingFile,
			`max by (window) (trustpipe_trust_index{dimension_value=""})`, `max by (window) (trustpipe_trust_index)`, recordTests},
		{"DeadLetterRateHigh threshold 5 % -> 25 %", alertsFile,
			`rate15m > 0.05`, `rate15m > 0.25`, pipelineTests},
		{"SinkFailing for 5m -> 10m", alertsFile,
			"expr: trustpipe:sink_failing == 1\n        for: 5m", "expr: trustpipe:sink_failing == 1\n        for: 10m", pipelineTests},
		{"LedgerGap threshold", alertsFile,
			`trustpipe:ledger_gap_offsets > 0`, `trustpipe:ledger_gap_offsets > 5000`, pipelineTests},
		{"DataStale without absent()", alertsFile,
			"\n          or on () absent(trustpipe:data_age_seconds)", "", pipelineTests},
		{"data_fresh gate threshold", recordingFile,
			`(trustpipe:data_age_seconds <= bool 1800)`, `(trustpipe:data_age_seconds <= bool 100000)`, recordTests},
		{"read-back age ignored", recordingFile,
			`trustpipe:data_freshness_seconds + trustpipe:readback_age_seconds`, `trustpipe:data_freshness_seconds`, recordTests},
		{"ledger gate open when unknown", recordingFile,
			`(trustpipe:ledger_gap_offsets == bool 0) or on() vector(0)`, `(trustpipe:ledger_gap_offsets == bool 0) or on() vector(1)`, recordTests},
		{"lag counted once per instance", recordingFile,
			`sum by (topic) (max by (topic, partition) (trustpipe_consumer_lag))`, `sum by (topic) (trustpipe_consumer_lag)`, recordTests},
		{"TargetAccountsInAlarm counts all accounts", alertsFile,
			`(trustpipe:accounts_in_alarm{scope="target"} > 0)`, `(trustpipe:accounts_in_alarm > 0)`, accountTests},
		{"TargetAccountsInAlarm without pipeline gate", alertsFile,
			"(trustpipe:accounts_in_alarm{scope=\"target\"} > 0)\n          and on () (trustpipe:accounts_volume_ok == 1)\n          and on () (trustpipe:pipeline_healthy == 1)",
			"(trustpipe:accounts_in_alarm{scope=\"target\"} > 0)\n          and on () (trustpipe:accounts_volume_ok == 1)", accountTests},
		{"accounts gate open when unknown", recordingFile,
			`(max(trustpipe_accounts_active) >= bool 1) or on () vector(0)`, `(max(trustpipe_accounts_active) >= bool 1) or on () vector(1)`, accountTests},
		{"PersonalizationDefectsHigh threshold 2 % -> 40 %", alertsFile,
			`trustpipe:indicator:by_dimension{window="1h"} >= 0.02`, `trustpipe:indicator:by_dimension{window="1h"} >= 0.4`, personalizationTests},
		{"ShrinkingAudience without volume gate", alertsFile,
			"\n          and on () (trustpipe:audience_volume_ok == 1)", "", audienceTests},
		{"ShrinkingAudience without pipeline gate", alertsFile,
			"(trustpipe:shrinking_audience == 1)\n          and on () (trustpipe:audience_volume_ok == 1)\n          and on () (trustpipe:pipeline_healthy == 1)",
			"(trustpipe:shrinking_audience == 1)\n          and on () (trustpipe:audience_volume_ok == 1)", audienceTests},
		{"audience volume 100 -> 50 engaged contacts", recordingFile, ">= bool 100\n", ">= bool 50\n", audienceTests},
		{"ShrinkingAudience for 1h -> 10m", alertsFile, "(trustpipe:audience_volume_ok == 1)\n          and on () (trustpipe:pipeline_healthy == 1)\n        for: 1h", "(trustpipe:audience_volume_ok == 1)\n          and on () (trustpipe:pipeline_healthy == 1)\n        for: 10m", audienceTests},
		{"SendsNotAllowed only above one breach in a thousand", alertsFile,
			`consent_claim_mismatch_share", window="24h"} > 0)`, `consent_claim_mismatch_share", window="24h"} > 0.001)`, contactTests},
		{"SendsNotAllowedHigh after unsubscribe 0.1 % -> 1 %", alertsFile,
			`window="1h"} >= 0.001)`, `window="1h"} >= 0.01)`, contactTests},
		{"SendsNotAllowedHigh without the consent rule", alertsFile,
			"\n            or (trustpipe:indicator{indicator=\"consent_claim_mismatch_share\", window=\"1h\"} >= 0.01)", "", contactTests},
		{"PersonalizationDefectsHigh without volume gate", alertsFile,
			"\n          and on (indicator, window, dimension_value) (trustpipe:indicator_volume_ok:by_dimension == 1)", "", personalizationTests},
		{"defect rates include the other group", recordingFile,
			`(trustpipe_indicator{indicator=~"merge_defect_rate|broken_link_rate", dimension_value!="other"})`, `(trustpipe_indicator{indicator=~"merge_defect_rate|broken_link_rate"})`, personalizationTests},
		{"volume gate ignores the minimum", recordingFile,
			"trustpipe_indicator_volume{dimension_value=\"\"})\n          >= bool on (indicator) group_left ()\n          max by (indicator) (trustpipe_indicator_min_volume)",
			"trustpipe_indicator_volume{dimension_value=\"\"})\n          >= bool on (indicator) group_left ()\n          0 * max by (indicator) (trustpipe_indicator_min_volume)", recordTests},
		{"attributed volume gate ignores the minimum", recordingFile,
			"(trustpipe_attributed_volume)\n          >= bool on (indicator) group_left ()\n          max by (indicator) (trustpipe_indicator_min_volume)",
			"(trustpipe_attributed_volume)\n          >= bool on (indicator) group_left ()\n          0 * max by (indicator) (trustpipe_indicator_min_volume)", trustTests},
		{"AttributedUnsubscribeSpike ratio 3x -> 4x", alertsFile,
			`{indicator="unsubscribe_rate", window="24h"} >= 3)`, `{indicator="unsubscribe_rate", window="24h"} >= 4)`, trustTests},
		{"AttributedUnsubscribeSpike without its absolute floor", alertsFile,
			"\n          and on (indicator, window, group_by, group) (trustpipe:attributed_rate >= 0.005)", "", trustTests},
		{"AttributedComplaintRateCritical 0.3 % -> 0.4 %", alertsFile,
			`group_by=~"campaign|mailbox_provider|sending_domain"} >= 0.003)`, `group_by=~"campaign|mailbox_provider|sending_domain"} >= 0.004)`, trustTests},
		{"attributed rates compared with a campaign's own baseline", recordingFile,
			"/ on (indicator, window) group_left ()\n          (trustpipe:attributed_baseline > 0)",
			"/ on (indicator, window) group_left ()\n          (trustpipe:attributed_baseline > 1)", trustTests},
	}
	rules := map[string][]byte{}
	for _, f := range []string{recordingFile, alertsFile} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		rules[f] = data
	}
	tests := testFiles(t)
	for _, m := range mutations {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			if c := strings.Count(string(rules[m.file]), m.old); c != 1 {
				t.Fatalf("%s: %q occurs %d times, want exactly once; update this mutation to match the rules", m.file, m.old, c)
			}
			dir := t.TempDir()
			if err := os.Mkdir(filepath.Join(dir, "tests"), 0o755); err != nil {
				t.Fatal(err)
			}
			for f, data := range rules {
				if f == m.file {
					data = []byte(strings.Replace(string(data), m.old, m.new, 1))
				}
				if err := os.WriteFile(filepath.Join(dir, f), data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			for _, f := range tests {
				data, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, f), data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			// The mutated rules must still be valid, so that a failure below
			// comes from the unit tests and not from a syntax error.
			if out, ok := runPromtool(t, bin, dir, "check", "rules", recordingFile, alertsFile); !ok {
				t.Fatalf("mutated rules do not pass promtool check rules (fix the mutation):\n%s", out)
			}
			if out, ok := runPromtool(t, bin, dir, "test", "rules", m.tests); ok {
				t.Fatalf("promtool test rules %s still passes after %q (%q -> %q in %s): the unit tests do not pin this\n%s",
					m.tests, m.name, m.old, m.new, m.file, out)
			}
		})
	}
}
