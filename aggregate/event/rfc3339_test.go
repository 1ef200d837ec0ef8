package event

import (
	"reflect"
	"testing"
	"time"
)

func TestParseTimeMatchesTimeParse(t *testing.T) {
	valid := []string{
		"2025-06-01T10:00:00Z", "2025-06-01T10:00:00.1Z", "2025-06-01T10:00:00.123456789Z",
		"2025-06-01T10:00:00.1234567891234Z", "2025-06-01T10:00:00+00:00", "2025-06-01T10:00:00-00:00",
		"2025-06-01T10:00:00+23:59", "2025-06-01T10:00:00-23:59", "2024-02-29T23:59:59.999-07:00",
		"2000-02-29T00:00:00Z", "1970-01-01T00:00:00Z", "1969-12-31T23:59:59.5Z", "0000-01-01T00:00:00Z",
		"0000-03-01T00:00:00+01:00", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999999Z", "1600-02-29T12:00:00Z",
	}
	for _, s := range valid {
		want, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatalf("time.Parse(%q): %v", s, err)
		}
		got, ok := parseTime([]byte(s))
		if !ok || !reflect.DeepEqual(got, want.UTC()) {
			t.Errorf("parseTime(%q) = %v, %v; want %v", s, got, ok, want.UTC())
		}
	}
	// Every day from 1900 to 2100 at a few times of day.
	for day := time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC); day.Year() < 2100; day = day.AddDate(0, 0, 1) {
		for _, tt := range []time.Time{day, day.Add(23*time.Hour + 59*time.Minute + 59*time.Second + 999999999)} {
			s := tt.Format(time.RFC3339Nano)
			got, ok := parseTime([]byte(s))
			if !ok || !reflect.DeepEqual(got, tt) {
				t.Fatalf("parseTime(%q) = %v, %v; want %v", s, got, ok, tt)
			}
		}
	}
	invalid := []string{
		"", "2025-06-01", "2025-06-01T10:00:00", "2025-06-01T10:00Z", "2025-06-01t10:00:00Z", "2025-06-01T10:00:00z",
		"2025-13-01T10:00:00Z", "2025-00-01T10:00:00Z", "2025-04-31T10:00:00Z", "2023-02-29T10:00:00Z", "1900-02-29T10:00:00Z",
		"2025-06-01T24:00:00Z", "2025-06-01T10:60:00Z", "2025-06-01T10:00:60Z", "2025-06-01T10:00:00.Z",
		"2025-06-01T10:00:00+01", "2025-06-01T10:00:00+0100", "2025-06-01T10:00:00+01:00:00", "2025-06-01T10:00:00+1:00",
		"2025-06-01T10:00:00+24:00", "2025-06-01T10:00:00+01:60", "2025-06-01T10:00:00,5Z", "2025-06-01T10:00:00ZZ",
		"+2025-06-01T10:00:00Z", "2025-6-01T10:00:00Z", "2025-06-01T10:00:00 Z", "２025-06-01T10:00:00Z", "2025-06-01T1a:00:00Z",
	}
	for _, s := range invalid {
		if got, ok := parseTime([]byte(s)); ok {
			t.Errorf("parseTime(%q) = %v, want failure", s, got)
		}
	}
}
