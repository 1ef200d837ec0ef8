package scenario

import (
	"bytes"
	"strings"
	"time"

	"github.com/trustpipe/trustpipe/aggregate/event"
)

// An invalidKind turns the current (valid) event into a record with exactly
// one defect, the kind of mistake real producers make, so the decoder's
// verdict is unambiguous and tests can compare dead-letter counts by reason
// with Stats.Invalid.
type invalidKind struct {
	reason event.Reason
	weight float64
	make   func(g *Generator, value []byte, typ event.Type) []byte
}

// invalidKinds lists every defect the generator can build. Oversized records
// are rare because each one is 64 KiB.
var invalidKinds = []invalidKind{
	{event.ReasonInvalidJSON, 10, func(g *Generator, value []byte, typ event.Type) []byte {
		// A truncated record, as left by a producer that crashed mid-write.
		return append(g.invalidBuf[:0], value[:len(value)-1]...)
	}},
	{event.ReasonInvalidUTF8, 10, func(g *Generator, value []byte, typ event.Type) []byte {
		// Latin-1 leaking into a UTF-8 stream: "café" with a bare 0xE9.
		return g.insertField(value, `"x_note":"caf`+"\xe9"+`",`)
	}},
	{event.ReasonNotObject, 5, func(g *Generator, value []byte, typ event.Type) []byte {
		// A batch of one, wrapped in an array.
		b := append(g.invalidBuf[:0], '[')
		b = append(b, value...)
		return append(b, ']')
	}},
	{event.ReasonTooDeep, 3, func(g *Generator, value []byte, typ event.Type) []byte {
		// An ignored field nested deeper than any limit should allow.
		const depth = 40
		return g.insertField(value, `"x_trace":`+strings.Repeat("[", depth)+strings.Repeat("]", depth)+",")
	}},
	{event.ReasonDuplicateKey, 10, func(g *Generator, value []byte, typ event.Type) []byte {
		// The type written twice (with the same value: still ambiguous).
		return g.insertField(value, `"type":"`+typ.String()+`",`)
	}},
	{event.ReasonMissingField, 10, func(g *Generator, value []byte, typ event.Type) []byte {
		ev := g.ev
		if ev.Type == event.WebSession {
			ev.ID = "" // contact_id is optional here; event_id never is
		} else {
			ev.ContactID = ""
		}
		return event.AppendJSON(g.invalidBuf[:0], &ev)
	}},
	{event.ReasonUnknownType, 10, func(g *Generator, value []byte, typ event.Type) []byte {
		// A type from a newer producer (or another product's topic).
		old := []byte(`,"type":"` + typ.String() + `"`)
		i := bytes.Index(value, old)
		b := append(g.invalidBuf[:0], value[:i]...)
		b = append(b, `,"type":"page_view"`...)
		return append(b, value[i+len(old):]...)
	}},
	{event.ReasonInvalidEnum, 10, func(g *Generator, value []byte, typ event.Type) []byte {
		ev := g.ev
		ev.Channel = "direct_mail"
		return event.AppendJSON(g.invalidBuf[:0], &ev)
	}},
	{event.ReasonWrongType, 10, func(g *Generator, value []byte, typ event.Type) []byte {
		// A number sent as a string.
		ev := g.ev
		ev.ConsentTier = 0
		return g.insertFieldEv(&ev, `"consent_tier":"2",`)
	}},
	{event.ReasonInvalidTimestamp, 5, func(g *Generator, value []byte, typ event.Type) []byte {
		// Local time without a zone.
		key := []byte(`"occurred_at":"`)
		i := bytes.Index(value, key) + len(key)
		j := i + bytes.IndexByte(value[i:], '"')
		b := append(g.invalidBuf[:0], value[:i]...)
		b = g.ev.OccurredAt.AppendFormat(b, time.DateTime)
		return append(b, value[j:]...)
	}},
	{event.ReasonFutureTimestamp, 10, func(g *Generator, value []byte, typ event.Type) []byte {
		// A producer clock (or a date field) off by more than a year; far
		// enough that it is future against both the record time and the
		// wall clock of a run shortly after generation.
		ev := g.ev
		ev.OccurredAt = ev.OccurredAt.Add(400 * 24 * time.Hour)
		return event.AppendJSON(g.invalidBuf[:0], &ev)
	}},
	{event.ReasonTooOld, 5, func(g *Generator, value []byte, typ event.Type) []byte {
		// A backfill of ancient history.
		ev := g.ev
		ev.OccurredAt = ev.OccurredAt.Add(-500 * 24 * time.Hour)
		return event.AppendJSON(g.invalidBuf[:0], &ev)
	}},
	{event.ReasonStringTooLong, 5, func(g *Generator, value []byte, typ event.Type) []byte {
		// A campaign id with tracking parameters glued on.
		ev := g.ev
		ev.CampaignID = "cmp-utm?" + strings.Repeat("utm_source=newsletter&", 8)
		return event.AppendJSON(g.invalidBuf[:0], &ev)
	}},
	{event.ReasonOutOfRange, 5, func(g *Generator, value []byte, typ event.Type) []byte {
		ev := g.ev
		ev.ConsentTier = 4 + uint8(g.irng.IntN(6))
		return event.AppendJSON(g.invalidBuf[:0], &ev)
	}},
	{event.ReasonTooLarge, 0.5, func(g *Generator, value []byte, typ event.Type) []byte {
		// A record carrying an embedded payload past the 64 KiB limit.
		b := append(g.invalidBuf[:0], `{"x_payload":"`...)
		for range (64 << 10) / 64 {
			b = append(b, "0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqr"...)
		}
		b = append(b, `",`...)
		return append(b, value[1:]...)
	}},
}

// InvalidKinds lists the rejection reasons that invalid records are built to
// trigger.
func InvalidKinds() []event.Reason {
	rs := make([]event.Reason, len(invalidKinds))
	for i, k := range invalidKinds {
		rs[i] = k.reason
	}
	return rs
}

func (g *Generator) initInvalid() {
	var sum float64
	for _, k := range invalidKinds {
		sum += k.weight
		g.invalidCum = append(g.invalidCum, sum)
	}
}

// makeInvalid returns a broken variant of value (the encoded g.ev) and the
// reason it is built to trigger.
func (g *Generator) makeInvalid(value []byte, typ event.Type) ([]byte, event.Reason) {
	u := g.irng.Float64() * g.invalidCum[len(g.invalidCum)-1]
	k := &invalidKinds[len(invalidKinds)-1]
	for i, c := range g.invalidCum {
		if u < c {
			k = &invalidKinds[i]
			break
		}
	}
	g.invalidBuf = k.make(g, value, typ)
	return g.invalidBuf, k.reason
}

// insertField inserts a raw `"key":value,` right after the opening brace.
func (g *Generator) insertField(value []byte, field string) []byte {
	b := append(g.invalidBuf[:0], '{')
	b = append(b, field...)
	return append(b, value[1:]...)
}

func (g *Generator) insertFieldEv(ev *event.Event, field string) []byte {
	g.buf = event.AppendJSON(g.buf[:0], ev)
	return g.insertField(g.buf, field)
}
