package adapter_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/trustpipe/trustpipe/aggregate/event"
	"github.com/trustpipe/trustpipe/consumers/adapter"
)

// fuzzFormat checks that any payload either fails with an ErrPayload error
// and no events, or converts into events each of which, encoded with the
// contract's encoder, decodes strictly (a fresh decoder, not the one
// Convert used) with a pseudonymized contact.
func fuzzFormat(f *testing.F, format adapter.Format) {
	files, _ := filepath.Glob(filepath.Join("testdata", format.Name(), "*.json"))
	for _, file := range files {
		b, _ := os.ReadFile(file)
		f.Add(b)
	}
	ps := pseudonyms(f)
	f.Fuzz(func(t *testing.T, payload []byte) {
		var out adapter.Output
		err := adapter.Convert(format, payload, ps, event.NewDecoder(event.DefaultLimits()), time.Time{}, &out)
		if err != nil {
			if len(out.Events) != 0 {
				t.Fatalf("error %v with %d events", err, len(out.Events))
			}
			return
		}
		check := event.NewDecoder(event.DefaultLimits())
		var back event.Event
		for i := range out.Events {
			rec := event.AppendJSON(nil, &out.Events[i])
			if rej := check.Decode(rec, time.Time{}, &back); rej != nil {
				t.Fatalf("event %d %s: %v", i, rec, rej)
			}
			if len(back.ContactID) != 32 || back.Channel != "email" || back.Source != format.Name() {
				t.Fatalf("event %d %s: not a pseudonymized email event", i, rec)
			}
		}
	})
}

func FuzzSendGrid(f *testing.F) { fuzzFormat(f, adapter.SendGrid) }
func FuzzSES(f *testing.F)      { fuzzFormat(f, adapter.SES) }
func FuzzMailgun(f *testing.F)  { fuzzFormat(f, adapter.Mailgun) }
func FuzzPostmark(f *testing.F) { fuzzFormat(f, adapter.Postmark) }
