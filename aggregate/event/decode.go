package event

import (
	"encoding/binary"
	"math"
	"math/bits"
	"strconv"
	"time"
	"unicode/utf8"
	"unsafe"
)

// This file is the strict decoder for CONTRACT.md §1.
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
//     future_timestamp, too_old, string_too_long, out_of_range);
//  5. after the scan, the checks that need the whole object: required fields
//     (event_id, type, occurred_at, contact_id) and then the type-specific
//     properties (which may legitimately precede "type" in the document).
//
// Semantic problems are only recorded during the scan, never acted upon, so a
// syntax error late in a record wins over a wrong-typed field early in it.
//
// Absent, null and "". For a required field or property all three mean
// missing (missing_field), whatever the field's type. For an optional field
// null means absent, and so does "" for optional strings and enumerations
// (channel "" gets DefaultChannel, like no channel); "" for an optional
// non-string field (consent_tier, machine) is wrong_type.
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
// redelivery after a crash) always gives the same verdict; a zero ref means
// time.Now().
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
	if ref.IsZero() {
		ref = time.Now()
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

// kind is the JSON type of a scanned value.
type kind uint8

const (
	kAbsent kind = iota // the field was not in the document
	kNull
	kBool
	kNumber
	kString
	kObject
	kArray
)

var kindNames = [...]string{"absent", "null", "bool", "number", "string", "object", "array"}

func (k kind) String() string { return kindNames[k] }

// val locates a scanned value in d.data.
type val struct {
	kind  kind
	esc   bool // string: contains escapes
	truth bool // bool: true
	start int  // string: first content byte; number: first byte
	end   int  // string: closing quote; number: one past the last byte
}

// Object parsing modes: the top-level object and the properties object know
// their contract fields; everything else is only validated.
const (
	modeSkip = iota
	modeTop
	modeProps
)

// Top-level contract fields; the index is the bit in the seen mask.
const (
	fEventID = iota
	fType
	fOccurredAt
	fContactID
	fAccountID
	fCampaignID
	fChannel
	fSegment
	fSource
	fConsentTier
	fPersonalization
	fReason
	fProperties
)

func topFieldIndex(k string) int {
	switch k {
	case "event_id":
		return fEventID
	case "type":
		return fType
	case "occurred_at":
		return fOccurredAt
	case "contact_id":
		return fContactID
	case "account_id":
		return fAccountID
	case "campaign_id":
		return fCampaignID
	case "channel":
		return fChannel
	case "segment":
		return fSegment
	case "source":
		return fSource
	case "consent_tier":
		return fConsentTier
	case "personalization":
		return fPersonalization
	case "reason":
		return fReason
	case "properties":
		return fProperties
	}
	return -1
}

// Known properties keys; the index is the bit in the seen mask and the index
// into Decoder.props.
const (
	pKind = iota
	pMachine
	pFromTier
	pToTier
	pTrafficSource
	pScore
	numProps
)

var propNames = [numProps]string{"properties.kind", "properties.machine", "properties.from_tier", "properties.to_tier", "properties.traffic_source", "properties.score"}

func propIndex(k string) int {
	switch k {
	case "kind":
		return pKind
	case "machine":
		return pMachine
	case "from_tier":
		return pFromTier
	case "to_tier":
		return pToTier
	case "traffic_source":
		return pTrafficSource
	case "score":
		return pScore
	}
	return -1
}

// document scans the whole record.
func (d *Decoder) document() {
	d.skipWS()
	if d.pos >= len(d.data) {
		d.fail(ReasonInvalidJSON, "empty record")
		return
	}
	top := kObject
	if d.data[d.pos] == '{' {
		d.object(1, modeTop)
	} else {
		top = d.value(1).kind
	}
	if d.failed {
		return
	}
	d.skipWS()
	if d.pos != len(d.data) {
		d.syntax("trailing data after the top-level value")
		return
	}
	if top != kObject {
		d.fail(ReasonNotObject, "top-level value is "+top.String()+", not object")
	}
}

func (d *Decoder) skipWS() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

// value scans one value of any type at d.pos. depth is the nesting depth the
// value has if it is an object or array.
func (d *Decoder) value(depth int) val {
	d.skipWS()
	if d.pos >= len(d.data) {
		d.unexpected("a value")
		return val{}
	}
	switch c := d.data[d.pos]; c {
	case '"':
		start, end, esc := d.scanString()
		return val{kind: kString, esc: esc, start: start, end: end}
	case '{':
		d.object(depth, modeSkip)
		return val{kind: kObject}
	case '[':
		d.array(depth)
		return val{kind: kArray}
	case 't':
		d.literal("true")
		return val{kind: kBool, truth: true}
	case 'f':
		d.literal("false")
		return val{kind: kBool}
	case 'n':
		d.literal("null")
		return val{kind: kNull}
	default:
		if c == '-' || (c >= '0' && c <= '9') {
			start := d.pos
			d.scanNumber()
			return val{kind: kNumber, start: start, end: d.pos}
		}
		// Also catches NaN, Infinity and single quotes.
		d.unexpected("a value")
		return val{}
	}
}

func (d *Decoder) literal(lit string) {
	if len(d.data)-d.pos >= len(lit) && string(d.data[d.pos:d.pos+len(lit)]) == lit {
		d.pos += len(lit)
		return
	}
	d.syntax("invalid literal, want " + lit)
}

// object scans an object whose '{' is at d.pos. In modeTop and modeProps the
// members that are contract fields are interpreted as they are met.
func (d *Decoder) object(depth, mode int) {
	if depth > d.lim.MaxDepth {
		d.fail(ReasonTooDeep, "nesting deeper than "+strconv.Itoa(d.lim.MaxDepth)+" at offset "+strconv.Itoa(d.pos))
		return
	}
	d.pos++ // '{'
	base := len(d.keys)
	var seen uint32 // contract fields met so far (modeTop, modeProps)
	d.skipWS()
	if d.pos < len(d.data) && d.data[d.pos] == '}' {
		d.pos++
		return
	}
	for {
		d.skipWS()
		if d.pos >= len(d.data) || d.data[d.pos] != '"' {
			d.unexpected("an object key")
			return
		}
		keyPos := d.pos
		key := d.key()
		if d.failed {
			return
		}
		idx := -1
		switch mode {
		case modeTop:
			idx = topFieldIndex(key)
		case modeProps:
			idx = propIndex(key)
		}
		// Contract fields are checked against a bit mask, all other keys
		// against the list of this object's other keys: the two sets are
		// disjoint, so together they detect every repeated key.
		if idx >= 0 {
			if seen&(1<<idx) != 0 {
				d.fail(ReasonDuplicateKey, "duplicate key "+quote(key)+" at offset "+strconv.Itoa(keyPos))
				return
			}
			seen |= 1 << idx
		} else if !d.addKey(base, depth, key) {
			d.fail(ReasonDuplicateKey, "duplicate key "+quote(key)+" at offset "+strconv.Itoa(keyPos))
			return
		}
		d.skipWS()
		if d.pos >= len(d.data) || d.data[d.pos] != ':' {
			d.unexpected("':'")
			return
		}
		d.pos++
		switch {
		case idx < 0:
			d.value(depth + 1)
		case mode == modeTop:
			d.topField(idx, depth+1)
		default:
			d.props[idx] = d.value(depth + 1)
		}
		if d.failed {
			return
		}
		d.skipWS()
		if d.pos >= len(d.data) {
			d.unexpected("',' or '}'")
			return
		}
		c := d.data[d.pos]
		if c == ',' {
			d.pos++
			continue
		}
		if c == '}' {
			d.pos++
			break
		}
		d.unexpected("',' or '}'")
		return
	}
	if len(d.keys)-base > setThreshold {
		clear(d.sets[depth])
	}
	d.keys = d.keys[:base]
}

// setThreshold is the number of keys from which an object's duplicate check
// switches from a linear scan to a map, so hostile records with thousands of
// keys stay linear in time.
const setThreshold = 32

// addKey adds key to the keys of the object at depth whose keys start at
// d.keys[base]; it reports false if the key is already there.
func (d *Decoder) addKey(base, depth int, key string) bool {
	n := len(d.keys) - base
	switch {
	case n < setThreshold:
		for _, k := range d.keys[base:] {
			if k == key {
				return false
			}
		}
	case n == setThreshold:
		for len(d.sets) <= depth {
			d.sets = append(d.sets, nil)
		}
		m := d.sets[depth]
		if m == nil {
			m = make(map[string]struct{}, 2*setThreshold)
			d.sets[depth] = m
		}
		clear(m) // may hold keys of an object abandoned by an earlier failure
		for _, k := range d.keys[base:] {
			m[k] = struct{}{}
		}
		fallthrough
	default:
		m := d.sets[depth]
		if _, dup := m[key]; dup {
			return false
		}
		m[key] = struct{}{}
	}
	d.keys = append(d.keys, key)
	return true
}

// key scans the object key at d.pos and returns it unescaped. Keys without
// escapes alias d.data; others alias d.arena, which is only appended to
// during a call, so earlier keys stay intact.
func (d *Decoder) key() string {
	start, end, esc := d.scanString()
	if d.failed {
		return ""
	}
	if !esc {
		return d.alias(start, end)
	}
	n := len(d.arena)
	d.arena = appendUnescaped(d.arena, d.data[start:end])
	if len(d.arena) == n {
		return ""
	}
	return unsafe.String(&d.arena[n], len(d.arena)-n)
}

func (d *Decoder) array(depth int) {
	if depth > d.lim.MaxDepth {
		d.fail(ReasonTooDeep, "nesting deeper than "+strconv.Itoa(d.lim.MaxDepth)+" at offset "+strconv.Itoa(d.pos))
		return
	}
	d.pos++ // '['
	d.skipWS()
	if d.pos < len(d.data) && d.data[d.pos] == ']' {
		d.pos++
		return
	}
	for {
		d.value(depth + 1)
		if d.failed {
			return
		}
		d.skipWS()
		if d.pos >= len(d.data) {
			d.unexpected("',' or ']'")
			return
		}
		c := d.data[d.pos]
		d.pos++
		if c == ',' {
			continue
		}
		if c == ']' {
			return
		}
		d.pos--
		d.unexpected("',' or ']'")
		return
	}
}

// strPlain marks the bytes that may appear in a string unescaped without
// ending it: everything but '"', '\\' and control characters. Bytes >= 0x80
// are plain because the record was validated as UTF-8 up front.
var strPlain = func() (t [256]bool) {
	for i := 0x20; i < 256; i++ {
		t[i] = i != '"' && i != '\\'
	}
	return t
}()

// scanString scans the string at d.pos (its opening quote), validating
// escapes, and returns the content bounds and whether it has escapes.
func (d *Decoder) scanString() (start, end int, esc bool) {
	data := d.data
	i := d.pos + 1
	start = i
	for {
		// Skip plain bytes eight at a time, then one at a time.
		for i+8 <= len(data) {
			m := specialBytes(binary.LittleEndian.Uint64(data[i:]))
			if m != 0 {
				i += bits.TrailingZeros64(m) >> 3
				break
			}
			i += 8
		}
		for i < len(data) && strPlain[data[i]] {
			i++
		}
		if i >= len(data) {
			d.pos = start - 1
			d.syntax("unterminated string")
			return
		}
		switch c := data[i]; c {
		case '"':
			d.pos = i + 1
			return start, i, esc
		case '\\':
			esc = true
			if i+1 >= len(data) {
				d.pos = start - 1
				d.syntax("unterminated string")
				return
			}
			switch data[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				r, ok := hex4(data, i+2)
				if !ok {
					d.pos = i
					d.syntax(`invalid \u escape`)
					return
				}
				if r >= 0xD800 && r < 0xE000 {
					// A surrogate is only valid as the high half of a pair;
					// alone it encodes no character and has no UTF-8 form.
					r2, ok2 := hex4(data, i+8)
					if r >= 0xDC00 || !ok2 || data[i+6] != '\\' || data[i+7] != 'u' || r2 < 0xDC00 || r2 >= 0xE000 {
						d.pos = i
						d.syntax(`unpaired surrogate \u escape`)
						return
					}
					i += 6
				}
				i += 6
			default:
				d.pos = i
				d.syntax("invalid escape " + quoteChar(data[i+1]))
				return
			}
		default:
			d.pos = i
			d.syntax("control character " + quoteChar(c) + " in string")
			return
		}
	}
}

// specialBytes returns a mask with the high bit set in (at least) the lowest
// byte of w that is not plain: '"', '\\' or a control character. Bits above
// the lowest one may be spurious (borrows), so only the lowest is used.
// Bytes >= 0x80 are never flagged (the &^w term).
func specialBytes(w uint64) uint64 {
	const lsb, msb = 0x0101010101010101, 0x8080808080808080
	quote := w ^ (lsb * '"')
	backslash := w ^ (lsb * '\\')
	return ((w - lsb*0x20) | (quote - lsb) | (backslash - lsb)) &^ w & msb
}

// hex4 decodes the four hex digits at data[i:i+4].
func hex4(data []byte, i int) (rune, bool) {
	if i < 0 || i+4 > len(data) {
		return 0, false
	}
	var r rune
	for _, c := range data[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// appendUnescaped appends the unescaped form of raw, the content of a string
// already validated by scanString.
func appendUnescaped(dst, raw []byte) []byte {
	for i := 0; i < len(raw); {
		c := raw[i]
		if c != '\\' {
			j := i + 1
			for j < len(raw) && raw[j] != '\\' {
				j++
			}
			dst = append(dst, raw[i:j]...)
			i = j
			continue
		}
		switch raw[i+1] {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, _ := hex4(raw, i+2)
			if r >= 0xD800 && r < 0xDC00 {
				r2, _ := hex4(raw, i+8)
				r = 0x10000 + (r-0xD800)<<10 + (r2 - 0xDC00)
				i += 6
			}
			dst = utf8.AppendRune(dst, r)
			i += 6
			continue
		default: // '"', '\\', '/'
			dst = append(dst, raw[i+1])
		}
		i += 2
	}
	return dst
}

// scanNumber scans the number at d.pos per the JSON grammar:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
// A number that overflows float64 is recorded as out_of_range wherever it
// is, since the contract rejects infinite numbers in the record.
func (d *Decoder) scanNumber() {
	data := d.data
	start := d.pos
	i := d.pos
	if data[i] == '-' {
		i++
	}
	switch {
	case i < len(data) && data[i] == '0':
		i++
	case i < len(data) && data[i] >= '1' && data[i] <= '9':
		for i < len(data) && data[i] >= '0' && data[i] <= '9' {
			i++
		}
	default:
		d.pos = i
		d.syntax("invalid number")
		return
	}
	if i < len(data) && data[i] == '.' {
		i++
		j := i
		for i < len(data) && data[i] >= '0' && data[i] <= '9' {
			i++
		}
		if i == j {
			d.pos = i
			d.syntax("invalid number: no digits after '.'")
			return
		}
	}
	exp := false
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		exp = true
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		j := i
		for i < len(data) && data[i] >= '0' && data[i] <= '9' {
			i++
		}
		if i == j {
			d.pos = i
			d.syntax("invalid number: no digits in exponent")
			return
		}
	}
	d.pos = i
	// Without an exponent only a literal of more than 308 digits can
	// overflow float64.
	if (exp || i-start > 308) && !d.hasSem {
		lit := data[start:i]
		if f, _ := strconv.ParseFloat(unsafe.String(&lit[0], len(lit)), 64); math.IsInf(f, 0) {
			d.semantic(ReasonOutOfRange, "number "+quoteBytes(lit)+" overflows float64")
		}
	}
}

// alias returns data[start:end] as a string sharing its memory.
func (d *Decoder) alias(start, end int) string {
	if start == end {
		return ""
	}
	return unsafe.String(&d.data[start], end-start)
}

// bytesOf returns the unescaped content of the string v; the result aliases
// d.data or d.buf and is only valid until the next call.
func (d *Decoder) bytesOf(v val) []byte {
	if !v.esc {
		return d.data[v.start:v.end]
	}
	d.buf = appendUnescaped(d.buf[:0], d.data[v.start:v.end])
	return d.buf
}

// tmpString views b as a string for matching; it must not be retained.
func tmpString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// topField interprets the value of the top-level contract field idx at d.pos.
func (d *Decoder) topField(idx, depth int) {
	ev := d.ev
	if idx == fProperties {
		d.skipWS()
		if d.pos < len(d.data) && d.data[d.pos] == '{' {
			d.object(depth, modeProps)
			return
		}
		if v := d.value(depth); !d.failed && v.kind != kNull {
			d.wrongType("properties", "object", v)
		}
		return
	}
	v := d.value(depth)
	if d.failed {
		return
	}
	switch idx {
	case fEventID:
		ev.ID = d.stringField(v, "event_id", MaxEventIDLen)
	case fType:
		d.typeField(v)
	case fOccurredAt:
		d.timeField(v)
	case fContactID:
		ev.ContactID = d.stringField(v, "contact_id", MaxContactLen)
	case fAccountID:
		ev.AccountID = d.stringField(v, "account_id", MaxAccountLen)
	case fCampaignID:
		ev.CampaignID = d.stringField(v, "campaign_id", MaxCampaignLen)
	case fChannel:
		ev.Channel = d.enumField(v, "channel", Channels)
	case fSegment:
		ev.Segment = d.stringField(v, "segment", MaxSegmentLen)
	case fSource:
		ev.Source = d.stringField(v, "source", MaxSourceLen)
	case fConsentTier:
		if v.kind != kNull {
			ev.ConsentTier = d.tierField(v, "consent_tier")
		}
	case fPersonalization:
		ev.Personalization = d.enumField(v, "personalization", Personalization)
	case fReason:
		ev.Reason = d.stringField(v, "reason", MaxReasonLen)
	}
}

func (d *Decoder) wrongType(field, want string, v val) {
	d.semantic(ReasonWrongType, field+": want "+want+", got "+v.kind.String())
}

// stringField returns the string value of a free-text field: "" for null
// (absent), the string itself (aliasing data when it has no escapes)
// otherwise. Whether "" is acceptable is decided later, for the required
// fields.
func (d *Decoder) stringField(v val, field string, max int) string {
	switch v.kind {
	case kNull:
		return ""
	case kString:
	default:
		d.wrongType(field, "string", v)
		return ""
	}
	if !v.esc {
		if v.end-v.start > max {
			d.semantic(ReasonStringTooLong, field+" is "+strconv.Itoa(v.end-v.start)+" bytes, limit "+strconv.Itoa(max))
			return ""
		}
		return d.alias(v.start, v.end)
	}
	b := d.bytesOf(v)
	if len(b) > max {
		d.semantic(ReasonStringTooLong, field+" is "+strconv.Itoa(len(b))+" bytes, limit "+strconv.Itoa(max))
		return ""
	}
	return string(b)
}

// stringBytes returns the unescaped bytes of a string value; ok is false
// for null (the field is absent) and for any other JSON type, which it
// reports as wrong_type.
func (d *Decoder) stringBytes(v val, field string) (b []byte, ok bool) {
	switch v.kind {
	case kNull:
		return nil, false
	case kString:
		return d.bytesOf(v), true
	}
	d.wrongType(field, "string", v)
	return nil, false
}

// enumField returns the canonical list entry equal to the string v, "" for
// null or the empty string (the field is then absent).
func (d *Decoder) enumField(v val, field string, list []string) string {
	b, ok := d.stringBytes(v, field)
	if !ok {
		return ""
	}
	if len(b) == 0 {
		return ""
	}
	s := tmpString(b)
	for _, e := range list {
		if e == s {
			return e
		}
	}
	d.semantic(ReasonInvalidEnum, field+" "+quoteBytes(b)+" not in "+joinList(list))
	return ""
}

func (d *Decoder) typeField(v val) {
	b, ok := d.stringBytes(v, "type")
	if !ok {
		return
	}
	if len(b) == 0 {
		return // missing, reported after the scan
	}
	t, ok := ParseType(tmpString(b))
	if !ok {
		d.semantic(ReasonUnknownType, "type "+quoteBytes(b))
		return
	}
	d.ev.Type = t
}

func (d *Decoder) timeField(v val) {
	b, ok := d.stringBytes(v, "occurred_at")
	if !ok {
		return
	}
	if len(b) == 0 {
		return // missing, reported after the scan
	}
	sec, nsec, ok := parseUnix(b)
	if !ok {
		d.semantic(ReasonInvalidTimestamp, "occurred_at "+quoteBytes(b)+" is not RFC 3339 with a zone")
		return
	}
	t := time.Unix(sec, int64(nsec)).UTC()
	d.hasTime = true
	d.ev.OccurredAt = t
	if t.After(d.ref.Add(d.lim.MaxSkew)) {
		d.semantic(ReasonFutureTimestamp, "occurred_at "+t.Format(time.RFC3339Nano)+" is more than "+d.lim.MaxSkew.String()+" after "+d.ref.UTC().Format(time.RFC3339Nano))
	} else if t.Before(d.ref.Add(-d.lim.MaxAge)) {
		d.semantic(ReasonTooOld, "occurred_at "+t.Format(time.RFC3339Nano)+" is more than "+d.lim.MaxAge.String()+" before "+d.ref.UTC().Format(time.RFC3339Nano))
	}
}

// tierField returns the consent tier in the number v, which must be an
// integer in 0..MaxConsentTier. The check is exact on the decimal literal
// (no float rounding), so 2, 2.0, 0.2e1 and -0 are integers and 1.5,
// 2.0000000000000000001 and 1e-400 are not.
func (d *Decoder) tierField(v val, field string) uint8 {
	if v.kind != kNumber {
		d.wrongType(field, "integer 0-3", v)
		return 0
	}
	lit := d.data[v.start:v.end]
	if len(lit) == 1 { // fast path: one digit
		if c := lit[0] - '0'; c <= MaxConsentTier {
			return c
		}
		d.semantic(ReasonOutOfRange, field+" "+string(lit)+" not in 0-3")
		return 0
	}
	n, ok, integer := smallInt(lit)
	if !integer {
		d.semantic(ReasonWrongType, field+": want integer 0-3, got "+quoteBytes(lit))
		return 0
	}
	if !ok || n > MaxConsentTier {
		d.semantic(ReasonOutOfRange, field+" "+quoteBytes(lit)+" not in 0-3")
		return 0
	}
	return uint8(n)
}

// smallInt interprets a valid JSON number literal exactly. integer reports
// whether its value is an integer; ok whether that integer is a single
// non-negative digit n (anything else is out of the tier range).
func smallInt(lit []byte) (n int, ok, integer bool) {
	neg := lit[0] == '-'
	if neg {
		lit = lit[1:]
	}
	// Split mantissa and exponent.
	mant, exp := lit, 0
	for i, c := range lit {
		if c == 'e' || c == 'E' {
			mant = lit[:i]
			e := lit[i+1:]
			eneg := false
			if e[0] == '+' || e[0] == '-' {
				eneg = e[0] == '-'
				e = e[1:]
			}
			for _, c := range e {
				if exp < 1e6 { // saturate: only the sign and "big" matter
					exp = exp*10 + int(c-'0')
				}
			}
			if eneg {
				exp = -exp
			}
			break
		}
	}
	intPart, frac := mant, []byte(nil)
	for i, c := range mant {
		if c == '.' {
			intPart, frac = mant[:i], mant[i+1:]
			break
		}
	}
	// Positions of the first and last non-zero digits in the digit
	// sequence intPart+frac; the digit at position k weighs
	// 10^(len(intPart)-1-k+exp).
	firstNZ, lastNZ := -1, -1
	for k := 0; k < len(intPart)+len(frac); k++ {
		var c byte
		if k < len(intPart) {
			c = intPart[k]
		} else {
			c = frac[k-len(intPart)]
		}
		if c != '0' {
			if firstNZ < 0 {
				firstNZ = k
			}
			lastNZ = k
		}
	}
	if lastNZ < 0 {
		return 0, true, true // zero, whatever its sign and exponent
	}
	weight := len(intPart) - 1 - lastNZ + exp
	if weight < 0 {
		return 0, false, false
	}
	// An integer; a single non-negative digit only if it has one
	// significant digit of weight 10^0.
	if firstNZ != lastNZ || weight != 0 || neg {
		return 0, false, true
	}
	var c byte
	if lastNZ < len(intPart) {
		c = intPart[lastNZ]
	} else {
		c = frac[lastNZ-len(intPart)]
	}
	return int(c - '0'), true, true
}

// scoreField returns the sentiment score in the number v.
func (d *Decoder) scoreField(v val) float64 {
	lit := d.data[v.start:v.end]
	f, _ := strconv.ParseFloat(unsafe.String(&lit[0], len(lit)), 64)
	if !(f >= -1 && f <= 1) {
		d.semantic(ReasonOutOfRange, "properties.score "+quoteBytes(lit)+" not in [-1, 1]")
		return 0
	}
	return f
}

// finish runs the checks that need the whole object: required fields and the
// type-specific properties.
func (d *Decoder) finish() {
	ev := d.ev
	switch {
	case ev.ID == "":
		d.semantic(ReasonMissingField, "event_id")
		return
	case ev.Type == TypeInvalid:
		d.semantic(ReasonMissingField, "type")
		return
	case !d.hasTime:
		d.semantic(ReasonMissingField, "occurred_at")
		return
	case ev.ContactID == "" && ev.Type != WebSession:
		d.semantic(ReasonMissingField, "contact_id (required for type "+ev.Type.String()+")")
		return
	}
	if ev.Channel == "" {
		ev.Channel = DefaultChannel
	}
	p := &d.props
	switch ev.Type {
	case Send:
		if ev.Reason != "" {
			ev.Detail = DetailExplained
		}
	case Bounce:
		ev.Detail = d.enumField(nullIfAbsent(p[pKind]), propNames[pKind], BounceKinds)
	case Open:
		switch v := p[pMachine]; v.kind {
		case kAbsent, kNull:
		case kBool:
			if v.truth {
				ev.Detail = DetailMachine
			}
		default:
			d.wrongType(propNames[pMachine], "bool", v)
		}
	case ConsentChange:
		if !d.required(pFromTier) || !d.required(pToTier) {
			return
		}
		ev.FromTier = d.tierField(p[pFromTier], propNames[pFromTier])
		ev.ToTier = d.tierField(p[pToTier], propNames[pToTier])
		ev.Detail = tierTransitions[ev.FromTier][ev.ToTier]
	case WebSession:
		if d.required(pTrafficSource) {
			ev.Detail = d.enumField(p[pTrafficSource], propNames[pTrafficSource], TrafficSources)
		}
	case Sentiment:
		if !d.required(pScore) {
			return
		}
		if v := p[pScore]; v.kind != kNumber {
			d.wrongType(propNames[pScore], "number", v)
		} else {
			ev.Score = d.scoreField(v)
		}
	case Feedback:
		if d.required(pKind) {
			ev.Detail = d.enumField(p[pKind], propNames[pKind], FeedbackKinds)
		}
	}
}

// required reports whether the property is present; absent, null and the
// empty string count as missing.
func (d *Decoder) required(p int) bool {
	v := d.props[p]
	if v.kind == kAbsent || v.kind == kNull || (v.kind == kString && v.start == v.end) {
		d.semantic(ReasonMissingField, propNames[p]+" (required for type "+d.ev.Type.String()+")")
		return false
	}
	return true
}

func nullIfAbsent(v val) val {
	if v.kind == kAbsent {
		v.kind = kNull
	}
	return v
}

// tierTransitions holds the consent_change Detail "<from>-><to>" for every
// pair of tiers, so decoding never formats it.
var tierTransitions = func() (t [MaxConsentTier + 1][MaxConsentTier + 1]string) {
	for f := range t {
		for to := range t[f] {
			t[f][to] = strconv.Itoa(f) + "->" + strconv.Itoa(to)
		}
	}
	return t
}()

// parseTime parses an RFC 3339 timestamp with a mandatory zone
// (YYYY-MM-DDTHH:MM:SS[.frac](Z|±hh:mm)) and returns it in UTC.
//
// It is a strict hand-written parser: several times faster than time.Parse
// and allocation-free (time.Parse allocates a FixedZone for most non-UTC
// offsets). On inputs that follow the RFC 3339 grammar it agrees with
// time.Parse(time.RFC3339Nano, ...) exactly (FuzzParseTime checks this), and
// like it truncates fractions beyond nanoseconds. It deliberately rejects
// what time.Parse tolerates but RFC 3339 forbids: one-digit hours, offsets
// of 24 hours or more or with minutes >= 60, ',' as the decimal separator.
// So there is no time.Parse fallback: it could only accept such strings.
func parseTime(b []byte) (time.Time, bool) {
	sec, nsec, ok := parseUnix(b)
	if !ok {
		return time.Time{}, false
	}
	return time.Unix(sec, int64(nsec)).UTC(), true
}

// parseUnix is parseTime's parser; it returns Unix seconds and nanoseconds.
func parseUnix(b []byte) (sec int64, nsec int, ok bool) {
	if len(b) < len("2006-01-02T15:04:05Z") ||
		b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' {
		return 0, 0, false
	}
	y1, ok1 := num2(b[0], b[1])
	y2, ok2 := num2(b[2], b[3])
	month, ok3 := num2(b[5], b[6])
	day, ok4 := num2(b[8], b[9])
	hour, ok5 := num2(b[11], b[12])
	minute, ok6 := num2(b[14], b[15])
	second, ok7 := num2(b[17], b[18])
	year := y1*100 + y2
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7) ||
		month < 1 || month > 12 || day < 1 || day > daysIn(month, year) ||
		hour > 23 || minute > 59 || second > 59 {
		return 0, 0, false
	}
	i := 19
	if b[i] == '.' {
		i++
		n := 0
		for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
			if n < 9 {
				nsec = nsec*10 + int(b[i]-'0')
			}
			n++
		}
		if n == 0 {
			return 0, 0, false
		}
		for ; n < 9; n++ {
			nsec *= 10
		}
	}
	if i >= len(b) {
		return 0, 0, false
	}
	offset := 0
	switch b[i] {
	case 'Z':
		i++
	case '+', '-':
		if len(b)-i != len("+07:00") || b[i+3] != ':' {
			return 0, 0, false
		}
		oh, ok1 := num2(b[i+1], b[i+2])
		om, ok2 := num2(b[i+4], b[i+5])
		if !ok1 || !ok2 || oh > 23 || om > 59 {
			return 0, 0, false
		}
		offset = (oh*60 + om) * 60
		if b[i] == '-' {
			offset = -offset
		}
		i += 6
	default:
		return 0, 0, false
	}
	if i != len(b) {
		return 0, 0, false
	}
	sec = daysFromCivil(year, month, day)*86400 + int64(hour*3600+minute*60+second-offset)
	return sec, nsec, true
}

// num2 parses two ASCII digits.
func num2(a, b byte) (int, bool) {
	a -= '0'
	b -= '0'
	return int(a)*10 + int(b), a <= 9 && b <= 9
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil returns the number of days from 1970-01-01 to the given
// proleptic Gregorian date (H. Hinnant's algorithm).
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y
	if era < 0 {
		era -= 399
	}
	era /= 400
	yoe := y - era*400
	mp := (m + 9) % 12 // March = 0
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
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
