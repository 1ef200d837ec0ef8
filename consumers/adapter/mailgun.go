package adapter

import (
	"encoding/json"

	"github.com/trustpipe/trustpipe/aggregate/event"
)

// Mailgun is the webhook format: one event per request,
// {"signature": {...}, "event-data": {...}} (VerifyMailgun checks the
// signature). A Kafka record may hold the same object or the event-data
// alone.
//
//	accepted -> send               delivered -> delivered
//	failed, severity permanent -> bounce (hard)
//	failed, severity temporary -> skipped (temporary_failure)
//	opened -> open (client-info.bot set: machine)
//	clicked -> click (client-info.bot set: bot)
//	unsubscribed -> unsubscribe    complained -> complaint
//	others (stored, rejected, ...) -> unmapped_type
//
// event-data.id is the event id, message.headers.message-id the message
// id, envelope.sender (else the From header) gives sending_domain.
var Mailgun = register(mailgun{})

type mailgun struct{}

func (mailgun) Name() string { return "mailgun" }

type mailgunWebhook struct {
	Signature *mailgunSignature `json:"signature"`
	EventData *mailgunEvent     `json:"event-data"`
}

type mailgunSignature struct {
	Timestamp string `json:"timestamp"`
	Token     string `json:"token"`
	Signature string `json:"signature"`
}

type mailgunEvent struct {
	ID        string      `json:"id"`
	Timestamp json.Number `json:"timestamp"`
	Event     string      `json:"event"`
	Severity  string      `json:"severity"`
	Recipient string      `json:"recipient"`
	Envelope  struct {
		Sender string `json:"sender"`
	} `json:"envelope"`
	Message struct {
		Headers struct {
			MessageID string `json:"message-id"`
			From      string `json:"from"`
		} `json:"headers"`
	} `json:"message"`
	ClientInfo struct {
		Bot string `json:"bot"`
	} `json:"client-info"`
}

var mailgunTypes = map[string]event.Type{
	"accepted": event.Send, "delivered": event.Delivered, "failed": event.Bounce, "opened": event.Open,
	"clicked": event.Click, "unsubscribed": event.Unsubscribe, "complained": event.Complaint,
}

func (mailgun) parse(payload []byte, c *converter) *Error {
	var w mailgunWebhook
	if err := strictUnmarshal(payload, &w); err != nil {
		return payloadError(event.ReasonInvalidJSON, "want a webhook object: %v", err)
	}
	e := w.EventData
	if e == nil {
		// A bare event-data object (e.g. from the Events API).
		e = new(mailgunEvent)
		if err := strictUnmarshal(payload, e); err != nil {
			return payloadError(event.ReasonInvalidJSON, "want a webhook object: %v", err)
		}
	}
	typ, ok := mailgunTypes[e.Event]
	switch {
	case e.Event == "":
		return payloadError(event.ReasonMissingField, "no event-data.event")
	case !ok:
		c.skip(SkipUnmapped)
		return nil
	case typ == event.Bounce && e.Severity == "temporary":
		c.skip(SkipTemporary)
		return nil
	}
	if e.ID == "" {
		return payloadError(event.ReasonMissingField, "a %s event has no id", typ)
	}
	m := mail{typ: typ, recipient: e.Recipient, at: unixTime(e.Timestamp), id: e.ID,
		messageID: e.Message.Headers.MessageID, sender: e.Envelope.Sender}
	if m.sender == "" {
		m.sender = e.Message.Headers.From
	}
	switch {
	case typ == event.Bounce:
		m.detail = "hard"
	case typ == event.Open && e.ClientInfo.Bot != "":
		m.detail = event.DetailMachine
	case typ == event.Click && e.ClientInfo.Bot != "":
		m.detail = event.DetailBot
	}
	return c.add(m)
}
