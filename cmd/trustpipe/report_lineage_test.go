package main

import (
	"encoding/json"
	"math"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/trustpipe/trustpipe/aggregate/event"
	"github.com/trustpipe/trustpipe/aggregate/scenario"
	"github.com/trustpipe/trustpipe/consumers/kafkatest"
	"github.com/trustpipe/trustpipe/sink/sinktest"
)

// Independent oracles of the provenance signals: read from the produced
// records with encoding/json, with the consent rules of the README written
// out again here, never through the contract decoder, the send flags or
// the message memory.

// lineageSend is what the oracles read of a record.
type lineageSend struct {
	Type            string    `json:"type"`
	OccurredAt      time.Time `json:"occurred_at"`
	SentAt          time.Time `json:"sent_at"`
	MessageID       string    `json:"message_id"`
	Channel         string    `json:"channel"`
	ConsentTier     uint8     `json:"consent_tier"`
	Personalization string    `json:"personalization"`
	Reason          string    `json:"reason"`
	Properties      struct {
		Inputs        []string `json:"inputs"`
		ReasonVisible bool     `json:"reason_visible"`
		Kind          string   `json:"kind"`
	} `json:"properties"`
}

func decodeLineage(t *testing.T, rec scenario.Record) lineageSend {
	t.Helper()
	var v lineageSend
	if err := json.Unmarshal(rec.Value, &v); err != nil {
		t.Fatalf("produced record %s: %v", rec.Value, err)
	}
	return v
}

func (v lineageSend) personalized() bool {
	return v.Personalization != "" && v.Personalization != "none"
}

// tierNeeded is the README's consent tier per input tag.
func tierNeeded(tag string) uint8 {
	switch {
	case tag == "crm":
		return 1
	case tag == "web_behaviour" || tag == "enrichment":
		return 2
	}
	return 3
}

// lineageDay counts one day's personalized sends for the send-level shares.
type lineageDay struct{ personalized, named, covered, visible int }

type lineageOracle map[string]*lineageDay

func (lo lineageOracle) add(t *testing.T, rec scenario.Record) {
	if rec.Invalid != "" || rec.Type != event.Send {
		return
	}
	v := decodeLineage(t, rec)
	if !v.personalized() {
		return
	}
	day := rec.Time.UTC().Format("2006-01-02")
	d := lo[day]
	if d == nil {
		d = &lineageDay{}
		lo[day] = d
	}
	d.personalized++
	if v.Properties.ReasonVisible {
		d.visible++
	}
	if len(v.Properties.Inputs) > 0 {
		d.named++
		covered := true
		for _, in := range v.Properties.Inputs {
			covered = covered && tierNeeded(in) <= v.ConsentTier
		}
		if covered {
			d.covered++
		}
	}
}

// set puts the days' lineage_coverage, input_consent_coverage and
// visible_explanation_share into want.
func (lo lineageOracle) set(want map[string]*float64, from, to time.Time) {
	var s lineageDay
	for d := from; d.Before(to); d = d.AddDate(0, 0, 1) {
		if x := lo[d.Format("2006-01-02")]; x != nil {
			s.personalized, s.named, s.covered, s.visible = s.personalized+x.personalized, s.named+x.named, s.covered+x.covered, s.visible+x.visible
		}
	}
	want["lineage_coverage"] = ratio(float64(s.named), float64(s.personalized))
	want["input_consent_coverage"] = ratio(float64(s.covered), float64(s.named))
	want["visible_explanation_share"] = ratio(float64(s.visible), float64(s.personalized))
}

// factCounts are the oracle's counts of one send fact on one send day.
type factCounts struct{ sends, delivered, emailDelivered, emailComplaints, tooPersonal int }

// provenanceOracle attributes every follow-up to the send with its
// message_id produced before it (records are keyed by contact, so both are
// in one partition, in produce order); the test's horizon and cap are
// larger than the stream, so nothing is forgotten.
type provenanceOracle struct {
	sends        map[string]sendFacts // message_id → facts of the latest send
	facts        map[string]map[string]*factCounts
	unattributed map[string]int // by day
}

type sendFacts struct {
	day   string
	facts []string // "facet=fact"
}

func newProvenanceOracle() *provenanceOracle {
	return &provenanceOracle{sends: map[string]sendFacts{}, facts: map[string]map[string]*factCounts{}, unattributed: map[string]int{}}
}

func (po *provenanceOracle) counts(fact, day string) *factCounts {
	if po.facts[fact] == nil {
		po.facts[fact] = map[string]*factCounts{}
	}
	c := po.facts[fact][day]
	if c == nil {
		c = &factCounts{}
		po.facts[fact][day] = c
	}
	return c
}

func (po *provenanceOracle) add(t *testing.T, rec scenario.Record) {
	if rec.Invalid != "" || !rec.Type.IsFollowUp() && rec.Type != event.Send {
		return
	}
	v := decodeLineage(t, rec)
	if v.MessageID == "" {
		return
	}
	if rec.Type == event.Send {
		s := sendFacts{day: v.OccurredAt.UTC().Format("2006-01-02")}
		for _, in := range v.Properties.Inputs {
			s.facts = append(s.facts, "input="+in)
		}
		if v.personalized() {
			if len(v.Properties.Inputs) == 0 {
				s.facts = append(s.facts, "input=none")
			}
			reason := "none"
			switch {
			case v.Properties.ReasonVisible:
				reason = "visible"
			case v.Reason != "":
				reason = "hidden"
			}
			s.facts = append(s.facts, "reason="+reason)
		}
		po.sends[v.MessageID] = s
		for _, f := range s.facts {
			po.counts(f, s.day).sends++
		}
		return
	}
	s, ok := po.sends[v.MessageID]
	if !ok {
		at := v.OccurredAt
		if !v.SentAt.IsZero() {
			at = v.SentAt
		}
		po.unattributed[at.UTC().Format("2006-01-02")]++
		return
	}
	for _, f := range s.facts {
		c := po.counts(f, s.day)
		switch {
		case rec.Type == event.Delivered:
			c.delivered++
			if v.Channel == "email" {
				c.emailDelivered++
			}
		case rec.Type == event.Complaint && v.Channel == "email":
			c.emailComplaints++
		case rec.Type == event.Feedback && v.Properties.Kind == "too_personal":
			c.tooPersonal++
		}
	}
}

// sum adds up a fact's counts over the send days in [from, to).
func (po *provenanceOracle) sum(fact string, from, to time.Time) factCounts {
	var s factCounts
	for d := from; d.Before(to); d = d.AddDate(0, 0, 1) {
		if c := po.facts[fact][d.Format("2006-01-02")]; c != nil {
			s.sends, s.delivered, s.emailDelivered = s.sends+c.sends, s.delivered+c.delivered, s.emailDelivered+c.emailDelivered
			s.emailComplaints, s.tooPersonal = s.emailComplaints+c.emailComplaints, s.tooPersonal+c.tooPersonal
		}
	}
	return s
}

// provenanceJSON is the report's provenance section as documented.
type provenanceJSON struct {
	Available bool `json:"available"`
	Facts     []struct {
		Facet     string `json:"facet"`
		Fact      string `json:"fact"`
		Sends     int    `json:"sends"`
		Delivered int    `json:"delivered"`
		Values    []struct {
			Name  string   `json:"name"`
			Value *float64 `json:"value"`
			Low   *float64 `json:"low"`
			High  *float64 `json:"high"`
		} `json:"values"`
	} `json:"facts"`
	Unattributed int `json:"unattributed_followups"`
}

// TestProvenanceReportMatchesRecordsAcrossKill runs the intent-data
// scenario through `trustpipe run`, SIGKILLed halfway (its partitions are
// then re-read from their last committed block, their message memory
// loaded back from ClickHouse), and checks that `report --format json`
// gives exactly what the oracles compute from the produced records: the
// three send-level shares, and per send fact the sends, the deliveries and
// the complaint and "too personal" rates of the follow-ups attributed to
// them, and the unattributed follow-ups.
func TestProvenanceReportMatchesRecordsAcrossKill(t *testing.T) {
	chAddr := sinktest.Addr(t)
	db := sinktest.Database(t)
	brokers := kafkatest.Start(t, 3, "trust-events", "trust-events-dlq")
	const n = 40000
	end := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	g, err := scenario.New(scenario.Config{Name: "intent-data", Events: n, Days: 14, Seed: 16, End: end, InvalidRatio: 0.01})
	if err != nil {
		t.Fatal(err)
	}
	lineage, prov := lineageOracle{}, newProvenanceOracle()
	produceGenerated(t, brokers, g, func(rec scenario.Record) {
		lineage.add(t, rec)
		prov.add(t, rec)
	})

	env := testEnv(brokers, chAddr, db, "TRUSTPIPE_BLOCK_SIZE=2000", "TRUSTPIPE_FLUSH_INTERVAL=200ms",
		"TRUSTPIPE_LINEAGE_HORIZON=9000h", "TRUSTPIPE_LINEAGE_MAX_MESSAGES=1000000", "TRUSTPIPE_LINEAGE_MODELS=propensity-v2")
	conn := migratedDatabase(t, env, chAddr, db)
	consumed := func() uint64 { return ledgerConsumed(t, conn, db) }
	first, out1 := startTrustpipe(t, env, "run")
	waitFor(t, "the kill point", 3*time.Minute, out1, func() bool { return consumed() >= n/2 })
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()
	second, out2 := startTrustpipe(t, env, "run")
	waitFor(t, "every record in the ledger", 3*time.Minute, out2, func() bool { return consumed() == n })
	stopGracefully(t, second, out2)

	from := time.Date(2026, 11, 10, 0, 0, 0, 0, time.UTC)
	var j struct {
		Indicators map[string]*float64 `json:"indicators"`
		Provenance provenanceJSON      `json:"provenance"`
	}
	raw := runReport(t, env, "--from", "2026-11-10", "--to", "2026-11-20", "--format", "json")
	if err := json.Unmarshal(raw, &j); err != nil {
		t.Fatalf("%v\n%s", err, raw)
	}
	want := map[string]*float64{}
	lineage.set(want, from, end)
	for name, w := range want {
		if g := j.Indicators[name]; !eqPtr(g, w) || w == nil {
			t.Errorf("%s = %s, want exactly %s", name, fmtPtr(g), fmtPtr(w))
		}
	}

	p := j.Provenance
	if !p.Available {
		t.Fatal("provenance not available without a segment or source filter")
	}
	wantUnattributed := 0
	for d := from; d.Before(end); d = d.AddDate(0, 0, 1) {
		wantUnattributed += prov.unattributed[d.Format("2006-01-02")]
	}
	if p.Unattributed != wantUnattributed || wantUnattributed == 0 {
		t.Errorf("unattributed follow-ups %d, want %d (follow-ups of sends made before the period)", p.Unattributed, wantUnattributed)
	}
	var seen []string
	for _, f := range p.Facts {
		key := f.Facet + "=" + f.Fact
		seen = append(seen, key)
		c := prov.sum(key, from, end)
		if f.Sends != c.sends || f.Delivered != c.delivered {
			t.Errorf("%s: %d sends, %d delivered; want %d and %d", key, f.Sends, f.Delivered, c.sends, c.delivered)
		}
		wantRates := map[string]*float64{
			"complaint_rate":    ratio(float64(c.emailComplaints), float64(c.emailDelivered)),
			"too_personal_rate": ratio(float64(c.tooPersonal), float64(c.delivered)),
		}
		wantBounds := map[string][2]float64{
			"complaint_rate":    wilsonRoots(c.emailComplaints, c.emailDelivered),
			"too_personal_rate": wilsonRoots(c.tooPersonal, c.delivered),
		}
		if len(f.Values) != len(wantRates) {
			t.Errorf("%s: %d rates, want %d", key, len(f.Values), len(wantRates))
		}
		for _, v := range f.Values {
			if w := wantRates[v.Name]; !eqPtr(v.Value, w) {
				t.Errorf("%s %s = %s, want exactly %s", key, v.Name, fmtPtr(v.Value), fmtPtr(w))
			}
			if v.Value != nil && (v.Low == nil || v.High == nil || *v.Low > *v.Value || *v.High < *v.Value || math.IsNaN(*v.High)) {
				t.Errorf("%s %s: interval [%s, %s] does not hold %s", key, v.Name, fmtPtr(v.Low), fmtPtr(v.High), fmtPtr(v.Value))
			}
			if b := wantBounds[v.Name]; v.Value != nil && v.Low != nil && v.High != nil &&
				(math.Abs(*v.Low-b[0]) > 1e-9 || math.Abs(*v.High-b[1]) > 1e-9) {
				t.Errorf("%s %s: interval [%s, %s], want the Wilson score interval [%g, %g]", key, v.Name, fmtPtr(v.Low), fmtPtr(v.High), b[0], b[1])
			}
		}
	}
	var wantFacts []string
	for f := range prov.facts {
		if prov.sum(f, from, end) != (factCounts{}) {
			wantFacts = append(wantFacts, f)
		}
	}
	slices.Sort(seen)
	slices.Sort(wantFacts)
	if !slices.Equal(seen, wantFacts) {
		t.Errorf("facts %v, want %v", seen, wantFacts)
	}
	table := string(runReport(t, env, "--from", "2026-11-10", "--to", "2026-11-20"))
	if !strings.Contains(table, "PROVENANCE") || !strings.Contains(table, "third_party_intent") || !strings.Contains(table, "model:propensity-v2") {
		t.Errorf("table lacks the provenance section:\n%s", table)
	}
}

// wilsonRoots is the 95 % Wilson score interval of k successes in n trials,
// computed apart from indicator.Wilson: the two p where the normal
// approximation's score (p̂ − p)² = z²·p(1 − p)/n holds, the roots of
// (1 + z²/n)·p² − (2p̂ + z²/n)·p + p̂² = 0.
func wilsonRoots(k, n int) [2]float64 {
	const z = 1.959963984540054 // the standard normal's 97.5th percentile
	if n == 0 {
		return [2]float64{0, 1}
	}
	ph, z2n := float64(k)/float64(n), z*z/float64(n)
	a, b, c := 1+z2n, -(2*ph + z2n), ph*ph
	d := math.Sqrt(b*b - 4*a*c)
	return [2]float64{max((-b-d)/(2*a), 0), min((-b+d)/(2*a), 1)}
}
