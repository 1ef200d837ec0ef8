package event

import (
	"testing"
	"time"
)

// TestDecodeTimeBounds checks the fixed bounds of occurred_at and sent_at
// (what ClickHouse stores without wrapping the date) with record timestamps
// that match the event, so the reference-time checks alone would accept
// them, and records without a timestamp, which must be judged without the
// wall clock.
func TestDecodeTimeBounds(t *testing.T) {
	var none time.Time // a record without a timestamp, as kafka-go reports it
	tests := []struct {
		name  string
		ref   time.Time
		pairs []string // doc pairs
		want  Reason   // "" = accepted
	}{
		{"1969 stamped 1970-01-01", at("1970-01-01T00:00:01Z"), []string{"occurred_at", `"1969-12-31T23:59:59Z"`}, ReasonTimestampOutOfRange},
		{"1969 stamped at the epoch", time.Unix(0, 0), []string{"occurred_at", `"1969-12-31T23:59:59.999999999Z"`}, ReasonTimestampOutOfRange},
		{"1969 without record timestamp", none, []string{"occurred_at", `"1969-12-31T00:00:00Z"`}, ReasonTimestampOutOfRange},
		{"1969 by its offset", at("1970-01-01T00:00:01Z"), []string{"occurred_at", `"1970-01-01T00:30:00+01:00"`}, ReasonTimestampOutOfRange},
		{"epoch", time.Unix(0, 0), []string{"occurred_at", `"1970-01-01T00:00:00Z"`}, ""},
		{"1970 by its offset", at("1970-01-01T01:00:00Z"), []string{"occurred_at", `"1969-12-31T23:30:00-01:00"`}, ""},
		{"2150 stamped 2150", at("2150-01-01T00:00:00Z"), []string{"occurred_at", `"2150-01-01T00:00:00Z"`}, ReasonTimestampOutOfRange},
		{"2200 stamped 2200", at("2200-06-01T12:00:00Z"), []string{"occurred_at", `"2200-06-01T11:59:00Z"`}, ReasonTimestampOutOfRange},
		{"2200 without record timestamp", none, []string{"occurred_at", `"2200-06-01T11:59:00Z"`}, ReasonTimestampOutOfRange},
		{"last instant", at("2106-02-06T23:59:59Z"), []string{"occurred_at", `"2106-02-06T23:59:59.999999999Z"`}, ""},
		{"first wrapped day", at("2106-02-07T00:00:00Z"), []string{"occurred_at", `"2106-02-07T00:00:00Z"`}, ReasonTimestampOutOfRange},
		{"past the UInt32", at("2106-02-07T06:28:16Z"), []string{"occurred_at", `"2106-02-07T06:28:16Z"`}, ReasonTimestampOutOfRange},
		{"out of range beats too_old", at("2025-06-01T12:00:00Z"), []string{"occurred_at", `"1900-01-01T00:00:00Z"`}, ReasonTimestampOutOfRange},
		{"out of range beats future", at("2025-06-01T12:00:00Z"), []string{"occurred_at", `"2150-01-01T00:00:00Z"`}, ReasonTimestampOutOfRange},
		// sent_at, on a click (a follow-up)
		{"sent_at 1969", at("1970-01-01T00:00:10Z"), []string{"occurred_at", `"1970-01-01T00:00:10Z"`, "sent_at", `"1969-12-31T23:59:59Z"`}, ReasonTimestampOutOfRange},
		{"sent_at 1969 without record timestamp", none, []string{"occurred_at", `"1970-01-01T00:00:10Z"`, "sent_at", `"1969-12-31T23:59:59Z"`}, ReasonTimestampOutOfRange},
		{"sent_at 2150", at("2106-02-06T00:00:00Z"), []string{"occurred_at", `"2106-02-06T00:00:00Z"`, "sent_at", `"2150-01-01T00:00:00Z"`}, ReasonTimestampOutOfRange},
		{"sent_at at the epoch", at("1970-01-01T00:00:10Z"), []string{"occurred_at", `"1970-01-01T00:00:10Z"`, "sent_at", `"1970-01-01T00:00:00Z"`}, ""},
		// Without a record timestamp only the fixed bounds apply: the
		// verdict is the same on every re-read, whatever the wall clock.
		{"old event without record timestamp", none, []string{"occurred_at", `"2000-01-01T00:00:00Z"`}, ""},
		{"future event without record timestamp", none, []string{"occurred_at", `"2100-01-01T00:00:00Z"`}, ""},
		{"sent_at after occurred_at without record timestamp", none, []string{"occurred_at", `"2000-01-01T00:00:00Z"`, "sent_at", `"2000-01-01T00:05:01Z"`}, ReasonFutureTimestamp},
	}
	d := NewDecoder(DefaultLimits())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := doc(tt.pairs...)
			var ev Event
			rej := d.Decode([]byte(in), tt.ref, &ev)
			var got Reason
			if rej != nil {
				got = rej.Reason
			}
			if got != tt.want {
				t.Errorf("Decode(%s, ref %v) = %v, want %q", in, tt.ref, rej, tt.want)
			}
		})
	}
}

// TestTimeBounds pins the bounds to the dates they stand for, computed
// independently of the constants.
func TestTimeBounds(t *testing.T) {
	if want := time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC); !MinTime.Equal(want) {
		t.Errorf("MinTime = %v, want %v", MinTime, want)
	}
	if want := time.Date(2106, 2, 7, 0, 0, 0, 0, time.UTC).Add(-1); !MaxTime.Equal(want) {
		t.Errorf("MaxTime = %v, want %v", MaxTime, want)
	}
	if MaxTime.Unix() >= 1<<32 {
		t.Errorf("MaxTime %v does not fit a UInt32 DateTime", MaxTime)
	}
}
