package event

import (
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// refTime is the reference time of every test: the "Kafka record timestamp".
var refTime = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func decodeString(t testing.TB, s string) (Event, *Rejection) {
	t.Helper()
	var ev Event
	rej := NewDecoder(DefaultLimits()).Decode([]byte(s), refTime, &ev)
	return ev, rej
}

// doc builds a record from a valid click and overrides: each pair is a
// top-level key and its raw JSON value ("" removes the key). Keys keep the
// base order, new keys are appended.
func doc(pairs ...string) string {
	keys := []string{"event_id", "type", "occurred_at", "contact_id"}
	vals := map[string]string{
		"event_id":    `"e1"`,
		"type":        `"click"`,
		"occurred_at": `"2025-06-01T10:00:00Z"`,
		"contact_id":  `"c1"`,
	}
	for i := 0; i < len(pairs); i += 2 {
		if _, ok := vals[pairs[i]]; !ok {
			keys = append(keys, pairs[i])
		}
		vals[pairs[i]] = pairs[i+1]
	}
	var b strings.Builder
	b.WriteByte('{')
	n := 0
	for _, k := range keys {
		if vals[k] == "" {
			continue
		}
		if n > 0 {
			b.WriteByte(',')
		}
		n++
		b.WriteString(`"` + k + `":` + vals[k])
	}
	b.WriteByte('}')
	return b.String()
}

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

func TestDecodeValid(t *testing.T) {
	ts := at("2025-06-01T10:00:00Z")
	base := func(typ Type) Event {
		return Event{ID: "e1", Type: typ, OccurredAt: ts, ContactID: "c1", Channel: DefaultChannel}
	}
	with := func(ev Event, f func(*Event)) Event { f(&ev); return ev }
	tests := []struct {
		name string
		in   string
		want Event
	}{
		{"send all fields",
			doc("type", `"send"`, "account_id", `"a1"`, "campaign_id", `"camp"`, "channel", `"email"`, "segment", `"seg"`,
				"source", `"marketo"`, "consent_tier", `2`, "personalization", `"behavioral"`),
			with(base(Send), func(e *Event) {
				e.AccountID, e.CampaignID, e.Channel, e.Segment, e.Source = "a1", "camp", "email", "seg", "marketo"
				e.ConsentTier, e.Personalization = 2, "behavioral"
			})},
		{"send explained", doc("type", `"send"`, "reason", `"asked for tips"`),
			with(base(Send), func(e *Event) { e.Reason, e.Detail = "asked for tips", DetailExplained })},
		{"send empty reason", doc("type", `"send"`, "reason", `""`), base(Send)},
		{"reason on non-send", doc("reason", `"r"`), with(base(Click), func(e *Event) { e.Reason = "r" })},
		{"delivered", doc("type", `"delivered"`), base(Delivered)},
		{"bounce hard", doc("type", `"bounce"`, "properties", `{"kind":"hard"}`), with(base(Bounce), func(e *Event) { e.Detail = "hard" })},
		{"bounce soft", doc("type", `"bounce"`, "properties", `{"kind":"soft"}`), with(base(Bounce), func(e *Event) { e.Detail = "soft" })},
		{"bounce no properties", doc("type", `"bounce"`), base(Bounce)},
		{"bounce null kind", doc("type", `"bounce"`, "properties", `{"kind":null}`), base(Bounce)},
		{"bounce empty kind", doc("type", `"bounce"`, "properties", `{"kind":""}`), base(Bounce)},
		{"open machine", doc("type", `"open"`, "properties", `{"machine":true}`), with(base(Open), func(e *Event) { e.Detail = DetailMachine })},
		{"open not machine", doc("type", `"open"`, "properties", `{"machine":false}`), base(Open)},
		{"open no properties", doc("type", `"open"`), base(Open)},
		{"click", doc(), base(Click)},
		{"form_fill", doc("type", `"form_fill"`), base(FormFill)},
		{"unsubscribe", doc("type", `"unsubscribe"`), base(Unsubscribe)},
		{"opt_down", doc("type", `"opt_down"`), base(OptDown)},
		{"opt_up", doc("type", `"opt_up"`), base(OptUp)},
		{"preference_center_visit", doc("type", `"preference_center_visit"`), base(PreferenceCenterVisit)},
		{"complaint", doc("type", `"complaint"`), base(Complaint)},
		{"consent_change", doc("type", `"consent_change"`, "properties", `{"from_tier":1,"to_tier":3}`),
			with(base(ConsentChange), func(e *Event) { e.FromTier, e.ToTier, e.Detail = 1, 3, "1->3" })},
		{"consent_change 0->0", doc("type", `"consent_change"`, "properties", `{"to_tier":0,"from_tier":0}`),
			with(base(ConsentChange), func(e *Event) { e.Detail = "0->0" })},
		{"consent_change integral forms", doc("type", `"consent_change"`, "properties", `{"from_tier":3.0,"to_tier":0.2e1}`),
			with(base(ConsentChange), func(e *Event) { e.FromTier, e.ToTier, e.Detail = 3, 2, "3->2" })},
		{"web_session without contact", doc("type", `"web_session"`, "contact_id", "", "properties", `{"traffic_source":"paid"}`),
			with(base(WebSession), func(e *Event) { e.ContactID, e.Detail = "", "paid" })},
		{"web_session with contact", doc("type", `"web_session"`, "properties", `{"traffic_source":"email"}`),
			with(base(WebSession), func(e *Event) { e.Detail = "email" })},
		{"web_session null contact", doc("type", `"web_session"`, "contact_id", `null`, "properties", `{"traffic_source":"direct"}`),
			with(base(WebSession), func(e *Event) { e.ContactID, e.Detail = "", "direct" })},
		{"sentiment", doc("type", `"sentiment"`, "properties", `{"score":-0.25}`), with(base(Sentiment), func(e *Event) { e.Score = -0.25 })},
		{"sentiment bounds", doc("type", `"sentiment"`, "properties", `{"score":1}`), with(base(Sentiment), func(e *Event) { e.Score = 1 })},
		{"sentiment exponent", doc("type", `"sentiment"`, "properties", `{"score":-1E0}`), with(base(Sentiment), func(e *Event) { e.Score = -1 })},
		{"sentiment underflow", doc("type", `"sentiment"`, "properties", `{"score":1e-400}`), base(Sentiment)},
		{"feedback", doc("type", `"feedback"`, "properties", `{"kind":"not_relevant"}`), with(base(Feedback), func(e *Event) { e.Detail = "not_relevant" })},
		{"properties before type", `{"properties":{"kind":"helpful"},"event_id":"e1","occurred_at":"2025-06-01T10:00:00Z","contact_id":"c1","type":"feedback"}`,
			with(base(Feedback), func(e *Event) { e.Detail = "helpful" })},
		{"escapes unescaped", doc("event_id", `"a\"b\\c\/d\b\f\n\r\t\u0000\u00e9\u20AC\ud83d\ude00"`, "segment", `"été 😀"`),
			with(base(Click), func(e *Event) { e.ID, e.Segment = "a\"b\\c/d\b\f\n\r\t\x00é€😀", "été 😀" })},
		{"escaped key", `{"event\u005fid":"e1","type":"click","occurred_at":"2025-06-01T10:00:00Z","contact_id":"c1"}`, base(Click)},
		{"escaped enum", doc("channel", `"\u0065mail"`), with(base(Click), func(e *Event) { e.Channel = "email" })},
		{"offset time", doc("occurred_at", `"2025-06-01T12:30:00.25+02:30"`), with(base(Click), func(e *Event) { e.OccurredAt = at("2025-06-01T10:00:00.25Z") })},
		{"negative offset", doc("occurred_at", `"2025-06-01T05:00:00-05:00"`), base(Click)},
		{"nanoseconds", doc("occurred_at", `"2025-06-01T10:00:00.000000001Z"`), with(base(Click), func(e *Event) { e.OccurredAt = ts.Add(1) })},
		{"fraction beyond nanoseconds truncated", doc("occurred_at", `"2025-06-01T10:00:00.0000000019Z"`), with(base(Click), func(e *Event) { e.OccurredAt = ts.Add(1) })},
		{"consent_tier zero and null", doc("consent_tier", `0`), base(Click)},
		{"consent_tier -0", doc("consent_tier", `-0`), base(Click)},
		{"consent_tier null", doc("consent_tier", `null`), base(Click)},
		{"empty optional strings are absent", doc("account_id", `""`, "channel", `""`, "personalization", `""`), base(Click)},
		{"unknown fields ignored", doc("x", `{"a":[1,{"b":null}],"c":"d"}`, "y", `[[],{}]`, "z", `-1.5e-3`), base(Click)},
		{"properties of other types ignored", doc("properties", `{"score":"x","kind":5,"machine":"y","from_tier":9}`), base(Click)},
		{"limit lengths", doc("event_id", `"`+strings.Repeat("i", MaxEventIDLen)+`"`, "contact_id", `"`+strings.Repeat("c", MaxContactLen)+`"`,
			"source", `"`+strings.Repeat("s", MaxSourceLen)+`"`),
			with(base(Click), func(e *Event) {
				e.ID, e.ContactID, e.Source = strings.Repeat("i", MaxEventIDLen), strings.Repeat("c", MaxContactLen), strings.Repeat("s", MaxSourceLen)
			})},
		{"length counted after unescape", doc("source", `"`+strings.Repeat(`\u0073`, MaxSourceLen)+`"`),
			with(base(Click), func(e *Event) { e.Source = strings.Repeat("s", MaxSourceLen) })},
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
			// Every accepted event survives an encode/decode round trip.
			out := AppendJSON(nil, &got)
			again, rej := decodeString(t, string(out))
			if rej != nil || !reflect.DeepEqual(again, got) {
				t.Errorf("round trip of %s via %s: %+v, %v", tt.in, out, again, rej)
			}
		})
	}
}

func TestDecodeRejections(t *testing.T) {
	deep := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	tests := []struct {
		name   string
		in     string
		reason Reason
		detail string // substring of the detail
	}{
		// invalid_utf8
		{"utf8 in value", doc("contact_id", "\"c\xff\""), ReasonInvalidUTF8, "offset 84"},
		{"utf8 in key", doc("k\xc3", `1`), ReasonInvalidUTF8, ""},
		{"utf8 in ignored field", doc("x", "{\"y\":[\"\xed\xa0\x80\"]}"), ReasonInvalidUTF8, ""}, // UTF-8 encoded surrogate
		{"utf8 outside strings", doc() + "\x80", ReasonInvalidUTF8, ""},
		{"utf8 beats syntax", "{\"a\":\xff", ReasonInvalidUTF8, ""},
		// invalid_json
		{"empty", "", ReasonInvalidJSON, "empty"},
		{"blank", " \n\t", ReasonInvalidJSON, "empty"},
		{"truncated", doc()[:30], ReasonInvalidJSON, "unterminated"},
		{"truncated after value", `{"a":1`, ReasonInvalidJSON, "end of input"},
		{"trailing data", doc() + "x", ReasonInvalidJSON, "trailing"},
		{"two objects", doc() + doc(), ReasonInvalidJSON, "trailing"},
		{"trailing comma", `{"a":1,}`, ReasonInvalidJSON, "object key"},
		{"array trailing comma", doc("x", `[1,]`), ReasonInvalidJSON, "value"},
		{"missing colon", `{"a" 1}`, ReasonInvalidJSON, "':'"},
		{"single quotes", `{'a':1}`, ReasonInvalidJSON, ""},
		{"NaN", doc("x", `NaN`), ReasonInvalidJSON, "'N'"},
		{"Infinity", doc("x", `Infinity`), ReasonInvalidJSON, ""},
		{"-Infinity", doc("x", `-Infinity`), ReasonInvalidJSON, "invalid number"},
		{"leading zero", doc("x", `01`), ReasonInvalidJSON, ""},
		{"leading plus", doc("x", `+1`), ReasonInvalidJSON, ""},
		{"bare dot", doc("x", `1.`), ReasonInvalidJSON, "after '.'"},
		{"bare exponent", doc("x", `1e+`), ReasonInvalidJSON, "exponent"},
		{"bad literal", doc("x", `tru`), ReasonInvalidJSON, "literal"},
		{"bad escape", doc("contact_id", `"\x"`), ReasonInvalidJSON, "escape"},
		{"short unicode escape", doc("contact_id", `"\u12"`), ReasonInvalidJSON, `\u`},
		{"lone high surrogate", doc("contact_id", `"\ud800"`), ReasonInvalidJSON, "surrogate"},
		{"lone low surrogate", doc("contact_id", `"\udc00x"`), ReasonInvalidJSON, "surrogate"},
		{"high surrogate then non-low", doc("contact_id", `"\ud800\u0041"`), ReasonInvalidJSON, "surrogate"},
		{"surrogate in key", doc(`a\udbff`, `1`), ReasonInvalidJSON, "surrogate"},
		{"raw control char", doc("contact_id", "\"a\tb\""), ReasonInvalidJSON, "control"},
		{"comment", doc() + "// x", ReasonInvalidJSON, ""},
		{"BOM", "\ufeff" + doc(), ReasonInvalidJSON, ""},
		{"syntax beats earlier wrong type", doc("event_id", `42`, "x", `[1 2]`), ReasonInvalidJSON, ""},
		{"syntax beats missing field", `{"type":"click",`, ReasonInvalidJSON, ""},
		// not_object
		{"array", `[` + doc() + `]`, ReasonNotObject, ""},
		{"string", `"x"`, ReasonNotObject, ""},
		{"number", ` 1 `, ReasonNotObject, ""},
		{"null", `null`, ReasonNotObject, ""},
		{"malformed array is invalid_json", `[1,`, ReasonInvalidJSON, ""},
		// too_deep
		{"deep unknown field", doc("x", deep(16)), ReasonTooDeep, "deeper than 16"},
		{"deep properties", doc("properties", `{"a":`+deep(15)+`}`), ReasonTooDeep, ""},
		{"deep objects", doc("x", strings.Repeat(`{"a":`, 16)+`1`+strings.Repeat(`}`, 16)), ReasonTooDeep, ""},
		{"deep top-level array", deep(17), ReasonTooDeep, ""},
		{"too_deep beats later syntax", doc("x", deep(16)) + "x", ReasonTooDeep, ""},
		// duplicate_key
		{"duplicate top-level", `{"type":"click","event_id":"e","type":"open"}`, ReasonDuplicateKey, `"type"`},
		{"duplicate unknown top-level", doc("x", `1`, "y", `2`) + "", ReasonTooLarge, ""}, // replaced below
		{"duplicate in properties", doc("type", `"feedback"`, "properties", `{"kind":"helpful","kind":"helpful"}`), ReasonDuplicateKey, `"kind"`},
		{"duplicate unknown key in properties", doc("properties", `{"a":1,"b":2,"a":3}`), ReasonDuplicateKey, `"a"`},
		{"duplicate in unknown field", doc("x", `{"a":{"b":1,"b":1}}`), ReasonDuplicateKey, `"b"`},
		{"duplicate inside array", doc("x", `[{"a":1},{"a":1,"a":1}]`), ReasonDuplicateKey, ""},
		{"duplicate via escape", doc(`\u0078`, `1`, "x", `2`), ReasonDuplicateKey, `"x"`},
		{"duplicate contract field via escape", doc(`type\u0000`, `1`, `\u0074ype`, `"open"`), ReasonDuplicateKey, `"type"`},
		{"duplicate empty key", doc(``, `1`) + "", ReasonTooLarge, ""}, // replaced below
		{"duplicate beats semantic", doc("event_id", `5`, "x", `{"a":1,"a":2}`), ReasonDuplicateKey, ""},
		// missing_field
		{"no event_id", doc("event_id", ""), ReasonMissingField, "event_id"},
		{"null event_id", doc("event_id", "null"), ReasonMissingField, "event_id"},
		{"empty event_id", doc("event_id", `""`), ReasonMissingField, "event_id"},
		{"no type", doc("type", ""), ReasonMissingField, "type"},
		{"empty type", doc("type", `""`), ReasonMissingField, "type"},
		{"no occurred_at", doc("occurred_at", ""), ReasonMissingField, "occurred_at"},
		{"empty occurred_at", doc("occurred_at", `""`), ReasonMissingField, "occurred_at"},
		{"null occurred_at", doc("occurred_at", `null`), ReasonMissingField, "occurred_at"},
		{"no contact_id", doc("contact_id", ""), ReasonMissingField, "contact_id"},
		{"null contact_id", doc("contact_id", "null"), ReasonMissingField, "contact_id"},
		{"consent_change without properties", doc("type", `"consent_change"`), ReasonMissingField, "from_tier"},
		{"consent_change without to_tier", doc("type", `"consent_change"`, "properties", `{"from_tier":1}`), ReasonMissingField, "to_tier"},
		{"consent_change null from_tier", doc("type", `"consent_change"`, "properties", `{"from_tier":null,"to_tier":1}`), ReasonMissingField, "from_tier"},
		{"consent_change empty-string tier", doc("type", `"consent_change"`, "properties", `{"from_tier":"","to_tier":1}`), ReasonMissingField, "from_tier"},
		{"web_session without traffic_source", doc("type", `"web_session"`, "properties", `{}`), ReasonMissingField, "traffic_source"},
		{"web_session empty traffic_source", doc("type", `"web_session"`, "properties", `{"traffic_source":""}`), ReasonMissingField, "traffic_source"},
		{"sentiment without score", doc("type", `"sentiment"`), ReasonMissingField, "score"},
		{"sentiment null score", doc("type", `"sentiment"`, "properties", `{"score":null}`), ReasonMissingField, "score"},
		{"feedback without kind", doc("type", `"feedback"`, "properties", `{"machine":true}`), ReasonMissingField, "kind"},
		{"feedback properties null", doc("type", `"feedback"`, "properties", `null`), ReasonMissingField, "kind"},
		// unknown_type
		{"unknown type", doc("type", `"purchase"`), ReasonUnknownType, `"purchase"`},
		{"type wrong case", doc("type", `"Click"`), ReasonUnknownType, ""},
		{"unknown type beats missing", doc("type", `"x"`, "contact_id", ""), ReasonUnknownType, ""},
		// invalid_enum
		{"channel", doc("channel", `"fax"`), ReasonInvalidEnum, `channel "fax" not in email|web`},
		{"channel case", doc("channel", `"EMAIL"`), ReasonInvalidEnum, ""},
		{"personalization", doc("personalization", `"heavy"`), ReasonInvalidEnum, "personalization"},
		{"traffic_source", doc("type", `"web_session"`, "properties", `{"traffic_source":"tv"}`), ReasonInvalidEnum, "traffic_source"},
		{"feedback kind", doc("type", `"feedback"`, "properties", `{"kind":"hard"}`), ReasonInvalidEnum, "properties.kind"},
		{"bounce kind", doc("type", `"bounce"`, "properties", `{"kind":"helpful"}`), ReasonInvalidEnum, "properties.kind"},
		{"enum with padding", doc("channel", `" email"`), ReasonInvalidEnum, ""},
		// wrong_type
		{"consent_tier string", doc("consent_tier", `"2"`), ReasonWrongType, "consent_tier"},
		{"consent_tier bool", doc("consent_tier", `true`), ReasonWrongType, "got bool"},
		{"consent_tier fraction", doc("consent_tier", `1.5`), ReasonWrongType, "integer"},
		{"consent_tier tiny", doc("consent_tier", `1e-400`), ReasonWrongType, "integer"},
		{"consent_tier almost integer", doc("consent_tier", `2.0000000000000000001`), ReasonWrongType, "integer"},
		{"event_id number", doc("event_id", `42`), ReasonWrongType, "event_id: want string, got number"},
		{"type number", doc("type", `1`), ReasonWrongType, "type"},
		{"occurred_at number", doc("occurred_at", `1717236000`), ReasonWrongType, "occurred_at"},
		{"contact_id object", doc("contact_id", `{}`), ReasonWrongType, "got object"},
		{"channel array", doc("channel", `["email"]`), ReasonWrongType, "got array"},
		{"reason bool", doc("reason", `false`), ReasonWrongType, "reason"},
		{"properties string", doc("properties", `"x"`), ReasonWrongType, "properties: want object"},
		{"properties array", doc("type", `"bounce"`, "properties", `[]`), ReasonWrongType, "properties"},
		{"machine string", doc("type", `"open"`, "properties", `{"machine":"true"}`), ReasonWrongType, "machine"},
		{"machine number", doc("type", `"open"`, "properties", `{"machine":1}`), ReasonWrongType, "machine"},
		{"score string", doc("type", `"sentiment"`, "properties", `{"score":"0.5"}`), ReasonWrongType, "score"},
		{"from_tier fraction", doc("type", `"consent_change"`, "properties", `{"from_tier":1.5,"to_tier":2}`), ReasonWrongType, "from_tier"},
		{"to_tier string", doc("type", `"consent_change"`, "properties", `{"from_tier":1,"to_tier":"2"}`), ReasonWrongType, "to_tier"},
		{"traffic_source number", doc("type", `"web_session"`, "properties", `{"traffic_source":1}`), ReasonWrongType, ""},
		{"bounce kind bool", doc("type", `"bounce"`, "properties", `{"kind":true}`), ReasonWrongType, ""},
		{"first semantic problem wins", doc("event_id", `1`, "channel", `"fax"`), ReasonWrongType, "event_id"},
		// invalid_timestamp
		{"no zone", doc("occurred_at", `"2025-06-01T10:00:00"`), ReasonInvalidTimestamp, "occurred_at"},
		{"date only", doc("occurred_at", `"2025-06-01"`), ReasonInvalidTimestamp, ""},
		{"space separator", doc("occurred_at", `"2025-06-01 10:00:00Z"`), ReasonInvalidTimestamp, ""},
		{"lowercase z", doc("occurred_at", `"2025-06-01T10:00:00z"`), ReasonInvalidTimestamp, ""},
		{"unix seconds string", doc("occurred_at", `"1717236000"`), ReasonInvalidTimestamp, ""},
		{"bad day", doc("occurred_at", `"2025-02-29T10:00:00Z"`), ReasonInvalidTimestamp, ""},
		{"bad hour", doc("occurred_at", `"2025-06-01T24:00:00Z"`), ReasonInvalidTimestamp, ""},
		{"leap second", doc("occurred_at", `"2025-06-01T10:00:60Z"`), ReasonInvalidTimestamp, ""},
		{"offset without colon", doc("occurred_at", `"2025-06-01T10:00:00+0200"`), ReasonInvalidTimestamp, ""},
		{"offset hours 24", doc("occurred_at", `"2025-06-01T10:00:00+24:00"`), ReasonInvalidTimestamp, ""},
		{"empty fraction", doc("occurred_at", `"2025-06-01T10:00:00.Z"`), ReasonInvalidTimestamp, ""},
		{"comma fraction", doc("occurred_at", `"2025-06-01T10:00:00,5Z"`), ReasonInvalidTimestamp, ""},
		{"trailing junk", doc("occurred_at", `"2025-06-01T10:00:00Zx"`), ReasonInvalidTimestamp, ""},
		// future_timestamp
		{"future beyond skew", doc("occurred_at", `"2025-06-01T12:05:00.000000001Z"`), ReasonFutureTimestamp, "5m0s"},
		{"future by offset", doc("occurred_at", `"2025-06-01T12:06:00-00:00"`), ReasonFutureTimestamp, ""},
		// too_old
		{"too old", doc("occurred_at", `"2024-04-27T11:59:59.999Z"`), ReasonTooOld, "occurred_at"},
		// timestamp_out_of_range (more in TestDecodeTimeBounds)
		{"far future", doc("occurred_at", `"9999-12-31T23:59:59Z"`), ReasonTimestampOutOfRange, "outside 1970-01-01T00:00:00Z..2106-02-06T23:59:59.999999999Z"},
		{"year zero", doc("occurred_at", `"0000-01-01T00:00:00Z"`), ReasonTimestampOutOfRange, "occurred_at 0000-01-01T00:00:00Z"},
		// string_too_long
		{"event_id too long", doc("event_id", `"`+strings.Repeat("x", MaxEventIDLen+1)+`"`), ReasonStringTooLong, "event_id is 129 bytes, limit 128"},
		{"contact_id too long", doc("contact_id", `"`+strings.Repeat("x", MaxContactLen+1)+`"`), ReasonStringTooLong, "contact_id"},
		{"account_id too long", doc("account_id", `"`+strings.Repeat("x", MaxAccountLen+1)+`"`), ReasonStringTooLong, "account_id"},
		{"campaign_id too long", doc("campaign_id", `"`+strings.Repeat("x", MaxCampaignLen+1)+`"`), ReasonStringTooLong, "campaign_id"},
		{"segment too long", doc("segment", `"`+strings.Repeat("x", MaxSegmentLen+1)+`"`), ReasonStringTooLong, "segment"},
		{"source too long", doc("source", `"`+strings.Repeat("x", MaxSourceLen+1)+`"`), ReasonStringTooLong, "source"},
		{"reason too long", doc("reason", `"`+strings.Repeat("x", MaxReasonLen+1)+`"`), ReasonStringTooLong, "reason"},
		{"too long after unescape", doc("source", `"`+strings.Repeat(`\u00e9`, MaxSourceLen/2+1)+`"`), ReasonStringTooLong, "source is 66 bytes"},
		{"multibyte counted in bytes", doc("source", `"`+strings.Repeat("é", MaxSourceLen/2)+`x"`), ReasonStringTooLong, ""},
		// out_of_range
		{"consent_tier 4", doc("consent_tier", `4`), ReasonOutOfRange, "consent_tier 4"},
		{"consent_tier -1", doc("consent_tier", `-1`), ReasonOutOfRange, ""},
		{"consent_tier 10", doc("consent_tier", `10`), ReasonOutOfRange, ""},
		{"consent_tier 1e1", doc("consent_tier", `1e1`), ReasonOutOfRange, ""},
		{"consent_tier 1e999", doc("consent_tier", `1e999`), ReasonOutOfRange, ""},
		{"to_tier 4", doc("type", `"consent_change"`, "properties", `{"from_tier":0,"to_tier":4}`), ReasonOutOfRange, "to_tier"},
		{"score above", doc("type", `"sentiment"`, "properties", `{"score":1.0000001}`), ReasonOutOfRange, "score"},
		{"score below", doc("type", `"sentiment"`, "properties", `{"score":-2}`), ReasonOutOfRange, "score"},
		{"score overflow", doc("type", `"sentiment"`, "properties", `{"score":-1e999}`), ReasonOutOfRange, ""},
		{"overflow in unknown field", doc("x", `[1e400]`), ReasonOutOfRange, "overflows"},
		{"overflow of a long integer", doc("x", strings.Repeat("9", 400)), ReasonOutOfRange, "..."},
		{"overflow in string field", doc("event_id", `1e999`), ReasonOutOfRange, ""},
		// too_large is covered by TestDecodeLimits.
	}
	// Cases that are easier to write by hand.
	for i := range tests {
		switch tests[i].name {
		case "duplicate unknown top-level":
			tests[i].in, tests[i].reason, tests[i].detail = `{"x":1,"event_id":"e","x":2}`, ReasonDuplicateKey, `"x"`
		case "duplicate empty key":
			tests[i].in, tests[i].reason, tests[i].detail = `{"":1,"event_id":"e","":2}`, ReasonDuplicateKey, `""`
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, rej := decodeString(t, tt.in)
			if rej == nil {
				t.Fatalf("Decode(%q) accepted: %+v", tt.in, ev)
			}
			if rej.Reason != tt.reason || !strings.Contains(rej.Detail, tt.detail) {
				t.Errorf("Decode(%q) = %v; want reason %s, detail containing %q", tt.in, rej, tt.reason, tt.detail)
			}
			if !reflect.DeepEqual(ev, Event{}) {
				t.Errorf("rejected event not zeroed: %+v", ev)
			}
		})
	}
}

// TestEveryReasonCovered keeps the rejection table honest when a reason is
// added to event.go.
func TestEveryReasonCovered(t *testing.T) {
	entries, err := os.ReadDir(filepath.Join("testdata", "decode"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[Reason]bool{ReasonTooLarge: true} // TestDecodeLimits
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join("testdata", "decode", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		var ev Event
		if rej := NewDecoder(DefaultLimits()).Decode(data, refTime, &ev); rej != nil {
			seen[rej.Reason] = true
		}
	}
	for _, r := range Reasons() {
		if !seen[r] {
			t.Errorf("no golden input is rejected with %s", r)
		}
	}
}

func TestDecodeLimits(t *testing.T) {
	lim := DefaultLimits()
	// pad grows a valid record to exactly n bytes with an ignored field.
	pad := func(n int) []byte {
		s := doc("pad", `""`)
		return []byte(doc("pad", `"`+strings.Repeat("p", n-len(s))+`"`))
	}
	nest := func(n int) string { // n levels of arrays inside the top object and "x"
		return doc("x", strings.Repeat("[", n)+strings.Repeat("]", n))
	}
	tests := []struct {
		name   string
		lim    Limits
		in     []byte
		reason Reason // "" = accepted
	}{
		{"size at limit", lim, pad(lim.MaxBytes), ""},
		{"size over limit", lim, pad(lim.MaxBytes + 1), ReasonTooLarge},
		{"too_large checked first", lim, append(pad(lim.MaxBytes), 0xff), ReasonTooLarge},
		{"small limit", Limits{MaxBytes: 100}, pad(101), ReasonTooLarge},
		{"depth at limit", lim, []byte(nest(lim.MaxDepth - 1)), ""},
		{"depth over limit", lim, []byte(nest(lim.MaxDepth)), ReasonTooDeep},
		{"depth in properties at limit", lim, []byte(doc("properties", `{"a":`+strings.Repeat(`{"b":`, lim.MaxDepth-2)+`1`+strings.Repeat("}", lim.MaxDepth-2)+`}`)), ""},
		{"depth in properties over limit", lim, []byte(doc("properties", `{"a":`+strings.Repeat(`{"b":`, lim.MaxDepth-1)+`1`+strings.Repeat("}", lim.MaxDepth-1)+`}`)), ReasonTooDeep},
		{"custom depth 2 ok", Limits{MaxDepth: 2}, []byte(doc("x", `{"a":1}`)), ""},
		{"custom depth 2 exceeded", Limits{MaxDepth: 2}, []byte(doc("x", `{"a":[]}`)), ReasonTooDeep},
		{"custom depth 1", Limits{MaxDepth: 1}, []byte(doc("type", `"bounce"`, "properties", `{}`)), ReasonTooDeep},
		{"future within skew", lim, []byte(doc("occurred_at", `"2025-06-01T12:05:00Z"`)), ""},
		{"future beyond skew", lim, []byte(doc("occurred_at", `"2025-06-01T12:05:00.001Z"`)), ReasonFutureTimestamp},
		{"custom skew", Limits{MaxSkew: time.Hour}, []byte(doc("occurred_at", `"2025-06-01T12:59:00Z"`)), ""},
		{"oldest allowed", lim, []byte(doc("occurred_at", `"2024-04-27T12:00:00Z"`)), ""},
		{"just too old", lim, []byte(doc("occurred_at", `"2024-04-27T11:59:59.999999999Z"`)), ReasonTooOld},
		{"custom max age", Limits{MaxAge: time.Hour}, []byte(doc("occurred_at", `"2025-06-01T10:59:59Z"`)), ReasonTooOld},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ev Event
			rej := NewDecoder(tt.lim).Decode(tt.in, refTime, &ev)
			var got Reason
			if rej != nil {
				got = rej.Reason
			}
			if got != tt.reason {
				t.Errorf("got %v, want %q", rej, tt.reason)
			}
		})
	}
}

func TestNewDecoderDefaults(t *testing.T) {
	if got := NewDecoder(Limits{}).Limits(); got != DefaultLimits() {
		t.Errorf("NewDecoder(Limits{}).Limits() = %+v, want defaults", got)
	}
	l := Limits{MaxBytes: 1, MaxDepth: 2, MaxSkew: 3, MaxAge: 4}
	if got := NewDecoder(l).Limits(); got != l {
		t.Errorf("explicit limits changed: %+v", got)
	}
}

func TestEnums(t *testing.T) {
	type enumCase struct {
		name string
		list []string
		in   func(v string) string
		got  func(Event) string
	}
	cases := []enumCase{
		{"channel", Channels, func(v string) string { return doc("channel", `"`+v+`"`) }, func(e Event) string { return e.Channel }},
		{"personalization", Personalization, func(v string) string { return doc("personalization", `"`+v+`"`) }, func(e Event) string { return e.Personalization }},
		{"traffic_source", TrafficSources, func(v string) string {
			return doc("type", `"web_session"`, "properties", `{"traffic_source":"`+v+`"}`)
		}, func(e Event) string { return e.Detail }},
		{"feedback kind", FeedbackKinds, func(v string) string { return doc("type", `"feedback"`, "properties", `{"kind":"`+v+`"}`) }, func(e Event) string { return e.Detail }},
		{"bounce kind", BounceKinds, func(v string) string { return doc("type", `"bounce"`, "properties", `{"kind":"`+v+`"}`) }, func(e Event) string { return e.Detail }},
	}
	for _, c := range cases {
		for _, v := range c.list {
			ev, rej := decodeString(t, c.in(v))
			if rej != nil || c.got(ev) != v {
				t.Errorf("%s %q: got %q, %v", c.name, v, c.got(ev), rej)
			}
		}
		for _, bad := range []string{"nope", strings.ToUpper(c.list[0]), c.list[0] + " "} {
			if _, rej := decodeString(t, c.in(bad)); rej == nil || rej.Reason != ReasonInvalidEnum {
				t.Errorf("%s %q: got %v, want invalid_enum", c.name, bad, rej)
			}
		}
	}
	// Types: every contract name decodes to its Type.
	for _, typ := range Types() {
		in := doc("type", `"`+typ.String()+`"`, "properties", `{"from_tier":0,"to_tier":1,"traffic_source":"direct","score":0,"kind":"helpful"}`)
		if typ == Bounce {
			in = doc("type", `"bounce"`)
		}
		ev, rej := decodeString(t, in)
		if rej != nil || ev.Type != typ {
			t.Errorf("type %s: got %v, %v", typ, ev.Type, rej)
		}
	}
}

// TestDecoderReuse checks that nothing leaks between records decoded by one
// Decoder: events from earlier records stay intact (escaped strings must not
// alias scratch buffers) and state from earlier records (properties, seen
// keys, failures) does not affect later verdicts.
func TestDecoderReuse(t *testing.T) {
	d := NewDecoder(DefaultLimits())
	var first Event
	if rej := d.Decode([]byte(doc("event_id", `"\u00e9-1"`, "segment", `"s\n1"`, "type", `"sentiment"`, "properties", `{"score":0.5}`)), refTime, &first); rej != nil {
		t.Fatal(rej)
	}
	want := first
	want.ID, want.Segment = strings.Clone(first.ID), strings.Clone(first.Segment)

	// A failed record with many keys leaves partial state behind.
	var b strings.Builder
	b.WriteString(`{"properties":{"score":1,`)
	for i := range 100 {
		b.WriteString(`"k` + strings.Repeat("x", i) + `":1,`)
	}
	b.WriteString(`"end":`)
	var ev Event
	if rej := d.Decode([]byte(b.String()), refTime, &ev); rej == nil || rej.Reason != ReasonInvalidJSON {
		t.Fatalf("truncated record: %v", rej)
	}
	// The same keys again must not look like duplicates, and the score of
	// the earlier record must not satisfy this sentiment.
	if rej := d.Decode([]byte(doc("event_id", `"\u00e9-2"`, "segment", `"s\n2"`, "type", `"sentiment"`)), refTime, &ev); rej == nil || rej.Reason != ReasonMissingField {
		t.Fatalf("sentiment without score after one with: %v", rej)
	}
	if rej := d.Decode([]byte(strings.TrimSuffix(b.String(), `,"end":`)+`}}`), refTime, &ev); rej == nil || rej.Reason != ReasonMissingField {
		t.Fatalf("same keys in a fresh record: %v", rej)
	}
	if !reflect.DeepEqual(first, want) {
		t.Errorf("first event changed by later decodes: %+v, want %+v", first, want)
	}
}

// TestManyKeys exercises the map-based duplicate check of large objects.
func TestManyKeys(t *testing.T) {
	for _, n := range []int{setThreshold - 1, setThreshold, setThreshold + 1, 1000} {
		for _, dup := range []bool{false, true} {
			var b strings.Builder
			b.WriteString(`{`)
			for i := range n {
				b.WriteString(`"k` + strconv.Itoa(i) + `":{"n":1,"m":[{"n":2}]},`)
			}
			if dup {
				b.WriteString(`"k1":0,`)
			}
			b.WriteString(`"x":1}`)
			in := doc("x", b.String())
			_, rej := decodeString(t, in)
			if dup != (rej != nil && rej.Reason == ReasonDuplicateKey) || (!dup && rej != nil) {
				t.Errorf("n=%d dup=%v: %v", n, dup, rej)
			}
		}
	}
}

func TestRejectionDetailTruncated(t *testing.T) {
	long := strings.Repeat("é", 100) // 200 bytes
	_, rej := decodeString(t, doc("type", `"`+long+`"`))
	if rej == nil || rej.Reason != ReasonUnknownType {
		t.Fatalf("got %v", rej)
	}
	want := `type "` + strings.Repeat("é", 32) + `"...`
	if rej.Detail != want {
		t.Errorf("detail = %q, want %q", rej.Detail, want)
	}
	if got := rej.Error(); got != "unknown_type: "+want {
		t.Errorf("Error() = %q", got)
	}
}

func TestExactUint(t *testing.T) {
	tests := []struct {
		lit         string
		max         uint64
		n           uint64
		ok, integer bool
	}{
		{"0", 3, 0, true, true}, {"-0", 3, 0, true, true}, {"0.000", 3, 0, true, true}, {"0e-5", 3, 0, true, true},
		{"3", 3, 3, true, true}, {"3.0", 3, 3, true, true}, {"0.3e1", 3, 3, true, true}, {"30e-1", 3, 3, true, true},
		{"300e-2", 3, 3, true, true}, {"0.03E+2", 3, 3, true, true}, {"9", 9, 9, true, true}, {"4", 3, 0, false, true},
		{"10", 3, 0, false, true}, {"1e1", 3, 0, false, true}, {"-1", 3, 0, false, true}, {"12e-1", 3, 0, false, false},
		{"1.5", 3, 0, false, false}, {"1e-1", 3, 0, false, false}, {"1e-400", 3, 0, false, false}, {"-0.5", 3, 0, false, false},
		{"2.0000000000000000001", 3, 0, false, false}, {"1e999999999999999999999", 3, 0, false, true},
		{"1e-999999999999999999999", 3, 0, false, false}, {"100e-2", 3, 1, true, true},
		// uint32 counts
		{"4294967295", math.MaxUint32, math.MaxUint32, true, true}, {"4294967296", math.MaxUint32, 0, false, true},
		{"4.294967295e9", math.MaxUint32, math.MaxUint32, true, true}, {"42949672950e-1", math.MaxUint32, math.MaxUint32, true, true},
		{"4294967295.5", math.MaxUint32, 0, false, false}, {"12e3", math.MaxUint32, 12000, true, true},
		{"1e9", math.MaxUint32, 1e9, true, true}, {"1e10", math.MaxUint32, 0, false, true}, {"-7", math.MaxUint32, 0, false, true},
		// uint64 edge
		{"18446744073709551615", math.MaxUint64, math.MaxUint64, true, true}, {"18446744073709551616", math.MaxUint64, 0, false, true},
		{"1e19", math.MaxUint64, 1e19, true, true}, {"1e20", math.MaxUint64, 0, false, true}, {"99999999999999999999", math.MaxUint64, 0, false, true},
	}
	for _, tt := range tests {
		n, ok, integer := exactUint([]byte(tt.lit), tt.max)
		if n != tt.n || ok != tt.ok || integer != tt.integer {
			t.Errorf("exactUint(%s, %d) = %d, %v, %v; want %d, %v, %v", tt.lit, tt.max, n, ok, integer, tt.n, tt.ok, tt.integer)
		}
	}
}
