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

// typicalV11 is a send with every v1.1 field a send may carry.
var typicalV11 = []byte(`{"event_id":"evt-01HZX3K7Q9M2N4P6R8T0V1W3Y5","type":"send","occurred_at":"2025-06-01T11:58:30.123Z","contact_id":"c-7f3a9b2e41d0","campaign_id":"spring-launch-2025","channel":"email","segment":"enterprise-emea","source":"marketo","consent_tier":3,"personalization":"predictive","reason":"you downloaded the pricing guide","message_id":"msg-5b1e0c","mailbox_provider":"gmail","sending_domain":"news.example.com","properties":{"unresolved_tokens":0,"fallback_tokens":1,"broken_links":0,"inputs":["crm","web_behaviour","model:propensity-v3"],"reason_visible":true}}`)

// TestDecodeAllocs checks that decoding allocates nothing: not at all for a
// v1 record, and for a send with inputs only when a pool chunk runs out
// (under one allocation per record, which AllocsPerRun rounds to 0).
func TestDecodeAllocs(t *testing.T) {
	for name, rec := range map[string][]byte{"typical": typical, "v1.1 send": typicalV11} {
		d := NewDecoder(DefaultLimits())
		var ev Event
		allocs := testing.AllocsPerRun(100, func() {
			if rej := d.Decode(rec, refTime, &ev); rej != nil {
				t.Fatal(rej)
			}
		})
		if allocs != 0 {
			t.Errorf("Decode of a %s record allocates %v times, want 0", name, allocs)
		}
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
