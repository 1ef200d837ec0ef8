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
	for _, t := range rowsByTable(&aggregate.Snapshot{}) {
		m.rowsWritten.WithLabelValues(t.table)
	}
	return m
}

// Stored records a stored snapshot: its rows, how long storing it took
// and when it finished.
func (m *Metrics) Stored(snap *aggregate.Snapshot, took time.Duration, at time.Time) {
	m.flushDuration.Observe(took.Seconds())
	m.lastFlush.Set(float64(at.UnixNano()) / 1e9)
	for _, t := range rowsByTable(snap) {
		m.rowsWritten.WithLabelValues(t.table).Add(float64(t.rows))
	}
}

// tableRows is how many rows a snapshot writes to one storage table.
type tableRows struct {
	table string // the table label of trustpipe_rows_written_total
	rows  int
}

// rowsByTable lists the rows a snapshot writes, table by table: the one
// list of tables behind trustpipe_rows_written_total.
func rowsByTable(snap *aggregate.Snapshot) []tableRows {
	return []tableRows{
		{"counts", len(snap.Counts)}, {"contacts", len(snap.Contacts)}, {"cohorts", len(snap.Cohorts)},
		{"uniques", len(snap.Uniques)}, {"clicks", len(snap.Clicks)}, {"accounts", len(snap.Accounts)},
		{"account_contacts", len(snap.AccountContacts)}, {"ids", len(snap.IDs)}, {"lineage", len(snap.Lineage)},
		{"messages", len(snap.Messages)}, {"contact_states", len(snap.ContactStates)}, {"ledger", len(snap.Ledger)},
	}
}

// Failed counts a failed attempt to store a snapshot.
func (m *Metrics) Failed() { m.errors.Inc() }

// Retried counts a retry of a failed attempt.
func (m *Metrics) Retried() { m.retries.Inc() }
