package event

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
)

// typical is a typical production record (~270 bytes), the benchmark's
// workload.
var typical = []byte(`{"event_id":"evt-01HZX3K7Q9M2N4P6R8T0V1W3Y5","type":"send","occurred_at":"2025-06-01T11:58:30.123Z","contact_id":"c-7f3a9b2e41d0","campaign_id":"spring-launch-2025","channel":"email","segment":"enterprise-emea","source":"marketo","consent_tier":2,"personalization":"behavioral"}`)

func TestDecodeAllocs(t *testing.T) {
	d := NewDecoder(DefaultLimits())
	var ev Event
	allocs := testing.AllocsPerRun(100, func() {
		if rej := d.Decode(typical, refTime, &ev); rej != nil {
			t.Fatal(rej)
		}
	})
	if allocs != 0 {
		t.Errorf("Decode of a typical record allocates %v times, want 0", allocs)
	}
}

func BenchmarkDecode(b *testing.B) {
	d := NewDecoder(DefaultLimits())
	var ev Event
	b.SetBytes(int64(len(typical)))
	b.ReportAllocs()
	for b.Loop() {
		if rej := d.Decode(typical, refTime, &ev); rej != nil {
			b.Fatal(rej)
		}
	}
}

// BenchmarkDecodeEncodingJSON is the baseline the hand-written decoder
// replaces: encoding/json into a struct, with none of the checks.
func BenchmarkDecodeEncodingJSON(b *testing.B) {
	var v struct {
		EventID         string  `json:"event_id"`
		Type            string  `json:"type"`
		OccurredAt      string  `json:"occurred_at"`
		ContactID       string  `json:"contact_id"`
		AccountID       string  `json:"account_id"`
		CampaignID      string  `json:"campaign_id"`
		Channel         string  `json:"channel"`
		Segment         string  `json:"segment"`
		Source          string  `json:"source"`
		ConsentTier     float64 `json:"consent_tier"`
		Personalization string  `json:"personalization"`
		Reason          string  `json:"reason"`
		Properties      map[string]any
	}
	b.SetBytes(int64(len(typical)))
	b.ReportAllocs()
	for b.Loop() {
		if err := json.Unmarshal(typical, &v); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeHostile decodes a record at the size limit made of
// thousands of keys, the worst case of the duplicate-key check; it must stay
// linear (tens of microseconds, not seconds).
func BenchmarkDecodeHostile(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(doc()[:len(doc())-1] + `,"x":{`)
	for i := 0; sb.Len() < DefaultLimits().MaxBytes-16; i++ {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(`"` + strconv.Itoa(i) + `":0`)
	}
	sb.WriteString(`}}`)
	data := []byte(sb.String())
	d := NewDecoder(DefaultLimits())
	var ev Event
	if rej := d.Decode(data, refTime, &ev); rej != nil {
		b.Fatal(rej)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if rej := d.Decode(data, refTime, &ev); rej != nil {
			b.Fatal(rej)
		}
	}
}
