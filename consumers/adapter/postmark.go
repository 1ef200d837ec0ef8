package adapter

import (
	"strconv"

	"github.com/trustpipe/trustpipe/aggregate/event"
)

// Postmark is the webhook format: one JSON object per request with a
// RecordType (basic auth on the webhook URL authenticates it).
//
//	Delivery -> delivered          SpamComplaint -> complaint
//	Bounce -> bounce (HardBounce: hard; SoftBounce, Transient, DnsError:
//	  soft; other bounce types such as AutoResponder: unmapped_type)
//	Open -> open                   Click -> click
//	SubscriptionChange -> unsubscribe (SuppressSending with reason
//	  ManualSuppression), opt_up (SuppressSending false: reactivated);
//	  suppressions Postmark made itself (HardBounce, SpamComplaint): no_change
//	others -> unmapped_type
//
// Postmark documents no machine-open or bot-click flag. Bounces and
// complaints carry an ID, which becomes the event id; other records get one
// derived from the message id, type, recipient and time. The From of
// bounces and complaints gives sending_domain.
var Postmark = register(postmark{})

type postmark struct{}

func (postmark) Name() string { return "postmark" }

type postmarkRecord struct {
	RecordType        string `json:"RecordType"`
	ID                int64  `json:"ID"`
	Type              string `json:"Type"`
	MessageID         string `json:"MessageID"`
	Recipient         string `json:"Recipient"`
	Email             string `json:"Email"`
	From              string `json:"From"`
	DeliveredAt       string `json:"DeliveredAt"`
	BouncedAt         string `json:"BouncedAt"`
	ReceivedAt        string `json:"ReceivedAt"`
	ChangedAt         string `json:"ChangedAt"`
	SuppressSending   bool   `json:"SuppressSending"`
	SuppressionReason string `json:"SuppressionReason"`
	Tag               string `json:"Tag"`
}

var postmarkBounceKinds = map[string]string{"HardBounce": "hard", "SoftBounce": "soft", "Transient": "soft", "DnsError": "soft"}

func (postmark) parse(payload []byte, c *converter) *Error {
	var r postmarkRecord
	if err := strictUnmarshal(payload, &r); err != nil {
		return payloadError(event.ReasonInvalidJSON, "want a webhook object: %v", err)
	}
	m := mail{recipient: r.Recipient, messageID: r.MessageID, sender: r.From}
	switch r.RecordType {
	case "Delivery":
		m.typ, m.at = event.Delivered, isoTime(r.DeliveredAt)
	case "Bounce", "SpamComplaint":
		m.typ, m.at, m.recipient = event.Complaint, isoTime(r.BouncedAt), r.Email
		if r.RecordType == "Bounce" {
			kind, ok := postmarkBounceKinds[r.Type]
			if !ok {
				c.skip(SkipUnmapped)
				return nil
			}
			m.typ, m.detail = event.Bounce, kind
		}
		if r.ID != 0 {
			m.id = "postmark:" + r.RecordType + ":" + strconv.FormatInt(r.ID, 10)
		}
	case "Open":
		m.typ, m.at = event.Open, isoTime(r.ReceivedAt)
	case "Click":
		m.typ, m.at = event.Click, isoTime(r.ReceivedAt)
	case "SubscriptionChange":
		m.at = isoTime(r.ChangedAt)
		switch {
		case !r.SuppressSending:
			m.typ = event.OptUp
		case r.SuppressionReason == "ManualSuppression":
			m.typ = event.Unsubscribe
		default:
			c.skip(SkipNoChange)
			return nil
		}
	case "":
		return payloadError(event.ReasonMissingField, "no RecordType")
	default:
		c.skip(SkipUnmapped)
		return nil
	}
	return c.add(m)
}
