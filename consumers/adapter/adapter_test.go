package adapter_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trustpipe/trustpipe/aggregate/event"
	"github.com/trustpipe/trustpipe/aggregate/testkit"
	"github.com/trustpipe/trustpipe/consumers"
	"github.com/trustpipe/trustpipe/consumers/adapter"
)

func pseudonyms(t testing.TB) *consumers.Pseudonymizer {
	p, err := consumers.NewPseudonymizer([]byte("adapter-test-key-0123456789"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// render is the golden form of a conversion: one contract record per
// event, then the skip counts, or the error.
func render(out *adapter.Output, err error) []byte {
	var b bytes.Buffer
	if err != nil {
		fmt.Fprintf(&b, "error: %v\n", err)
		return b.Bytes()
	}
	for i := range out.Events {
		b.Write(event.AppendJSON(nil, &out.Events[i]))
		b.WriteByte('\n')
	}
	for _, r := range adapter.Skips() {
		if n := out.Skipped[r]; n > 0 {
			fmt.Fprintf(&b, "skipped %s: %d\n", r, n)
		}
	}
	return b.Bytes()
}

// addressRE finds the addresses in a fixture, to check none survives.
var addressRE = regexp.MustCompile(`[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]+`)

// TestGolden converts each platform's documented samples (testdata/<format>/
// *.json) and compares with the .golden next to it. Every output event must
// also decode strictly, and no recipient or sender address may appear in
// it.
func TestGolden(t *testing.T) {
	ps := pseudonyms(t)
	dec := event.NewDecoder(event.DefaultLimits())
	for _, name := range adapter.Names() {
		f, _ := adapter.Lookup(name)
		files, _ := filepath.Glob(filepath.Join("testdata", name, "*.json"))
		if len(files) == 0 {
			t.Errorf("%s: no fixtures", name)
		}
		for _, file := range files {
			t.Run(strings.TrimSuffix(file[len("testdata/"):], ".json"), func(t *testing.T) {
				payload, err := os.ReadFile(file)
				if err != nil {
					t.Fatal(err)
				}
				var out adapter.Output
				err = adapter.Convert(f, payload, ps, dec, time.Time{}, &out)
				got := render(&out, err)
				checkNoAddress(t, payload, got)
				testkit.Golden(t, strings.TrimSuffix(file, ".json")+".golden", got)
			})
		}
	}
}

// checkNoAddress fails when an address of payload whose local part is a
// recipient's appears in out. Message ids look like addresses too
// (<id@host>), so only the local parts of the fixture's addresses that do
// not also occur in a message-id-like value are checked, lower-cased.
func checkNoAddress(t *testing.T, payload, out []byte) {
	t.Helper()
	lower := bytes.ToLower(out)
	for _, a := range addressRE.FindAll(payload, -1) {
		a = bytes.ToLower(a)
		if bytes.Contains(lower, a) && !isMessageID(string(a)) {
			t.Errorf("address %s appears in the output", a)
		}
	}
}

func isMessageID(a string) bool {
	local := a[:strings.IndexByte(a, '@')]
	return strings.ContainsAny(local, "0123456789") && strings.Count(local, ".") >= 2
}

func TestMailboxProvider(t *testing.T) {
	for domain, want := range map[string]string{
		"gmail.com": "gmail", "googlemail.com": "gmail", "yahoo.com": "yahoo", "yahoo.co.uk": "yahoo",
		"aol.com": "yahoo", "ymail.com": "yahoo", "outlook.com": "microsoft", "hotmail.fr": "microsoft",
		"live.com": "microsoft", "msn.com": "microsoft", "icloud.com": "apple", "me.com": "apple",
		"mac.com": "apple", "example.com": "other", "gmail.example.com": "other", "mygmail.com": "other",
	} {
		if got := adapter.MailboxProvider(domain); got != want {
			t.Errorf("MailboxProvider(%q) = %q, want %q", domain, got, want)
		}
	}
}

func TestNormalizeAddress(t *testing.T) {
	for in, want := range map[string]string{
		" Alice@Example.COM ":         "alice@example.com",
		"Alice <Alice@Example.com>":   "alice@example.com",
		"\"B, C\" <b.c@example.org> ": "b.c@example.org",
	} {
		if got := adapter.NormalizeAddress(in); got != want {
			t.Errorf("NormalizeAddress(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestSameContactAcrossFormats: one address, however cased, is one
// pseudonym whichever platform reported it.
func TestSameContactAcrossFormats(t *testing.T) {
	ps := pseudonyms(t)
	dec := event.NewDecoder(event.DefaultLimits())
	payloads := map[string]string{
		"sendgrid": `[{"email":"Pat@Example.com","timestamp":1700000000,"event":"delivered","sg_event_id":"e1"}]`,
		"mailgun":  `{"event-data":{"event":"delivered","timestamp":1700000000,"id":"e2","recipient":"pat@example.com "}}`,
		"postmark": `{"RecordType":"Delivery","Recipient":"PAT@EXAMPLE.COM","DeliveredAt":"2023-11-14T22:13:20Z"}`,
		"ses":      `{"eventType":"Delivery","mail":{"messageId":"m"},"delivery":{"timestamp":"2023-11-14T22:13:20Z","recipients":["pat@example.com"]}}`,
	}
	want := ps.Pseudonym("pat@example.com")
	for name, p := range payloads {
		f, _ := adapter.Lookup(name)
		var out adapter.Output
		if err := adapter.Convert(f, []byte(p), ps, dec, time.Time{}, &out); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(out.Events) != 1 || out.Events[0].ContactID != want {
			t.Errorf("%s: got %+v, want one event of contact %s", name, out.Events, want)
		}
	}
}

// TestRedeliveryKeepsEventIDs: the same payload twice gives the same event
// ids (platform retries deduplicate), also where the id is derived.
func TestRedeliveryKeepsEventIDs(t *testing.T) {
	ps := pseudonyms(t)
	dec := event.NewDecoder(event.DefaultLimits())
	for _, name := range adapter.Names() {
		f, _ := adapter.Lookup(name)
		files, _ := filepath.Glob(filepath.Join("testdata", name, "*.json"))
		for _, file := range files {
			payload, _ := os.ReadFile(file)
			var a, b adapter.Output
			if adapter.Convert(f, payload, ps, dec, time.Time{}, &a) != nil {
				continue
			}
			_ = adapter.Convert(f, slices.Clone(payload), pseudonyms(t), dec, time.Time{}, &b)
			for i := range a.Events {
				if a.Events[i].ID != b.Events[i].ID {
					t.Errorf("%s: event %d id %s, then %s", file, i, a.Events[i].ID, b.Events[i].ID)
				}
			}
		}
	}
}

// TestReferenceTime: events too far in the future of the reference time are
// refused like any contract record, the whole payload with them.
func TestReferenceTime(t *testing.T) {
	ps := pseudonyms(t)
	dec := event.NewDecoder(event.DefaultLimits())
	p := []byte(`[{"email":"a@b.co","timestamp":1700000000,"event":"delivered","sg_event_id":"e1"},{"email":"a@b.co","timestamp":1800000000,"event":"delivered","sg_event_id":"e2"}]`)
	var out adapter.Output
	err := adapter.Convert(adapter.SendGrid, p, ps, dec, time.Unix(1700000000, 0), &out)
	if err == nil || !strings.Contains(err.Error(), "future_timestamp") || len(out.Events) != 0 {
		t.Fatalf("got %v and %d events, want a future_timestamp error and none", err, len(out.Events))
	}
}
