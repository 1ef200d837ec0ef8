package adapter

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/trustpipe/trustpipe/aggregate/event"
)

// Native is one event to write in a platform's format (for `trustpipe gen`
// and the tests): the contract event plus the raw recipient and sender
// addresses the platform would report.
type Native struct {
	Event     *event.Event
	Recipient string
	Sender    string
}

// Encode writes evs as one payload of format name (a SendGrid batch holds
// them all; the other formats take exactly one event, and SES one
// recipient). It reports false when an event has no representation in the
// format (a type or detail the platform does not report, e.g. a Postmark
// send or a Mailgun soft bounce); the caller leaves such events out.
func Encode(name string, evs []Native) ([]byte, bool) {
	if name != SendGrid.Name() && len(evs) != 1 {
		return nil, false
	}
	var v any
	var ok bool
	switch name {
	case SendGrid.Name():
		batch := make([]map[string]any, len(evs))
		for i, n := range evs {
			if batch[i], ok = encodeSendGrid(n); !ok {
				return nil, false
			}
		}
		v, ok = batch, true
	case Mailgun.Name():
		v, ok = encodeMailgun(evs[0])
	case SES.Name():
		v, ok = encodeSES(evs[0])
	case Postmark.Name():
		v, ok = encodePostmark(evs[0])
	}
	if !ok {
		return nil, false
	}
	b, err := json.Marshal(v)
	return b, err == nil
}

var sendgridNames = map[event.Type]string{
	event.Send: "processed", event.Delivered: "delivered", event.Open: "open", event.Click: "click", event.Bounce: "bounce",
	event.Complaint: "spamreport", event.Unsubscribe: "unsubscribe", event.OptDown: "group_unsubscribe", event.OptUp: "group_resubscribe",
}

func encodeSendGrid(n Native) (map[string]any, bool) {
	ev := n.Event
	name, ok := sendgridNames[ev.Type]
	if !ok || ev.Type == event.Click && ev.Detail == event.DetailBot {
		return nil, false
	}
	// SendGrid's timestamp is whole seconds: the time is truncated, which
	// keeps it in the same trust_counts bucket (buckets are whole seconds).
	m := map[string]any{"email": n.Recipient, "timestamp": ev.OccurredAt.Unix(), "event": name, "sg_event_id": ev.ID}
	if ev.MessageID != "" {
		m["sg_message_id"] = ev.MessageID
	}
	if ev.CampaignID != "" {
		m["marketing_campaign_id"] = ev.CampaignID
	}
	switch {
	case ev.Type == event.Open:
		m["sg_machine_open"] = ev.Detail == event.DetailMachine
	case ev.Type == event.Bounce && ev.Detail == "soft":
		m["type"] = "blocked"
	case ev.Type == event.Bounce && ev.Detail == "hard":
		m["type"] = "bounce"
	case ev.Type == event.Bounce:
		return nil, false // SendGrid reports every bounce as hard or blocked
	}
	return m, true
}

var mailgunNames = map[event.Type]string{
	event.Send: "accepted", event.Delivered: "delivered", event.Bounce: "failed", event.Open: "opened",
	event.Click: "clicked", event.Unsubscribe: "unsubscribed", event.Complaint: "complained",
}

func encodeMailgun(n Native) (any, bool) {
	ev := n.Event
	name, ok := mailgunNames[ev.Type]
	if !ok || ev.Type == event.Bounce && ev.Detail != "hard" || ev.Type == event.Send && ev.UnresolvedTokens > 0 {
		return nil, false
	}
	ts := json.Number(strconv.FormatInt(ev.OccurredAt.Unix(), 10) + "." + fmt.Sprintf("%09d", ev.OccurredAt.Nanosecond()))
	e := map[string]any{"event": name, "timestamp": ts, "id": ev.ID, "recipient": n.Recipient,
		"envelope": map[string]any{"sender": n.Sender}, "message": map[string]any{"headers": map[string]any{"message-id": ev.MessageID}}}
	switch {
	case ev.Type == event.Bounce:
		e["severity"] = "permanent"
	case ev.Detail == event.DetailMachine || ev.Detail == event.DetailBot:
		e["client-info"] = map[string]any{"bot": "generic"}
	}
	// Unsigned: gen writes to Kafka, where no signature is checked.
	return map[string]any{"event-data": e}, true
}

func encodeSES(n Native) (any, bool) {
	ev := n.Event
	at := ev.OccurredAt.UTC().Format(time.RFC3339Nano)
	sent := at
	if !ev.SentAt.IsZero() {
		sent = ev.SentAt.UTC().Format(time.RFC3339Nano)
	}
	mail := map[string]any{"timestamp": sent, "source": n.Sender, "messageId": ev.MessageID, "destination": []string{n.Recipient}}
	out := map[string]any{"mail": mail}
	switch {
	case ev.Type == event.Send && ev.UnresolvedTokens == 1:
		out["eventType"], mail["timestamp"] = "Rendering Failure", at
		out["failure"] = map[string]any{"templateName": "gen"}
	case ev.Type == event.Send && ev.UnresolvedTokens == 0:
		out["eventType"], mail["timestamp"] = "Send", at
	case ev.Type == event.Delivered:
		out["eventType"], out["delivery"] = "Delivery", map[string]any{"timestamp": at, "recipients": []string{n.Recipient}}
	case ev.Type == event.Bounce && ev.Detail != "":
		kind := map[string]string{"hard": "Permanent", "soft": "Transient"}[ev.Detail]
		out["eventType"], out["bounce"] = "Bounce", map[string]any{"bounceType": kind, "timestamp": at,
			"bouncedRecipients": []map[string]string{{"emailAddress": n.Recipient}}}
	case ev.Type == event.Complaint:
		out["eventType"], out["complaint"] = "Complaint", map[string]any{"timestamp": at, "complaintFeedbackType": "abuse",
			"complainedRecipients": []map[string]string{{"emailAddress": n.Recipient}}}
	case ev.Type == event.Open && ev.Detail == "":
		out["eventType"], out["open"] = "Open", map[string]any{"timestamp": at}
	case ev.Type == event.Click && ev.Detail == "":
		out["eventType"], out["click"] = "Click", map[string]any{"timestamp": at}
	case ev.Type == event.Unsubscribe || ev.Type == event.OptDown || ev.Type == event.OptUp:
		in, out1 := []map[string]string{{"subscriptionStatus": "OptIn"}}, []map[string]string{{"subscriptionStatus": "OptOut"}}
		prefs := map[string]any{"timestamp": at,
			"newTopicPreferences": map[string]any{"unsubscribeAll": ev.Type == event.Unsubscribe, "topicSubscriptionStatus": out1},
			"oldTopicPreferences": map[string]any{"topicSubscriptionStatus": in}}
		if ev.Type == event.OptUp {
			prefs["newTopicPreferences"], prefs["oldTopicPreferences"] = map[string]any{"topicSubscriptionStatus": in}, map[string]any{"topicSubscriptionStatus": out1}
		}
		out["eventType"], out["subscription"] = "Subscription", prefs
	default:
		return nil, false
	}
	return out, true
}

func encodePostmark(n Native) (any, bool) {
	ev := n.Event
	at := ev.OccurredAt.UTC().Format(time.RFC3339Nano)
	r := map[string]any{"MessageID": ev.MessageID, "Recipient": n.Recipient}
	switch {
	case ev.Type == event.Delivered:
		r["RecordType"], r["DeliveredAt"] = "Delivery", at
	case ev.Type == event.Bounce && ev.Detail != "" || ev.Type == event.Complaint:
		r["RecordType"], r["Email"], r["From"], r["BouncedAt"] = "SpamComplaint", n.Recipient, n.Sender, at
		if ev.Type == event.Bounce {
			r["RecordType"], r["Type"] = "Bounce", map[string]string{"hard": "HardBounce", "soft": "SoftBounce"}[ev.Detail]
		}
		delete(r, "Recipient")
	case ev.Type == event.Open && ev.Detail == "":
		r["RecordType"], r["ReceivedAt"] = "Open", at
	case ev.Type == event.Click && ev.Detail == "":
		r["RecordType"], r["ReceivedAt"] = "Click", at
	case ev.Type == event.Unsubscribe:
		r["RecordType"], r["ChangedAt"], r["SuppressSending"], r["SuppressionReason"] = "SubscriptionChange", at, true, "ManualSuppression"
	case ev.Type == event.OptUp:
		r["RecordType"], r["ChangedAt"], r["SuppressSending"] = "SubscriptionChange", at, false
	default:
		return nil, false
	}
	return r, true
}
