package adapter

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"

	"github.com/trustpipe/trustpipe/aggregate/event"
)

// SendGrid is the Event Webhook format: a JSON array of events, each with
// email, timestamp (Unix seconds), event, sg_event_id and sg_message_id.
//
//	processed -> send            delivered -> delivered
//	open -> open (sg_machine_open: machine)
//	click -> click               bounce -> bounce (type blocked: soft, else hard)
//	spamreport -> complaint      unsubscribe -> unsubscribe
//	group_unsubscribe -> opt_down (left one unsubscribe group, not all mail)
//	group_resubscribe -> opt_up
//	deferred -> skipped (temporary_failure)
//	dropped, others -> skipped (unmapped_type)
//
// SendGrid's events name no sender, so sending_domain stays empty, and it
// documents no bot-click flag.
var SendGrid = register(sendgrid{})

type sendgrid struct{}

func (sendgrid) Name() string { return "sendgrid" }

type sendgridEvent struct {
	Email               string      `json:"email"`
	Timestamp           json.Number `json:"timestamp"`
	Event               string      `json:"event"`
	EventID             string      `json:"sg_event_id"`
	MessageID           string      `json:"sg_message_id"`
	SMTPID              string      `json:"smtp-id"`
	Type                string      `json:"type"`
	MachineOpen         bool        `json:"sg_machine_open"`
	MarketingCampaignID flexString  `json:"marketing_campaign_id"`
}

var sendgridTypes = map[string]event.Type{
	"processed": event.Send, "delivered": event.Delivered, "open": event.Open, "click": event.Click,
	"bounce": event.Bounce, "spamreport": event.Complaint, "unsubscribe": event.Unsubscribe,
	"group_unsubscribe": event.OptDown, "group_resubscribe": event.OptUp,
}

func (sendgrid) parse(payload []byte, c *converter) *Error {
	var evs []sendgridEvent
	if err := strictUnmarshal(payload, &evs); err != nil {
		return payloadError(event.ReasonInvalidJSON, "want a JSON array of events: %v", err)
	}
	for _, e := range evs {
		typ, ok := sendgridTypes[e.Event]
		switch {
		case e.Event == "deferred":
			c.skip(SkipTemporary)
			continue
		case !ok:
			c.skip(SkipUnmapped)
			continue
		}
		m := mail{typ: typ, recipient: e.Email, at: unixTime(e.Timestamp), id: e.EventID,
			messageID: e.MessageID, campaignID: string(e.MarketingCampaignID)}
		if m.messageID == "" {
			m.messageID = strings.Trim(e.SMTPID, "<>")
		}
		switch {
		case typ == event.Open && e.MachineOpen:
			m.detail = event.DetailMachine
		case typ == event.Bounce && e.Type == "blocked":
			m.detail = "soft"
		case typ == event.Bounce:
			m.detail = "hard"
		}
		if m.id == "" {
			return payloadError(event.ReasonMissingField, "a %s event has no sg_event_id", typ)
		}
		if err := c.add(m); err != nil {
			return err
		}
	}
	return nil
}

// flexString accepts a JSON string or number (SendGrid's
// marketing_campaign_id is either) as its text.
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	*f = flexString(n.String())
	return nil
}

// strictUnmarshal decodes one JSON value into v and refuses trailing data.
func strictUnmarshal(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	if err := d.Decode(v); err != nil {
		return errorWithoutValues(err)
	}
	if d.More() {
		return errTrailing
	}
	return nil
}

var errTrailing = errors.New("data after the JSON value")

// errorWithoutValues rewords encoding/json's errors so they name a field
// or an offset, never a payload value.
func errorWithoutValues(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Errorf("not well-formed JSON at offset %d", syn.Offset)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "the payload"
		}
		return fmt.Errorf("%s: want %s, got %s", field, jsonKind(typ.Type.Kind()), strings.Fields(typ.Value + " value")[0])
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return errors.New("truncated JSON")
	}
	return errors.New("not valid JSON")
}

// jsonKind names the JSON type a Go kind decodes from.
func jsonKind(k reflect.Kind) string {
	switch k {
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Struct, reflect.Map:
		return "object"
	case reflect.Bool:
		return "boolean"
	case reflect.String:
		return "string"
	}
	return "number"
}
