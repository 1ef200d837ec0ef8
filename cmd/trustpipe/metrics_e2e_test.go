package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/trustpipe/trustpipe/aggregate/event"
	"github.com/trustpipe/trustpipe/consumers/kafkatest"
	"github.com/trustpipe/trustpipe/sink"
	"github.com/trustpipe/trustpipe/sink/sinktest"
)

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// scrape fetches and parses /metrics.
func scrape(addr string) (map[string]*dto.MetricFamily, error) {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(resp.Body)
}

// sumFamily sums every sample of a counter or gauge family.
func sumFamily(mfs map[string]*dto.MetricFamily, name string) float64 {
	var s float64
	for _, m := range mfs[name].GetMetric() {
		if c := m.GetCounter(); c != nil {
			s += c.GetValue()
		} else {
			s += m.GetGauge().GetValue()
		}
	}
	return s
}

// sample returns the value of the sample of family name whose labels are
// exactly labels.
func sample(mfs map[string]*dto.MetricFamily, name string, labels map[string]string) (float64, bool) {
next:
	for _, m := range mfs[name].GetMetric() {
		if len(m.GetLabel()) != len(labels) {
			continue
		}
		for _, lp := range m.GetLabel() {
			if labels[lp.GetName()] != lp.GetValue() {
				continue next
			}
		}
		if c := m.GetCounter(); c != nil {
			return c.GetValue(), true
		}
		return m.GetGauge().GetValue(), true
	}
	return 0, false
}

// TestMetricsAfterLoad is the metrics acceptance test of issue 4: after a
// load, trustpipe_events_accepted_total and trustpipe_events_rejected_total
// sum exactly to the valid and invalid counts the generator reports, and the
// trust gauges read back from ClickHouse are exported — the 28d Trust Index,
// and a delivered volume equal to the generator's own count.
func TestMetricsAfterLoad(t *testing.T) {
	chAddr := sinktest.Addr(t)
	db := sinktest.Database(t)
	brokers := kafkatest.Start(t, 3, "trust-events", "trust-events-dlq")
	const n, topN = 30000, 3
	// Events over the 14 days up to the current hour, so all of them fall in
	// the 28d window whenever the test runs.
	p := produceScenarioEnding(t, brokers, "healthy", n, 0.02, 4, time.Now().UTC().Truncate(time.Hour))
	var valid, delivered uint64
	for k, c := range p.perTypeDay {
		valid += c
		if k.typ == event.Delivered.String() {
			delivered += c
		}
	}
	invalid := uint64(len(p.invalidValues))
	if valid+invalid != n || invalid == 0 {
		t.Fatalf("oracle: %d valid + %d invalid, want %d with some invalid", valid, invalid, n)
	}

	addr := freeAddr(t)
	env := testEnv(brokers, chAddr, db, "TRUSTPIPE_HTTP_ADDR="+addr, "TRUSTPIPE_FLUSH_INTERVAL=200ms",
		"TRUSTPIPE_READBACK_INTERVAL=300ms", "TRUSTPIPE_READBACK_BREAKDOWN=campaign_id", fmt.Sprintf("TRUSTPIPE_READBACK_TOP_N=%d", topN))
	t.Cleanup(func() {
		st, err := sink.Open(context.Background(), sink.Config{Addr: chAddr, Database: db}, sink.LiveTables())
		if err == nil {
			_ = st.DropDatabase(context.Background())
			_ = st.Close()
		}
	})
	cmd, out := startTrustpipe(t, env, "run")

	deliveredVolume := map[string]string{"indicator": "unsubscribe_rate", "window": "28d"}
	var mfs map[string]*dto.MetricFamily
	waitFor(t, "every record counted and read back", 3*time.Minute, out, func() bool {
		var err error
		if mfs, err = scrape(addr); err != nil {
			return false
		}
		v, ok := sample(mfs, "trustpipe_indicator_volume", deliveredVolume)
		return sumFamily(mfs, "trustpipe_events_accepted_total")+sumFamily(mfs, "trustpipe_events_rejected_total") >= n &&
			ok && v == float64(delivered)
	})

	if got := sumFamily(mfs, "trustpipe_events_accepted_total"); got != float64(valid) {
		t.Errorf("trustpipe_events_accepted_total sums to %v, want %d valid events", got, valid)
	}
	if got := sumFamily(mfs, "trustpipe_events_rejected_total"); got != float64(invalid) {
		t.Errorf("trustpipe_events_rejected_total sums to %v, want %d invalid records", got, invalid)
	}
	if got := sumFamily(mfs, "trustpipe_records_consumed_total"); got != n {
		t.Errorf("trustpipe_records_consumed_total sums to %v, want %d", got, n)
	}
	idx, ok := sample(mfs, "trustpipe_trust_index", map[string]string{"window": "28d"})
	if !ok || idx < 0 || idx > 100 {
		t.Errorf("trustpipe_trust_index{window=\"28d\"} = %v (present %v), want a value in [0, 100]", idx, ok)
	}
	if v, ok := sample(mfs, "trustpipe_ledger_gap_offsets", nil); !ok || v != 0 {
		t.Errorf("trustpipe_ledger_gap_offsets = %v (present %v), want 0", v, ok)
	}
	if _, ok := sample(mfs, "trustpipe_data_freshness_seconds", nil); !ok {
		t.Error("trustpipe_data_freshness_seconds is missing")
	}
	if v, _ := sample(mfs, "trustpipe_readback_success_timestamp_seconds", nil); v == 0 {
		t.Error("trustpipe_readback_success_timestamp_seconds is 0 after read-backs")
	}
	// The breakdown stays within top N + "other" per window (the volume is
	// exported for every group; the scenario has 40 campaigns).
	values := map[string]map[string]bool{}
	for _, m := range mfs["trustpipe_indicator_volume"].GetMetric() {
		var window, dv string
		for _, lp := range m.GetLabel() {
			switch lp.GetName() {
			case "window":
				window = lp.GetValue()
			case "dimension_value":
				dv = lp.GetValue()
			}
		}
		if dv == "" {
			continue
		}
		if values[window] == nil {
			values[window] = map[string]bool{}
		}
		values[window][dv] = true
	}
	if len(values["28d"]) != topN+1 || !values["28d"]["other"] {
		t.Errorf("28d breakdown: %v, want %d campaigns and \"other\"", values["28d"], topN)
	}
	for w, vs := range values {
		if len(vs) > topN+1 {
			t.Errorf("window %s: %d dimension values, want at most %d", w, len(vs), topN+1)
		}
	}
	t.Logf("%d valid, %d invalid; 28d Trust Index %.2f; breakdown %v", valid, invalid, idx, values)

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("graceful shutdown: %v\n%s", err, out.String())
	}
	if s := out.String(); strings.Contains(s, "read-back of trust gauges failed") {
		t.Errorf("read-back failed during the run:\n%s", s)
	}
}
