package produce

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/trustpipe/trustpipe/aggregate/event"
	"github.com/trustpipe/trustpipe/aggregate/scenario"
	"github.com/trustpipe/trustpipe/consumers/adapter"
)

type collect struct{ msgs []kafka.Message }

func (c *collect) WriteMessages(_ context.Context, msgs ...kafka.Message) error {
	c.msgs = append(c.msgs, msgs...)
	return nil
}

type idPseudonyms struct{}

func (idPseudonyms) Pseudonym(id string) string { return "p" + id }

// TestProduceNative: every generated event is written, left out, or part
// of a deliberately broken record; every written record converts back to
// the number of events it was said to hold, the broken ones do not
// convert, and SendGrid records hold several events.
func TestProduceNative(t *testing.T) {
	for _, format := range adapter.Names() {
		g, err := scenario.New(scenario.Config{Name: "healthy", Events: 3000, Days: 3, Seed: 7, End: time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC), InvalidRatio: 0.02})
		if err != nil {
			t.Fatal(err)
		}
		w := &collect{}
		st, err := ProduceNative(context.Background(), w, g, format, 100, nil)
		if err != nil {
			t.Fatal(err)
		}
		if st.Records != len(w.msgs) || st.Events+st.Invalid+st.LeftOut != 3000 || st.Invalid == 0 || st.Events < 500 {
			t.Fatalf("%s: stats %+v for %d records", format, st, len(w.msgs))
		}
		f, _ := adapter.Lookup(format)
		dec := event.NewDecoder(event.DefaultLimits())
		var out adapter.Output
		events, broken, most := 0, 0, 0
		for _, m := range w.msgs {
			if err := adapter.Convert(f, m.Value, idPseudonyms{}, dec, m.Time, &out); err != nil {
				if !errors.Is(err, adapter.ErrPayload) || !isBroken(m.Value) {
					t.Fatalf("%s: %v\n%s at %v", format, err, m.Value, m.Time)
				}
				broken++
				continue
			}
			events += len(out.Events)
			most = max(most, len(out.Events))
		}
		if events != st.Events || broken != st.Invalid {
			t.Errorf("%s: converted %d events and %d broken records, stats say %+v", format, events, broken, st)
		}
		if (format == "sendgrid") != (most > 1) {
			t.Errorf("%s: at most %d events per record", format, most)
		}
	}
}

// isBroken: the generator's broken records are cut in half, so they are
// not well-formed JSON.
func isBroken(b []byte) bool { return !json.Valid(b) }
