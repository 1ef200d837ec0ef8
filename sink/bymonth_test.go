package sink

import (
	"fmt"
	"testing"
	"time"
)

func TestByMonth(t *testing.T) {
	at := func(y int, m time.Month) int64 { return time.Date(y, m, 15, 0, 0, 0, 0, time.UTC).Unix() }
	cases := []struct {
		name  string
		rows  []int64
		limit int
		want  string
	}{
		{"empty", nil, 2, "[[]]"},
		{"within the limit, unsorted, kept as is", []int64{at(2026, 3), at(2026, 2), at(2026, 3)}, 2, fmt.Sprint([][]int64{{at(2026, 3), at(2026, 2), at(2026, 3)}})},
		{"span over the limit is sorted and cut at month changes", []int64{at(2026, 4), at(2026, 1), at(2026, 2), at(2026, 1), at(2026, 3)}, 2,
			fmt.Sprint([][]int64{{at(2026, 1), at(2026, 1), at(2026, 2)}, {at(2026, 3), at(2026, 4)}})},
		{"a wide span with few months present stays one run", []int64{at(2026, 1), at(2020, 1)}, 2, fmt.Sprint([][]int64{{at(2020, 1), at(2026, 1)}})},
		{"year boundary", []int64{at(2025, 12), at(2026, 1), at(2025, 11)}, 1, fmt.Sprint([][]int64{{at(2025, 11)}, {at(2025, 12)}, {at(2026, 1)}})},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := byMonth(tc.rows, func(r *int64) int64 { return *r }, tc.limit)
			if fmt.Sprint(got) != tc.want {
				t.Fatalf("byMonth = %v, want %s", got, tc.want)
			}
		})
	}
}
