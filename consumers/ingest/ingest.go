// Package ingest is the HTTP side of `trustpipe ingest`: one endpoint per
// native format (/ingest/sendgrid, /ingest/ses, ...) that authenticates
// the platform's webhook request, converts its events to the contract
// (pseudonymizing the recipient first, see package adapter) and produces
// them to the input topic, one record per event keyed by contact
// pseudonym, before it answers.
//
// Answers: 200 once every event of the request is acknowledged by Kafka
// (all in-sync replicas); 401 for a bad signature; 400 for a payload that
// is not the format or breaks the contract (all or nothing: no event of it
// is produced); 405, 413, 429 for a wrong method, a body over the limit,
// or a request over the rate; 503 when Kafka does not take the records,
// so the platform retries later. A retried request produces the same
// event ids, which the pipeline's event_id deduplication counts once.
//
// Nothing of a payload is logged or used as a metric label: log lines and
// errors name the format, the status and the problem, never a value.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"golang.org/x/time/rate"

	"github.com/trustpipe/trustpipe/aggregate/event"
	"github.com/trustpipe/trustpipe/consumers/adapter"
)

// Config tunes the endpoints.
type Config struct {
	// Topic receives the contract records.
	Topic string
	// MaxBodyBytes bounds a request body (larger: 413).
	MaxBodyBytes int64
	// Rate and Burst bound the requests per second over all endpoints
	// (a token bucket; over it: 429 with Retry-After).
	Rate  float64
	Burst int
	// Limits are the contract limits each event is checked against, as the
	// pipeline will check it.
	Limits event.Limits
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{Topic: "trust-events", MaxBodyBytes: 4 << 20, Rate: 200, Burst: 400, Limits: event.DefaultLimits()}
}

// The errors Config.Validate wraps.
var (
	ErrMaxBody = errors.New("the largest accepted request body must be at least 1 KiB")
	ErrRate    = errors.New("the request rate and burst must be positive")
)

// Validate reports the first unusable setting.
func (c Config) Validate() error {
	if c.MaxBodyBytes < 1024 {
		return fmt.Errorf("%w: got %d", ErrMaxBody, c.MaxBodyBytes)
	}
	if c.Rate <= 0 || c.Burst < 1 {
		return fmt.Errorf("%w: got %v and %d", ErrRate, c.Rate, c.Burst)
	}
	return c.Limits.Validate()
}

// Endpoint is one enabled format and its authentication.
type Endpoint struct {
	Format   adapter.Format
	Verifier adapter.Verifier
}

// Writer produces records (a *kafka.Writer, synchronous).
type Writer interface {
	WriteMessages(ctx context.Context, msgs ...kafka.Message) error
}

// Deps are the server's collaborators.
type Deps struct {
	Writer     Writer
	Pseudonyms adapter.Pseudonyms
	Registerer prometheus.Registerer
	Logger     *slog.Logger
	Now        func() time.Time
}

// Server serves the endpoints.
type Server struct {
	cfg       Config
	deps      Deps
	endpoints map[string]Endpoint
	limiter   *rate.Limiter
	m         metrics

	// mu guards the pseudonymizer and the decoder, neither safe for
	// concurrent use; converting is microseconds, producing (outside the
	// lock) is what takes time.
	mu  sync.Mutex
	dec *event.Decoder
}

// New validates cfg and returns a Server for endpoints (at least one).
func New(cfg Config, endpoints []Endpoint, deps Deps) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("ingest: %w", err)
	}
	if len(endpoints) == 0 {
		return nil, errors.New("ingest: no endpoint is configured")
	}
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	s := &Server{cfg: cfg, deps: deps, endpoints: map[string]Endpoint{}, limiter: rate.NewLimiter(rate.Limit(cfg.Rate), cfg.Burst),
		dec: event.NewDecoder(cfg.Limits)}
	var names []string
	for _, e := range endpoints {
		s.endpoints[e.Format.Name()] = e
		names = append(names, e.Format.Name())
	}
	s.m = newMetrics(deps.Registerer, names)
	return s, nil
}

// Path is the URL path of a format's endpoint.
func Path(format string) string { return "/ingest/" + format }

// Register adds the endpoints to mux.
func (s *Server) Register(mux *http.ServeMux) {
	for name, e := range s.endpoints {
		mux.Handle(Path(name), s.handler(e))
	}
}

// outcome is a request's answer and its metric label.
type outcome struct {
	code int
	msg  string
}

func (s *Server) handler(e Endpoint) http.Handler {
	name := e.Format.Name()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		o := s.serve(e, r)
		s.m.requests.WithLabelValues(name, strconv.Itoa(o.code)).Inc()
		s.m.duration.WithLabelValues(name).Observe(time.Since(start).Seconds())
		if o.code == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "1")
		}
		if o.code >= 400 {
			s.deps.Logger.Warn("ingest request refused", "format", name, "status", o.code, "problem", o.msg)
			http.Error(w, o.msg, o.code)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, o.msg)
	})
}

func (s *Server) serve(e Endpoint, r *http.Request) outcome {
	if r.Method != http.MethodPost {
		return outcome{http.StatusMethodNotAllowed, "POST only"}
	}
	if !s.limiter.Allow() {
		return outcome{http.StatusTooManyRequests, "over the request rate; retry later"}
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return outcome{http.StatusRequestEntityTooLarge, fmt.Sprintf("body over %d bytes", s.cfg.MaxBodyBytes)}
		}
		return outcome{http.StatusBadRequest, "reading the body failed"}
	}
	now := s.deps.Now()
	if err := e.Verifier.Verify(r.Header, body, now); err != nil {
		return outcome{http.StatusUnauthorized, err.Error()}
	}
	if url := adapter.SNSSubscribeURL(body); url != "" && e.Format == adapter.SES {
		// The URL holds a confirmation token, no personal data.
		s.deps.Logger.Warn("SNS subscription confirmation received: open its SubscribeURL once to confirm (trustpipe does not call AWS)", "subscribe_url", url)
	}
	msgs, out, err := s.convert(e.Format, body, now)
	if err != nil {
		s.m.invalid.WithLabelValues(e.Format.Name()).Inc()
		return outcome{http.StatusBadRequest, err.Error()}
	}
	if len(msgs) > 0 {
		if err := s.deps.Writer.WriteMessages(r.Context(), msgs...); err != nil {
			s.deps.Logger.Error("producing ingested events failed; the platform will retry", "format", e.Format.Name(), "events", len(msgs), "err", err)
			return outcome{http.StatusServiceUnavailable, "the input topic did not take the events; retry later"}
		}
	}
	for i := range out.Events {
		s.m.events[e.Format.Name()][out.Events[i].Type].Inc()
	}
	skipped := 0
	for reason, n := range out.Skipped {
		s.m.skipped.WithLabelValues(e.Format.Name(), string(reason)).Add(float64(n))
		skipped += n
	}
	return outcome{http.StatusOK, fmt.Sprintf("accepted %d events, skipped %d", len(out.Events), skipped)}
}

// convert turns body into Kafka records, stamped with now (the record time
// the pipeline checks occurred_at against, as the check here did).
func (s *Server) convert(f adapter.Format, body []byte, now time.Time) ([]kafka.Message, *adapter.Output, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := new(adapter.Output)
	if err := adapter.Convert(f, body, s.deps.Pseudonyms, s.dec, now, out); err != nil {
		return nil, nil, err
	}
	msgs := make([]kafka.Message, len(out.Events))
	for i := range out.Events {
		ev := &out.Events[i]
		msgs[i] = kafka.Message{Topic: s.cfg.Topic, Key: []byte(ev.ContactID), Value: event.AppendJSON(nil, ev), Time: now}
	}
	return msgs, out, nil
}

type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	events   map[string][]prometheus.Counter
	skipped  *prometheus.CounterVec
	invalid  *prometheus.CounterVec
}

// newMetrics registers the ingest metrics, pre-creating the series of
// every format, type and skip reason so none appears late.
func newMetrics(reg prometheus.Registerer, formats []string) metrics {
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m := metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "trustpipe_ingest_requests_total",
			Help: "Webhook requests answered, by format and HTTP status code."}, []string{"format", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "trustpipe_ingest_request_duration_seconds",
			Help: "Time to answer a webhook request (verify, convert, produce).", Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)}, []string{"format"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "trustpipe_ingest_skipped_total",
			Help: "Native events with no contract type (not errors), by format and reason."}, []string{"format", "reason"}),
		invalid: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "trustpipe_ingest_invalid_payloads_total",
			Help: "Authenticated requests refused with 400 (not the format, or an event breaking the contract), by format."}, []string{"format"}),
		events: map[string][]prometheus.Counter{},
	}
	ev := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "trustpipe_ingest_events_total",
		Help: "Contract events produced to the input topic, by format and event type."}, []string{"format", "type"})
	reg.MustRegister(m.requests, m.duration, m.skipped, m.invalid, ev)
	for _, f := range formats {
		m.events[f] = make([]prometheus.Counter, len(event.Types())+1)
		for _, t := range event.Types() {
			m.events[f][t] = ev.WithLabelValues(f, t.String())
		}
		for _, r := range adapter.Skips() {
			m.skipped.WithLabelValues(f, string(r))
		}
		m.invalid.WithLabelValues(f)
		m.duration.WithLabelValues(f)
	}
	return m
}
