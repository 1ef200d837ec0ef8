package event

import (
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
