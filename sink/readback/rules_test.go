package readback

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/trustpipe/trustpipe/aggregate/testkit"
)

// TestRecordingRulesReadTheExposition feeds the golden expositions of this
// package to the recording rules in dashboards/prometheus (promtool test
// rules) and checks that the rules find the series the alerts need: the
// names and labels the read-back exports are the ones the rules select, and
// with a breakdown the rules still read the aggregate series.
func TestRecordingRulesReadTheExposition(t *testing.T) {
	promtool := testkit.Tool(t, "promtool", "prometheus")
	rules, err := filepath.Abs(filepath.Join("..", "..", "dashboards", "prometheus", "recording.rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(rules); err != nil {
		t.Fatal(err)
	}
	for _, golden := range []string{"default.golden", "breakdown.golden"} {
		t.Run(golden, func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata", golden))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			p := expfmt.NewTextParser(model.UTF8Validation)
			mfs, err := p.TextToMetricFamilies(f)
			if err != nil {
				t.Fatal(err)
			}
			var series []string
			get := func(name string, labels ...string) float64 {
				t.Helper()
				v, ok := sampleOf(mfs[name], labels...)
				if !ok {
					t.Fatalf("%s has no sample %v", name, labels)
				}
				return v
			}
			for _, mf := range mfs {
				if mf.GetType() != dto.MetricType_GAUGE || !strings.HasPrefix(mf.GetName(), "trustpipe_") {
					continue
				}
				for _, m := range mf.GetMetric() {
					var ls []string
					for _, lp := range m.GetLabel() {
						ls = append(ls, fmt.Sprintf("%s=%q", lp.GetName(), lp.GetValue()))
					}
					v := fmtFloat(m.GetGauge().GetValue())
					series = append(series, fmt.Sprintf("      - series: '%s{%s}'\n        values: '%s'",
						mf.GetName(), strings.Join(ls, ","), strings.Repeat(v+" ", 4)+v))
				}
			}
			checks := []struct {
				expr  string
				value float64
			}{
				{`trustpipe:indicator{indicator="unsubscribe_rate",window="1h"}`, get("trustpipe_indicator", "unsubscribe_rate", "1h")},
				{`trustpipe:indicator_baseline{indicator="complaint_rate",window="24h"}`, get("trustpipe_indicator_baseline", "complaint_rate", "24h")},
				{`trustpipe:indicator:ratio_to_baseline{indicator="unsubscribe_rate",window="1h"}`,
					get("trustpipe_indicator", "unsubscribe_rate", "1h") / get("trustpipe_indicator_baseline", "unsubscribe_rate", "1h")},
				{`trustpipe:indicator_volume_ok{indicator="unsubscribe_rate",window="1h"}`, 1},
				{`trustpipe:indicator_volume_ok{indicator="direct_traffic_share",window="7d"}`, 1},
				{`trustpipe:trust_index{window="28d"}`, get("trustpipe_trust_index", "28d")},
				{`trustpipe:trust_index:drop_vs_baseline{window="24h"}`, get("trustpipe_trust_index_baseline", "24h") - get("trustpipe_trust_index", "24h")},
				{`trustpipe:trust_index_volume_ok{window="24h"}`, 1},
				{`trustpipe:divergence{window="1h"}`, 1},
				{`trustpipe:data_freshness_seconds`, get("trustpipe_data_freshness_seconds")},
				{`trustpipe:ledger_gap_offsets`, get("trustpipe_ledger_gap_offsets")},
			}
			var tests []string
			for _, c := range checks {
				tests = append(tests, fmt.Sprintf("      - expr: '%s'\n        eval_time: 2m\n        exp_samples:\n          - labels: '%s'\n            value: %s",
					c.expr, c.expr, fmtFloat(c.value)))
			}
			unit := fmt.Sprintf(`rule_files:
  - %s
evaluation_interval: 1m
group_eval_order: [trustpipe.pipeline, trustpipe.trust]
tests:
  - interval: 1m
    input_series:
%s
    promql_expr_test:
%s
`, rules, strings.Join(series, "\n"), strings.Join(tests, "\n"))
			path := filepath.Join(t.TempDir(), "exposition.test.yml")
			if err := os.WriteFile(path, []byte(unit), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(promtool, "test", "rules", path).CombinedOutput()
			if err != nil {
				t.Fatalf("promtool test rules: %v\n%s", err, out)
			}
		})
	}
}

// sampleOf returns the value of the sample without a dimension_value label
// whose other label values are, in label-name order, values.
func sampleOf(mf *dto.MetricFamily, values ...string) (float64, bool) {
next:
	for _, m := range mf.GetMetric() {
		var vs []string
		for _, lp := range m.GetLabel() {
			if lp.GetName() == "dimension_value" {
				continue next
			}
			vs = append(vs, lp.GetValue())
		}
		if strings.Join(vs, "\x00") == strings.Join(values, "\x00") {
			return m.GetGauge().GetValue(), true
		}
	}
	return 0, false
}

func fmtFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
