package adapter_test

import (
	"bytes"
	"crypto/x509"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/trustpipe/trustpipe/consumers/adapter"
	"github.com/trustpipe/trustpipe/consumers/adapter/adaptertest"
)

func TestVerifiers(t *testing.T) {
	now := time.Unix(1700000000, 0)
	body := []byte(`[{"email":"a@b.co","timestamp":1700000000,"event":"delivered","sg_event_id":"e1"}]`)

	sg := adaptertest.NewSendGridKey(t)
	sgKey, err := adapter.ParseSendGridKey(sg.Public)
	if err != nil {
		t.Fatal(err)
	}
	other := adaptertest.NewSendGridKey(t)
	signed := func(k adaptertest.SendGridKey, at time.Time) http.Header {
		h := http.Header{}
		k.Sign(t, h, body, at)
		return h
	}
	mgKey := []byte("mailgun-signing-key")
	mg := adaptertest.MailgunBody(mgKey, []byte(`{"event":"delivered"}`), now, "tok")

	sns := adaptertest.NewSNSSigner(t)
	cert, err := adapter.ParseSNSCert(sns.CertPEM)
	if err != nil {
		t.Fatal(err)
	}
	const arn = "arn:aws:sns:us-east-1:123456789012:ses-events"
	note := sns.Notification(t, arn, "m-1", `{"eventType":"Send"}`)
	snsV := adapter.SNSVerifier{Cert: cert, TopicARNs: []string{arn}}

	basic := func(u, p string) http.Header {
		r, _ := http.NewRequest("POST", "/", nil)
		r.SetBasicAuth(u, p)
		return r.Header
	}
	pm := adapter.PostmarkVerifier{Username: "pm", Password: "secret"}

	for _, c := range []struct {
		name string
		v    adapter.Verifier
		h    http.Header
		body []byte
		ok   bool
	}{
		{"sendgrid valid", adapter.SendGridVerifier{Key: sgKey, MaxAge: time.Minute}, signed(sg, now), body, true},
		{"sendgrid tampered body", adapter.SendGridVerifier{Key: sgKey, MaxAge: time.Minute}, signed(sg, now), bytes.Replace(body, []byte("e1"), []byte("e2"), 1), false},
		{"sendgrid other key", adapter.SendGridVerifier{Key: sgKey, MaxAge: time.Minute}, signed(other, now), body, false},
		{"sendgrid stale", adapter.SendGridVerifier{Key: sgKey, MaxAge: time.Minute}, signed(sg, now.Add(-2*time.Minute)), body, false},
		{"sendgrid unsigned", adapter.SendGridVerifier{Key: sgKey, MaxAge: time.Minute}, http.Header{}, body, false},
		{"mailgun valid", adapter.MailgunVerifier{SigningKey: mgKey, MaxAge: time.Minute}, nil, mg, true},
		{"mailgun wrong key", adapter.MailgunVerifier{SigningKey: []byte("other"), MaxAge: time.Minute}, nil, mg, false},
		{"mailgun stale", adapter.MailgunVerifier{SigningKey: mgKey, MaxAge: time.Minute}, nil, adaptertest.MailgunBody(mgKey, []byte(`{}`), now.Add(-time.Hour), "t"), false},
		{"mailgun no signature", adapter.MailgunVerifier{SigningKey: mgKey, MaxAge: time.Minute}, nil, []byte(`{"event-data":{}}`), false},
		{"sns valid", snsV, nil, note, true},
		{"sns confirmation", snsV, nil, sns.SubscriptionConfirmation(t, arn), true},
		{"sns tampered", snsV, nil, bytes.Replace(note, []byte("Send"), []byte("Open"), 1), false},
		{"sns other topic", adapter.SNSVerifier{Cert: cert, TopicARNs: []string{"arn:aws:sns:us-east-1:1:mine"}}, nil, note, false},
		{"sns other cert", adapter.SNSVerifier{Cert: mustCert(t, adaptertest.NewSNSSigner(t).CertPEM), TopicARNs: []string{arn}}, nil, note, false},
		{"postmark valid", pm, basic("pm", "secret"), nil, true},
		{"postmark wrong password", pm, basic("pm", "guess"), nil, false},
		{"postmark none", pm, http.Header{}, nil, false},
	} {
		err := c.v.Verify(c.h, c.body, now)
		if (err == nil) != c.ok || (err != nil && !errors.Is(err, adapter.ErrSignature)) {
			t.Errorf("%s: got %v, want ok=%v", c.name, err, c.ok)
		}
	}
	if got := adapter.SNSSubscribeURL(sns.SubscriptionConfirmation(t, arn)); got == "" {
		t.Error("no SubscribeURL in a SubscriptionConfirmation")
	}
}

func mustCert(t *testing.T, p []byte) *x509.Certificate {
	c, err := adapter.ParseSNSCert(p)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
