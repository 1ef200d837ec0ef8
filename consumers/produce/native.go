package produce

import (
	"context"
	"fmt"
	"hash/fnv"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/trustpipe/trustpipe/aggregate/event"
	"github.com/trustpipe/trustpipe/aggregate/scenario"
	"github.com/trustpipe/trustpipe/consumers/adapter"
)

// NativeStats says what ProduceNative wrote.
type NativeStats struct {
	Records int // Kafka records written
	Events  int // events they hold
	Invalid int // records that are deliberately broken payloads
	// LeftOut counts the generated events the format cannot carry (see
	// adapter.Encode): web sessions, form fills, a Postmark send, ...
	LeftOut int
}

// sendgridBatch is how many events a generated SendGrid record holds at
// most, so the topic exercises several events per record.
const sendgridBatch = 5

// recipientDomains give generated contacts addresses at every mailbox
// provider.
var recipientDomains = []string{"gmail.com", "yahoo.com", "outlook.com", "icloud.com", "example.com"}

// Recipient is the address gen gives a contact id.
func Recipient(contact string) string {
	h := fnv.New32a()
	h.Write([]byte(contact))
	return contact + "@" + recipientDomains[h.Sum32()%uint32(len(recipientDomains))]
}

// ProduceNative writes g's events as native payloads of format, keyed by
// recipient address, each record stamped with its (last) event's time.
// The generator's invalid records become truncated payloads, which the
// pipeline rejects. Events the format has no representation for are left
// out and counted.
func ProduceNative(ctx context.Context, w Writer, g *scenario.Generator, format string, batch int, progress func(done, total int)) (NativeStats, error) {
	var st NativeStats
	if _, ok := adapter.Lookup(format); !ok {
		return st, fmt.Errorf("produce: unknown format %q", format)
	}
	if batch <= 0 {
		batch = DefaultBatch
	}
	total := g.Remaining()
	dec := event.NewDecoder(event.DefaultLimits())
	var msgs []kafka.Message
	var pending []adapter.Native
	var pendingTime time.Time
	done := 0
	flushPending := func() {
		if len(pending) == 0 {
			return
		}
		// Every pending event was encodable alone, so together they are.
		payload, _ := adapter.Encode(format, pending)
		msgs = append(msgs, kafka.Message{Key: []byte(pending[0].Recipient), Value: payload, Time: pendingTime})
		st.Records++
		st.Events += len(pending)
		pending = nil
	}
	write := func() error {
		if len(msgs) == 0 {
			return nil
		}
		if err := w.WriteMessages(ctx, msgs...); err != nil {
			return fmt.Errorf("produce: writing %d native records: %w", len(msgs), err)
		}
		msgs = nil
		if progress != nil {
			progress(done, total)
		}
		return nil
	}
	for {
		rec, ok := g.Next()
		if !ok {
			break
		}
		done++
		ev := new(event.Event)
		if dec.Decode(rec.Value, rec.Time, ev) != nil { // as the pipeline judges it
			flushPending()
			msgs = append(msgs, kafka.Message{Value: append([]byte(nil), rec.Value[:len(rec.Value)/2]...), Time: rec.Time})
			st.Records++
			st.Invalid++
		} else {
			// ev aliases the generator's buffer, reused by Next.
			ev.ID, ev.MessageID, ev.CampaignID = strings.Clone(ev.ID), strings.Clone(ev.MessageID), strings.Clone(ev.CampaignID)
			n := adapter.Native{Event: ev, Recipient: Recipient(ev.ContactID), Sender: "news@" + sender(ev)}
			if _, ok := adapter.Encode(format, []adapter.Native{n}); ev.ContactID == "" || !ok {
				st.LeftOut++
				continue
			}
			pending, pendingTime = append(pending, n), rec.Time
			if format != adapter.SendGrid.Name() || len(pending) == sendgridBatch {
				flushPending()
			}
		}
		if len(msgs) >= batch {
			if err := write(); err != nil {
				return st, err
			}
		}
	}
	flushPending()
	return st, write()
}

func sender(ev *event.Event) string {
	if ev.SendingDomain != "" {
		return ev.SendingDomain
	}
	return "mail.example.com"
}
