package indicator

import (
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trustpipe/trustpipe/aggregate/event"
)

// fixtureRows is a healthy window whose indicator values are worked out by
// hand in TestEvaluateHandComputed.
func fixtureRows() []Row {
	return []Row{
		{EventType: "delivered", Channel: "email", Events: 10000},
		{EventType: "delivered", Channel: "sms", Events: 5000},
		{EventType: "complaint", Channel: "sms", Events: 9}, // not an email complaint
		// sends: personalized = 3000+200+1500+10+1290 = 6000
		// sends: 10000, 50 with a merge defect, 20 with a broken link
		// lineage: 2000+200+1000+10+1290 = 4500 personalized sends name
		// their inputs, 10 of them beyond consent; visible reasons on
		// 20+1000+1290 = 2310 personalized sends. 10 sends to contacts who
		// unsubscribed, 4 claiming a tier above the record.
		{EventType: "send", Personalization: "none", Events: 3810},
		{EventType: "send", Personalization: "none", Detail: "lineage", Events: 50}, // not personalized
		{EventType: "send", Personalization: "none", Detail: "post_unsubscribe", Events: 10},
		{EventType: "send", Personalization: "none", Detail: "merge_defect", Events: 30},
		{EventType: "send", Personalization: "none", Detail: "explained", Events: 100}, // not personalized
		{EventType: "send", Personalization: "basic", ConsentTier: 1, Detail: "explained+lineage", Events: 2000},
		{EventType: "send", Personalization: "basic", ConsentTier: 1, Detail: "explained", Events: 980},
		{EventType: "send", Personalization: "basic", ConsentTier: 1, Detail: "explained+visible+merge_defect+broken_link", Events: 20},
		{EventType: "send", Personalization: "basic", ConsentTier: 3, Detail: "lineage", Events: 196},
		{EventType: "send", Personalization: "basic", ConsentTier: 3, Detail: "lineage+consent_mismatch", Events: 4},
		{EventType: "send", Personalization: "behavioral", ConsentTier: 2, Detail: "explained+visible+lineage", Events: 1000},
		{EventType: "send", Personalization: "behavioral", ConsentTier: 2, Detail: "explained", Events: 500},
		{EventType: "send", Personalization: "behavioral", ConsentTier: 1, Detail: "explained+lineage+input_beyond_consent", Events: 10}, // beyond consent
		{EventType: "send", Personalization: "predictive", ConsentTier: 3, Detail: "explained+visible+lineage", Events: 1290},
		{EventType: "open", Events: 3000},
		{EventType: "open", Detail: "machine", Events: 1500},
		{EventType: "click", Events: 450},
		{EventType: "click", Detail: "bot", Events: 300}, // security scanners
		{EventType: "form_fill", Events: 60},
		{EventType: "unsubscribe", Events: 15},
		{EventType: "opt_down", Events: 15},
		{EventType: "opt_up", Events: 7},
		{EventType: "preference_center_visit", Events: 12},
		{EventType: "complaint", Channel: "email", Events: 5},
		{EventType: "bounce", Detail: "hard", Events: 40},
		{EventType: "bounce", Detail: "soft", Events: 260},
		// consent between known tiers: up 20+10 = 30, down 5, same 2; total 37.
		// Moves out of and into tier 0 (unknown) are neither: 3 + 50.
		{EventType: "consent_change", Detail: "1->2", ConsentTier: 2, Events: 20},
		{EventType: "consent_change", Detail: "2->3", ConsentTier: 3, Events: 10},
		{EventType: "consent_change", Detail: "2->1", ConsentTier: 1, Events: 5},
		{EventType: "consent_change", Detail: "3->0", Events: 3},
		{EventType: "consent_change", Detail: "0->3", ConsentTier: 3, Events: 50},
		{EventType: "consent_change", Detail: "1->1", ConsentTier: 1, Events: 2},
		{EventType: "web_session", Detail: "direct", Events: 400},
		{EventType: "web_session", Detail: "organic", Events: 600},
		{EventType: "web_session", Detail: "paid", Events: 300},
		{EventType: "web_session", Detail: "email", Events: 200},
		{EventType: "sentiment", Events: 12, ValueSum: 5.4},
		{EventType: "sentiment", ConsentTier: 2, Events: 8, ValueSum: 1.0},
		{EventType: "feedback", Detail: "too_personal", Events: 1},
		{EventType: "feedback", Detail: "helpful", Events: 30},
		{EventType: "feedback", Detail: "too_frequent", Events: 6},
		{EventType: "feedback", Detail: "not_relevant", Events: 4},
	}
}

func approx(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func TestEvaluateHandComputed(t *testing.T) {
	tot := Accumulate(fixtureRows())
	want := map[string]float64{
		UnsubscribeRate:               15.0 / 15000,
		ComplaintRate:                 5.0 / 10000, // email over email: the SMS side is left out
		OptDownShare:                  15.0 / 30,
		PreferenceCenterRate:          12.0 / 15000,
		DirectTrafficShare:            400.0 / 1500,
		SentimentAvg:                  6.4 / 20,
		ConsentMomentum:               (30.0 - 5) / 37,
		TooPersonalRate:               1.0 / 15000,
		ExplainedPersonalizationShare: 5800.0 / 6000,
		ConsentCoverage:               5990.0 / 6000,
		TooFrequentRate:               6.0 / 15000,
		NotRelevantRate:               4.0 / 15000,
		BounceRate:                    300.0 / 15300,
		DeliveryRate:                  15000.0 / 15300,
		OpenRate:                      3000.0 / 15000,
		CTR:                           450.0 / 15000, // bot clicks left out
		ClickToOpen:                   450.0 / 3000,
		FormFillRate:                  60.0 / 15000,
		MergeDefectRate:               50.0 / 10000,
		BrokenLinkRate:                20.0 / 10000,
		LineageCoverage:               4500.0 / 6000,
		InputConsentCoverage:          4490.0 / 4500,
		VisibleExplanationShare:       2310.0 / 6000,
		PostUnsubscribeSendRate:       10.0 / 10000,
		ConsentClaimMismatchRate:      4.0 / 6000,
	}
	wantDen := map[string]float64{
		UnsubscribeRate: 15000, ComplaintRate: 10000, OptDownShare: 30, DirectTrafficShare: 1500, SentimentAvg: 20,
		ConsentMomentum: 37, ExplainedPersonalizationShare: 6000, ConsentCoverage: 6000, ClickToOpen: 3000,
		BounceRate: 15300, MergeDefectRate: 10000, BrokenLinkRate: 10000,
		LineageCoverage: 6000, InputConsentCoverage: 4500, VisibleExplanationShare: 6000,
		PostUnsubscribeSendRate: 10000, ConsentClaimMismatchRate: 6000,
	}
	if len(want) != len(All()) {
		t.Fatalf("test covers %d indicators, All has %d", len(want), len(All()))
	}
	for _, v := range EvaluateAll(tot) {
		w, ok := want[v.Name]
		if !ok {
			t.Errorf("unexpected indicator %s", v.Name)
			continue
		}
		if v.Value == nil || !approx(*v.Value, w, 1e-12) {
			t.Errorf("%s = %v, want %v", v.Name, deref(v.Value), w)
		}
		if d, ok := wantDen[v.Name]; ok && v.Denominator != d {
			t.Errorf("%s denominator = %v, want %v", v.Name, v.Denominator, d)
		}
	}
}

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

func TestConsentCoverageTiers(t *testing.T) {
	tot := Accumulate([]Row{
		{EventType: "send", Personalization: "basic", ConsentTier: 0, Events: 5},       // no: unknown tier
		{EventType: "send", Personalization: "basic", ConsentTier: 1, Events: 10},      // yes
		{EventType: "send", Personalization: "behavioral", ConsentTier: 1, Events: 3},  // no
		{EventType: "send", Personalization: "behavioral", ConsentTier: 3, Events: 4},  // yes
		{EventType: "send", Personalization: "predictive", ConsentTier: 2, Events: 6},  // no
		{EventType: "send", Personalization: "predictive", ConsentTier: 3, Events: 2},  // yes
		{EventType: "send", Personalization: "none", ConsentTier: 3, Events: 100},      // not personalized
		{EventType: "delivered", Personalization: "basic", ConsentTier: 1, Events: 50}, // not a send
	})
	d, _ := ByName(ConsentCoverage)
	v := d.Evaluate(tot)
	if v.Numerator != 16 || v.Denominator != 30 {
		t.Fatalf("consent_coverage = %v/%v, want 16/30", v.Numerator, v.Denominator)
	}
}

// Each of the 16 consent-change details is classified by parsing the string
// here, independently of consentChanges.
func TestConsentMomentumDetails(t *testing.T) {
	d, _ := ByName(ConsentMomentum)
	if len(d.Numerator) != 2 || d.Numerator[0].Negate || !d.Numerator[1].Negate {
		t.Fatalf("numerator should be upgrades - downgrades, got %+v", d.Numerator)
	}
	seen := 0
	for from := range 4 {
		for to := range 4 {
			detail := string(rune('0'+from)) + "->" + string(rune('0'+to))
			if got := ConsentChangeDetail(uint8(from), uint8(to)); got != detail {
				t.Fatalf("ConsentChangeDetail(%d,%d) = %q, want %q", from, to, got, detail)
			}
			r := Row{EventType: "consent_change", Detail: detail, Events: 1}
			up, down := d.Numerator[0].Selector.Matches(r), d.Numerator[1].Selector.Matches(r)
			known := from > 0 && to > 0 // tier 0 is "unknown"
			if up != (known && to > from) || down != (known && to < from) {
				t.Errorf("%s: upgrade=%v downgrade=%v", detail, up, down)
			}
			if d.Denominator.Matches(r) != known {
				t.Errorf("%s: counted as a consent change = %v, want %v", detail, !known, known)
			}
			seen++
		}
	}
	if seen != 16 {
		t.Fatal(seen)
	}
	// A downgrade-heavy window gives a negative momentum: (1 - 3) / 5. The
	// many first tier assignments (0->3) would have made it look positive.
	v := d.Evaluate(Accumulate([]Row{
		{EventType: "consent_change", Detail: "0->3", Events: 100},
		{EventType: "consent_change", Detail: "1->2", Events: 1},
		{EventType: "consent_change", Detail: "3->2", Events: 2},
		{EventType: "consent_change", Detail: "2->1", Events: 1},
		{EventType: "consent_change", Detail: "1->0", Events: 1},
		{EventType: "consent_change", Detail: "2->2", Events: 1},
	}))
	if v.Value == nil || *v.Value != -0.4 || v.Low != nil {
		t.Fatalf("momentum = %v (low %v), want -0.4 without interval", deref(v.Value), v.Low)
	}
}

func TestZeroDenominatorIsNull(t *testing.T) {
	// Numerators without denominators: complaints but no deliveries.
	tot := Accumulate([]Row{{EventType: "complaint", Channel: "email", Events: 3}, {EventType: "click", Events: 2}})
	for _, tc := range []Totals{{}, tot} {
		for _, v := range EvaluateAll(tc) {
			if v.Value != nil || v.Low != nil || v.High != nil || v.Sufficient {
				t.Errorf("%s: want null value, got %+v", v.Name, v)
			}
		}
	}
	b, err := json.Marshal(EvaluateAll(tot)[1])
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"name":"complaint_rate","numerator":3,"denominator":0,"value":null,"sufficient":false}`; string(b) != want {
		t.Fatalf("json = %s, want %s", b, want)
	}
	// Non-finite sentiment sums must not leak out as NaN either.
	d, _ := ByName(SentimentAvg)
	v := d.Evaluate(Accumulate([]Row{{EventType: "sentiment", Events: 1, ValueSum: math.Inf(1)}, {EventType: "sentiment", Events: 1, ValueSum: math.Inf(-1)}}))
	if v.Value != nil {
		t.Fatalf("non-finite sentiment gave %v", *v.Value)
	}
}

func TestWilson(t *testing.T) {
	// Reference values of the Wilson score interval (z = 1.96), e.g. from
	// Newcombe (1998), Table I, and R's binom::binom.wilson.
	cases := []struct{ k, n, lo, hi float64 }{
		{5, 100, 0.0215, 0.1118},
		{0, 10, 0, 0.2775},
		{10, 10, 0.7225, 1},
		{50, 100, 0.4038, 0.5962},
		{1, 29, 0.0061, 0.1718},
	}
	for _, c := range cases {
		lo, hi := Wilson(c.k, c.n)
		if !approx(lo, c.lo, 1e-4) || !approx(hi, c.hi, 1e-4) {
			t.Errorf("Wilson(%v/%v) = [%.4f, %.4f], want [%.4f, %.4f]", c.k, c.n, lo, hi, c.lo, c.hi)
		}
	}
	if lo, hi := Wilson(0, 0); lo != 0 || hi != 1 {
		t.Errorf("Wilson(0/0) = [%v, %v], want [0, 1]", lo, hi)
	}
	// Through Evaluate: only proportions get an interval.
	tot := Accumulate([]Row{{EventType: "delivered", Events: 100}, {EventType: "unsubscribe", Events: 5},
		{EventType: "sentiment", Events: 100, ValueSum: 5}, {EventType: "open", Events: 150}})
	for _, v := range EvaluateAll(tot) {
		switch v.Name {
		case UnsubscribeRate:
			if v.Low == nil || v.High == nil || !approx(*v.Low, 0.0215, 1e-4) || !approx(*v.High, 0.1118, 1e-4) {
				t.Errorf("unsubscribe_rate interval = [%v, %v]", deref(v.Low), deref(v.High))
			}
		case SentimentAvg, OpenRate: // a mean; more opens than deliveries
			if v.Value == nil || v.Low != nil || v.High != nil {
				t.Errorf("%s: want a value without interval, got %+v", v.Name, v)
			}
		}
	}
}

func TestSufficient(t *testing.T) {
	d, _ := ByName(ComplaintRate) // MinVolume 2000
	for _, c := range []struct {
		delivered uint64
		want      bool
	}{{1999, false}, {2000, true}} {
		v := d.Evaluate(Accumulate([]Row{{EventType: "delivered", Channel: "email", Events: c.delivered}, {EventType: "delivered", Channel: "sms", Events: 5000}}))
		if v.Sufficient != c.want {
			t.Errorf("delivered %d: sufficient = %v, want %v", c.delivered, v.Sufficient, c.want)
		}
	}
}

func TestDefinitions(t *testing.T) {
	wantNames := []string{
		"unsubscribe_rate", "complaint_rate", "opt_down_share", "preference_center_rate",
		"direct_traffic_share", "sentiment_avg", "consent_momentum", "too_personal_rate",
		"explained_personalization_share", "consent_coverage",
		"too_frequent_rate", "not_relevant_rate", "bounce_rate", "delivery_rate",
		"open_rate", "ctr", "click_to_open", "form_fill_rate",
		"merge_defect_rate", "broken_link_rate",
		"lineage_coverage", "input_consent_coverage", "visible_explanation_share",
		"post_unsubscribe_send_rate", "consent_claim_mismatch_share",
	}
	if got := Names(); !slices.Equal(got, wantNames) {
		t.Fatalf("Names() = %v\nwant %v", got, wantNames)
	}
	for _, d := range All() {
		if d.Title == "" || d.Description == "" || len(d.Numerator) == 0 {
			t.Errorf("%s: incomplete definition", d.Name)
		}
		got, ok := ByName(d.Name)
		if !ok || got.Name != d.Name {
			t.Errorf("ByName(%s) failed", d.Name)
		}
		isClick := slices.Contains([]string{OpenRate, CTR, ClickToOpen, FormFillRate}, d.Name)
		if isClick != (d.Kind == Click) || isClick != (d.Direction == None) {
			t.Errorf("%s: kind %v direction %v", d.Name, d.Kind, d.Direction)
		}
		if d.Kind == Trust {
			if d.Direction == LowerIsBetter && !(d.Good < d.Bad) || d.Direction == HigherIsBetter && !(d.Good > d.Bad) {
				t.Errorf("%s: thresholds good=%v bad=%v contradict direction %v", d.Name, d.Good, d.Bad, d.Direction)
			}
			if d.MinVolume <= 0 {
				t.Errorf("%s: no minimum volume", d.Name)
			}
		}
	}
	if _, ok := ByName("nope"); ok {
		t.Error("ByName(nope) found something")
	}
	// Complaint thresholds follow mailbox-provider guidance.
	if d, _ := ByName(ComplaintRate); d.Good != 0.001 || d.Bad != 0.003 {
		t.Errorf("complaint thresholds %v/%v", d.Good, d.Bad)
	}
	// Callers get copies: changing one does not change the next.
	a := All()
	a[0].Numerator[0].Selector.EventTypes[0] = "changed"
	a[0].Good = 42
	if b := All(); b[0].Numerator[0].Selector.EventTypes[0] != "unsubscribe" || b[0].Good == 42 {
		t.Fatal("All shares state between calls")
	}
	// The literals the definitions select on are values of the contract.
	for _, c := range []struct {
		v    string
		list []string
	}{{TrafficDirect, event.TrafficSources}, {FeedbackTooPersonal, event.FeedbackKinds}} {
		if !slices.Contains(c.list, c.v) {
			t.Errorf("%q not in the contract's list %v", c.v, c.list)
		}
	}
	for _, p := range personalized() {
		if !slices.Contains(event.Personalization, p) || p == "none" {
			t.Errorf("personalized level %q", p)
		}
	}
	// Every event type named by a selector is a contract type.
	for _, d := range All() {
		sels := []Selector{d.Denominator}
		for _, term := range d.Numerator {
			sels = append(sels, term.Selector)
		}
		for _, s := range sels {
			for _, ty := range s.EventTypes {
				if _, ok := event.ParseType(ty); !ok {
					t.Errorf("%s selects unknown type %q", d.Name, ty)
				}
			}
		}
		if strings.Contains(d.NumeratorSQL()+d.DenominatorSQL(), "\"") {
			t.Errorf("%s: double quote in SQL", d.Name)
		}
	}
}

func TestTotals(t *testing.T) {
	rows := fixtureRows()
	a := Accumulate(rows)
	rev := slices.Clone(rows)
	slices.Reverse(rev)
	b := Accumulate(rev)
	if !slices.Equal(a.Rows(), b.Rows()) {
		t.Fatal("row order changes Totals")
	}
	// Split in two and merge: same as accumulating all at once.
	m := Accumulate(rows[:10]).Merge(Accumulate(rows[10:]))
	if !slices.Equal(a.Rows(), m.Rows()) {
		t.Fatal("Merge differs from Accumulate")
	}
	// Same key twice sums.
	d := Accumulate([]Row{{EventType: "x", Events: 2, ValueSum: 1}, {EventType: "x", Events: 3, ValueSum: 0.5}})
	if got := d.Rows(); len(got) != 1 || got[0].Events != 5 || got[0].ValueSum != 1.5 {
		t.Fatalf("rows = %+v", got)
	}
	if !(Totals{}).Empty() || a.Empty() || !Accumulate([]Row{{EventType: "x"}}).Empty() {
		t.Fatal("Empty is wrong")
	}
}

// Direct-traffic growth per unit of time, by hand: 70 direct sessions in a
// week against 240 in the 28 days before is 10/day against 8.57/day, +16.7 %;
// organic sessions and other event types do not count.
func TestDirectTrafficGrowth(t *testing.T) {
	week, month := 7*24*time.Hour, 28*24*time.Hour
	cur := Accumulate([]Row{{EventType: "web_session", Detail: "direct", Events: 70}, {EventType: "web_session", Detail: "organic", Events: 500}})
	prior := Accumulate([]Row{{EventType: "web_session", Detail: "direct", Events: 240}, {EventType: "delivered", Events: 9000}})
	g := DirectTrafficGrowth(cur, prior, week, month)
	if want := (70.0/7)/(240.0/28) - 1; g == nil || !approx(*g, want, 1e-12) {
		t.Fatalf("growth = %v, want %v", deref(g), want)
	}
	if g := DirectTrafficGrowth(cur, Totals{}, week, month); g != nil {
		t.Fatalf("growth without prior direct sessions = %v, want nil", *g)
	}
	if g := DirectTrafficGrowth(Totals{}, prior, week, month); g == nil || *g != -1 {
		t.Fatalf("growth with no direct sessions now = %v, want -1", deref(g))
	}
}
