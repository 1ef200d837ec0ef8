package ingest_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/segmentio/kafka-go"

	"github.com/trustpipe/trustpipe/aggregate/event"
	"github.com/trustpipe/trustpipe/consumers"
	"github.com/trustpipe/trustpipe/consumers/adapter"
	"github.com/trustpipe/trustpipe/consumers/adapter/adaptertest"
	"github.com/trustpipe/trustpipe/consumers/ingest"
)

type fakeWriter struct {
	mu   sync.Mutex
	msgs []kafka.Message
	err  error
}

func (w *fakeWriter) WriteMessages(_ context.Context, msgs ...kafka.Message) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	w.msgs = append(w.msgs, msgs...)
	return nil
}

type fixture struct {
	srv  *httptest.Server
	w    *fakeWriter
	reg  *prometheus.Registry
	logs *bytes.Buffer
	sg   adaptertest.SendGridKey
	now  time.Time
}

func newFixture(t *testing.T, cfg ingest.Config) *fixture {
	f := &fixture{w: &fakeWriter{}, reg: prometheus.NewRegistry(), logs: &bytes.Buffer{}, sg: adaptertest.NewSendGridKey(t), now: time.Unix(1700000100, 0)}
	key, err := adapter.ParseSendGridKey(f.sg.Public)
	if err != nil {
		t.Fatal(err)
	}
	ps, err := consumers.NewPseudonymizer([]byte("ingest-test-key-0123456789"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := ingest.New(cfg, []ingest.Endpoint{
		{Format: adapter.SendGrid, Verifier: adapter.SendGridVerifier{Key: key, MaxAge: time.Minute}},
		{Format: adapter.Postmark, Verifier: adapter.PostmarkVerifier{Username: "pm", Password: "pw"}},
	}, ingest.Deps{Writer: f.w, Pseudonyms: ps, Registerer: f.reg, Logger: slog.New(slog.NewTextHandler(f.logs, nil)), Now: func() time.Time { return f.now }})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	s.Register(mux)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fixture) post(t *testing.T, path string, body []byte, header http.Header) int {
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+path, bytes.NewReader(body))
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

const batch = `[
{"email":"Pat@Example.com","timestamp":1700000000,"event":"processed","sg_event_id":"e1","sg_message_id":"m1"},
{"email":"pat@example.com","timestamp":1700000001,"event":"deferred","sg_event_id":"e2","sg_message_id":"m1"},
{"email":"pat@example.com","timestamp":1700000002,"event":"open","sg_machine_open":true,"sg_event_id":"e3","sg_message_id":"m1"}]`

func (f *fixture) signed(t *testing.T, body string) http.Header {
	h := http.Header{}
	f.sg.Sign(t, h, []byte(body), f.now)
	return h
}

func TestIngestAnswers(t *testing.T) {
	f := newFixture(t, ingest.DefaultConfig())
	if code := f.post(t, "/ingest/sendgrid", []byte(batch), f.signed(t, batch)); code != 200 {
		t.Fatalf("signed batch: %d", code)
	}
	if len(f.w.msgs) != 2 {
		t.Fatalf("produced %d records, want 2 (one skipped)", len(f.w.msgs))
	}
	dec := event.NewDecoder(event.DefaultLimits())
	var ev event.Event
	for _, m := range f.w.msgs {
		if rej := dec.Decode(m.Value, m.Time, &ev); rej != nil {
			t.Fatalf("record %s: %v", m.Value, rej)
		}
		if string(m.Key) != ev.ContactID || m.Topic != "trust-events" {
			t.Errorf("record key %q topic %q, want the contact pseudonym %q on trust-events", m.Key, m.Topic, ev.ContactID)
		}
	}
	tampered := strings.Replace(batch, "e1", "e9", 1)
	for _, c := range []struct {
		name   string
		path   string
		body   string
		header http.Header
		want   int
	}{
		{"bad signature", "/ingest/sendgrid", tampered, f.signed(t, batch), 401},
		{"unsigned", "/ingest/sendgrid", batch, nil, 401},
		{"not the format", "/ingest/sendgrid", `{"x":1}`, f.signed(t, `{"x":1}`), 400},
		{"breaks the contract", "/ingest/sendgrid", `[{"email":"a@b.co","event":"open","sg_event_id":"x"}]`, f.signed(t, `[{"email":"a@b.co","event":"open","sg_event_id":"x"}]`), 400},
		{"postmark wrong password", "/ingest/postmark", `{"RecordType":"Open"}`, basic("pm", "guess"), 401},
	} {
		if code := f.post(t, c.path, []byte(c.body), c.header); code != c.want {
			t.Errorf("%s: %d, want %d", c.name, code, c.want)
		}
	}
	if len(f.w.msgs) != 2 {
		t.Errorf("refused requests produced records: %d in all", len(f.w.msgs))
	}
	resp, err := http.Get(f.srv.URL + "/ingest/sendgrid")
	if err != nil || resp.StatusCode != 405 {
		t.Errorf("GET: %v %v", resp.StatusCode, err)
	}
	f.w.err = errors.New("broker down")
	if code := f.post(t, "/ingest/sendgrid", []byte(batch), f.signed(t, batch)); code != 503 {
		t.Errorf("kafka down: %d, want 503", code)
	}
	// No address anywhere: records, logs, metrics.
	var text bytes.Buffer
	mfs, _ := f.reg.Gather()
	for _, mf := range mfs {
		_, _ = expfmt.MetricFamilyToText(&text, mf)
	}
	for what, b := range map[string][]byte{"logs": f.logs.Bytes(), "metrics": text.Bytes()} {
		if bytes.Contains(bytes.ToLower(b), []byte("example.com")) || bytes.Contains(b, []byte("a@b.co")) {
			t.Errorf("an address appears in the %s:\n%s", what, b)
		}
	}
	for _, m := range f.w.msgs {
		if bytes.Contains(bytes.ToLower(m.Value), []byte("example.com")) {
			t.Errorf("an address appears in record %s", m.Value)
		}
	}
	if !strings.Contains(text.String(), `trustpipe_ingest_requests_total{code="401",format="sendgrid"} 2`) ||
		!strings.Contains(text.String(), `trustpipe_ingest_skipped_total{format="sendgrid",reason="temporary_failure"} 1`) ||
		!strings.Contains(text.String(), `trustpipe_ingest_events_total{format="sendgrid",type="open"} 1`) {
		t.Errorf("metrics miss the counts:\n%s", text.String())
	}
}

func basic(u, p string) http.Header {
	r, _ := http.NewRequest("POST", "/", nil)
	r.SetBasicAuth(u, p)
	return r.Header
}

func TestIngestBounds(t *testing.T) {
	cfg := ingest.DefaultConfig()
	cfg.MaxBodyBytes, cfg.Rate, cfg.Burst = 2048, 0.001, 2
	f := newFixture(t, cfg)
	big := "[" + strings.Repeat(" ", 4096) + "]"
	if code := f.post(t, "/ingest/sendgrid", []byte(big), f.signed(t, big)); code != 413 {
		t.Errorf("oversized body: %d, want 413", code)
	}
	if code := f.post(t, "/ingest/sendgrid", []byte(batch), f.signed(t, batch)); code != 200 {
		t.Errorf("second request within the burst: %d", code)
	}
	if code := f.post(t, "/ingest/sendgrid", []byte(batch), f.signed(t, batch)); code != 429 {
		t.Errorf("third request over the rate: %d, want 429", code)
	}
}
