// Package adapter turns the documented event formats of email platforms
// (SendGrid's Event Webhook, Amazon SES event publishing, Mailgun and
// Postmark webhooks) into v1.1 contract events, and verifies each
// platform's webhook signature.
//
// Why here, at ingest: the recipient address is the one piece of personal
// data in these payloads, and the only place trustpipe can promise it is
// never stored is the first code that reads it. Convert replaces it with
// the contact pseudonym before an event leaves this package; the raw
// address is used only to derive the pseudonym and the mailbox provider.
//
// A payload is all or nothing: if one of its events cannot be expressed
// under the contract (a missing address, an unparsable time, a field over
// its limit), Convert returns an error and no event, so a payload is never
// half counted. Event types the contract does not know (SendGrid's
// "deferred", SES's "DeliveryDelay", ...) are not errors: they are counted
// in Output.Skipped under a fixed reason.
package adapter

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/trustpipe/trustpipe/aggregate/event"
)

// Pseudonyms maps a normalised address to its pseudonym (consumers'
// Pseudonymizer).
type Pseudonyms interface {
	Pseudonym(id string) string
}

// Format converts one native payload into contract events.
type Format interface {
	// Name is the format's registry name (sendgrid, ses, mailgun, postmark).
	Name() string
	// parse appends the payload's events to out; it needs not validate
	// them under the contract (Convert does).
	parse(payload []byte, c *converter) *Error
}

// formats is the registry by name.
var formats = map[string]Format{}

func register(f Format) Format {
	formats[f.Name()] = f
	return f
}

// Lookup returns the format registered under name.
func Lookup(name string) (Format, bool) {
	f, ok := formats[name]
	return f, ok
}

// Names lists the registered formats, sorted.
func Names() []string {
	names := make([]string, 0, len(formats))
	for n := range formats {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// SkipReason says why a native event produced no contract event. The set
// is fixed (Skips) so it can be a metric label.
type SkipReason string

// The skip reasons.
const (
	// SkipUnmapped: an event type the contract has no type for (deferrals,
	// drops before sending, processing notices, SNS subscription
	// confirmations).
	SkipUnmapped SkipReason = "unmapped_type"
	// SkipNotComplaint: a feedback report that is not a recipient's
	// complaint (SES complaintFeedbackType not-spam or auth-failure).
	SkipNotComplaint SkipReason = "not_a_complaint"
	// SkipAmbiguousRecipient: an SES open or click of a message with
	// several recipients; SES does not say which one opened.
	SkipAmbiguousRecipient SkipReason = "ambiguous_recipient"
	// SkipNoChange: a subscription change that neither left nor joined a
	// topic, or a suppression the platform made, not the recipient.
	SkipNoChange SkipReason = "no_change"
	// SkipTemporary: a delivery attempt that failed and will be retried
	// (SendGrid deferred, Mailgun temporary failures); the retry's outcome
	// is the event that counts.
	SkipTemporary SkipReason = "temporary_failure"
)

// Skips lists every SkipReason.
func Skips() []SkipReason {
	return []SkipReason{SkipUnmapped, SkipNotComplaint, SkipAmbiguousRecipient, SkipNoChange, SkipTemporary}
}

// Output is what one payload converted to. Events are pseudonymized and
// valid under the contract; Skipped counts the native events that map to
// no contract type.
type Output struct {
	Events  []event.Event
	Skipped map[SkipReason]int
}

// Reset empties o for reuse.
func (o *Output) Reset() {
	o.Events = o.Events[:0]
	clear(o.Skipped)
}

// ErrPayload is wrapped by every error of Convert about the payload itself.
var ErrPayload = errors.New("invalid native payload")

// Error is a payload Convert refused: Reason is the contract's code for
// the problem (invalid_json for a payload that is not the format,
// missing_field for an event without an address, time or id, or the
// reason the contract decoder gave), usable as a metric label.
type Error struct {
	Format string
	Reason event.Reason
	Detail string
}

func (e *Error) Error() string {
	return e.Format + ": " + ErrPayload.Error() + ": " + e.Detail
}

// Unwrap makes errors.Is(err, ErrPayload) hold.
func (e *Error) Unwrap() error { return ErrPayload }

// payloadError builds an Error (Convert sets its Format). The detail must never quote
// a value from the payload: it may be logged or stored in a dead letter,
// and payload values may be addresses.
func payloadError(r event.Reason, format string, args ...any) *Error {
	return &Error{Reason: r, Detail: fmt.Sprintf(format, args...)}
}

// Convert converts payload in format f into contract events, pseudonymized
// with ps, and checks each under the contract with dec against ref (the
// reference time of the future and too-old checks; zero skips them, as in
// event.Decoder.Decode). On error, an *Error, out holds no events.
func Convert(f Format, payload []byte, ps Pseudonyms, dec *event.Decoder, ref time.Time, out *Output) error {
	out.Reset()
	if out.Skipped == nil {
		out.Skipped = make(map[SkipReason]int)
	}
	c := &converter{format: f.Name(), ps: ps, out: out}
	if err := f.parse(payload, c); err != nil {
		out.Reset()
		err.Format = f.Name()
		return err
	}
	var buf []byte
	var back event.Event
	for i := range out.Events {
		buf = event.AppendJSON(buf[:0], &out.Events[i])
		if rej := dec.Decode(buf, ref, &back); rej != nil {
			out.Reset()
			return &Error{Format: f.Name(), Reason: rej.Reason, Detail: fmt.Sprintf("event %d breaks the contract: %s", i+1, rej.Reason)}
		}
	}
	return nil
}

// converter carries a conversion's state into a format's parse.
type converter struct {
	format string
	ps     Pseudonyms
	out    *Output
}

func (c *converter) skip(r SkipReason) { c.out.Skipped[r]++ }

// mail is one native email event, before pseudonymization.
type mail struct {
	typ        event.Type
	recipient  string    // raw address; never leaves add
	sender     string    // raw From address or domain, for sending_domain
	at         time.Time // when it happened
	sentAt     time.Time // when the message was sent, if the platform says
	id         string    // the platform's event id; "" derives one
	messageID  string
	campaignID string
	detail     string // bounce kind, DetailMachine, DetailBot
	unresolved uint32 // a send whose render failed
}

// add pseudonymizes m and appends it to the output.
func (c *converter) add(m mail) *Error {
	addr := NormalizeAddress(m.recipient)
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 || at == len(addr)-1 {
		return payloadError(event.ReasonMissingField, "a %s event has no recipient address", m.typ)
	}
	if m.at.IsZero() {
		return payloadError(event.ReasonMissingField, "a %s event has no time", m.typ)
	}
	contact := c.ps.Pseudonym(addr)
	id := m.id
	if id == "" {
		id = derivedID(c.format, m, contact)
	}
	ev := event.Event{
		ID:              id,
		Type:            m.typ,
		OccurredAt:      m.at.UTC(),
		ContactID:       contact,
		CampaignID:      m.campaignID,
		Channel:         "email",
		Source:          c.format,
		MailboxProvider: MailboxProvider(addr[at+1:]),
		SendingDomain:   senderDomain(m.sender),
		Detail:          m.detail,
	}
	// The contract allows message_id on sends and follow-ups only, sent_at
	// on follow-ups only (an opt_up follows no message).
	if m.typ == event.Send || m.typ.IsFollowUp() {
		ev.MessageID = m.messageID
	}
	if m.typ.IsFollowUp() && !m.sentAt.IsZero() && !m.sentAt.After(m.at) {
		ev.SentAt = m.sentAt.UTC()
	}
	if m.typ == event.Send {
		ev.UnresolvedTokens = m.unresolved
		ev.Detail = ""
	}
	c.out.Events = append(c.out.Events, ev)
	return nil
}

// derivedID is the event id of a platform that sends none (SES, Postmark):
// a hash of what identifies the event, so a redelivered payload gets the
// same id and deduplicates. The contact pseudonym stands in for the
// address, so the id reveals nothing about it.
func derivedID(format string, m mail, contact string) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00%d", format, m.typ, m.messageID, contact, m.at.UnixNano())
	return format + ":" + hex.EncodeToString(h.Sum(nil)[:16])
}

// NormalizeAddress is the form of an address that is pseudonymized:
// trimmed and lower-cased, so Alice@Example.com and alice@example.com are
// one contact. A display name ("Alice <alice@example.com>") is dropped.
func NormalizeAddress(a string) string {
	a = strings.TrimSpace(a)
	if i := strings.LastIndexByte(a, '<'); i >= 0 {
		if j := strings.IndexByte(a[i:], '>'); j > 0 {
			a = strings.TrimSpace(a[i+1 : i+j])
		}
	}
	return strings.ToLower(a)
}

// senderDomain returns the lower-cased domain of a From address (or the
// value itself when it is a bare domain), "" when there is none.
func senderDomain(s string) string {
	s = NormalizeAddress(s)
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		s = s[i+1:]
	}
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > event.MaxSendingDomainLen || strings.ContainsAny(s, " <>\"@") {
		return ""
	}
	return s
}

// MailboxProvider maps a recipient domain (lower case) to the contract's
// mailbox_provider: gmail, yahoo (Yahoo and AOL, one company's mailboxes),
// microsoft, apple or other.
func MailboxProvider(domain string) string {
	label := domain
	if i := strings.IndexByte(domain, '.'); i >= 0 {
		label = domain[:i]
	}
	switch {
	case domain == "gmail.com" || domain == "googlemail.com":
		return "gmail"
	case label == "yahoo" || label == "ymail" || label == "rocketmail" || label == "aol" || domain == "aim.com":
		return "yahoo"
	case label == "outlook" || label == "hotmail" || label == "live" || domain == "msn.com" || domain == "passport.com":
		return "microsoft"
	case domain == "icloud.com" || domain == "me.com" || domain == "mac.com":
		return "apple"
	}
	return "other"
}

// unixTime converts decimal Unix seconds (Mailgun's 1529006854.329574,
// SendGrid's 1513299569) to a time, digit by digit so no float rounding
// moves it; the zero time for anything else or outside the contract's
// range.
func unixTime(n json.Number) time.Time {
	whole, frac, _ := strings.Cut(string(n), ".")
	sec, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || sec < event.MinTime.Unix() || sec > event.MaxTime.Unix() || len(frac) > 9 {
		return time.Time{}
	}
	var nanos int64
	if frac != "" {
		f, err := strconv.ParseUint(frac, 10, 32)
		if err != nil {
			return time.Time{}
		}
		nanos = int64(f)
		for range 9 - len(frac) {
			nanos *= 10
		}
	}
	return time.Unix(sec, nanos).UTC()
}

// isoTime parses the RFC 3339 times of SES and Postmark; the zero time
// when unparsable.
func isoTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t
}
