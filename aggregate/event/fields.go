package event

import (
	"math"
	"strconv"
	"time"
	"unsafe"
)

// This file holds the contract's field rules: which keys are contract
// fields, the type, length, range and enumeration of each, and the checks
// that need the whole object (required fields, per-type properties).

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
	// v1.1
	fMessageID
	fSentAt
	fMailboxProvider
	fSendingDomain
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
	case "message_id":
		return fMessageID
	case "sent_at":
		return fSentAt
	case "mailbox_provider":
		return fMailboxProvider
	case "sending_domain":
		return fSendingDomain
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
	// v1.1
	pBot
	pUnresolvedTokens
	pFallbackTokens
	pBrokenLinks
	pInputs
	pReasonVisible
	numProps
)

var propNames = [numProps]string{"properties.kind", "properties.machine", "properties.from_tier", "properties.to_tier", "properties.traffic_source", "properties.score",
	"properties.bot", "properties.unresolved_tokens", "properties.fallback_tokens", "properties.broken_links", "properties.inputs", "properties.reason_visible"}

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
	case "bot":
		return pBot
	case "unresolved_tokens":
		return pUnresolvedTokens
	case "fallback_tokens":
		return pFallbackTokens
	case "broken_links":
		return pBrokenLinks
	case "inputs":
		return pInputs
	case "reason_visible":
		return pReasonVisible
	}
	return -1
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
		if t, ok := d.timeField(v, "occurred_at"); ok {
			ev.OccurredAt, d.hasTime = t, true
		}
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
	case fMessageID:
		ev.MessageID = d.stringField(v, "message_id", MaxMessageIDLen)
	case fSentAt:
		ev.SentAt, _ = d.timeField(v, "sent_at")
	case fMailboxProvider:
		ev.MailboxProvider = d.enumField(v, "mailbox_provider", MailboxProviders)
	case fSendingDomain:
		ev.SendingDomain = lowerASCII(d.stringField(v, "sending_domain", MaxSendingDomainLen))
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

// timeField returns the timestamp in v, checked against MinTime..MaxTime and
// then, when there is one, against the reference time; ok is false when the
// field is absent (null or "") or invalid.
func (d *Decoder) timeField(v val, field string) (t time.Time, ok bool) {
	b, ok := d.stringBytes(v, field)
	if !ok || len(b) == 0 {
		return time.Time{}, false // absent; a required one is reported after the scan
	}
	sec, nsec, ok := parseUnix(b)
	if !ok {
		d.semantic(ReasonInvalidTimestamp, field+" "+quoteBytes(b)+" is not RFC 3339 with a zone")
		return time.Time{}, false
	}
	t = time.Unix(sec, int64(nsec)).UTC()
	if sec < minUnix || sec > maxUnix {
		d.semantic(ReasonTimestampOutOfRange, field+" "+t.Format(time.RFC3339Nano)+" outside "+timeRange)
	} else if d.ref.IsZero() {
		// No record timestamp: only the fixed bounds apply.
	} else if t.After(d.ref.Add(d.lim.MaxSkew)) {
		d.semantic(ReasonFutureTimestamp, field+" "+t.Format(time.RFC3339Nano)+" is more than "+d.lim.MaxSkew.String()+" after "+d.ref.UTC().Format(time.RFC3339Nano))
	} else if t.Before(d.ref.Add(-d.lim.MaxAge)) {
		d.semantic(ReasonTooOld, field+" "+t.Format(time.RFC3339Nano)+" is more than "+d.lim.MaxAge.String()+" before "+d.ref.UTC().Format(time.RFC3339Nano))
	}
	return t, true
}

// tierField returns the consent tier in the number v, which must be an
// integer in 0..MaxConsentTier.
func (d *Decoder) tierField(v val, field string) uint8 {
	if v.kind == kNumber && v.end-v.start == 1 { // fast path: one digit
		c := d.data[v.start] - '0'
		if c <= MaxConsentTier {
			return c
		}
		d.semantic(ReasonOutOfRange, field+" "+string(c+'0')+" not in 0-3")
		return 0
	}
	return uint8(d.uintField(v, field, MaxConsentTier, "integer 0-3", "0-3"))
}

// countField returns the count in the number v, an integer in 0..2^32-1.
func (d *Decoder) countField(v val, field string) uint32 {
	switch v.kind {
	case kAbsent, kNull:
		return 0
	}
	return uint32(d.uintField(v, field, math.MaxUint32, "integer >= 0", "0-4294967295"))
}

// uintField returns the integer in the number v, which must lie in 0..max;
// want and span describe the type and range in rejection details. The check
// is exact on the decimal literal (no float rounding), so 2, 2.0, 0.2e1 and
// -0 are integers and 1.5, 2.0000000000000000001 and 1e-400 are not
// (wrong_type), while -1 and 1e30 are integers out of range.
func (d *Decoder) uintField(v val, field string, max uint64, want, span string) uint64 {
	if v.kind != kNumber {
		d.wrongType(field, want, v)
		return 0
	}
	lit := d.data[v.start:v.end]
	n, ok, integer := exactUint(lit, max)
	if !integer {
		d.semantic(ReasonWrongType, field+": want "+want+", got "+quoteBytes(lit))
		return 0
	}
	if !ok {
		d.semantic(ReasonOutOfRange, field+" "+quoteBytes(lit)+" not in "+span)
		return 0
	}
	return n
}

// exactUint interprets a valid JSON number literal exactly. integer reports
// whether its value is an integer; ok whether that integer n lies in
// 0..max.
func exactUint(lit []byte, max uint64) (n uint64, ok, integer bool) {
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
	// digit returns the digit at position k of the sequence intPart+frac,
	// which weighs 10^(len(intPart)-1-k+exp).
	digit := func(k int) uint64 {
		if k < len(intPart) {
			return uint64(intPart[k] - '0')
		}
		return uint64(frac[k-len(intPart)] - '0')
	}
	firstNZ, lastNZ := -1, -1
	for k := 0; k < len(intPart)+len(frac); k++ {
		if digit(k) != 0 {
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
	// A non-zero integer: its significant digits followed by weight zeros.
	// More than 20 digits exceed any uint64.
	if neg || lastNZ-firstNZ+1+weight > 20 {
		return 0, false, true
	}
	for k := firstNZ; k <= lastNZ+weight; k++ {
		var c uint64
		if k <= lastNZ {
			c = digit(k)
		}
		if n > max/10 || (n == max/10 && c > max%10) {
			return 0, false, true
		}
		n = n*10 + c
	}
	return n, true, true
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

// finish runs the checks that need the whole object, in this order:
// required fields, the placement of v1.1 fields (placed), sent_at against
// occurred_at, then the type-specific properties. Properties a type does not
// define are ignored, v1.1 ones included (properties.bot on an open), as in
// v1: a key's meaning depends on the type (kind of a bounce or a feedback).

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
	if !d.placed() {
		return
	}
	if !ev.SentAt.IsZero() && ev.SentAt.After(ev.OccurredAt.Add(d.lim.MaxSkew)) {
		// A follow-up cannot precede its send (beyond clock skew); the
		// attribution delay occurred_at - sent_at is never negative.
		d.semantic(ReasonFutureTimestamp, "sent_at "+ev.SentAt.Format(time.RFC3339Nano)+" is more than "+d.lim.MaxSkew.String()+" after occurred_at "+ev.OccurredAt.Format(time.RFC3339Nano))
		return
	}
	p := &d.props
	switch ev.Type {
	case Send:
		ev.UnresolvedTokens = d.countField(p[pUnresolvedTokens], propNames[pUnresolvedTokens])
		ev.FallbackTokens = d.countField(p[pFallbackTokens], propNames[pFallbackTokens])
		ev.BrokenLinks = d.countField(p[pBrokenLinks], propNames[pBrokenLinks])
		ev.Inputs = d.inputsField(p[pInputs])
		ev.ReasonVisible = d.boolProp(pReasonVisible)
		if ev.ReasonVisible && ev.Reason == "" {
			d.semantic(ReasonMissingField, "reason (required when properties.reason_visible is true)")
		}
		ev.Detail = ev.Flags().Detail()
	case Bounce:
		ev.Detail = d.enumField(nullIfAbsent(p[pKind]), propNames[pKind], BounceKinds)
	case Open:
		if d.boolProp(pMachine) {
			ev.Detail = DetailMachine
		}
	case Click:
		if d.boolProp(pBot) {
			ev.Detail = DetailBot
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

// placed checks that each v1.1 top-level field present belongs to the event:
// message_id on a send or a follow-up (Type.IsFollowUp), sent_at on a
// follow-up, mailbox_provider and sending_domain on an email event. A field
// on the wrong event is wrong_type: CONTRACT.md rejects it "like any other",
// and a new reason code would change what dashboards and alerts group by.
func (d *Decoder) placed() bool {
	ev := d.ev
	var field, want string
	switch {
	case ev.MessageID != "" && ev.Type != Send && !ev.Type.IsFollowUp():
		field, want = "message_id", "a send or a follow-up"
	case !ev.SentAt.IsZero() && !ev.Type.IsFollowUp():
		field, want = "sent_at", "a follow-up"
	case ev.MailboxProvider != "" && ev.Channel != "email":
		field, want = "mailbox_provider", "an email event"
	case ev.SendingDomain != "" && ev.Channel != "email":
		field, want = "sending_domain", "an email event"
	default:
		return true
	}
	d.semantic(ReasonWrongType, field+": only on "+want+", not on "+ev.Type.String()+" (channel "+ev.Channel+")")
	return false
}

// boolProp returns the optional bool property p: false when absent or null.
func (d *Decoder) boolProp(p int) bool {
	switch v := d.props[p]; v.kind {
	case kAbsent, kNull:
	case kBool:
		return v.truth
	default:
		d.wrongType(propNames[p], "bool", v)
	}
	return false
}

// inputsField returns the tags of a send's properties.inputs: an array of
// at most MaxInputs distinct tags, each one of InputTags or
// ModelInputPrefix+id; nil when absent, null or empty. The scan validated
// the array's syntax; its elements are read here because the type, which
// decides whether inputs means anything, may come after it.
//
// The result never aliases the record: fixed tags are the canonical
// constants, model tags are copied into d.text, and the slice is carved from
// d.tags. Both are chunks that are only appended to, so events decoded
// earlier stay intact and no record is kept alive by a later event.
func (d *Decoder) inputsField(v val) []string {
	const field = "properties.inputs"
	switch v.kind {
	case kAbsent, kNull:
		return nil
	case kArray:
	default:
		d.wrongType(field, "array of strings", v)
		return nil
	}
	var tags [MaxInputs]string
	n := 0
	d.pos = v.start + 1 // after '['
	for {
		d.skipWS()
		c := d.data[d.pos]
		if c == ']' {
			break
		}
		if c == ',' {
			d.pos++
			continue
		}
		if c != '"' {
			d.semantic(ReasonWrongType, field+": want array of strings, got an element of type "+kindAt(c).String())
			return nil
		}
		if n == MaxInputs {
			d.semantic(ReasonOutOfRange, field+": more than "+strconv.Itoa(MaxInputs)+" tags")
			return nil
		}
		start, end, esc := d.scanString()
		tag, ok := d.inputTag(val{kind: kString, esc: esc, start: start, end: end})
		if !ok {
			return nil
		}
		for _, t := range tags[:n] {
			if t == tag {
				d.semantic(ReasonInvalidEnum, field+" repeats "+quote(tag))
				return nil
			}
		}
		tags[n] = tag
		n++
	}
	if n == 0 {
		return nil
	}
	out := carve(&d.tags, n, tagChunk)
	copy(out, tags[:n])
	return out
}

// inputTag returns the tag in the string v: the canonical constant of a
// fixed tag, or a copy in d.text of a model tag.
func (d *Decoder) inputTag(v val) (string, bool) {
	const field = "properties.inputs"
	b := d.bytesOf(v)
	s := tmpString(b)
	for _, t := range InputTags {
		if t == s {
			return t, true
		}
	}
	if len(b) <= len(ModelInputPrefix) || s[:len(ModelInputPrefix)] != ModelInputPrefix {
		d.semantic(ReasonInvalidEnum, field+" "+quoteBytes(b)+" not in "+joinList(InputTags)+"|"+ModelInputPrefix+"<id>")
		return "", false
	}
	if len(b) > MaxInputTagLen {
		d.semantic(ReasonStringTooLong, field+" tag is "+strconv.Itoa(len(b))+" bytes, limit "+strconv.Itoa(MaxInputTagLen))
		return "", false
	}
	t := carve(&d.text, len(b), textChunk)
	copy(t, b)
	return unsafe.String(&t[0], len(t)), true
}

// Chunk sizes of the decoder's append-only pools for inputs: a chunk of tag
// slots serves at least 32 sends with 8 tags, a text chunk at least 64 model
// tags, so decoding stays at well under one allocation per record.
const (
	tagChunk  = 256
	textChunk = 4096
)

// carve returns n fresh elements from the append-only pool *pool, starting a
// new chunk of size chunk when the current one is exhausted. The result's
// capacity is n, so appending to it never touches later carvings.
func carve[T any](pool *[]T, n, chunk int) []T {
	if cap(*pool)-len(*pool) < n {
		*pool = make([]T, 0, max(chunk, n))
	}
	s := len(*pool)
	*pool = (*pool)[:s+n]
	return (*pool)[s : s+n : s+n]
}

// lowerASCII returns s with ASCII letters in lower case, s itself when it
// has none (domains are case-insensitive; DKIM d= is ASCII, international
// names appear as A-labels).
func lowerASCII(s string) string {
	i := 0
	for i < len(s) && (s[i] < 'A' || s[i] > 'Z') {
		i++
	}
	if i == len(s) {
		return s
	}
	b := []byte(s)
	for ; i < len(b); i++ {
		if c := b[i]; c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return unsafe.String(&b[0], len(b))
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
