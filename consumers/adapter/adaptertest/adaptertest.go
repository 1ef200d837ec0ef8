// Package adaptertest signs webhook requests as the platforms do, for
// tests of the verifiers and of `trustpipe ingest`.
package adaptertest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trustpipe/trustpipe/consumers/adapter"
)

// SendGridKey is a signing key pair; Public is base64 DER, as SendGrid
// shows its verification key.
type SendGridKey struct {
	priv   *ecdsa.PrivateKey
	Public string
}

// NewSendGridKey makes a fresh P-256 key pair.
func NewSendGridKey(t testing.TB) SendGridKey {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return SendGridKey{priv: priv, Public: base64.StdEncoding.EncodeToString(der)}
}

// Sign sets SendGrid's signature headers for body signed at ts.
func (k SendGridKey) Sign(t testing.TB, h http.Header, body []byte, ts time.Time) {
	sec := strconv.FormatInt(ts.Unix(), 10)
	sum := sha256.Sum256(append([]byte(sec), body...))
	sig, err := ecdsa.SignASN1(rand.Reader, k.priv, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	h.Set(adapter.SendGridSignatureHeader, base64.StdEncoding.EncodeToString(sig))
	h.Set(adapter.SendGridTimestampHeader, sec)
}

// MailgunBody wraps an event-data object (JSON) in a webhook body signed
// with key at ts.
func MailgunBody(key []byte, eventData []byte, ts time.Time, token string) []byte {
	sec := strconv.FormatInt(ts.Unix(), 10)
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(sec + token))
	sig, _ := json.Marshal(map[string]string{"timestamp": sec, "token": token, "signature": hex.EncodeToString(mac.Sum(nil))})
	return []byte(`{"signature":` + string(sig) + `,"event-data":` + string(eventData) + `}`)
}

// SNSSigner signs SNS messages with a self-made certificate.
type SNSSigner struct {
	priv    *rsa.PrivateKey
	CertPEM []byte
}

// NewSNSSigner makes an RSA key and a self-signed certificate for it.
func NewSNSSigner(t testing.TB) SNSSigner {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sns.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	return SNSSigner{priv: priv, CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// Notification returns a signed SNS Notification (SignatureVersion 2)
// carrying message from topicARN.
func (s SNSSigner) Notification(t testing.TB, topicARN, messageID, message string) []byte {
	m := map[string]string{"Type": "Notification", "MessageId": messageID, "TopicArn": topicARN,
		"Subject": "Amazon SES Email Event Notification", "Message": message,
		"Timestamp": time.Now().UTC().Format(time.RFC3339), "SignatureVersion": "2"}
	return s.sign(t, m, []string{"Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"})
}

// SubscriptionConfirmation returns a signed SNS SubscriptionConfirmation.
func (s SNSSigner) SubscriptionConfirmation(t testing.TB, topicARN string) []byte {
	m := map[string]string{"Type": "SubscriptionConfirmation", "MessageId": "confirm-1", "TopicArn": topicARN,
		"Token": "tok", "Message": "You have chosen to subscribe", "SubscribeURL": "https://sns.example/?Action=ConfirmSubscription&Token=tok",
		"Timestamp": time.Now().UTC().Format(time.RFC3339), "SignatureVersion": "2"}
	return s.sign(t, m, []string{"Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"})
}

func (s SNSSigner) sign(t testing.TB, m map[string]string, keys []string) []byte {
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k + "\n" + m[k] + "\n")
	}
	sum := sha256.Sum256([]byte(b.String()))
	sig, err := rsa.SignPKCS1v15(rand.Reader, s.priv, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	m["Signature"] = base64.StdEncoding.EncodeToString(sig)
	m["SigningCertURL"] = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-test.pem"
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
