package indicator

// Trust Index bands: the thresholds every view of the Index colours by — the
// Grafana dashboards' red / orange / green steps and the HTML report's
// bands — so that "at risk" means the same number everywhere.
const (
	// IndexAtRisk: an Index below it is at risk (red).
	IndexAtRisk = 50.0
	// IndexHealthy: an Index at or above it is healthy (green); between
	// IndexAtRisk and IndexHealthy it needs watching (orange).
	IndexHealthy = 70.0
)

// Band names the band of an Index value: "at-risk", "watch", "healthy", or
// "none" without a value.
func Band(v *float64) string {
	switch {
	case v == nil:
		return "none"
	case *v < IndexAtRisk:
		return "at-risk"
	case *v < IndexHealthy:
		return "watch"
	}
	return "healthy"
}
