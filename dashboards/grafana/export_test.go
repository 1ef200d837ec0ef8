package grafana

// SelectedForTest exposes the drill-down's variable filter to the query
// tests, which run it with hostile values.
var SelectedForTest = selected
