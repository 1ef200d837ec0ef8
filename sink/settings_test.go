package sink

import (
	"slices"
	"testing"
)

func TestSettingsDiff(t *testing.T) {
	for _, tc := range []struct {
		name, recorded, current string
		want                    []string
	}{
		{"same", "bucket=1m0s block=10000", "bucket=1m0s block=10000", nil},
		{"changed value", "bucket=1m0s block=10000", "bucket=1m0s block=5000", []string{"block"}},
		{"field added since recorded", "bucket=1m0s block=10000", "bucket=1m0s block=10000 lineage_models=", nil},
		{"added field and changed value", "bucket=1m0s block=10000", "bucket=1h0m0s block=10000 lineage_horizon=168h0m0s", []string{"bucket"}},
		{"field removed", "bucket=1m0s block=10000 old=1", "bucket=1m0s block=10000", []string{"old"}},
		{"empty value changed", "bucket=1m0s lineage_models=", "bucket=1m0s lineage_models=a", []string{"lineage_models"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := settingsDiff(tc.recorded, tc.current); !slices.Equal(got, tc.want) {
				t.Fatalf("settingsDiff(%q, %q) = %v, want %v", tc.recorded, tc.current, got, tc.want)
			}
		})
	}
}
