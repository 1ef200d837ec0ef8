package adapter_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/trustpipe/trustpipe/aggregate/event"
	"github.com/trustpipe/trustpipe/consumers/adapter"
)

// TestEncodeRoundTrip: every event Encode writes converts back to the same
// type, detail, time and message, for the pseudonym of its recipient; the
// events it refuses are the ones the format cannot carry.
func TestEncodeRoundTrip(t *testing.T) {
	ps := pseudonyms(t)
	dec := event.NewDecoder(event.DefaultLimits())
	at := time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC)
	var cases []event.Event
	for _, typ := range event.Types() {
		details := map[event.Type][]string{event.Bounce: {"", "hard", "soft"}, event.Open: {"", event.DetailMachine}, event.Click: {"", event.DetailBot}}[typ]
		if details == nil {
			details = []string{""}
		}
		for _, d := range details {
			cases = append(cases, event.Event{ID: fmt.Sprintf("id-%s-%s", typ, d), Type: typ, Detail: d, OccurredAt: at, MessageID: "msg-1"})
		}
	}
	written := map[string]int{}
	for _, name := range adapter.Names() {
		f, _ := adapter.Lookup(name)
		for _, ev := range cases {
			payload, ok := adapter.Encode(name, []adapter.Native{{Event: &ev, Recipient: "Reader@Outlook.com", Sender: "news@send.example.com"}})
			if !ok {
				continue
			}
			written[name]++
			var out adapter.Output
			if err := adapter.Convert(f, payload, ps, dec, time.Time{}, &out); err != nil {
				t.Fatalf("%s %s/%s: %v\n%s", name, ev.Type, ev.Detail, err, payload)
			}
			if len(out.Events) != 1 {
				t.Fatalf("%s %s/%s: %d events from %s", name, ev.Type, ev.Detail, len(out.Events), payload)
			}
			got := out.Events[0]
			wantMsg := ev.MessageID
			if ev.Type == event.OptUp {
				wantMsg = "" // the contract carries no message on an opt_up
			}
			if got.Type != ev.Type || got.Detail != ev.Detail || !got.OccurredAt.Equal(at) || got.MessageID != wantMsg ||
				got.ContactID != ps.Pseudonym("reader@outlook.com") || got.MailboxProvider != "microsoft" {
				t.Errorf("%s: %+v came back as %+v", name, ev, got)
			}
			if name != "sendgrid" && name != "postmark" && got.SendingDomain != "send.example.com" {
				t.Errorf("%s %s: sending_domain %q", name, ev.Type, got.SendingDomain)
			}
		}
	}
	// What each platform can report (see each format's mapping table).
	want := map[string]int{"sendgrid": 11, "mailgun": 9, "ses": 10, "postmark": 8}
	for name, n := range want {
		if written[name] != n {
			t.Errorf("%s: wrote %d of the contract's email events, want %d", name, written[name], n)
		}
	}
}
