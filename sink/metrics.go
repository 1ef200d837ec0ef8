package sink

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/trustpipe/trustpipe/aggregate"
)

// Metrics are the storage stage's Prometheus metrics (names in the package
// doc). The conductor that stores snapshots (consumers.Pipeline) reports to
// them: a snapshot's flush spans the dead-letter topic, ClickHouse and the
// offset commit, and only the conductor sees all three.
type Metrics struct {
	rowsWritten   *prometheus.CounterVec
	flushDuration prometheus.Histogram
	lastFlush     prometheus.Gauge
	errors        prometheus.Counter
	retries       prometheus.Counter
}

// NewMetrics registers the storage metrics on reg; it panics if they are
// registered there already, like every promauto constructor.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	f := promauto.With(reg)
	m := &Metrics{
		flushDuration: f.NewHistogram(prometheus.HistogramOpts{
			Name: "trustpipe_flush_duration_seconds", Help: "Time to store one snapshot (dead letters, ClickHouse rows, commit), including retries.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
		}),
		rowsWritten: f.NewCounterVec(prometheus.CounterOpts{
			Name: "trustpipe_rows_written_total", Help: "Rows inserted into ClickHouse, by storage table.",
		}, []string{"table"}),
		errors: f.NewCounter(prometheus.CounterOpts{
			Name: "trustpipe_sink_errors_total", Help: "Failed attempts to store a snapshot (ClickHouse or dead-letter topic).",
		}),
		retries: f.NewCounter(prometheus.CounterOpts{
			Name: "trustpipe_sink_retries_total", Help: "Retries of a failed snapshot store.",
		}),
		lastFlush: f.NewGauge(prometheus.GaugeOpts{
			Name: "trustpipe_last_flush_success_timestamp_seconds", Help: "Unix time of the last successfully stored snapshot.",
		}),
	}
	// Every table's series exists from the start, so rate() sees the first
	// rows written.
	for _, table := range []string{"counts", "contacts", "cohorts", "uniques", "clicks", "accounts", "account_contacts", "ids", "contact_states", "ledger"} {
		m.rowsWritten.WithLabelValues(table)
	}
	return m
}

// Stored records a stored snapshot: its rows, how long storing it took
// and when it finished.
func (m *Metrics) Stored(snap *aggregate.Snapshot, took time.Duration, at time.Time) {
	m.flushDuration.Observe(took.Seconds())
	m.lastFlush.Set(float64(at.UnixNano()) / 1e9)
	m.rowsWritten.WithLabelValues("counts").Add(float64(len(snap.Counts)))
	m.rowsWritten.WithLabelValues("contacts").Add(float64(len(snap.Contacts)))
	m.rowsWritten.WithLabelValues("cohorts").Add(float64(len(snap.Cohorts)))
	m.rowsWritten.WithLabelValues("uniques").Add(float64(len(snap.Uniques)))
	m.rowsWritten.WithLabelValues("clicks").Add(float64(len(snap.Clicks)))
	m.rowsWritten.WithLabelValues("accounts").Add(float64(len(snap.Accounts)))
	m.rowsWritten.WithLabelValues("account_contacts").Add(float64(len(snap.AccountContacts)))
	m.rowsWritten.WithLabelValues("ids").Add(float64(len(snap.IDs)))
	m.rowsWritten.WithLabelValues("contact_states").Add(float64(len(snap.ContactStates)))
	m.rowsWritten.WithLabelValues("ledger").Add(float64(len(snap.Ledger)))
}

// Failed counts a failed attempt to store a snapshot.
func (m *Metrics) Failed() { m.errors.Inc() }

// Retried counts a retry of a failed attempt.
func (m *Metrics) Retried() { m.retries.Inc() }
