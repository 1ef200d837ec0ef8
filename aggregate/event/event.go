// Package event is the v1.1 trust-event contract (CONTRACT.md §1): the decoded
// Event, its enumerations, and the fixed set of rejection reasons.
//
// It has no dependency on Kafka or ClickHouse so that every stage, the
// generator and the tests share one definition of what an event is.
// All functions are safe for concurrent use; a Decoder is not (one per
// goroutine).
package event

import (
	"errors"
	"fmt"
	"time"
)

// Type is an event type. The zero value is invalid.
type Type uint8

// Event types, in contract order.
const (
	TypeInvalid Type = iota
	Send
	Delivered
	Bounce
	Open
	Click
	FormFill
	Unsubscribe
	OptDown
	OptUp
	PreferenceCenterVisit
	Complaint
	ConsentChange
	WebSession
	Sentiment
	Feedback
	numTypes
)

var typeNames = [numTypes]string{
	"", "send", "delivered", "bounce", "open", "click", "form_fill",
	"unsubscribe", "opt_down", "opt_up", "preference_center_visit",
	"complaint", "consent_change", "web_session", "sentiment", "feedback",
}

// String returns the contract name of the type ("" for TypeInvalid).
func (t Type) String() string {
	if t >= numTypes {
		return ""
	}
	return typeNames[t]
}

// InCohort reports whether events of type t belong to one message's cohort
// (DESIGN.md, "Attribution"): the follow-ups of a send (IsFollowUp: its
// delivery outcome and the reactions to it) and form fills, which carry the
// campaign of the message that led to them but no sent_at, so they count
// for their campaign. The others (send, opt-up, consent changes, web
// sessions, sentiment) follow no one message and are judged by their own
// time.
func (t Type) InCohort() bool { return t.IsFollowUp() || t == FormFill }

// Types lists every valid type in contract order; metrics pre-create one
// series per entry so label values never come from payloads.
func Types() []Type {
	ts := make([]Type, 0, numTypes-1)
	for t := Send; t < numTypes; t++ {
		ts = append(ts, t)
	}
	return ts
}

// ParseType maps a contract name to its Type.
func ParseType(s string) (Type, bool) {
	for t := Send; t < numTypes; t++ {
		if typeNames[t] == s {
			return t, true
		}
	}
	return TypeInvalid, false
}

// IsFollowUp reports whether events of type t follow a message (a send):
// delivered, bounce, open, click, unsubscribe, opt_down,
// preference_center_visit, complaint and feedback. Only these may carry
// sent_at; they and send may carry message_id.
func (t Type) IsFollowUp() bool {
	switch t {
	case Delivered, Bounce, Open, Click, Unsubscribe, OptDown, PreferenceCenterVisit, Complaint, Feedback:
		return true
	}
	return false
}

// Enumerations of the contract. Each list is the complete set of accepted
// values; anything else is rejected with ReasonInvalidEnum.
var (
	Channels        = []string{"email", "web", "ads", "sales", "social", "sms", "other"}
	Personalization = []string{"none", "basic", "behavioral", "predictive"}
	TrafficSources  = []string{"direct", "organic", "paid", "email", "social", "referral"}
	FeedbackKinds   = []string{"not_relevant", "too_frequent", "too_personal", "helpful"}
	BounceKinds     = []string{"hard", "soft"}
	// MailboxProviders are the v1.1 mailbox_provider values.
	MailboxProviders = []string{"gmail", "yahoo", "microsoft", "apple", "other"}
	// InputTags are the fixed v1.1 tags of a send's properties.inputs;
	// besides them a tag may be ModelInputPrefix followed by a model id.
	InputTags = []string{"crm", "web_behaviour", "third_party_intent", "enrichment"}
)

// ModelInputPrefix starts an inputs tag naming a model: "model:<id>", the id
// non-empty and the whole tag at most MaxInputTagLen bytes.
const ModelInputPrefix = "model:"

// DefaultChannel is the channel of an event that names none.
const DefaultChannel = "other"

// Field length limits in bytes (after JSON unescaping).
const (
	MaxEventIDLen  = 128
	MaxContactLen  = 256
	MaxAccountLen  = 256
	MaxCampaignLen = 128
	MaxSegmentLen  = 128
	MaxSourceLen   = 64
	MaxReasonLen   = 256
	// v1.1
	MaxMessageIDLen     = 128
	MaxSendingDomainLen = 253 // the longest DNS name
	MaxInputTagLen      = 64  // one properties.inputs tag, "model:<id>" included
)

// MaxInputs is the most tags a send's properties.inputs may hold.
const MaxInputs = 8

// MaxConsentTier is the highest consent tier (3 = predictive modelling).
const MaxConsentTier = 3

// DetailMachine is the Detail of an open flagged as a machine open.
const DetailMachine = "machine"

// DetailBot is the Detail of a click flagged as a bot or security-scanner
// click (properties.bot); such clicks are counted apart, like machine opens.
const DetailBot = "bot"

// DetailExplained is the Detail of a send that carries a documented
// personalization reason; it feeds the explained-personalization indicator.
const DetailExplained = "explained"

// Event is one decoded, validated trust event.
//
// Strings may alias the bytes passed to Decode: callers must not modify
// those bytes while the Event is in use.
type Event struct {
	ID         string
	Type       Type
	OccurredAt time.Time // UTC
	// ContactID and AccountID are raw identifiers straight from the payload;
	// the pipeline replaces them with pseudonyms before anything is stored.
	ContactID       string
	AccountID       string
	CampaignID      string
	Channel         string // always set; DefaultChannel when absent
	Segment         string
	Source          string
	ConsentTier     uint8 // 0 = unknown
	Personalization string
	Reason          string
	// Detail is the type's sub-kind, as stored in trust_counts.detail:
	// traffic_source of a web_session, kind of a feedback or bounce,
	// "<from>-><to>" of a consent_change, DetailMachine for machine opens,
	// DetailBot for bot clicks, DetailExplained for sends with a non-empty
	// reason, "" otherwise.
	Detail string
	// Score is the sentiment score in [-1, 1]; 0 for other types.
	Score float64
	// FromTier and ToTier are set on consent_change only.
	FromTier, ToTier uint8

	// v1.1 fields, all optional; zero when absent. The decoder rejects them
	// on events they do not belong to, so a non-zero value is always on the
	// right type.

	// MessageID is the message a send created, or the message a follow-up
	// (Type.IsFollowUp) follows.
	MessageID string
	// SentAt is when the message a follow-up follows was sent (UTC). It is
	// never after OccurredAt by more than Limits.MaxSkew and, like
	// OccurredAt, within DateTime's range.
	SentAt time.Time
	// MailboxProvider (one of MailboxProviders) and SendingDomain (lower
	// case) are set on email events (Channel "email") only.
	MailboxProvider string
	SendingDomain   string
	// Send properties from the producer's render check and lineage.
	UnresolvedTokens, FallbackTokens, BrokenLinks uint32
	// Inputs are the distinct data-source tags of a send's personalization
	// (InputTags or "model:<id>"), in record order; nil when absent. The
	// slice and its strings belong to the Event (they never alias Decode's
	// input nor change on later calls).
	Inputs []string
	// ReasonVisible reports that the send's reason is shown to the buyer
	// (only with a non-empty Reason).
	ReasonVisible bool
}

// Reason is a rejection reason code: short, fixed, documented, safe to use as
// a metric label.
type Reason string

// The complete set of rejection reasons.
const (
	ReasonTooLarge            Reason = "too_large"              // record over the size limit
	ReasonInvalidUTF8         Reason = "invalid_utf8"           // bytes are not valid UTF-8
	ReasonInvalidJSON         Reason = "invalid_json"           // not well-formed JSON (including NaN/Infinity literals, trailing data)
	ReasonNotObject           Reason = "not_object"             // top-level value is not an object
	ReasonTooDeep             Reason = "too_deep"               // nesting deeper than the depth limit
	ReasonDuplicateKey        Reason = "duplicate_key"          // an object repeats a key
	ReasonMissingField        Reason = "missing_field"          // a required field is absent, null or empty
	ReasonUnknownType         Reason = "unknown_type"           // type not in the contract
	ReasonInvalidEnum         Reason = "invalid_enum"           // enum value outside its list
	ReasonWrongType           Reason = "wrong_type"             // a field has the wrong JSON type, or is a v1.1 field on an event it does not belong to
	ReasonInvalidTimestamp    Reason = "invalid_timestamp"      // occurred_at is not RFC 3339 with a zone
	ReasonFutureTimestamp     Reason = "future_timestamp"       // occurred_at beyond the allowed skew
	ReasonTooOld              Reason = "too_old"                // occurred_at older than the maximum age
	ReasonTimestampOutOfRange Reason = "timestamp_out_of_range" // occurred_at or sent_at outside MinTime..MaxTime
	ReasonStringTooLong       Reason = "string_too_long"        // a string over its length limit
	ReasonOutOfRange          Reason = "out_of_range"           // a number NaN, infinite, or outside its range
)

// Reasons lists every rejection reason; metrics pre-create one series each.
func Reasons() []Reason {
	return []Reason{
		ReasonTooLarge, ReasonInvalidUTF8, ReasonInvalidJSON, ReasonNotObject,
		ReasonTooDeep, ReasonDuplicateKey, ReasonMissingField, ReasonUnknownType,
		ReasonInvalidEnum, ReasonWrongType, ReasonInvalidTimestamp,
		ReasonFutureTimestamp, ReasonTooOld, ReasonTimestampOutOfRange, ReasonStringTooLong,
		ReasonOutOfRange,
	}
}

// MinTime and MaxTime bound occurred_at and sent_at whatever the reference
// time: outside them ClickHouse would store the event under a wrapped date.
// A DateTime is a UInt32 of seconds (1970-01-01T00:00:00Z to
// 2106-02-07T06:28:15Z), but ClickHouse 18.16's date functions (toDate,
// toYYYYMM of the monthly partitions, toStartOfDay) already wrap to 1970 on
// 2106-02-07, so MaxTime is the last instant of 2106-02-06.
var (
	MinTime = time.Unix(minUnix, 0).UTC()
	MaxTime = time.Unix(maxUnix, 999999999).UTC()
)

const (
	minUnix   = 0
	maxUnix   = 4294943999 // 2106-02-06T23:59:59Z
	timeRange = "1970-01-01T00:00:00Z..2106-02-06T23:59:59.999999999Z"
)

// Rejection explains why a record was rejected: a Reason code plus a
// human-readable detail naming the offending field or value.
type Rejection struct {
	Reason Reason
	Detail string
}

func (r *Rejection) Error() string {
	if r.Detail == "" {
		return string(r.Reason)
	}
	return string(r.Reason) + ": " + r.Detail
}

// Limits bounds what the decoder accepts. The zero value is not useful; start
// from DefaultLimits.
type Limits struct {
	MaxBytes int           // records larger than this are rejected (too_large)
	MaxDepth int           // objects/arrays nested deeper than this are rejected (too_deep); the top-level object is depth 1
	MaxSkew  time.Duration // occurred_at and sent_at may be at most this far after the reference time (and sent_at after occurred_at)
	MaxAge   time.Duration // occurred_at and sent_at may be at most this far before the reference time
}

// DefaultLimits are the contract's defaults.
func DefaultLimits() Limits {
	return Limits{MaxBytes: 64 << 10, MaxDepth: 16, MaxSkew: 5 * time.Minute, MaxAge: 400 * 24 * time.Hour}
}

// The errors Limits.Validate wraps; callers map them to their setting names.
var (
	ErrMaxBytes = errors.New("the largest accepted record must be at least 1 byte")
	ErrMaxDepth = errors.New("the deepest accepted nesting must be at least 1 (the top-level object)")
	ErrMaxSkew  = errors.New("the allowed skew into the future must not be negative")
	ErrMaxAge   = errors.New("the maximum age must be positive")
)

// Validate reports limits that would reject every record or make no sense:
// the error wraps one of the ErrMax… sentinels and names the value.
func (l Limits) Validate() error {
	switch {
	case l.MaxBytes < 1:
		return fmt.Errorf("%w: got %d", ErrMaxBytes, l.MaxBytes)
	case l.MaxDepth < 1:
		return fmt.Errorf("%w: got %d", ErrMaxDepth, l.MaxDepth)
	case l.MaxSkew < 0:
		return fmt.Errorf("%w: got %s", ErrMaxSkew, l.MaxSkew)
	case l.MaxAge <= 0:
		return fmt.Errorf("%w: got %s", ErrMaxAge, l.MaxAge)
	}
	return nil
}
