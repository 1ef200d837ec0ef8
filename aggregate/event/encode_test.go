package event

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestAppendJSON(t *testing.T) {
	ts := time.Date(2025, 6, 1, 10, 0, 0, 123000000, time.UTC)
	tests := []struct {
		name string
		ev   Event
		want string
	}{
		{"minimal", Event{ID: "e", Type: Click, OccurredAt: ts, ContactID: "c", Channel: "other"},
			`{"event_id":"e","type":"click","occurred_at":"2025-06-01T10:00:00.123Z","contact_id":"c","channel":"other"}`},
		{"all top-level fields", Event{ID: "e", Type: Send, OccurredAt: ts, ContactID: "c", AccountID: "a", CampaignID: "k",
			Channel: "email", Segment: "s", Source: "src", ConsentTier: 3, Personalization: "basic", Reason: "r", Detail: DetailExplained},
			`{"event_id":"e","type":"send","occurred_at":"2025-06-01T10:00:00.123Z","contact_id":"c","account_id":"a","campaign_id":"k","channel":"email","segment":"s","source":"src","consent_tier":3,"personalization":"basic","reason":"r"}`},
		{"bounce with kind", Event{ID: "e", Type: Bounce, OccurredAt: ts, ContactID: "c", Channel: "email", Detail: "soft"},
			`{"event_id":"e","type":"bounce","occurred_at":"2025-06-01T10:00:00.123Z","contact_id":"c","channel":"email","properties":{"kind":"soft"}}`},
		{"bounce without kind", Event{ID: "e", Type: Bounce, OccurredAt: ts, ContactID: "c", Channel: "email"},
			`{"event_id":"e","type":"bounce","occurred_at":"2025-06-01T10:00:00.123Z","contact_id":"c","channel":"email"}`},
		{"machine open", Event{ID: "e", Type: Open, OccurredAt: ts, ContactID: "c", Channel: "email", Detail: DetailMachine},
			`{"event_id":"e","type":"open","occurred_at":"2025-06-01T10:00:00.123Z","contact_id":"c","channel":"email","properties":{"machine":true}}`},
		{"consent_change", Event{ID: "e", Type: ConsentChange, OccurredAt: ts, ContactID: "c", Channel: "other", FromTier: 2, ToTier: 0, Detail: "2->0"},
			`{"event_id":"e","type":"consent_change","occurred_at":"2025-06-01T10:00:00.123Z","contact_id":"c","channel":"other","properties":{"from_tier":2,"to_tier":0}}`},
		{"web_session", Event{ID: "e", Type: WebSession, OccurredAt: ts, Channel: "web", Detail: "referral"},
			`{"event_id":"e","type":"web_session","occurred_at":"2025-06-01T10:00:00.123Z","channel":"web","properties":{"traffic_source":"referral"}}`},
		{"sentiment", Event{ID: "e", Type: Sentiment, OccurredAt: ts, ContactID: "c", Channel: "sales", Score: 1e-7},
			`{"event_id":"e","type":"sentiment","occurred_at":"2025-06-01T10:00:00.123Z","contact_id":"c","channel":"sales","properties":{"score":1e-07}}`},
		{"feedback", Event{ID: "e", Type: Feedback, OccurredAt: ts, ContactID: "c", Channel: "email", Detail: "too_frequent"},
			`{"event_id":"e","type":"feedback","occurred_at":"2025-06-01T10:00:00.123Z","contact_id":"c","channel":"email","properties":{"kind":"too_frequent"}}`},
		{"bot click", Event{ID: "e", Type: Click, OccurredAt: ts, ContactID: "c", Channel: "email", Detail: DetailBot},
			`{"event_id":"e","type":"click","occurred_at":"2025-06-01T10:00:00.123Z","contact_id":"c","channel":"email","properties":{"bot":true}}`},
		{"v1.1 follow-up", Event{ID: "e", Type: Open, OccurredAt: ts, ContactID: "c", Channel: "email", MessageID: "m",
			SentAt: ts.Add(-time.Hour).In(time.FixedZone("x", -3600)), MailboxProvider: "yahoo", SendingDomain: "d.example"},
			`{"event_id":"e","type":"open","occurred_at":"2025-06-01T10:00:00.123Z","contact_id":"c","channel":"email","message_id":"m","sent_at":"2025-06-01T09:00:00.123Z","mailbox_provider":"yahoo","sending_domain":"d.example"}`},
		{"v1.1 send properties", Event{ID: "e", Type: Send, OccurredAt: ts, ContactID: "c", Channel: "email", Reason: "r", Detail: DetailExplained,
			UnresolvedTokens: 1, FallbackTokens: 2, BrokenLinks: 3, Inputs: []string{"crm", "model:x\"y"}, ReasonVisible: true},
			`{"event_id":"e","type":"send","occurred_at":"2025-06-01T10:00:00.123Z","contact_id":"c","channel":"email","reason":"r","properties":{"unresolved_tokens":1,"fallback_tokens":2,"broken_links":3,"inputs":["crm","model:x\"y"],"reason_visible":true}}`},
		{"v1.1 send properties, some", Event{ID: "e", Type: Send, OccurredAt: ts, ContactID: "c", Channel: "email", BrokenLinks: 4294967295},
			`{"event_id":"e","type":"send","occurred_at":"2025-06-01T10:00:00.123Z","contact_id":"c","channel":"email","properties":{"broken_links":4294967295}}`},
		{"v1.1 send inputs only", Event{ID: "e", Type: Send, OccurredAt: ts, ContactID: "c", Channel: "email", Inputs: []string{"enrichment"}},
			`{"event_id":"e","type":"send","occurred_at":"2025-06-01T10:00:00.123Z","contact_id":"c","channel":"email","properties":{"inputs":["enrichment"]}}`},
		{"escaping", Event{ID: "q\"b\\s\n\r\t\b\f\x00\x1f\x7f é😀", Type: Click, OccurredAt: ts.In(time.FixedZone("x", 3600)), ContactID: "</script>", Channel: "other"},
			`{"event_id":"q\"b\\s\n\r\t\b\f\u0000\u001f` + "\x7f é😀" + `","type":"click","occurred_at":"2025-06-01T10:00:00.123Z","contact_id":"</script>","channel":"other"}`},
		{"invalid UTF-8 replaced", Event{ID: "a\xffb\xc3", Type: Click, OccurredAt: ts, ContactID: "c"},
			`{"event_id":"a\ufffdb\ufffd","type":"click","occurred_at":"2025-06-01T10:00:00.123Z","contact_id":"c"}`},
		{"non-finite score", Event{ID: "e", Type: Sentiment, OccurredAt: ts, ContactID: "c", Score: math.NaN()},
			`{"event_id":"e","type":"sentiment","occurred_at":"2025-06-01T10:00:00.123Z","contact_id":"c","properties":{"score":null}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := AppendJSON([]byte("prefix"), &tt.ev)
			if string(got) != "prefix"+tt.want {
				t.Fatalf("AppendJSON =\n%s\nwant\n%s", got[6:], tt.want)
			}
			if !json.Valid(got[6:]) {
				t.Fatalf("output is not valid JSON: %s", got[6:])
			}
		})
	}
}

// TestAppendJSONRoundTrip checks the encoder's contract on hand-built events
// with the edge cases that are easy to get wrong: every one of them is a
// valid event and must come back unchanged.
func TestAppendJSONRoundTrip(t *testing.T) {
	ts := time.Date(2025, 5, 31, 23, 59, 59, 999999999, time.UTC)
	events := []Event{
		{ID: "e", Type: Open, OccurredAt: ts, ContactID: "c", Channel: "email", Detail: DetailMachine},
		{ID: "e", Type: Open, OccurredAt: ts, ContactID: "c", Channel: "email"},
		{ID: "e", Type: Send, OccurredAt: ts, ContactID: "c", Channel: "email", Reason: "because", Detail: DetailExplained},
		{ID: "e", Type: Bounce, OccurredAt: ts, ContactID: "c", Channel: "email"},
		{ID: "e", Type: Bounce, OccurredAt: ts, ContactID: "c", Channel: "email", Detail: "hard"},
		{ID: "e", Type: ConsentChange, OccurredAt: ts, ContactID: "c", Channel: "other", Detail: "0->0"},
		{ID: "e", Type: ConsentChange, OccurredAt: ts, ContactID: "c", Channel: "other", FromTier: 3, ToTier: 1, Detail: "3->1", ConsentTier: 3},
		{ID: "e", Type: WebSession, OccurredAt: ts, Channel: "web", Detail: "social"},
		{ID: "e", Type: Sentiment, OccurredAt: ts, ContactID: "c", Channel: "sales", Score: -1},
		{ID: "e", Type: Sentiment, OccurredAt: ts, ContactID: "c", Channel: "sales", Score: 0.1 + 0.2},
		{ID: "e", Type: Sentiment, OccurredAt: ts, ContactID: "c", Channel: "sales", Score: 5e-324},
		{ID: "e", Type: Feedback, OccurredAt: ts, ContactID: "c", Channel: "sms", Detail: "helpful", Reason: "r"},
		{ID: "e", Type: Click, OccurredAt: ts, ContactID: "c", Channel: "email", Detail: DetailBot, MessageID: "m", SentAt: ts.Add(-48 * time.Hour),
			MailboxProvider: "microsoft", SendingDomain: "mail.example"},
		{ID: "e", Type: Send, OccurredAt: ts, ContactID: "c", Channel: "email", MessageID: strings.Repeat("m", MaxMessageIDLen),
			UnresolvedTokens: 4294967295, Detail: "merge_defect+lineage+input_beyond_consent", Inputs: []string{"model:" + strings.Repeat("é", (MaxInputTagLen-6)/2), "third_party_intent"}},
		{ID: "e", Type: Send, OccurredAt: ts, ContactID: "c", Channel: "email", Reason: "r", Detail: "explained+visible", ReasonVisible: true, FallbackTokens: 1},
		{ID: "e", Type: Send, OccurredAt: ts, ContactID: "c", Channel: "email", Reason: "r", Detail: "explained+broken_link", BrokenLinks: 2},
		{ID: "e", Type: Delivered, OccurredAt: ts, ContactID: "c", Channel: "email", SentAt: ts.Add(5 * time.Minute)},
		{ID: strings.Repeat("\x01", MaxEventIDLen), Type: Complaint, OccurredAt: ts, ContactID: "\u2028\u2029", Channel: "other",
			Segment: strings.Repeat("é", MaxSegmentLen/2), Reason: strings.Repeat(`"`, MaxReasonLen)},
	}
	for _, ev := range events {
		out := AppendJSON(nil, &ev)
		var got Event
		if rej := NewDecoder(DefaultLimits()).Decode(out, refTime, &got); rej != nil {
			t.Errorf("Decode(AppendJSON(%+v)) = %v\n%s", ev, rej, out)
			continue
		}
		if !reflect.DeepEqual(got, ev) {
			t.Errorf("round trip via %s:\n got %+v\nwant %+v", out, got, ev)
		}
	}
}

func BenchmarkAppendJSON(b *testing.B) {
	var ev Event
	if rej := NewDecoder(DefaultLimits()).Decode(typical, refTime, &ev); rej != nil {
		b.Fatal(rej)
	}
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	b.SetBytes(int64(len(AppendJSON(nil, &ev))))
	for b.Loop() {
		buf = AppendJSON(buf[:0], &ev)
	}
}
