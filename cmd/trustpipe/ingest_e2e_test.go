package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trustpipe/trustpipe/consumers/adapter/adaptertest"
	"github.com/trustpipe/trustpipe/consumers/kafkatest"
	"github.com/trustpipe/trustpipe/sink/sinktest"
)

// webhook is one request to `trustpipe ingest`.
type webhook struct {
	path   string
	body   []byte
	header http.Header
}

// TestIngestEndToEnd posts signed webhooks of all four platforms (and
// forged ones) to the `trustpipe ingest` binary while `trustpipe run`
// counts the input topic: trust_counts must equal the valid events the
// test itself counted as it wrote the payloads, and no address may appear
// in ClickHouse, the dead-letter topic, the logs or the metrics.
func TestIngestEndToEnd(t *testing.T) {
	chAddr := sinktest.Addr(t)
	db := sinktest.Database(t)
	brokers := kafkatest.Start(t, 2, "trust-events", "trust-events-dlq")

	sg := adaptertest.NewSendGridKey(t)
	sns := adaptertest.NewSNSSigner(t)
	certFile := filepath.Join(t.TempDir(), "sns.pem")
	if err := os.WriteFile(certFile, sns.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	const arn = "arn:aws:sns:eu-west-1:123456789012:ses-events"
	mgKey := []byte("mailgun-e2e-signing-key")
	ingestAddr := freeAddr(t)
	env := testEnv(brokers, chAddr, db, "TRUSTPIPE_FLUSH_INTERVAL=200ms", "TRUSTPIPE_LOG_LEVEL=info",
		"TRUSTPIPE_INGEST_ADDR="+ingestAddr,
		"TRUSTPIPE_INGEST_SENDGRID_PUBLIC_KEY="+sg.Public,
		"TRUSTPIPE_INGEST_MAILGUN_SIGNING_KEY="+string(mgKey),
		"TRUSTPIPE_INGEST_SES_CERT_FILE="+certFile,
		"TRUSTPIPE_INGEST_SES_TOPIC_ARNS="+arn,
		"TRUSTPIPE_INGEST_POSTMARK_USERNAME=postmark", "TRUSTPIPE_INGEST_POSTMARK_PASSWORD=pm-secret")
	conn := migratedDatabase(t, env, chAddr, db)
	run, runOut := startTrustpipe(t, env, "run")
	ing, ingOut := startTrustpipe(t, env, "ingest")
	waitFor(t, "ingest to listen", 30*time.Second, ingOut, func() bool {
		resp, err := http.Get("http://" + ingestAddr + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})

	// The oracle: contract events by type, counted here as the payloads
	// are written, and every address used.
	want := map[string]uint64{}
	raw := map[string]bool{}
	n := 0
	addr := func(domain string) string {
		n++
		a := fmt.Sprintf("Rcpt-%d@%s", n, domain)
		raw[a], raw[strings.ToLower(a)] = true, true
		return a
	}
	at := time.Now().Add(-time.Hour).Truncate(time.Second)
	var valid []webhook

	// SendGrid: batches with every mapped type and two skipped ones.
	sgTypes := []struct{ native, contract, extra string }{
		{"processed", "send", ""}, {"delivered", "delivered", ""}, {"open", "open", `,"sg_machine_open":true`},
		{"open", "open", ""}, {"click", "click", ""}, {"bounce", "bounce", `,"type":"blocked"`},
		{"spamreport", "complaint", ""}, {"unsubscribe", "unsubscribe", ""}, {"group_unsubscribe", "opt_down", ""},
		{"group_resubscribe", "opt_up", ""}, {"deferred", "", ""}, {"dropped", "", ""},
	}
	for b := range 3 {
		var evs []string
		for i, ty := range sgTypes {
			evs = append(evs, fmt.Sprintf(`{"email":%q,"timestamp":%d,"event":%q,"sg_event_id":"sg-%d-%d","sg_message_id":"sgm-%d"%s}`,
				addr("gmail.com"), at.Unix(), ty.native, b, i, b, ty.extra))
			if ty.contract != "" {
				want[ty.contract]++
			}
		}
		body := []byte("[" + strings.Join(evs, ",") + "]")
		h := http.Header{}
		sg.Sign(t, h, body, time.Now())
		valid = append(valid, webhook{"/ingest/sendgrid", body, h})
	}
	// Mailgun: one event per request.
	for i, ty := range []struct{ native, contract, extra string }{
		{"accepted", "send", ""}, {"delivered", "delivered", ""}, {"opened", "open", `,"client-info":{"bot":"apple"}`},
		{"clicked", "click", ""}, {"complained", "complaint", ""}, {"unsubscribed", "unsubscribe", ""},
		{"failed", "bounce", `,"severity":"permanent"`}, {"failed", "", `,"severity":"temporary"`}, {"stored", "", ""},
	} {
		ed := fmt.Sprintf(`{"event":%q,"timestamp":%d.25,"id":"mg-%d","recipient":%q,"envelope":{"sender":"news@mg.example.org"},"message":{"headers":{"message-id":"mgm-%d@mg.example.org"}}%s}`,
			ty.native, at.Unix(), i, addr("yahoo.com"), i, ty.extra)
		valid = append(valid, webhook{"/ingest/mailgun", adaptertest.MailgunBody(mgKey, []byte(ed), time.Now(), fmt.Sprintf("tok-%d", i)), nil})
		if ty.contract != "" {
			want[ty.contract]++
		}
	}
	// SES through SNS.
	ts := at.UTC().Format(time.RFC3339)
	sent := at.Add(-time.Minute).UTC().Format(time.RFC3339)
	mail := func(dest ...string) string {
		return fmt.Sprintf(`"mail":{"timestamp":%q,"source":"Shop <news@ses.example.com>","messageId":"sesm-%d","destination":["%s"]}`, sent, n, strings.Join(dest, `","`))
	}
	a1, a2 := addr("outlook.com"), addr("icloud.com")
	for i, ev := range []struct {
		body  string
		count map[string]uint64
	}{
		{`{"eventType":"Send",` + mail(addr("hotmail.com")) + `,"send":{}}`, map[string]uint64{"send": 1}},
		{`{"eventType":"Delivery",` + mail(a1, a2) + fmt.Sprintf(`,"delivery":{"timestamp":%q,"recipients":[%q,%q]}}`, ts, a1, a2), map[string]uint64{"delivered": 2}},
		{`{"eventType":"Bounce",` + mail(a1) + fmt.Sprintf(`,"bounce":{"bounceType":"Permanent","bouncedRecipients":[{"emailAddress":%q}],"timestamp":%q}}`, a1, ts), map[string]uint64{"bounce": 1}},
		{`{"eventType":"Complaint",` + mail(a2) + fmt.Sprintf(`,"complaint":{"complainedRecipients":[{"emailAddress":%q}],"timestamp":%q,"complaintFeedbackType":"abuse"}}`, a2, ts), map[string]uint64{"complaint": 1}},
		{`{"eventType":"Complaint",` + mail(a2) + fmt.Sprintf(`,"complaint":{"complainedRecipients":[{"emailAddress":%q}],"timestamp":%q,"complaintFeedbackType":"not-spam"}}`, a2, ts), nil},
		{`{"eventType":"Rendering Failure",` + mail(a1) + `,"failure":{"templateName":"t"}}`, map[string]uint64{"send": 1}},
		{`{"eventType":"Open",` + mail(a1) + fmt.Sprintf(`,"open":{"timestamp":%q}}`, ts), map[string]uint64{"open": 1}},
	} {
		valid = append(valid, webhook{"/ingest/ses", sns.Notification(t, arn, fmt.Sprintf("sns-%d", i), ev.body), nil})
		for k, v := range ev.count {
			want[k] += v
		}
	}
	valid = append(valid, webhook{"/ingest/ses", sns.SubscriptionConfirmation(t, arn), nil})
	// Postmark, authenticated by basic auth.
	pm := http.Header{}
	pmReq, _ := http.NewRequest("POST", "/", nil)
	pmReq.SetBasicAuth("postmark", "pm-secret")
	pm.Set("Authorization", pmReq.Header.Get("Authorization"))
	for i, ev := range []struct{ body, contract string }{
		{fmt.Sprintf(`{"RecordType":"Delivery","MessageID":"pm-%d","Recipient":%q,"DeliveredAt":%q}`, 0, addr("me.com"), ts), "delivered"},
		{fmt.Sprintf(`{"RecordType":"Bounce","ID":%d,"Type":"HardBounce","MessageID":"pm-1","Email":%q,"From":"a@pm.example.net","BouncedAt":%q}`, 7, addr("aol.com"), ts), "bounce"},
		{fmt.Sprintf(`{"RecordType":"SpamComplaint","ID":%d,"MessageID":"pm-2","Email":%q,"From":"a@pm.example.net","BouncedAt":%q}`, 8, addr("live.com"), ts), "complaint"},
		{fmt.Sprintf(`{"RecordType":"Open","MessageID":"pm-3","Recipient":%q,"ReceivedAt":%q}`, addr("example.net"), ts), "open"},
		{fmt.Sprintf(`{"RecordType":"Click","MessageID":"pm-4","Recipient":%q,"ReceivedAt":%q}`, addr("example.net"), ts), "click"},
	} {
		_ = i
		valid = append(valid, webhook{"/ingest/postmark", []byte(ev.body), pm})
		want[ev.contract]++
	}

	post := func(w webhook) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, "http://"+ingestAddr+w.path, bytes.NewReader(w.body))
		for k, v := range w.header {
			req.Header[k] = v
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	// Forged requests first: none of them may count.
	other := adaptertest.NewSendGridKey(t)
	forgedSG := http.Header{}
	other.Sign(t, forgedSG, valid[0].body, time.Now())
	wrongPM := http.Header{}
	wrongPM.Set("Authorization", "Basic cG9zdG1hcms6Z3Vlc3M=") // postmark:guess
	for _, w := range []webhook{
		{"/ingest/sendgrid", valid[0].body, forgedSG},
		{"/ingest/mailgun", adaptertest.MailgunBody([]byte("not-the-key"), []byte(`{"event":"delivered","timestamp":1,"id":"x","recipient":"Rcpt-0@gmail.com"}`), time.Now(), "t"), nil},
		{"/ingest/ses", adaptertest.NewSNSSigner(t).Notification(t, arn, "forged", `{"eventType":"Send"}`), nil},
		{"/ingest/ses", sns.Notification(t, "arn:aws:sns:eu-west-1:999:other", "other-topic", `{"eventType":"Send"}`), nil},
		{"/ingest/postmark", valid[len(valid)-1].body, wrongPM},
	} {
		if code, msg := post(w); code != http.StatusUnauthorized {
			t.Errorf("forged %s: %d %s, want 401", w.path, code, msg)
		}
	}
	for _, w := range valid {
		if code, msg := post(w); code != http.StatusOK {
			t.Fatalf("%s: %d %s", w.path, code, msg)
		}
	}

	var total uint64
	for _, v := range want {
		total += v
	}
	waitFor(t, fmt.Sprintf("%d events in trust_counts", total), time.Minute, runOut, func() bool {
		return queryUint(t, conn, "SELECT toUInt64(sum(events)) FROM "+db+".trust_counts") >= total
	})
	got := map[string]uint64{}
	for k, v := range countsByTypeDay(t, conn, db+".trust_counts") {
		got[k.typ] += v
	}
	for k := range want {
		if got[k] != want[k] {
			t.Errorf("trust_counts %s = %d, want %d", k, got[k], want[k])
		}
	}
	if len(got) != len(want) {
		t.Errorf("trust_counts types %v, want %v", got, want)
	}
	if r := queryUint(t, conn, "SELECT toUInt64(sum(rejected)) FROM "+db+".ingest_ledger"); r != 0 {
		t.Errorf("%d ingested records rejected by the pipeline", r)
	}
	metrics, err := http.Get("http://" + ingestAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metricsText, _ := io.ReadAll(metrics.Body)
	metrics.Body.Close()
	stopGracefully(t, ing, ingOut)
	stopGracefully(t, run, runOut)

	assertNoRawIDs(t, conn, db, raw)
	dlq, err := kafkatest.ReadAll(context.Background(), brokers, "trust-events-dlq")
	if err != nil {
		t.Fatal(err)
	}
	input, err := kafkatest.ReadAll(context.Background(), brokers, "trust-events")
	if err != nil {
		t.Fatal(err)
	}
	if uint64(len(input)) != total {
		t.Errorf("%d records on the input topic, want %d", len(input), total)
	}
	var topics []byte
	for _, m := range append(dlq, input...) {
		topics = append(append(topics, m.Key...), m.Value...)
	}
	for what, b := range map[string][]byte{"the run log": []byte(runOut.String()), "the ingest log": []byte(ingOut.String()),
		"the ingest metrics": metricsText, "the Kafka topics": topics} {
		if bytes.Contains(bytes.ToLower(b), []byte("rcpt-")) {
			t.Errorf("an address appears in %s", what)
		}
	}
	if !strings.Contains(ingOut.String(), "SubscribeURL") {
		t.Errorf("the SNS subscription confirmation was not logged:\n%s", ingOut.String())
	}
	if !bytes.Contains(metricsText, []byte(`trustpipe_ingest_requests_total{code="401",format="ses"} 2`)) {
		t.Errorf("ingest metrics miss the refused SES requests")
	}
}

// TestNativeTopicEndToEnd: `trustpipe gen --format sendgrid` writes
// batches to a topic listed in TRUSTPIPE_KAFKA_TOPIC_FORMATS and `trustpipe
// run` counts them: trust_counts equals the events the test counts itself
// from the topic's JSON arrays, the ledger counts records, the broken
// records are dead-lettered without their payload, and no address is
// stored.
func TestNativeTopicEndToEnd(t *testing.T) {
	chAddr := sinktest.Addr(t)
	db := sinktest.Database(t)
	brokers := kafkatest.Start(t, 2, "trust-events", "sg", "trust-events-dlq")
	env := testEnv(brokers, chAddr, db, "TRUSTPIPE_FLUSH_INTERVAL=200ms", "TRUSTPIPE_BLOCK_SIZE=100",
		"TRUSTPIPE_KAFKA_TOPICS=trust-events,sg", "TRUSTPIPE_KAFKA_TOPIC_FORMATS=sg:sendgrid")
	if out, code := runTrustpipe(t, env, "gen", "--format", "sendgrid", "--topic", "sg", "--events", "3000", "--days", "3", "--invalid-ratio", "0.02"); code != 0 {
		t.Fatalf("gen: %d\n%s", code, out)
	}
	records, err := kafkatest.ReadAll(context.Background(), brokers, "sg")
	if err != nil {
		t.Fatal(err)
	}
	// The oracle: SendGrid's event names, mapped by the table in the
	// README, counted from the topic's own bytes.
	names := map[string]string{"processed": "send", "delivered": "delivered", "open": "open", "click": "click", "bounce": "bounce",
		"spamreport": "complaint", "unsubscribe": "unsubscribe", "group_unsubscribe": "opt_down", "group_resubscribe": "opt_up"}
	want := map[string]uint64{}
	broken := 0
	for _, m := range records {
		var batch []struct {
			Event string `json:"event"`
		}
		if json.Unmarshal(m.Value, &batch) != nil {
			broken++
			continue
		}
		for _, e := range batch {
			want[names[e.Event]]++
		}
	}
	if broken == 0 || len(want) < 5 || len(records) >= 3000 {
		t.Fatalf("gen wrote %d records, %d broken, types %v: want batches of several events, some broken", len(records), broken, want)
	}
	conn := migratedDatabase(t, env, chAddr, db)
	run, out := startTrustpipe(t, env, "run")
	waitFor(t, "every record in the ledger", time.Minute, out, func() bool { return ledgerConsumed(t, conn, db) >= uint64(len(records)) })
	stopGracefully(t, run, out)
	got := map[string]uint64{}
	for k, v := range countsByTypeDay(t, conn, db+".trust_counts") {
		got[k.typ] += v
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("trust_counts %v, want %v", got, want)
	}
	if r := queryUint(t, conn, "SELECT toUInt64(sum(rejected)) FROM "+db+".ingest_ledger"); r != uint64(broken) {
		t.Errorf("ledger rejected %d, want the %d broken records", r, broken)
	}
	dlq, err := kafkatest.ReadAll(context.Background(), brokers, "trust-events-dlq")
	if err != nil {
		t.Fatal(err)
	}
	if len(dlq) != broken {
		t.Errorf("%d dead letters, want %d", len(dlq), broken)
	}
	for _, m := range dlq {
		if len(m.Key) != 0 || len(m.Value) != 0 || kafkatest.Header(m, "trustpipe-format") != "sendgrid" {
			t.Fatalf("dead letter with key %q value %q headers %v: want only headers", m.Key, m.Value, m.Headers)
		}
	}
	assertNoRawIDs(t, conn, db, nil)
}
