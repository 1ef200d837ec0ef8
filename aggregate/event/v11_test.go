package event

import (
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// send builds a send record with the given properties object ("" for none)
// and further top-level pairs, like doc.
func send(props string, pairs ...string) string {
	return doc(append([]string{"type", `"send"`, "properties", props}, pairs...)...)
}

func TestDecodeV11Valid(t *testing.T) {
	ts := at("2025-06-01T10:00:00Z")
	base := func(typ Type) Event {
		return Event{ID: "e1", Type: typ, OccurredAt: ts, ContactID: "c1", Channel: DefaultChannel}
	}
	with := func(ev Event, f func(*Event)) Event { f(&ev); return ev }
	email := func(typ Type) Event { return with(base(typ), func(e *Event) { e.Channel = "email" }) }
	tests := []struct {
		name string
		in   string
		want Event
	}{
		{"message_id on send", send("", "message_id", `"m-1"`), with(base(Send), func(e *Event) { e.MessageID = "m-1" })},
		{"message_id at limit", doc("message_id", `"`+strings.Repeat("m", MaxMessageIDLen)+`"`),
			with(base(Click), func(e *Event) { e.MessageID = strings.Repeat("m", MaxMessageIDLen) })},
		{"message_id null and empty are absent", doc("message_id", `null`, "sending_domain", `""`, "mailbox_provider", `null`, "sent_at", `""`), base(Click)},
		{"message_id on a form_fill when empty", doc("type", `"form_fill"`, "message_id", `""`, "sent_at", `null`), base(FormFill)},
		{"sent_at on a follow-up", doc("type", `"unsubscribe"`, "message_id", `"m"`, "sent_at", `"2025-06-01T08:00:00.5+02:00"`),
			with(base(Unsubscribe), func(e *Event) { e.MessageID, e.SentAt = "m", at("2025-06-01T06:00:00.5Z") })},
		{"sent_at within skew after occurred_at", doc("sent_at", `"2025-06-01T10:05:00Z"`),
			with(base(Click), func(e *Event) { e.SentAt = at("2025-06-01T10:05:00Z") })},
		{"sent_at oldest allowed", doc("sent_at", `"2024-04-27T12:00:00Z"`),
			with(base(Click), func(e *Event) { e.SentAt = at("2024-04-27T12:00:00Z") })},
		{"email fields", doc("type", `"complaint"`, "channel", `"email"`, "mailbox_provider", `"gmail"`, "sending_domain", `"news.example.com"`),
			with(email(Complaint), func(e *Event) { e.MailboxProvider, e.SendingDomain = "gmail", "news.example.com" })},
		{"sending_domain lower-cased", doc("channel", `"email"`, "sending_domain", `"News.EXAMPLE.com"`),
			with(email(Click), func(e *Event) { e.SendingDomain = "news.example.com" })},
		{"sending_domain escaped and lower-cased", doc("channel", `"email"`, "sending_domain", `"\u0041.example"`),
			with(email(Click), func(e *Event) { e.SendingDomain = "a.example" })},
		{"sending_domain at limit", doc("channel", `"email"`, "sending_domain", `"`+strings.Repeat("d", MaxSendingDomainLen)+`"`),
			with(email(Click), func(e *Event) { e.SendingDomain = strings.Repeat("d", MaxSendingDomainLen) })},
		{"email fields on a web_session by email", doc("type", `"web_session"`, "channel", `"email"`, "mailbox_provider", `"apple"`, "properties", `{"traffic_source":"email"}`),
			with(email(WebSession), func(e *Event) { e.MailboxProvider, e.Detail = "apple", "email" })},
		{"bot click", doc("properties", `{"bot":true}`), with(base(Click), func(e *Event) { e.Detail = DetailBot })},
		{"human click", doc("properties", `{"bot":false}`), base(Click)},
		{"bot null", doc("properties", `{"bot":null}`), base(Click)},
		{"bot on an open is ignored", doc("type", `"open"`, "properties", `{"bot":"x"}`), base(Open)},
		{"send properties on a click are ignored", doc("properties", `{"inputs":5,"broken_links":-1,"reason_visible":"x"}`), base(Click)},
		{"send counts", send(`{"unresolved_tokens":2,"fallback_tokens":0,"broken_links":4294967295}`),
			with(base(Send), func(e *Event) {
				e.UnresolvedTokens, e.BrokenLinks, e.Detail = 2, 4294967295, "merge_defect+broken_link"
			})},
		{"send counts integral forms", send(`{"unresolved_tokens":2.0,"fallback_tokens":1e3,"broken_links":-0}`),
			with(base(Send), func(e *Event) { e.UnresolvedTokens, e.FallbackTokens, e.Detail = 2, 1000, "merge_defect" })},
		{"send counts null", send(`{"unresolved_tokens":null}`), base(Send)},
		{"inputs", send(`{"inputs":["crm", "web_behaviour","third_party_intent","enrichment","model:churn-v2"]}`),
			with(base(Send), func(e *Event) {
				e.Inputs = []string{"crm", "web_behaviour", "third_party_intent", "enrichment", "model:churn-v2"}
				e.Detail = "lineage+input_beyond_consent" // tier 0 covers no input
			})},
		{"inputs at limits", send(`{"inputs":["crm","web_behaviour","third_party_intent","enrichment","model:a","model:b","model:c","model:` + strings.Repeat("x", MaxInputTagLen-len(ModelInputPrefix)) + `"]}`),
			with(base(Send), func(e *Event) {
				e.Inputs = []string{"crm", "web_behaviour", "third_party_intent", "enrichment", "model:a", "model:b", "model:c",
					"model:" + strings.Repeat("x", MaxInputTagLen-len(ModelInputPrefix))}
				e.Detail = "lineage+input_beyond_consent"
			})},
		{"inputs escaped", send(`{"inputs":["\u0063rm","model:\u00e9"]}`), with(base(Send), func(e *Event) {
			e.Inputs, e.Detail = []string{"crm", "model:é"}, "lineage+input_beyond_consent"
		})},
		{"inputs within consent", send(`{"inputs":["crm","web_behaviour","enrichment"]}`, "consent_tier", "2"),
			with(base(Send), func(e *Event) {
				e.Inputs, e.ConsentTier, e.Detail = []string{"crm", "web_behaviour", "enrichment"}, 2, "lineage"
			})},
		{"inputs beyond consent", send(`{"inputs":["crm","third_party_intent"]}`, "consent_tier", "2"),
			with(base(Send), func(e *Event) {
				e.Inputs, e.ConsentTier, e.Detail = []string{"crm", "third_party_intent"}, 2, "lineage+input_beyond_consent"
			})},
		{"model within consent", send(`{"inputs":["model:churn-v2"]}`, "consent_tier", "3"),
			with(base(Send), func(e *Event) { e.Inputs, e.ConsentTier, e.Detail = []string{"model:churn-v2"}, 3, "lineage" })},
		{"inputs empty", send(`{"inputs":[]}`), base(Send)},
		{"inputs null", send(`{"inputs":null}`), base(Send)},
		{"reason visible", send(`{"reason_visible":true}`, "reason", `"you asked"`),
			with(base(Send), func(e *Event) { e.Reason, e.Detail, e.ReasonVisible = "you asked", "explained+visible", true })},
		{"reason not visible without reason", send(`{"reason_visible":false}`), base(Send)},
		{"everything", send(`{"inputs":["crm"],"reason_visible":true,"fallback_tokens":3}`, "reason", `"r"`, "channel", `"email"`,
			"message_id", `"m"`, "mailbox_provider", `"other"`, "sending_domain", `"x.example"`),
			with(email(Send), func(e *Event) {
				e.Reason, e.Detail, e.MessageID, e.MailboxProvider, e.SendingDomain = "r", "explained+visible+lineage+input_beyond_consent", "m", "other", "x.example"
				e.Inputs, e.ReasonVisible, e.FallbackTokens = []string{"crm"}, true, 3
			})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, rej := decodeString(t, tt.in)
			if rej != nil {
				t.Fatalf("Decode(%s) rejected: %v", tt.in, rej)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Decode(%s)\n got %+v\nwant %+v", tt.in, got, tt.want)
			}
			out := AppendJSON(nil, &got)
			again, rej := decodeString(t, string(out))
			if rej != nil || !reflect.DeepEqual(again, got) {
				t.Errorf("round trip of %s via %s: %+v, %v", tt.in, out, again, rej)
			}
		})
	}
}

func TestDecodeV11Rejections(t *testing.T) {
	long := func(n int) string { return `"` + strings.Repeat("x", n) + `"` }
	tests := []struct {
		name   string
		in     string
		reason Reason
		detail string // substring of the detail
	}{
		// message_id
		{"message_id number", doc("message_id", `7`), ReasonWrongType, "message_id: want string"},
		{"message_id too long", doc("message_id", long(MaxMessageIDLen+1)), ReasonStringTooLong, "message_id is 129 bytes"},
		{"message_id on form_fill", doc("type", `"form_fill"`, "message_id", `"m"`), ReasonWrongType, "message_id: only on a send or a follow-up, not on form_fill"},
		{"message_id on opt_up", doc("type", `"opt_up"`, "message_id", `"m"`), ReasonWrongType, "message_id"},
		{"message_id on sentiment", doc("type", `"sentiment"`, "message_id", `"m"`, "properties", `{"score":0}`), ReasonWrongType, "message_id"},
		{"message_id on web_session", doc("type", `"web_session"`, "message_id", `"m"`, "properties", `{"traffic_source":"paid"}`), ReasonWrongType, "message_id"},
		{"message_id on consent_change", doc("type", `"consent_change"`, "message_id", `"m"`, "properties", `{"from_tier":1,"to_tier":2}`), ReasonWrongType, "message_id"},
		// sent_at
		{"sent_at number", doc("sent_at", `1717236000`), ReasonWrongType, "sent_at: want string"},
		{"sent_at no zone", doc("sent_at", `"2025-06-01T09:00:00"`), ReasonInvalidTimestamp, "sent_at"},
		{"sent_at future", doc("sent_at", `"2025-06-01T12:05:00.001Z"`), ReasonFutureTimestamp, "sent_at"},
		{"sent_at too old", doc("sent_at", `"2024-04-27T11:59:59Z"`), ReasonTooOld, "sent_at"},
		{"sent_at after occurred_at", doc("sent_at", `"2025-06-01T10:05:00.000000001Z"`), ReasonFutureTimestamp, "after occurred_at 2025-06-01T10:00:00Z"},
		{"sent_at on send", send("", "sent_at", `"2025-06-01T09:00:00Z"`), ReasonWrongType, "sent_at: only on a follow-up, not on send"},
		{"sent_at on form_fill", doc("type", `"form_fill"`, "sent_at", `"2025-06-01T09:00:00Z"`), ReasonWrongType, "sent_at"},
		// mailbox_provider
		{"mailbox_provider unknown", doc("channel", `"email"`, "mailbox_provider", `"aol"`), ReasonInvalidEnum, "mailbox_provider \"aol\" not in gmail|yahoo"},
		{"mailbox_provider case", doc("channel", `"email"`, "mailbox_provider", `"Gmail"`), ReasonInvalidEnum, ""},
		{"mailbox_provider bool", doc("channel", `"email"`, "mailbox_provider", `true`), ReasonWrongType, "mailbox_provider"},
		{"mailbox_provider on sms", doc("channel", `"sms"`, "mailbox_provider", `"gmail"`), ReasonWrongType, "mailbox_provider: only on an email event, not on click (channel sms)"},
		{"mailbox_provider without channel", doc("mailbox_provider", `"gmail"`), ReasonWrongType, "channel other"},
		// sending_domain
		{"sending_domain array", doc("channel", `"email"`, "sending_domain", `["a"]`), ReasonWrongType, "sending_domain"},
		{"sending_domain too long", doc("channel", `"email"`, "sending_domain", long(MaxSendingDomainLen+1)), ReasonStringTooLong, "sending_domain is 254 bytes"},
		{"sending_domain on web", doc("channel", `"web"`, "sending_domain", `"a.example"`), ReasonWrongType, "sending_domain: only on an email event"},
		// properties.bot
		{"bot string", doc("properties", `{"bot":"true"}`), ReasonWrongType, "properties.bot: want bool"},
		{"bot number", doc("properties", `{"bot":1}`), ReasonWrongType, "properties.bot"},
		// send counts
		{"unresolved_tokens string", send(`{"unresolved_tokens":"1"}`), ReasonWrongType, "properties.unresolved_tokens"},
		{"fallback_tokens fraction", send(`{"fallback_tokens":1.5}`), ReasonWrongType, "properties.fallback_tokens: want integer >= 0"},
		{"broken_links negative", send(`{"broken_links":-1}`), ReasonOutOfRange, "properties.broken_links \"-1\" not in 0-4294967295"},
		{"broken_links over uint32", send(`{"broken_links":4294967296}`), ReasonOutOfRange, "broken_links"},
		{"unresolved_tokens huge", send(`{"unresolved_tokens":1e30}`), ReasonOutOfRange, ""},
		{"fallback_tokens overflow", send(`{"fallback_tokens":1e999}`), ReasonOutOfRange, "overflows"},
		{"broken_links bool", send(`{"broken_links":true}`), ReasonWrongType, "got bool"},
		// inputs
		{"inputs string", send(`{"inputs":"crm"}`), ReasonWrongType, "properties.inputs: want array of strings, got string"},
		{"inputs object", send(`{"inputs":{"crm":true}}`), ReasonWrongType, "got object"},
		{"inputs number element", send(`{"inputs":["crm",1]}`), ReasonWrongType, "element of type number"},
		{"inputs null element", send(`{"inputs":[null]}`), ReasonWrongType, "element of type null"},
		{"inputs nested array", send(`{"inputs":[["crm"]]}`), ReasonWrongType, "element of type array"},
		{"inputs unknown tag", send(`{"inputs":["cookies"]}`), ReasonInvalidEnum, `properties.inputs "cookies" not in crm|web_behaviour|third_party_intent|enrichment|model:<id>`},
		{"inputs empty tag", send(`{"inputs":[""]}`), ReasonInvalidEnum, ""},
		{"inputs tag case", send(`{"inputs":["CRM"]}`), ReasonInvalidEnum, ""},
		{"inputs model without id", send(`{"inputs":["model:"]}`), ReasonInvalidEnum, ""},
		{"inputs model tag too long", send(`{"inputs":["model:` + strings.Repeat("x", MaxInputTagLen-len(ModelInputPrefix)+1) + `"]}`), ReasonStringTooLong, "tag is 65 bytes, limit 64"},
		{"inputs repeated", send(`{"inputs":["crm","enrichment","crm"]}`), ReasonInvalidEnum, `repeats "crm"`},
		{"inputs repeated model", send(`{"inputs":["model:a","model:\u0061"]}`), ReasonInvalidEnum, `repeats "model:a"`},
		{"inputs nine", send(`{"inputs":["crm","web_behaviour","third_party_intent","enrichment","model:1","model:2","model:3","model:4","model:5"]}`),
			ReasonOutOfRange, "more than 8 tags"},
		// reason_visible
		{"reason_visible string", send(`{"reason_visible":"yes"}`, "reason", `"r"`), ReasonWrongType, "properties.reason_visible"},
		{"reason_visible without reason", send(`{"reason_visible":true}`), ReasonMissingField, "reason (required when properties.reason_visible is true)"},
		{"reason_visible with empty reason", send(`{"reason_visible":true}`, "reason", `""`), ReasonMissingField, "reason"},
		// order: scan-time problems first, then placement, then properties
		{"scan problem beats placement", doc("type", `"form_fill"`, "message_id", `"m"`, "channel", `"fax"`), ReasonInvalidEnum, "channel"},
		{"placement beats properties", send(`{"inputs":"x"}`, "sent_at", `"2025-06-01T09:00:00Z"`), ReasonWrongType, "sent_at"},
		{"missing field beats placement", doc("type", `"form_fill"`, "message_id", `"m"`, "event_id", ""), ReasonMissingField, "event_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, rej := decodeString(t, tt.in)
			if rej == nil {
				t.Fatalf("Decode(%s) accepted: %+v", tt.in, ev)
			}
			if rej.Reason != tt.reason || !strings.Contains(rej.Detail, tt.detail) {
				t.Errorf("Decode(%s) = %v; want reason %s, detail containing %q", tt.in, rej, tt.reason, tt.detail)
			}
			if !reflect.DeepEqual(ev, Event{}) {
				t.Errorf("rejected event not zeroed: %+v", ev)
			}
		})
	}
}

// TestV11Placement checks every type against the placement rules of
// message_id and sent_at, with the allowed types listed here independently
// of Type.IsFollowUp.
func TestV11Placement(t *testing.T) {
	followUps := map[Type]bool{Delivered: true, Bounce: true, Open: true, Click: true, Unsubscribe: true, OptDown: true,
		PreferenceCenterVisit: true, Complaint: true, Feedback: true}
	props := `{"from_tier":0,"to_tier":1,"traffic_source":"direct","score":0,"kind":"helpful"}`
	for _, typ := range Types() {
		p := props
		if typ == Bounce {
			p = `{"kind":"hard"}`
		}
		for _, c := range []struct {
			field, value string
			allowed      bool
		}{
			{"message_id", `"m"`, typ == Send || followUps[typ]},
			{"sent_at", `"2025-06-01T09:00:00Z"`, followUps[typ]},
		} {
			in := doc("type", `"`+typ.String()+`"`, "properties", p, c.field, c.value)
			_, rej := decodeString(t, in)
			if c.allowed && rej != nil {
				t.Errorf("%s on %s rejected: %v", c.field, typ, rej)
			}
			if !c.allowed && (rej == nil || rej.Reason != ReasonWrongType) {
				t.Errorf("%s on %s: got %v, want wrong_type", c.field, typ, rej)
			}
		}
	}
}

func TestMailboxProviders(t *testing.T) {
	for _, v := range MailboxProviders {
		ev, rej := decodeString(t, doc("channel", `"email"`, "mailbox_provider", `"`+v+`"`))
		if rej != nil || ev.MailboxProvider != v {
			t.Errorf("mailbox_provider %q: got %q, %v", v, ev.MailboxProvider, rej)
		}
	}
}

// TestInputsStayIntact checks that Inputs of earlier events survive later
// decodes (they live in append-only pools) and that appending to one event's
// Inputs does not change another's, across several pool chunks.
func TestInputsStayIntact(t *testing.T) {
	d := NewDecoder(DefaultLimits())
	var kept []Event
	for i := range 3 * tagChunk {
		id := strconv.Itoa(i)
		var ev Event
		if rej := d.Decode([]byte(send(`{"inputs":["crm","model:m`+id+`"]}`)), refTime, &ev); rej != nil {
			t.Fatal(rej)
		}
		kept = append(kept, ev)
	}
	_ = append(kept[0].Inputs, "extra")
	for i, ev := range kept {
		if want := []string{"crm", "model:m" + strconv.Itoa(i)}; !reflect.DeepEqual(ev.Inputs, want) {
			t.Fatalf("event %d: Inputs = %q, want %q", i, ev.Inputs, want)
		}
	}
}

// TestSendDetails pins the Detail of every send flag combination (stored in
// trust_counts: changing one silently splits old rows from new) and checks
// that SendDetails enumerates exactly the valid ones.
func TestSendDetails(t *testing.T) {
	tests := []struct {
		f    SendFlags
		want string
	}{
		{SendFlags{}, ""},
		{SendFlags{Explained: true}, "explained"},
		{SendFlags{Explained: true, Visible: true}, "explained+visible"},
		{SendFlags{Visible: true}, "explained+visible"},
		{SendFlags{MergeDefect: true}, "merge_defect"},
		{SendFlags{BrokenLink: true}, "broken_link"},
		{SendFlags{MergeDefect: true, BrokenLink: true}, "merge_defect+broken_link"},
		{SendFlags{Explained: true, MergeDefect: true}, "explained+merge_defect"},
		{SendFlags{Explained: true, Visible: true, MergeDefect: true, BrokenLink: true}, "explained+visible+merge_defect+broken_link"},
		{SendFlags{Lineage: true}, "lineage"},
		{SendFlags{InputBeyondConsent: true}, "lineage+input_beyond_consent"},
		{SendFlags{Explained: true, Visible: true, Lineage: true, InputBeyondConsent: true}, "explained+visible+lineage+input_beyond_consent"},
		{SendFlags{PostUnsubscribe: true}, "post_unsubscribe"},
		{SendFlags{ConsentMismatch: true}, "consent_mismatch"},
		{SendFlags{Explained: true, PostUnsubscribe: true, ConsentMismatch: true}, "explained+post_unsubscribe+consent_mismatch"},
	}
	for _, tt := range tests {
		if got := tt.f.Detail(); got != tt.want {
			t.Errorf("%+v.Detail() = %q, want %q", tt.f, got, tt.want)
		}
	}
	all := SendDetails(func(SendFlags) bool { return true })
	if len(all) != 144 {
		t.Errorf("SendDetails(all) has %d details, want 144 = 3 (explained, visible) x 2 x 2 (defects) x 3 (lineage, beyond consent) x 2 x 2 (contact flags): %q", len(all), all)
	}
	seen := map[string]bool{}
	for _, d := range all {
		if seen[d] {
			t.Errorf("SendDetails repeats %q", d)
		}
		seen[d] = true
	}
	defects := SendDetails(func(f SendFlags) bool { return f.MergeDefect && !f.Lineage && !f.PostUnsubscribe && !f.ConsentMismatch })
	want := []string{"merge_defect", "explained+merge_defect", "explained+visible+merge_defect", "merge_defect+broken_link",
		"explained+merge_defect+broken_link", "explained+visible+merge_defect+broken_link"}
	if !reflect.DeepEqual(defects, want) {
		t.Errorf("SendDetails(merge defect) = %q, want %q", defects, want)
	}
}
