package adapter

import (
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // SNS SignatureVersion 1 is SHA1withRSA
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"crypto"
)

// Verifier authenticates one webhook request before its body is converted.
// Verify must not read anything but h and body, so it can be tested without
// a server; now is the reference of timestamp checks.
type Verifier interface {
	Verify(h http.Header, body []byte, now time.Time) error
}

// ErrSignature is wrapped by every Verify error: the request is not from
// the platform (or is a stale replay of one of its requests).
var ErrSignature = errors.New("webhook signature not valid")

func sigError(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrSignature, fmt.Sprintf(format, args...))
}

// checkAge refuses a signed timestamp (Unix seconds) further than maxAge
// from now either way, so a captured request cannot be replayed later.
func checkAge(ts string, now time.Time, maxAge time.Duration) error {
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return sigError("timestamp is not Unix seconds")
	}
	if d := now.Sub(time.Unix(sec, 0)); d > maxAge || d < -maxAge {
		return sigError("timestamp is %s away from now, more than %s", d.Round(time.Second), maxAge)
	}
	return nil
}

// SendGrid's signed Event Webhook headers.
const (
	SendGridSignatureHeader = "X-Twilio-Email-Event-Webhook-Signature"
	SendGridTimestampHeader = "X-Twilio-Email-Event-Webhook-Timestamp"
)

// SendGridVerifier checks SendGrid's signed Event Webhook: an ECDSA
// (P-256, SHA-256) signature over the timestamp header followed by the raw
// body, with the verification key SendGrid shows for the webhook.
type SendGridVerifier struct {
	Key    *ecdsa.PublicKey
	MaxAge time.Duration
}

// ParseSendGridKey reads the verification key as SendGrid shows it: base64
// of a DER public key (a PEM block is accepted too).
func ParseSendGridKey(s string) (*ecdsa.PublicKey, error) {
	der := []byte(s)
	if b, _ := pem.Decode(der); b != nil {
		der = b.Bytes
	} else if d, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s)); err == nil {
		der = d
	} else {
		return nil, errors.New("the SendGrid verification key is neither base64 nor PEM")
	}
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("the SendGrid verification key: %w", err)
	}
	ec, ok := k.(*ecdsa.PublicKey)
	if !ok {
		return nil, errors.New("the SendGrid verification key is not an ECDSA key")
	}
	return ec, nil
}

func (v SendGridVerifier) Verify(h http.Header, body []byte, now time.Time) error {
	sig, ts := h.Get(SendGridSignatureHeader), h.Get(SendGridTimestampHeader)
	if sig == "" || ts == "" {
		return sigError("missing %s or %s", SendGridSignatureHeader, SendGridTimestampHeader)
	}
	if err := checkAge(ts, now, v.MaxAge); err != nil {
		return err
	}
	der, err := base64.StdEncoding.DecodeString(sig)
	if err != nil {
		return sigError("signature is not base64")
	}
	d := sha256.New()
	d.Write([]byte(ts))
	d.Write(body)
	if !ecdsa.VerifyASN1(v.Key, d.Sum(nil), der) {
		return sigError("ECDSA signature does not match")
	}
	return nil
}

// MailgunVerifier checks Mailgun's webhook signature: the hex HMAC-SHA256,
// keyed by the webhook signing key, of signature.timestamp followed by
// signature.token, all inside the JSON body. Tokens are not remembered, so
// a replay within MaxAge is accepted; its event id deduplicates it.
type MailgunVerifier struct {
	SigningKey []byte
	MaxAge     time.Duration
}

func (v MailgunVerifier) Verify(_ http.Header, body []byte, now time.Time) error {
	var w mailgunWebhook
	if err := json.Unmarshal(body, &w); err != nil || w.Signature == nil {
		return sigError("no signature object in the body")
	}
	s := w.Signature
	if err := checkAge(s.Timestamp, now, v.MaxAge); err != nil {
		return err
	}
	got, err := hex.DecodeString(s.Signature)
	if err != nil {
		return sigError("signature is not hex")
	}
	mac := hmac.New(sha256.New, v.SigningKey)
	mac.Write([]byte(s.Timestamp + s.Token))
	if !hmac.Equal(mac.Sum(nil), got) {
		return sigError("HMAC does not match")
	}
	return nil
}

// PostmarkVerifier checks the basic-auth credentials configured in the
// Postmark webhook URL (https://user:password@host/ingest/postmark):
// Postmark signs nothing else.
type PostmarkVerifier struct {
	Username, Password string
}

func (v PostmarkVerifier) Verify(h http.Header, _ []byte, _ time.Time) error {
	u, p, ok := (&http.Request{Header: h}).BasicAuth()
	if !ok {
		return sigError("no basic-auth credentials")
	}
	// Both compared, always, so timing says nothing about which was wrong.
	uOK := subtle.ConstantTimeCompare([]byte(u), []byte(v.Username))
	pOK := subtle.ConstantTimeCompare([]byte(p), []byte(v.Password))
	if uOK&pOK != 1 {
		return sigError("basic-auth credentials do not match")
	}
	return nil
}

// SNSVerifier checks an Amazon SNS message signature with the signing
// certificate given as a file (no network at runtime: the certificate at
// the message's SigningCertURL must be downloaded beforehand and renewed
// when AWS rotates it), and that the message comes from one of TopicARNs —
// every SNS topic is signed with the same regional certificate, so the
// signature alone does not say the message is from your SES.
type SNSVerifier struct {
	Cert      *x509.Certificate
	TopicARNs []string
}

// ParseSNSCert reads a PEM signing certificate.
func ParseSNSCert(pemBytes []byte) (*x509.Certificate, error) {
	b, _ := pem.Decode(pemBytes)
	if b == nil {
		return nil, errors.New("no PEM certificate")
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return nil, err
	}
	if _, ok := c.PublicKey.(*rsa.PublicKey); !ok {
		return nil, errors.New("the SNS signing certificate has no RSA key")
	}
	return c, nil
}

// snsMessage holds the fields an SNS signature covers.
type snsMessage struct {
	Type, MessageID, TopicArn, Subject, Message, Timestamp, Token, SubscribeURL string
	SignatureVersion, Signature                                                 string
}

func (m *snsMessage) UnmarshalJSON(b []byte) error {
	var raw map[string]*string
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	get := func(k string) string {
		if v := raw[k]; v != nil {
			return *v
		}
		return ""
	}
	*m = snsMessage{Type: get("Type"), MessageID: get("MessageId"), TopicArn: get("TopicArn"), Subject: get("Subject"),
		Message: get("Message"), Timestamp: get("Timestamp"), Token: get("Token"), SubscribeURL: get("SubscribeURL"),
		SignatureVersion: get("SignatureVersion"), Signature: get("Signature")}
	if raw["Subject"] == nil {
		m.Subject = "\x00" // absent, not empty: left out of the string to sign
	}
	return nil
}

// stringToSign is SNS's canonical form: name and value lines of the
// covered fields, in byte order of the names.
func (m *snsMessage) stringToSign() string {
	var b strings.Builder
	line := func(k, v string) { b.WriteString(k + "\n" + v + "\n") }
	line("Message", m.Message)
	line("MessageId", m.MessageID)
	if m.Type == "Notification" {
		if m.Subject != "\x00" {
			line("Subject", m.Subject)
		}
	} else {
		line("SubscribeURL", m.SubscribeURL)
	}
	line("Timestamp", m.Timestamp)
	if m.Type != "Notification" {
		line("Token", m.Token)
	}
	line("TopicArn", m.TopicArn)
	line("Type", m.Type)
	return b.String()
}

func (v SNSVerifier) Verify(_ http.Header, body []byte, _ time.Time) error {
	var m snsMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return sigError("not an SNS message")
	}
	switch m.Type {
	case "Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation":
	default:
		return sigError("not an SNS message type")
	}
	if !slices.Contains(v.TopicARNs, m.TopicArn) {
		return sigError("the message is from a topic not configured")
	}
	sig, err := base64.StdEncoding.DecodeString(m.Signature)
	if err != nil {
		return sigError("signature is not base64")
	}
	var h crypto.Hash
	var sum []byte
	switch m.SignatureVersion {
	case "1":
		s := sha1.Sum([]byte(m.stringToSign())) //nolint:gosec // SNS's version 1
		h, sum = crypto.SHA1, s[:]
	case "2":
		s := sha256.Sum256([]byte(m.stringToSign()))
		h, sum = crypto.SHA256, s[:]
	default:
		return sigError("unknown SignatureVersion")
	}
	if err := rsa.VerifyPKCS1v15(v.Cert.PublicKey.(*rsa.PublicKey), h, sum, sig); err != nil {
		return sigError("RSA signature does not match the configured signing certificate")
	}
	return nil
}

// SNSSubscribeURL returns the SubscribeURL of an SNS SubscriptionConfirmation
// ("" for other messages): visiting it confirms the subscription, which
// trustpipe cannot do itself without network access to AWS.
func SNSSubscribeURL(body []byte) string {
	var m snsMessage
	if json.Unmarshal(body, &m) != nil || m.Type != "SubscriptionConfirmation" {
		return ""
	}
	return m.SubscribeURL
}
