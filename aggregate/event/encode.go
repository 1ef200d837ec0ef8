package event

import (
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// AppendJSON appends ev encoded as a contract-conforming JSON object to dst
// and returns the extended buffer. The generator uses it to produce records
// and the tests use it to check that decoding is lossless.
//
// For every event accepted by Decode, decoding the output again yields an
// equal Event. To keep that true it writes only what Decode reads back:
// optional strings only when non-empty, consent_tier only when non-zero
// (0 is the contract's "unknown"), sent_at only when non-zero, and
// properties derived from Type and the fields that carry them (Detail,
// Score, FromTier, ToTier, the send counts, Inputs, ReasonVisible), each only
// when non-zero; a send's Detail is not written because Decode derives it
// from reason.
//
// The output is always valid UTF-8 JSON: invalid UTF-8 in a string is
// replaced by U+FFFD and a non-finite score is written as null (which Decode
// rejects, as it should).
func AppendJSON(dst []byte, ev *Event) []byte {
	dst = append(dst, `{"event_id":`...)
	dst = appendString(dst, ev.ID)
	dst = append(dst, `,"type":`...)
	dst = appendString(dst, ev.Type.String())
	dst = append(dst, `,"occurred_at":"`...)
	dst = ev.OccurredAt.UTC().AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, '"')
	dst = appendOptional(dst, `,"contact_id":`, ev.ContactID)
	dst = appendOptional(dst, `,"account_id":`, ev.AccountID)
	dst = appendOptional(dst, `,"campaign_id":`, ev.CampaignID)
	dst = appendOptional(dst, `,"channel":`, ev.Channel)
	dst = appendOptional(dst, `,"segment":`, ev.Segment)
	dst = appendOptional(dst, `,"source":`, ev.Source)
	if ev.ConsentTier != 0 {
		dst = append(dst, `,"consent_tier":`...)
		dst = strconv.AppendUint(dst, uint64(ev.ConsentTier), 10)
	}
	dst = appendOptional(dst, `,"personalization":`, ev.Personalization)
	dst = appendOptional(dst, `,"reason":`, ev.Reason)
	dst = appendOptional(dst, `,"message_id":`, ev.MessageID)
	if !ev.SentAt.IsZero() {
		dst = append(dst, `,"sent_at":"`...)
		dst = ev.SentAt.UTC().AppendFormat(dst, time.RFC3339Nano)
		dst = append(dst, '"')
	}
	dst = appendOptional(dst, `,"mailbox_provider":`, ev.MailboxProvider)
	dst = appendOptional(dst, `,"sending_domain":`, ev.SendingDomain)

	switch ev.Type {
	case Send:
		dst = appendSendProperties(dst, ev)
	case Bounce:
		if ev.Detail != "" {
			dst = append(dst, `,"properties":{"kind":`...)
			dst = appendString(dst, ev.Detail)
			dst = append(dst, '}')
		}
	case Open:
		if ev.Detail == DetailMachine {
			dst = append(dst, `,"properties":{"machine":true}`...)
		}
	case Click:
		if ev.Detail == DetailBot {
			dst = append(dst, `,"properties":{"bot":true}`...)
		}
	case ConsentChange:
		dst = append(dst, `,"properties":{"from_tier":`...)
		dst = strconv.AppendUint(dst, uint64(ev.FromTier), 10)
		dst = append(dst, `,"to_tier":`...)
		dst = strconv.AppendUint(dst, uint64(ev.ToTier), 10)
		dst = append(dst, '}')
	case WebSession:
		dst = append(dst, `,"properties":{"traffic_source":`...)
		dst = appendString(dst, ev.Detail)
		dst = append(dst, '}')
	case Sentiment:
		dst = append(dst, `,"properties":{"score":`...)
		if math.IsInf(ev.Score, 0) || math.IsNaN(ev.Score) {
			dst = append(dst, "null"...)
		} else {
			// Shortest representation that parses back to the same
			// float64; 'g' never yields NaN/Inf here and its exponent
			// form (1e-07) is valid JSON.
			dst = strconv.AppendFloat(dst, ev.Score, 'g', -1, 64)
		}
		dst = append(dst, '}')
	case Feedback:
		dst = append(dst, `,"properties":{"kind":`...)
		dst = appendString(dst, ev.Detail)
		dst = append(dst, '}')
	}
	return append(dst, '}')
}

// appendSendProperties appends a send's v1.1 properties, if it has any.
func appendSendProperties(dst []byte, ev *Event) []byte {
	sep := byte('{')
	key := func(k string) {
		dst = append(dst, sep)
		dst = append(dst, k...)
		sep = ','
	}
	if ev.UnresolvedTokens|ev.FallbackTokens|ev.BrokenLinks == 0 && len(ev.Inputs) == 0 && !ev.ReasonVisible {
		return dst
	}
	dst = append(dst, `,"properties":`...)
	for _, c := range [...]struct {
		key string
		n   uint32
	}{{`"unresolved_tokens":`, ev.UnresolvedTokens}, {`"fallback_tokens":`, ev.FallbackTokens}, {`"broken_links":`, ev.BrokenLinks}} {
		if c.n != 0 {
			key(c.key)
			dst = strconv.AppendUint(dst, uint64(c.n), 10)
		}
	}
	if len(ev.Inputs) > 0 {
		key(`"inputs":`)
		for i, in := range ev.Inputs {
			if i > 0 {
				dst = append(dst, ',')
			} else {
				dst = append(dst, '[')
			}
			dst = appendString(dst, in)
		}
		dst = append(dst, ']')
	}
	if ev.ReasonVisible {
		key(`"reason_visible":true`)
	}
	return append(dst, '}')
}

func appendOptional(dst []byte, key, s string) []byte {
	if s == "" {
		return dst
	}
	dst = append(dst, key...)
	return appendString(dst, s)
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string. Only what JSON requires is
// escaped ('"', '\\' and control characters), so the output stays readable
// and the decoder's zero-copy path applies to ordinary values.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				dst = append(dst, s[start:i]...)
				dst = append(dst, `\ufffd`...)
				i++
				start = i
				continue
			}
			i += n
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\f':
			dst = append(dst, '\\', 'f')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		i++
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
