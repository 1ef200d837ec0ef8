package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/trustpipe/trustpipe/aggregate/testkit"
	"github.com/trustpipe/trustpipe/consumers/kafkatest"
	"github.com/trustpipe/trustpipe/sink/sinktest"
)

// The alerting acceptance test (issue 11): a real Prometheus server scrapes
// `trustpipe run` and evaluates the shipped rule files, unchanged, on three
// purpose-built streams:
//
//   - healthy: an email program with a 20 000-message blast a day and
//     triggered sends around the clock, unsubscribes at a steady 0.2 % of
//     every cohort arriving 10 minutes to 6 hours after their delivery. No
//     page-severity alert may go pending or fire. The stream is the one that
//     broke the retired UnsubscribeRateSpike: its condition (this hour's
//     unsubscribes over this hour's deliveries ≥ 2× baseline and ≥ 0.5 %,
//     on enough volume) is checked to hold, so the test would have failed
//     with the old rules.
//   - spike: the same program whose latest blast unsubscribes at 15 times
//     the normal rate: a page-severity alert must go pending.
//   - complaints: an email program complaining at 0.4 % beside an SMS
//     program three times its size (mixed, the rate would read 0.1 %): a
//     page-severity complaint alert must go pending.
//
// Every follow-up carries sent_at, mailbox_provider and sending_domain
// (contract v1.1); a decoder that does not know them yet ignores them, and
// the campaign attribution alone still decides the outcome.
func TestAlertsWithPrometheus(t *testing.T) {
	promBin := testkit.Tool(t, "prometheus", "prometheus")
	rulesDir, err := filepath.Abs(filepath.Join("..", "..", "dashboards", "prometheus"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Minute)
	day, hour := 24*time.Hour, time.Hour
	since := func(d time.Duration) func(testEvent) bool {
		return func(e testEvent) bool { return !e.at.Before(now.Add(-d)) }
	}
	between := func(from, to time.Duration) func(testEvent) bool {
		return func(e testEvent) bool { return !e.at.Before(now.Add(-from)) && e.at.Before(now.Add(-to)) }
	}
	for _, tc := range []struct {
		name   string
		events []testEvent
		// oracle checks, on the produced events alone, that the stream has
		// the property the case is about.
		oracle func(t *testing.T, events []testEvent)
		// want is the page alert that must go pending, with its labels;
		// "" means none may.
		want string
	}{
		{"healthy blast program", blastProgram(now, 1), func(t *testing.T, evs []testEvent) {
			// The retired rule: this hour's unsubscribes over this hour's
			// deliveries, 2x the 28 days before and >= 0.5 %, >= 1000 delivered.
			r1h, n1h := eventRate(evs, "unsubscribe", "delivered", since(hour))
			base, _ := eventRate(evs, "unsubscribe", "delivered", between(hour+28*day, hour))
			if n1h < 1000 || r1h < 0.005 || r1h < 2*base {
				t.Fatalf("oracle: last hour %.4f of %d delivered vs baseline %.4f: not the stream that paged the old rule", r1h, n1h, base)
			}
		}, ""},
		{"blast with 15x the normal unsubscribes", blastProgram(now, 15), func(t *testing.T, evs []testEvent) {
			r, _ := eventRate(evs, "unsubscribe", "delivered", func(e testEvent) bool { return e.campaign == "blast-0" })
			base, _ := eventRate(evs, "unsubscribe", "delivered", between(day+28*day, day))
			if r < 0.005 || r < 3*base {
				t.Fatalf("oracle: blast-0 unsubscribes %.4f vs baseline %.4f: no spike", r, base)
			}
		}, `AttributedUnsubscribeSpike{group="blast-0", group_by="campaign", indicator="unsubscribe_rate", window="24h"}`},
		{"email complaints 0.4 % beside a large SMS program", complaintProgram(now), func(t *testing.T, evs []testEvent) {
			email, _ := eventRate(evs, "complaint", "delivered", func(e testEvent) bool { return since(day)(e) && e.channel == "email" })
			mixed, _ := eventRate(evs, "complaint", "delivered", since(day))
			if email < 0.003 || mixed >= 0.003 {
				t.Fatalf("oracle: email complaint rate %.4f, all channels %.4f: want >= 0.3 %% and < 0.3 %%", email, mixed)
			}
		}, `ComplaintRateCritical{indicator="complaint_rate", window="24h"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.oracle(t, tc.events)
			prom := runAlertCase(t, promBin, rulesDir, tc.events)
			if tc.want == "" {
				// The retired rule's condition holds on this stream...
				old := `trustpipe:indicator:ratio_to_baseline{indicator="unsubscribe_rate",window="1h"} >= 2
					and on (indicator, window) (trustpipe:indicator >= 0.005)
					and on (indicator, window) (trustpipe:indicator_volume_ok == 1)`
				if res := prom.query(t, old); len(res) == 0 {
					t.Errorf("the stream does not show the old failure: %s is empty", old)
				}
				// ... and no shipped page alert is pending or firing, over
				// 20 rule evaluations on a healthy pipeline.
				deadline := time.Now().Add(20 * time.Second)
				for time.Now().Before(deadline) {
					if pages := prom.pageAlerts(t); len(pages) > 0 {
						t.Fatalf("healthy program: page alerts %v\n%s", pages, prom.state(t))
					}
					time.Sleep(500 * time.Millisecond)
				}
				t.Logf("healthy: no page alert in 20 s of evaluation\n%s", prom.state(t))
				return
			}
			var pages []string
			waitUntil(t, "page alert "+tc.want, 90*time.Second, 500*time.Millisecond, func() string { return prom.state(t) }, func() bool {
				pages = prom.pageAlerts(t)
				return slices.ContainsFunc(pages, func(a string) bool { return strings.HasPrefix(a, tc.want+" ") })
			})
			t.Logf("page alerts: %v\n%s", pages, prom.state(t))
		})
	}
}

// eventRate counts the events of type num over those of type den among the
// events that pass keep, and returns the ratio and the denominator.
func eventRate(events []testEvent, num, den string, keep func(testEvent) bool) (float64, int) {
	var n, d int
	for _, e := range events {
		if !keep(e) {
			continue
		}
		switch e.typ {
		case num:
			n++
		case den:
			d++
		}
	}
	if d == 0 {
		return 0, 0
	}
	return float64(n) / float64(d), d
}

// testEvent is one record of the purpose-built streams.
type testEvent struct {
	typ               string
	at, sentAt        time.Time
	campaign, channel string
	contact           string
	provider, domain  string
	id                string
}

func (e testEvent) json() []byte {
	b := []byte(`{"event_id":` + strconv.Quote(e.id) + `,"type":"` + e.typ + `","occurred_at":"` + e.at.Format(time.RFC3339) +
		`","contact_id":` + strconv.Quote(e.contact) + `,"campaign_id":` + strconv.Quote(e.campaign) + `,"channel":"` + e.channel + `"`)
	if !e.sentAt.IsZero() {
		b = append(b, `,"sent_at":"`+e.sentAt.Format(time.RFC3339)+`"`...)
	}
	if e.provider != "" {
		b = append(b, `,"mailbox_provider":"`+e.provider+`","sending_domain":"`+e.domain+`"`...)
	}
	return append(b, '}')
}

// program builds deliveries and their follow-ups. A follow-up of type typ
// follows the k-th of a cohort's deliveries for every k divisible by
// followUps[typ], arriving delay(typ)(k) after the delivery; follow-ups that
// would arrive after now are not produced yet.
type program struct {
	now    time.Time
	events []testEvent
}

var providers = []struct{ name, domain string }{{"gmail", "news.example.com"}, {"yahoo", "news.example.com"}, {"microsoft", "mail.example.com"}}

func (p *program) cohort(campaign, channel string, start time.Time, n int, spread time.Duration, followUps map[string]int, delay func(typ string) func(k int) time.Duration) {
	for k := range n {
		at := start.Add(time.Duration(float64(spread) * float64(k) / float64(n)))
		if at.After(p.now) {
			return
		}
		d := testEvent{typ: "delivered", at: at, campaign: campaign, channel: channel, contact: fmt.Sprintf("%s-%d", campaign, k)}
		if channel == "email" {
			pr := providers[k%len(providers)]
			d.provider, d.domain = pr.name, pr.domain
		}
		p.add(d)
		for typ, every := range followUps {
			if every > 0 && k%every == 0 {
				f := d
				f.typ, f.at, f.sentAt = typ, at.Add(delay(typ)(k)), at
				if !f.at.After(p.now) {
					p.add(f)
				}
			}
		}
	}
}

func (p *program) add(e testEvent) {
	e.id = fmt.Sprintf("ev-%d", len(p.events))
	p.events = append(p.events, e)
}

// spreadDelay spreads follow-ups evenly between lo and hi after delivery,
// deterministically (a stride through the range by a prime).
func spreadDelay(lo, hi time.Duration) func(k int) time.Duration {
	return func(k int) time.Duration { return lo + (hi-lo)*time.Duration((k*7919)%1000)/1000 }
}

// blastProgram: blasts of 20 000 at now − 2h, − 26h, − 50h (sent within 20
// minutes) and triggered sends at 1 500 an hour over the 50 hours;
// unsubscribes at 0.2 % of every cohort (one per 500 deliveries; mult times
// as many in the latest blast) 1 to 3 hours after delivery, complaints at
// 0.02 % up to two days after it.
func blastProgram(now time.Time, mult int) []testEvent {
	p := &program{now: now}
	unsub, complaint := spreadDelay(time.Hour, 3*time.Hour), spreadDelay(time.Hour, 48*time.Hour)
	delay := func(typ string) func(int) time.Duration {
		if typ == "complaint" {
			return complaint
		}
		return unsub
	}
	for day := range 3 {
		start := now.Add(-2*time.Hour - time.Duration(day)*24*time.Hour)
		every := 500
		if day == 0 {
			every = 500 / mult
		}
		p.cohort(fmt.Sprintf("blast-%d", day), "email", start, 20000, 20*time.Minute,
			map[string]int{"unsubscribe": every, "complaint": 5000}, delay)
	}
	p.cohort("triggered-welcome", "email", now.Add(-50*time.Hour), 75000, 50*time.Hour,
		map[string]int{"unsubscribe": 500, "complaint": 5000}, delay)
	return p.events
}

// complaintProgram: an email newsletter of 5 000 a day (now − 2h, − 26h,
// − 50h) and triggered email at 200 an hour, complaining at 0.4 % (one per
// 250) 10 minutes to 3 hours after delivery, beside an SMS program three
// times its size (15 000 a day plus 500 an hour) without complaints. Mixed
// into one rate the complaints would read about 0.1 %.
func complaintProgram(now time.Time) []testEvent {
	p := &program{now: now}
	soon := func(string) func(int) time.Duration { return spreadDelay(10*time.Minute, 3*time.Hour) }
	for day := range 3 {
		start := now.Add(-2*time.Hour - time.Duration(day)*24*time.Hour)
		p.cohort(fmt.Sprintf("newsletter-%d", day), "email", start, 5000, 20*time.Minute,
			map[string]int{"complaint": 250, "unsubscribe": 500}, soon)
		p.cohort(fmt.Sprintf("sms-promo-%d", day), "sms", start.Add(-time.Hour), 15000, 30*time.Minute,
			map[string]int{"unsubscribe": 500}, soon)
	}
	p.cohort("triggered-email", "email", now.Add(-50*time.Hour), 10000, 50*time.Hour, map[string]int{"complaint": 250, "unsubscribe": 500}, soon)
	p.cohort("triggered-sms", "sms", now.Add(-50*time.Hour), 25000, 50*time.Hour, map[string]int{"unsubscribe": 500}, soon)
	return p.events
}

// runAlertCase produces the events, runs trustpipe on them and a Prometheus
// server with the shipped rules scraping it, and returns once the pipeline
// is healthy in Prometheus' eyes (every gate open for a few evaluations).
func runAlertCase(t *testing.T, promBin, rulesDir string, events []testEvent) *promServer {
	t.Helper()
	began := time.Now()
	chAddr := sinktest.Addr(t)
	db := sinktest.Database(t)
	brokers := kafkatest.Start(t, 3, "trust-events", "trust-events-dlq")
	w := kafkatest.Writer(brokers, "trust-events")
	batch := make([]kafka.Message, 0, 5000)
	for i, e := range events {
		batch = append(batch, kafka.Message{Key: []byte(e.contact), Value: e.json(), Time: e.at})
		if len(batch) == cap(batch) || i == len(events)-1 {
			if err := w.WriteMessages(context.Background(), batch...); err != nil {
				t.Fatalf("produce: %v", err)
			}
			batch = batch[:0]
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	addr := freeAddr(t)
	env := testEnv(brokers, chAddr, db, "TRUSTPIPE_HTTP_ADDR="+addr, "TRUSTPIPE_FLUSH_INTERVAL=200ms", "TRUSTPIPE_READBACK_INTERVAL=1s")
	migratedDatabase(t, env, chAddr, db)
	cmd, out := startTrustpipe(t, env, "run")
	t.Cleanup(func() { stopGracefully(t, cmd, out) })
	waitFor(t, "every record counted", 3*time.Minute, out, func() bool {
		mfs, err := scrape(addr)
		return err == nil && sumFamily(mfs, "trustpipe_events_accepted_total") == float64(len(events))
	})

	t.Logf("%d events counted after %s", len(events), time.Since(began).Round(time.Second))
	prom := startPrometheus(t, promBin, rulesDir, addr)
	waitUntil(t, "a healthy pipeline in Prometheus", 2*time.Minute, 500*time.Millisecond, func() string { return prom.state(t) + out.String() }, func() bool {
		return len(prom.query(t, `trustpipe:pipeline_healthy == 1 and on () (trustpipe:attributed_volume_ok{group_by="campaign"} == 1)`)) > 0
	})
	t.Logf("pipeline healthy in Prometheus after %s", time.Since(began).Round(time.Second))
	// Alerts evaluated before the gates opened (TrustAlertsSuppressed
	// pending at start-up) resolve within an evaluation or two.
	time.Sleep(4 * time.Second)
	return prom
}

// promServer is a Prometheus server on loopback.
type promServer struct{ url string }

func startPrometheus(t *testing.T, bin, rulesDir, target string) *promServer {
	t.Helper()
	dir := t.TempDir()
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - %s
  - %s
scrape_configs:
  - job_name: trustpipe
    static_configs:
      - targets: ['%s']
`, filepath.Join(rulesDir, "recording.rules.yml"), filepath.Join(rulesDir, "alerts.rules.yml"), target)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	cmd := exec.Command(bin, "--config.file="+filepath.Join(dir, "prometheus.yml"), "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--log.level=warn")
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	p := &promServer{url: "http://" + addr}
	waitFor(t, "Prometheus ready", time.Minute, out, func() bool {
		resp, err := http.Get(p.url + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return p
}

func (p *promServer) get(t *testing.T, path string, v any) {
	t.Helper()
	resp, err := http.Get(p.url + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", path, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: decode: %v", path, err)
	}
}

// query runs an instant PromQL query and returns the result's label sets.
func (p *promServer) query(t *testing.T, q string) []map[string]string {
	t.Helper()
	var r struct {
		Data struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
			} `json:"result"`
		} `json:"data"`
	}
	p.get(t, "/api/v1/query?query="+url.QueryEscape(q), &r)
	out := make([]map[string]string, len(r.Data.Result))
	for i, s := range r.Data.Result {
		out[i] = s.Metric
	}
	return out
}

type promAlert struct {
	Labels map[string]string `json:"labels"`
	State  string            `json:"state"`
	Value  string            `json:"value"`
}

func (p *promServer) alerts(t *testing.T) []promAlert {
	t.Helper()
	var r struct {
		Data struct {
			Alerts []promAlert `json:"alerts"`
		} `json:"data"`
	}
	p.get(t, "/api/v1/alerts", &r)
	return r.Data.Alerts
}

// pageAlerts lists the page-severity alerts pending or firing, as
// "name{labels} state".
func (p *promServer) pageAlerts(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, a := range p.alerts(t) {
		if a.Labels["severity"] == "page" && (a.State == "pending" || a.State == "firing") {
			out = append(out, a.Labels["alertname"]+promLabels(labelsWithout(a.Labels, "alertname", "severity", "category"))+" "+a.State+" "+a.Value)
		}
	}
	sort.Strings(out)
	return out
}

// promLabels renders labels as {k="v", ...}, sorted.
func promLabels(m map[string]string) string {
	parts := make([]string, 0, len(m))
	for k, v := range m {
		parts = append(parts, k+"="+strconv.Quote(v))
	}
	sort.Strings(parts)
	return "{" + strings.Join(parts, ", ") + "}"
}

func labelsWithout(m map[string]string, drop ...string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		if !slices.Contains(drop, k) {
			out[k] = v
		}
	}
	return out
}

// state describes what Prometheus sees, for failure messages: every active
// alert, the gates, and the attributed and event-time unsubscribe rates.
func (p *promServer) state(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for _, a := range p.alerts(t) {
		fmt.Fprintf(&b, "alert %s %v %s %s\n", a.Labels["alertname"], labelsWithout(a.Labels, "alertname"), a.State, a.Value)
	}
	for _, q := range []string{"trustpipe:pipeline_gate_ok", "trustpipe:data_freshness_seconds", "trustpipe:readback_age_seconds", `trustpipe:attributed_rate{indicator=~"unsubscribe_rate|complaint_rate",window="24h"}`,
		`trustpipe:attributed_baseline{indicator=~"unsubscribe_rate|complaint_rate",window="24h"}`,
		`trustpipe:indicator{indicator=~"unsubscribe_rate|complaint_rate",window=~"1h|24h"}`} {
		var r struct {
			Data struct {
				Result []struct {
					Metric map[string]string `json:"metric"`
					Value  []any             `json:"value"`
				} `json:"result"`
			} `json:"data"`
		}
		p.get(t, "/api/v1/query?query="+url.QueryEscape(q), &r)
		for _, s := range r.Data.Result {
			fmt.Fprintf(&b, "%v %v\n", s.Metric, s.Value[1])
		}
	}
	return b.String()
}

// waitUntil polls cond every poll until it holds or the timeout passes;
// then it fails with describe's output.
func waitUntil(t *testing.T, what string, timeout, poll time.Duration, describe func() string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s\n%s", timeout, what, describe())
		}
		time.Sleep(poll)
	}
}
