package adapter

import (
	"github.com/trustpipe/trustpipe/aggregate/event"
)

// SES is Amazon SES event publishing (a configuration set's event
// destination), as the JSON event itself (e.g. delivered by Firehose) or
// inside an SNS notification (its Message). The older SES notifications
// (notificationType instead of eventType) are read the same way.
//
//	Send -> send                   Delivery -> delivered (per recipient)
//	Rendering Failure -> send with unresolved_tokens 1 (the template did
//	  not render; SES does not say how many tokens failed)
//	Bounce -> bounce (Permanent: hard, Transient: soft, else no kind),
//	  per bounced recipient
//	Complaint -> complaint per complained recipient, unless
//	  complaintFeedbackType is not-spam or auth-failure (not_a_complaint)
//	Open -> open, Click -> click (only for single-recipient messages: SES
//	  does not say which recipient opened; else ambiguous_recipient)
//	Subscription -> unsubscribe (unsubscribeAll), opt_down or opt_up (fewer
//	  or more topics opted in), else no_change
//	Reject, DeliveryDelay, others -> unmapped_type
//
// SES documents no machine-open or bot-click flag and no event id: the id
// is derived from the message id, type, recipient and time, so a
// redelivered notification deduplicates. mail.timestamp is sent_at,
// mail.source gives sending_domain.
var SES = register(ses{})

type ses struct{}

func (ses) Name() string { return "ses" }

type sesEvent struct {
	EventType        string `json:"eventType"`
	NotificationType string `json:"notificationType"`
	Mail             struct {
		Timestamp   string   `json:"timestamp"`
		Source      string   `json:"source"`
		MessageID   string   `json:"messageId"`
		Destination []string `json:"destination"`
	} `json:"mail"`
	Bounce *struct {
		BounceType        string       `json:"bounceType"`
		BouncedRecipients []sesAddress `json:"bouncedRecipients"`
		Timestamp         string       `json:"timestamp"`
	} `json:"bounce"`
	Complaint *struct {
		ComplainedRecipients  []sesAddress `json:"complainedRecipients"`
		Timestamp             string       `json:"timestamp"`
		ComplaintFeedbackType string       `json:"complaintFeedbackType"`
	} `json:"complaint"`
	Delivery *struct {
		Timestamp  string   `json:"timestamp"`
		Recipients []string `json:"recipients"`
	} `json:"delivery"`
	Open         *sesTimed `json:"open"`
	Click        *sesTimed `json:"click"`
	Subscription *struct {
		Timestamp           string         `json:"timestamp"`
		NewTopicPreferences sesPreferences `json:"newTopicPreferences"`
		OldTopicPreferences sesPreferences `json:"oldTopicPreferences"`
	} `json:"subscription"`
}

type sesAddress struct {
	EmailAddress string `json:"emailAddress"`
}

type sesTimed struct {
	Timestamp string `json:"timestamp"`
}

type sesPreferences struct {
	UnsubscribeAll          bool `json:"unsubscribeAll"`
	TopicSubscriptionStatus []struct {
		SubscriptionStatus string `json:"subscriptionStatus"`
	} `json:"topicSubscriptionStatus"`
}

func (p sesPreferences) optedIn() int {
	n := 0
	for _, t := range p.TopicSubscriptionStatus {
		if t.SubscriptionStatus == "OptIn" {
			n++
		}
	}
	return n
}

// snsEnvelope is the part of an SNS message Convert reads; signatures are
// checked by VerifySNS before.
type snsEnvelope struct {
	Type    string  `json:"Type"`
	Message *string `json:"Message"`
}

func (ses) parse(payload []byte, c *converter) *Error {
	var env snsEnvelope
	if err := strictUnmarshal(payload, &env); err != nil {
		return payloadError(event.ReasonInvalidJSON, "want an SES event or SNS message object: %v", err)
	}
	if env.Type != "" && env.Message != nil {
		if env.Type != "Notification" {
			c.skip(SkipUnmapped) // SubscriptionConfirmation and UnsubscribeConfirmation carry no event
			return nil
		}
		payload = []byte(*env.Message)
	}
	var e sesEvent
	if err := strictUnmarshal(payload, &e); err != nil {
		return payloadError(event.ReasonInvalidJSON, "want an SES event object: %v", err)
	}
	kind := e.EventType
	if kind == "" {
		kind = e.NotificationType
	}
	base := mail{sender: e.Mail.Source, messageID: e.Mail.MessageID, sentAt: isoTime(e.Mail.Timestamp)}
	each := func(typ event.Type, at string, detail string, recipients []string) *Error {
		for _, r := range recipients {
			m := base
			m.typ, m.at, m.detail, m.recipient = typ, isoTime(at), detail, r
			if typ == event.Send {
				m.at = m.sentAt
			}
			if err := c.add(m); err != nil {
				return err
			}
		}
		if len(recipients) == 0 {
			return payloadError(event.ReasonMissingField, "a %s event names no recipient", typ)
		}
		return nil
	}
	switch kind {
	case "Send":
		return each(event.Send, "", "", e.Mail.Destination)
	case "Rendering Failure":
		before := len(c.out.Events)
		if err := each(event.Send, "", "", e.Mail.Destination); err != nil {
			return err
		}
		for i := before; i < len(c.out.Events); i++ {
			c.out.Events[i].UnresolvedTokens = 1
		}
		return nil
	case "Delivery":
		if e.Delivery == nil {
			return payloadError(event.ReasonMissingField, "a Delivery event has no delivery object")
		}
		return each(event.Delivered, e.Delivery.Timestamp, "", e.Delivery.Recipients)
	case "Bounce":
		if e.Bounce == nil {
			return payloadError(event.ReasonMissingField, "a Bounce event has no bounce object")
		}
		kind := map[string]string{"Permanent": "hard", "Transient": "soft"}[e.Bounce.BounceType]
		return each(event.Bounce, e.Bounce.Timestamp, kind, addresses(e.Bounce.BouncedRecipients))
	case "Complaint":
		if e.Complaint == nil {
			return payloadError(event.ReasonMissingField, "a Complaint event has no complaint object")
		}
		switch e.Complaint.ComplaintFeedbackType {
		case "not-spam", "auth-failure":
			c.skip(SkipNotComplaint)
			return nil
		}
		return each(event.Complaint, e.Complaint.Timestamp, "", addresses(e.Complaint.ComplainedRecipients))
	case "Open", "Click":
		typ, t := event.Open, e.Open
		if kind == "Click" {
			typ, t = event.Click, e.Click
		}
		if t == nil {
			return payloadError(event.ReasonMissingField, "an %s event has no %s object", kind, typ)
		}
		if len(e.Mail.Destination) > 1 {
			c.skip(SkipAmbiguousRecipient)
			return nil
		}
		return each(typ, t.Timestamp, "", e.Mail.Destination)
	case "Subscription":
		s := e.Subscription
		if s == nil {
			return payloadError(event.ReasonMissingField, "a Subscription event has no subscription object")
		}
		var typ event.Type
		switch newIn, oldIn := s.NewTopicPreferences.optedIn(), s.OldTopicPreferences.optedIn(); {
		case s.NewTopicPreferences.UnsubscribeAll:
			typ = event.Unsubscribe
		case newIn < oldIn:
			typ = event.OptDown
		case newIn > oldIn:
			typ = event.OptUp
		default:
			c.skip(SkipNoChange)
			return nil
		}
		return each(typ, s.Timestamp, "", e.Mail.Destination)
	case "":
		return payloadError(event.ReasonMissingField, "no eventType")
	}
	c.skip(SkipUnmapped)
	return nil
}

func addresses(rs []sesAddress) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.EmailAddress
	}
	return out
}
