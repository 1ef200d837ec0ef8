package readback

import (
	"fmt"
	"math"
	"slices"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// durationBuckets of trustpipe_readback_duration_seconds: 10 ms to ~20 s.
var durationBuckets = prometheus.ExponentialBuckets(0.01, 2, 12)

// metrics are the read-back's Prometheus metrics.
type metrics struct {
	trust    *trustCollector
	success  prometheus.Gauge
	errors   prometheus.Counter
	duration prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer, minVolume map[string]float64, configured, targets int) (*metrics, error) {
	trust, err := newTrustCollector(minVolume, configured, targets)
	if err != nil {
		return nil, err
	}
	m := &metrics{
		trust: trust,
		success: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "trustpipe_readback_success_timestamp_seconds",
			Help: "Unix time of the last successful read-back of the trust gauges from ClickHouse (0: none yet).",
		}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "trustpipe_readback_errors_total",
			Help: "Read-backs of the trust gauges that failed; the previous values stay exported.",
		}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "trustpipe_readback_duration_seconds",
			Help:    "Time one read-back of the trust gauges took (all queries), failed ones included.",
			Buckets: durationBuckets,
		}),
	}
	for _, c := range []prometheus.Collector{m.trust, m.success, m.errors, m.duration} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("read-back: register metrics: %w", err)
		}
	}
	return m, nil
}

// descPair is a trust gauge's descriptor without and with the
// dimension_value label (same name and help).
type descPair struct{ plain, byDim *prometheus.Desc }

func (p descPair) pick(byDim bool) *prometheus.Desc {
	if byDim {
		return p.byDim
	}
	return p.plain
}

func newDescPair(name, help string, labels ...string) descPair {
	return descPair{
		plain: prometheus.NewDesc(name, help, labels, nil),
		byDim: prometheus.NewDesc(name, help, append(slices.Clone(labels), "dimension_value"), nil),
	}
}

// trustCollector exports the gauges read back from ClickHouse. Each refresh
// replaces the whole set atomically.
//
// It is an unchecked collector (Describe sends nothing) because its metric
// families mix label sets: the aggregate series carry no dimension_value
// label, breakdown series do. client_golang accepts that at collection time;
// the registry only rejects it for described (checked) collectors.
type trustCollector struct {
	indicator, baseline, volume      descPair
	index, indexBaseline, divergence descPair
	freshness, ledgerGap             *prometheus.Desc
	coverage, componentsUsed         descPair
	directGrowth                     *prometheus.Desc
	attributed                       attributedDescs
	audience                         audienceDescs
	accounts                         accountDescs
	static                           []prometheus.Metric // min volumes: configuration, always present
	current                          atomic.Pointer[[]prometheus.Metric]
}

func newTrustCollector(minVolume map[string]float64, configured, targets int) (*trustCollector, error) {
	c := &trustCollector{
		accounts: newAccountDescs(),
		indicator: newDescPair("trustpipe_indicator",
			"Trust indicator or click metric over the window ending at the read-back (ClickHouse trust_counts, event time). Absent when its denominator is 0.",
			"indicator", "window"),
		baseline: newDescPair("trustpipe_indicator_baseline",
			"Indicator over the window's baseline, the 28 days before the window starts. Absent when its denominator is 0.",
			"indicator", "window"),
		volume: newDescPair("trustpipe_indicator_volume",
			"Denominator of the indicator over the window (e.g. delivered messages); compare with trustpipe_indicator_min_volume.",
			"indicator", "window"),
		index: newDescPair("trustpipe_trust_index",
			"Trust Index (0-100) over the window. Absent when no component has enough volume.",
			"window"),
		indexBaseline: newDescPair("trustpipe_trust_index_baseline",
			"Trust Index (0-100) over the window's baseline, the 28 days before the window starts. Absent when no component has enough volume.",
			"window"),
		divergence: newDescPair("trustpipe_divergence",
			"1 when click metrics improved while the Trust Index fell, window against its baseline; 0 otherwise. Absent without a Trust Index in both periods.",
			"window"),
		coverage: newDescPair("trustpipe_trust_index_coverage_ratio",
			"Share of the configured Trust Index weight the window's Index is built from (components with enough data); show it beside the Index. Absent with the Index.",
			"window"),
		componentsUsed: newDescPair("trustpipe_trust_index_components_used",
			"Trust Index components scored in the window, of trustpipe_trust_index_components_configured.",
			"window"),
		directGrowth: prometheus.NewDesc("trustpipe_direct_traffic_growth",
			"Direct web sessions per day in the window over those per day in its baseline, minus 1 (+0.1: 10 % more buyers came on their own). Absent without direct sessions in the baseline.",
			[]string{"window"}, nil),
		attributed: attributedDescs{
			rate: prometheus.NewDesc("trustpipe_attributed_rate",
				"Attributed indicator: follow-ups over the deliveries they follow, per send-time cohort window (group_by=program), campaign, mailbox provider or sending domain (group). Absent when its denominator is 0.",
				[]string{"indicator", "window", "group_by", "group"}, nil),
			volume: prometheus.NewDesc("trustpipe_attributed_volume",
				"Denominator of the attributed indicator (e.g. deliveries of the cohorts); compare with trustpipe_indicator_min_volume.",
				[]string{"indicator", "window", "group_by", "group"}, nil),
			baseline: prometheus.NewDesc("trustpipe_attributed_baseline",
				"The program's attributed indicator over the cohorts of the 28 days before the window. Absent when its denominator is 0.",
				[]string{"indicator", "window"}, nil),
		},
		audience: newAudienceDescs(),
		freshness: prometheus.NewDesc("trustpipe_data_freshness_seconds",
			"Seconds from the end of the newest trust_counts bucket with events (event time, buckets starting after the read-back ignored) to the read-back. Absent when the last 56 days hold no events.",
			nil, nil),
		ledgerGap: prometheus.NewDesc("trustpipe_ledger_gap_offsets",
			"Kafka offsets missing between consecutive ingest_ledger blocks among each partition's newest 1000, summed over partitions; 0 when every offset between them is accounted for.",
			nil, nil),
	}
	minDesc := prometheus.NewDesc("trustpipe_indicator_min_volume",
		"Minimum denominator at which an indicator is trusted: Trust Index components below it are left out, and alerts on it are gated on it.",
		[]string{"indicator"}, nil)
	for _, name := range sortedKeys(minVolume) {
		m, err := prometheus.NewConstMetric(minDesc, prometheus.GaugeValue, minVolume[name], name)
		if err != nil {
			return nil, fmt.Errorf("read-back: min volume of %s: %w", name, err)
		}
		c.static = append(c.static, m)
	}
	conf, err := prometheus.NewConstMetric(prometheus.NewDesc("trustpipe_trust_index_components_configured",
		"Trust Index components with a positive configured weight.", nil, nil), prometheus.GaugeValue, float64(configured))
	if err != nil {
		return nil, fmt.Errorf("read-back: configured components: %w", err)
	}
	c.static = append(c.static, conf)
	tm, err := targetsMetric(targets)
	if err != nil {
		return nil, fmt.Errorf("read-back: target accounts: %w", err)
	}
	c.static = append(c.static, tm)
	return c, nil
}

func sortedKeys(m map[string]float64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Describe sends nothing: see trustCollector.
func (c *trustCollector) Describe(chan<- *prometheus.Desc) {}

// Collect sends the configuration gauges and the latest refresh's series.
func (c *trustCollector) Collect(ch chan<- prometheus.Metric) {
	for _, m := range c.static {
		ch <- m
	}
	if cur := c.current.Load(); cur != nil {
		for _, m := range *cur {
			ch <- m
		}
	}
}

func (c *trustCollector) set(ms []prometheus.Metric) { c.current.Store(&ms) }

func (c *trustCollector) builder() *builder { return &builder{} }

// builder collects one refresh's series before they are swapped in.
type builder struct {
	metrics []prometheus.Metric
}

// add appends a gauge sample. Non-finite values are never exported (they
// cannot occur: package indicator returns nil instead), so they are dropped.
func (b *builder) add(desc *prometheus.Desc, v float64, labels ...string) error {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	m, err := prometheus.NewConstMetric(desc, prometheus.GaugeValue, v, labels...)
	if err != nil {
		return fmt.Errorf("read-back: series %s %q: %w", desc, labels, err)
	}
	b.metrics = append(b.metrics, m)
	return nil
}
