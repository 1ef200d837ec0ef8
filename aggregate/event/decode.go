package event

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// This file is the entry point of the strict decoder for CONTRACT.md §1:
// the Decoder, its verdict bookkeeping and the rejection-detail helpers.
// The JSON scanner is in scan.go, the contract's field rules in fields.go,
// the RFC 3339 parser in rfc3339.go.
//
// Why hand-written: encoding/json silently accepts duplicate keys (last one
// wins) and invalid UTF-8 (replaced by U+FFFD), both of which the contract
// must reject, and it is several times slower than the budget of a pipeline
// that decodes every Kafka record. This decoder validates the whole document
// in one pass and extracts the contract fields on the way, without building
// an intermediate tree.
//
// Verdict order. A record gets exactly one Reason, chosen so that the same
// bytes always give the same verdict and so that the most fundamental problem
// is reported:
//
//  1. too_large, before looking at the bytes at all;
//  2. invalid_utf8, from one pass over the whole record;
//  3. the first well-formedness problem in document order (invalid_json,
//     too_deep, duplicate_key), which stops the scan; not_object when the
//     document is well-formed but its top-level value is not an object;
//  4. the first semantic problem met during the scan, in document order
//     (wrong_type, unknown_type, invalid_enum, invalid_timestamp,
//     timestamp_out_of_range, future_timestamp, too_old, string_too_long,
//     out_of_range);
//  5. after the scan, the checks that need the whole object: required fields
//     (event_id, type, occurred_at, contact_id), then whether each v1.1
//     field is on an event it belongs to (wrong_type otherwise), then
//     sent_at against occurred_at, then the type-specific properties (which
//     may legitimately precede "type" in the document).
//
// Semantic problems are only recorded during the scan, never acted upon, so a
// syntax error late in a record wins over a wrong-typed field early in it.
//
// Absent, null and "". For a required field or property all three mean
// missing (missing_field), whatever the field's type. For an optional field
// null means absent, and so does "" for optional strings and enumerations
// (channel "" gets DefaultChannel, like no channel) and timestamps
// (sent_at); "" for an optional non-string field (consent_tier, machine,
// the send counts) is wrong_type.
//
// Properties are interpreted per type: only the keys the event's type
// defines are checked (a send with "properties":{"score":"x"} is valid),
// others are ignored like unknown properties. Ignored values are still
// checked for well-formedness, UTF-8, depth and duplicate keys, and any
// number in the record that overflows float64 (1e999) is out_of_range, since
// the contract rejects records with infinite numbers.

// Decoder decodes and validates trust events.
//
// A Decoder keeps scratch buffers between calls to avoid allocating per
// record, so it is not safe for concurrent use: create one per goroutine.
// The zero value is not usable; call NewDecoder.
type Decoder struct {
	lim Limits

	// Per-call state.
	data    []byte
	pos     int
	ev      *Event
	ref     time.Time
	hasTime bool
	props   [numProps]val // raw properties values, interpreted once the type is known

	// The first well-formedness problem; it stops the scan.
	failed     bool
	failReason Reason
	failDetail string

	// The first semantic problem; the scan goes on to look for
	// well-formedness problems, which take precedence.
	hasSem    bool
	semReason Reason
	semDetail string

	// Scratch, reused across calls.
	keys  []string              // keys of the open objects that are not contract fields, for duplicate detection
	arena []byte                // unescaped keys that contained escapes; keys alias it
	sets  []map[string]struct{} // per depth: key sets of objects with many keys
	buf   []byte                // unescaped string values, before they are copied or matched
	tags  []string              // append-only pool of Event.Inputs slices (see inputsField)
	text  []byte                // append-only pool of model tags of Event.Inputs
}

// NewDecoder returns a Decoder enforcing l. Zero (or negative) fields of l
// are replaced by the corresponding DefaultLimits value, so a partially
// filled Limits from configuration never rejects everything by accident.
func NewDecoder(l Limits) *Decoder {
	def := DefaultLimits()
	if l.MaxBytes <= 0 {
		l.MaxBytes = def.MaxBytes
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = def.MaxDepth
	}
	if l.MaxSkew <= 0 {
		l.MaxSkew = def.MaxSkew
	}
	if l.MaxAge <= 0 {
		l.MaxAge = def.MaxAge
	}
	return &Decoder{lim: l}
}

// Limits returns the limits the decoder enforces (after defaults were
// applied).
func (d *Decoder) Limits() Limits { return d.lim }

// Decode validates data as one trust event and fills *ev (which it resets
// first). It returns nil when the event is valid; otherwise it returns the
// rejection and leaves *ev zeroed.
//
// ref is the reference time of the future/too-old checks. The pipeline
// passes the Kafka record timestamp so that re-reading a record (replay,
// redelivery after a crash) always gives the same verdict. A zero ref (a
// record without a timestamp: kafka-go gives the zero time for none, -1 and
// 0) skips those checks and leaves only the fixed MinTime..MaxTime bounds;
// the wall clock is never consulted, since a fallback to it would judge the
// same bytes differently on a later re-read.
//
// Zero-copy: string fields without JSON escapes alias data (enumeration
// values and Detail never do, they are canonical constants), so the caller
// must not modify data while ev is in use. Strings with escapes are
// unescaped into fresh allocations.
func (d *Decoder) Decode(data []byte, ref time.Time, ev *Event) *Rejection {
	*ev = Event{}
	if len(data) > d.lim.MaxBytes {
		return &Rejection{Reason: ReasonTooLarge, Detail: strconv.Itoa(len(data)) + " bytes, limit " + strconv.Itoa(d.lim.MaxBytes)}
	}
	// Validating UTF-8 up front, over the whole record, covers keys, ignored
	// fields and bytes outside strings alike, and lets the scanner treat every
	// byte >= 0x80 as an opaque part of a string.
	if !utf8.Valid(data) {
		return &Rejection{Reason: ReasonInvalidUTF8, Detail: "invalid UTF-8 at offset " + strconv.Itoa(firstInvalidUTF8(data))}
	}
	d.data, d.pos, d.ev, d.ref = data, 0, ev, ref
	d.hasTime = false
	d.props = [numProps]val{}
	d.failed, d.failReason, d.failDetail = false, "", ""
	d.hasSem, d.semReason, d.semDetail = false, "", ""
	d.keys = d.keys[:0]
	d.arena = d.arena[:0]

	d.document()
	if !d.failed && !d.hasSem {
		d.finish()
	}
	// Drop references to the caller's memory and event.
	d.data, d.ev = nil, nil

	var rej *Rejection
	switch {
	case d.failed:
		rej = &Rejection{Reason: d.failReason, Detail: d.failDetail}
	case d.hasSem:
		rej = &Rejection{Reason: d.semReason, Detail: d.semDetail}
	default:
		return nil
	}
	*ev = Event{}
	return rej
}

// firstInvalidUTF8 returns the offset of the first byte that does not start
// a valid UTF-8 sequence (for the rejection detail).
func firstInvalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		if b[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(b)
}

// fail records a well-formedness problem; the scan stops at the first one.
func (d *Decoder) fail(r Reason, detail string) {
	if !d.failed {
		d.failed, d.failReason, d.failDetail = true, r, detail
	}
}

// syntax records an invalid_json problem at the current offset.
func (d *Decoder) syntax(msg string) {
	d.fail(ReasonInvalidJSON, msg+" at offset "+strconv.Itoa(d.pos))
}

// unexpected records an invalid_json problem for the byte at d.pos (or the
// end of input).
func (d *Decoder) unexpected(want string) {
	if d.pos >= len(d.data) {
		d.syntax("unexpected end of input, want " + want)
		return
	}
	d.syntax("unexpected " + quoteChar(d.data[d.pos]) + ", want " + want)
}

// semantic records a semantic problem; only the first one is kept. Hot call
// sites check d.hasSem first so they do not build details that are thrown
// away.
func (d *Decoder) semantic(r Reason, detail string) {
	if !d.hasSem {
		d.hasSem, d.semReason, d.semDetail = true, r, detail
	}
}

// maxQuoted bounds the bytes of a payload value quoted in a rejection
// detail, so details stay short and DLQ headers small.
const maxQuoted = 64

// quoteBytes quotes b for a rejection detail, truncated to maxQuoted bytes.
func quoteBytes(b []byte) string {
	if len(b) <= maxQuoted {
		return strconv.Quote(string(b))
	}
	n := maxQuoted
	for n > 0 && !utf8.RuneStart(b[n]) {
		n--
	}
	return strconv.Quote(string(b[:n])) + "..."
}

func quote(s string) string { return quoteBytes([]byte(s)) }

func quoteChar(c byte) string {
	if c < utf8.RuneSelf {
		return strconv.QuoteRune(rune(c))
	}
	return "byte 0x" + strconv.FormatUint(uint64(c), 16)
}

func joinList(list []string) string {
	s := ""
	for i, e := range list {
		if i > 0 {
			s += "|"
		}
		s += e
	}
	return s
}
