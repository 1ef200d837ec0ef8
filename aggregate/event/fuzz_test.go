package event

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"testing"
	"time"
)

// FuzzDecode checks, for arbitrary input, that Decode never panics, returns
// only documented reasons and zeroes rejected events, agrees with
// encoding/json about well-formedness, and that every accepted event
// survives AppendJSON and Decode unchanged. The seed corpus is the golden
// inputs; crashers found by the fuzzer live in testdata/fuzz/FuzzDecode.
func FuzzDecode(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "decode", "*.json"))
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add(typical)
	f.Add(typicalV11)
	reasons := Reasons()
	d := NewDecoder(DefaultLimits())
	f.Fuzz(func(t *testing.T, data []byte) {
		orig := bytes.Clone(data)
		var ev Event
		rej := d.Decode(data, refTime, &ev)
		if !bytes.Equal(data, orig) {
			t.Fatal("Decode modified its input")
		}
		if rej != nil {
			if !slices.Contains(reasons, rej.Reason) {
				t.Fatalf("undocumented reason %q", rej.Reason)
			}
			if !reflect.DeepEqual(ev, Event{}) {
				t.Fatalf("rejected (%v) but event not zeroed: %+v", rej, ev)
			}
			switch rej.Reason {
			case ReasonInvalidUTF8, ReasonTooLarge, ReasonTooDeep, ReasonDuplicateKey:
				// encoding/json does not check these.
			case ReasonInvalidJSON:
				// encoding/json tolerates unpaired surrogate escapes.
				if json.Valid(data) && !bytes.Contains(bytes.ToLower(data), []byte(`\ud`)) {
					t.Fatalf("invalid_json (%v) but encoding/json finds it valid", rej)
				}
			default:
				if !json.Valid(data) {
					t.Fatalf("rejected with %v but encoding/json finds it malformed", rej)
				}
			}
			return
		}
		if !json.Valid(data) {
			t.Fatal("accepted a document encoding/json finds malformed")
		}
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatalf("accepted, but not an object for encoding/json: %v", err)
		}
		out := AppendJSON(nil, &ev)
		var again Event
		if rej := d.Decode(out, refTime, &again); rej != nil {
			t.Fatalf("re-decoding %s: %v", out, rej)
		}
		if !reflect.DeepEqual(again, ev) {
			t.Fatalf("round trip via %s:\n got %+v\nwant %+v", out, again, ev)
		}
	})
}

// FuzzParseTime checks the hand-written timestamp parser against
// time.Parse: whatever it accepts, time.Parse accepts as the same instant,
// and whatever time.Parse accepts that is RFC 3339 (time.Parse also
// tolerates one-digit hours, offsets of 24h or more, ',' decimal
// separators), it accepts too.
func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"2025-06-01T10:00:00Z", "2024-02-29T23:59:59.999999999+05:30", "0000-01-01T00:00:00-23:59",
		"2025-06-01T10:00:00.1234567891Z", "2025-06-01T10:00:00,5Z", "2025-06-01T10:00:00+24:00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseTime([]byte(s))
		want, err := time.Parse(time.RFC3339Nano, s)
		if ok {
			if err != nil {
				t.Fatalf("parseTime(%q) = %v, but time.Parse fails: %v", s, got, err)
			}
			if !rfc3339.MatchString(s) {
				t.Fatalf("parseTime(%q) accepts a string outside the RFC 3339 grammar", s)
			}
			if !reflect.DeepEqual(got, want.UTC()) {
				t.Fatalf("parseTime(%q) = %v, time.Parse = %v", s, got, want.UTC())
			}
			return
		}
		if err == nil && rfc3339.MatchString(s) {
			t.Fatalf("parseTime(%q) fails, time.Parse = %v", s, want)
		}
	})
}

// rfc3339 is the RFC 3339 date-time grammar (with the upper-case T and Z
// that time.Parse requires) and its offset ranges.
var rfc3339 = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$`)
