package event

import (
	"encoding/binary"
	"math"
	"math/bits"
	"strconv"
	"unicode/utf8"
	"unsafe"
)

// This file is the decoder's JSON scanner: one pass over the record that
// checks well-formedness (RFC 8259 grammar, depth, duplicate keys) and hands
// the values of contract fields to fields.go without building a tree.

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

// kindAt returns the kind of the well-formed value that starts with c.
func kindAt(c byte) kind {
	switch c {
	case '"':
		return kString
	case '{':
		return kObject
	case '[':
		return kArray
	case 't', 'f':
		return kBool
	case 'n':
		return kNull
	}
	return kNumber
}

// val locates a scanned value in d.data.
type val struct {
	kind  kind
	esc   bool // string: contains escapes
	truth bool // bool: true
	start int  // string: first content byte; number, array: first byte
	end   int  // string: closing quote; number, array: one past the last byte
}

// Object parsing modes: the top-level object and the properties object know
// their contract fields; everything else is only validated.
const (
	modeSkip = iota
	modeTop
	modeProps
)

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
		start := d.pos
		d.array(depth)
		return val{kind: kArray, start: start, end: d.pos}
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
