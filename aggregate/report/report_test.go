package report

import (
	"bytes"
	"encoding/json"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trustpipe/trustpipe/aggregate/indicator"
	"github.com/trustpipe/trustpipe/aggregate/testkit"
)

func row(typ, detail, pers string, tier uint8, events uint64) indicator.Row {
	return indicator.Row{EventType: typ, Detail: detail, Channel: "email", Personalization: pers, ConsentTier: tier, Events: events}
}

func sentiment(events uint64, sum float64) indicator.Row {
	return indicator.Row{EventType: "sentiment", Events: events, ValueSum: sum}
}

func day(s string) time.Time {
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		panic(err)
	}
	return t
}

func str(s string) *string { return &s }

func reach(first, last string, total uint64, days ...uint64) Reach {
	r := Reach{FirstDay: day(first), LastDay: day(last), Contacts: total}
	for i, n := range days {
		if n > 0 { // days without contacts are absent in storage
			r.Days = append(r.Days, DayReach{Day: day(first).AddDate(0, 0, i).Format("2006-01-02"), Contacts: n})
		}
	}
	return r
}

// Hand-written inputs. "trap" is the self-referential optimisation trap:
// clicks up, trust down; "thin" has too little volume for most components
// and nothing to compare with; "empty" has no events in the range.
func cases(t *testing.T) map[string]Input {
	t.Helper()
	baseline := indicator.Accumulate([]indicator.Row{
		row("delivered", "", "", 0, 20000),
		row("unsubscribe", "", "", 0, 30),
		row("complaint", "", "", 0, 10),
		row("opt_down", "", "", 0, 40),
		row("preference_center_visit", "", "", 0, 30),
		row("web_session", "direct", "", 0, 400),
		row("web_session", "organic", "", 0, 800),
		sentiment(25, 10),
		row("consent_change", "1->2", "", 1, 30),
		row("consent_change", "2->3", "", 2, 10),
		row("consent_change", "2->1", "", 2, 8),
		row("feedback", "too_personal", "", 1, 2),
		row("send", "explained", "basic", 1, 6000),
		row("send", "", "behavioral", 2, 200),
		row("send", "", "none", 0, 13800),
		row("open", "", "", 0, 6000),
		row("open", "machine", "", 0, 1500),
		row("click", "", "", 0, 900),
		row("form_fill", "", "", 0, 60),
	})
	current := indicator.Accumulate([]indicator.Row{
		row("delivered", "", "", 0, 20000),
		row("unsubscribe", "", "", 0, 110),
		row("complaint", "", "", 0, 50),
		row("opt_down", "", "", 0, 20),
		row("preference_center_visit", "", "", 0, 12),
		row("web_session", "direct", "", 0, 250),
		row("web_session", "organic", "", 0, 950),
		sentiment(20, -2),
		row("consent_change", "1->2", "", 1, 12),
		row("consent_change", "2->1", "", 2, 25),
		row("consent_change", "3->1", "", 3, 10),
		row("consent_change", "0->1", "", 0, 5),
		row("feedback", "too_personal", "", 1, 30),
		row("send", "explained+lineage", "basic", 1, 2000),
		row("send", "explained", "basic", 1, 1950),
		row("send", "explained+merge_defect+broken_link", "basic", 1, 50),
		row("send", "lineage+input_beyond_consent", "predictive", 1, 500),
		row("send", "", "predictive", 1, 1490),
		row("send", "consent_mismatch", "predictive", 1, 10),
		row("send", "", "none", 0, 13660),
		row("send", "post_unsubscribe", "none", 0, 40),
		row("send", "merge_defect", "none", 0, 300),
		row("open", "", "", 0, 6600),
		row("open", "machine", "", 0, 1500),
		row("click", "", "", 0, 1200),
		row("form_fill", "", "", 0, 70),
	})
	thin := indicator.Accumulate([]indicator.Row{
		{EventType: "delivered", Channel: "sms", Events: 5000},
		row("delivered", "", "", 0, 800),
		row("unsubscribe", "", "", 0, 1),
		row("web_session", "direct", "", 0, 60),
		row("web_session", "paid", "", 0, 90),
		row("open", "", "", 0, 200),
		row("click", "", "", 0, 20),
	})
	dcfg := indicator.DefaultDivergenceConfig()
	custom, err := indicator.ParseIndexComponents("preference_center_rate:weight=0;direct_traffic_share:weight=2,min_volume=100", indicator.DefaultIndexConfig())
	if err != nil {
		t.Fatal(err)
	}
	thinCfg := dcfg
	thinCfg.Index = custom
	return map[string]Input{
		"trap": {
			Period:         Period{day("2026-11-13"), day("2026-11-20")},
			Comparison:     Period{day("2026-11-06"), day("2026-11-13")},
			ComparisonMode: ComparePrevious,
			Filter:         Filter{Campaign: str("spring-launch"), Channel: str("email")},
			Current:        current,
			Baseline:       baseline,
			Reach:          reach("2026-11-13", "2026-11-19", 3120, 900, 880, 0, 850, 790, 760, 700),
			BaselineReach:  reach("2026-11-06", "2026-11-12", 3410),
			Duplicates:     1234,
			Divergence:     dcfg,
			Cohorts:        trapCohorts(),
			// Distinct across campaigns: fewer than the (campaign, contact)
			// pairs of Cohorts.Unique; 60 clickers (the top tenth) made 240
			// of the 900 human clicks.
			Audience:         &indicator.Audience{EngagedContacts: 3120, DeliveredContacts: 8000, Clicks: 900, Clickers: 600, TopDecileClicks: 240},
			BaselineAudience: &indicator.Audience{EngagedContacts: 3410, DeliveredContacts: 8200, Clicks: 900, Clickers: 700, TopDecileClicks: 200},
			Provenance:       trapProvenance(),
		},
		"thin": {
			Period:         Period{day("2026-11-19").Add(6 * time.Hour), day("2026-11-19").Add(12 * time.Hour)},
			Comparison:     Period{day("2026-11-12").Add(6 * time.Hour), day("2026-11-12").Add(12 * time.Hour)},
			ComparisonMode: CompareRange,
			Current:        thin,
			Cohorts:        Cohorts{Available: true},
			Audience:       &indicator.Audience{EngagedContacts: 180},
			Reach:          reach("2026-11-19", "2026-11-19", 180, 180),
			BaselineReach:  reach("2026-11-12", "2026-11-12", 0),
			Divergence:     thinCfg,
		},
		"empty": {
			Period:         Period{day("2026-11-13"), day("2026-11-20")},
			Comparison:     Period{day("2026-11-06"), day("2026-11-13")},
			ComparisonMode: ComparePrevious,
			Filter:         Filter{Channel: str("sms"), Segment: str("")},
			Baseline:       thin,
			Reach:          reach("2026-11-13", "2026-11-19", 0),
			BaselineReach:  reach("2026-11-06", "2026-11-12", 42, 42),
			Divergence:     dcfg,
		},
	}
}

// trapProvenance: of the trap's sends, 2 500 named their inputs; the 500
// with third_party_intent drew 6 complaints and 4 "too personal" over 480
// deliveries, the 2 000 crm-only sends 2 complaints over 1 950; sends with a
// visible reason drew 0 complaints over 300 deliveries. 7 follow-ups were
// not attributed.
func trapProvenance() Provenance {
	fact := func(facet, fact string, sends, delivered, complaints, tooPersonal uint64) indicator.FactTotals {
		row := func(typ, detail string, n uint64) indicator.Row {
			return indicator.Row{EventType: typ, Detail: detail, Channel: "email", Events: n}
		}
		return indicator.FactTotals{Facet: facet, Fact: fact, Totals: indicator.Accumulate([]indicator.Row{row("send", "", sends),
			row("delivered", "", delivered), row("complaint", "", complaints), row("feedback", "too_personal", tooPersonal)})}
	}
	return Provenance{Available: true, Unattributed: 7, Facts: []indicator.FactTotals{
		fact("input", "crm", 2000, 1950, 2, 0),
		fact("input", "third_party_intent", 500, 480, 6, 4),
		fact("reason", "visible", 310, 300, 0, 0),
		fact("reason", "none", 3500, 3400, 8, 4),
	}}
}

// Hand-computed provenance rates with their Wilson intervals.
func TestTrapProvenanceHandComputed(t *testing.T) {
	p := Build(cases(t)["trap"]).Provenance
	if !p.Available || p.Unattributed != 7 || len(p.Facts) != 4 {
		t.Fatalf("provenance %+v, want 4 facts and 7 unattributed", p)
	}
	// Ordered by facet, then by deliveries.
	f := p.Facts[1]
	if f.Facet != "input" || f.Fact != "third_party_intent" || f.Sends != 500 || f.Delivered != 480 {
		t.Fatalf("second fact %+v, want input third_party_intent with 500 sends, 480 delivered", f)
	}
	c, tp := f.Get(indicator.ComplaintRate), f.Get(indicator.TooPersonalRate)
	lo, hi := indicator.Wilson(6, 480)
	if *c.Value != 6.0/480 || *c.Low != lo || *c.High != hi || *tp.Value != 4.0/480 {
		t.Errorf("third_party_intent: complaint %v [%v, %v], too personal %v; want 6/480 [%v, %v], 4/480", *c.Value, *c.Low, *c.High, *tp.Value, lo, hi)
	}
	if v := p.Facts[3].Get(indicator.ComplaintRate); p.Facts[3].Fact != "visible" || *v.Value != 0 || *v.High <= 0 {
		t.Errorf("visible reasons: %+v, want 0 complaints with an upper bound above 0", p.Facts[3])
	}
	in := cases(t)["trap"]
	in.Provenance.Available = false
	if p := Build(in).Provenance; p.Available || p.Facts != nil {
		t.Errorf("provenance %+v without lineage rows, want none", p)
	}
}

// trapCohorts: the trap campaign's messages sent in the range, with late
// follow-ups attributed to them: 20 000 deliveries, 160 unsubscribes (150
// carrying sent_at, 10 without), 60 email complaints (45 to gmail, 15 to
// yahoo); 9 000 recipients of whom 3 000 opened and 700 clicked.
func trapCohorts() Cohorts {
	row := func(typ, detail string, n uint64) indicator.Row {
		return indicator.Row{EventType: typ, Detail: detail, Channel: "email", Events: n}
	}
	gmail := indicator.Accumulate([]indicator.Row{row("delivered", "", 12000), row("complaint", "", 45)})
	yahoo := indicator.Accumulate([]indicator.Row{row("delivered", "", 8000), row("complaint", "", 15)})
	return Cohorts{
		Available: true,
		Totals: indicator.Accumulate([]indicator.Row{row("delivered", "", 20000), row("unsubscribe", "", 160),
			row("complaint", "", 60), row("open", "", 7000), row("open", "machine", 2000), row("click", "", 900), row("click", "bot", 4000)}),
		FollowUps: 160 + 60 + 7000 + 2000 + 900 + 4000, BySendTime: 150 + 60 + 7000 + 2000 + 900 + 4000,
		Unique:     Unique{Recipients: 9000, Openers: 3100, Clickers: 720, UniqueOpens: 3000, UniqueClicks: 700},
		Complaints: []ComplaintGroup{ComplaintTotals("mailbox_provider", "yahoo", yahoo), ComplaintTotals("mailbox_provider", "gmail", gmail)},
	}
}

// Hand-computed checks of the trap case's attributed section.
func TestTrapAttributedHandComputed(t *testing.T) {
	r := Build(cases(t)["trap"])
	a := r.Attributed
	want := map[string]float64{"unsubscribe_rate": 160.0 / 20000, "complaint_rate": 60.0 / 20000, "ctr": 900.0 / 20000, "open_rate": 7000.0 / 20000}
	for _, v := range a.Indicators {
		if w, ok := want[v.Name]; ok && (v.Value == nil || *v.Value != w) {
			t.Errorf("attributed %s = %v, want %v", v.Name, v.Value, w)
		}
	}
	if a.BySendTimeShare == nil || *a.BySendTimeShare != 14110.0/14120 {
		t.Errorf("by send time share = %v, want 14110/14120", a.BySendTimeShare)
	}
	if u := a.Unique; u.UniqueOpenRate == nil || *u.UniqueOpenRate != 3000.0/9000 || *u.UniqueClickRate != 700.0/9000 {
		t.Errorf("unique rates %v %v, want 1/3 and 7/90", u.UniqueOpenRate, u.UniqueClickRate)
	}
	if c := a.Complaints; len(c) != 2 || c[0].Group != "gmail" || *c[0].Value.Value != 45.0/12000 || *c[1].Value.Value != 15.0/8000 {
		t.Errorf("complaints by provider %+v, want gmail 45/12000 first, yahoo 15/8000", c)
	}
	// Direct sessions: 250 in 7 days against 400 in the 7 days before.
	if g := r.DirectTrafficGrowth; g == nil || *g != 250.0/400-1 {
		t.Errorf("direct traffic growth = %v, want %v", g, 250.0/400-1)
	}
}

// Hand-computed audience signals and the shrinking-audience rule of the
// trap case: ctr 0.045 -> 0.06 (+33 %), engaged contacts 3410 -> 3120
// (-8.5 %) and engaged_reach_rate 3410/8200 -> 3120/8000 (-6.2 %), neither
// the 10 % that counts, until one of them is made to fall further.
func TestTrapAudienceHandComputed(t *testing.T) {
	in := cases(t)["trap"]
	r := Build(in)
	a := r.Audience
	want := map[string]float64{"engaged_reach_rate": 3120.0 / 8000, "clicks_per_clicker": 900.0 / 600, "top_decile_click_share": 240.0 / 900}
	if a == nil || len(a.Signals) != len(want) {
		t.Fatalf("audience = %+v, want the three signals", a)
	}
	for _, v := range a.Signals {
		if v.Value == nil || *v.Value != want[v.Name] {
			t.Errorf("%s = %v, want %v", v.Name, v.Value, want[v.Name])
		}
	}
	cur, base := 3120.0, 3410.0 // variables: a constant expression would be exact, not float64
	if d := r.AudienceDivergence; d.Flag || !d.CTR.Improved || d.ReachChange == nil || *d.ReachChange != cur/base-1 {
		t.Errorf("divergence %+v, want no flag, ctr improved, reach change 3120/3410-1", d)
	}
	count := in
	count.BaselineReach.Contacts = 3467 // without contact tables: 3120/3467 - 1 = -10.0 %, just enough
	count.Audience, count.BaselineAudience = nil, nil
	if d := Build(count).AudienceDivergence; !d.Flag {
		t.Errorf("divergence %+v, want a flag at a 10 %% fall of the count", d)
	}
	rate := in
	b := *in.BaselineAudience
	b.DeliveredContacts = 7700 // 3120/8000 over 3410/7700 - 1 = -11.9 %
	rate.BaselineAudience = &b
	if d := Build(rate).AudienceDivergence; !d.Flag || d.RateChange == nil || *d.RateChange > -0.1 {
		t.Errorf("divergence %+v, want a flag at a 11.9 %% fall of the rate", d)
	}
	in.Audience = nil // a segment or source filter
	if r := Build(in); r.Audience != nil {
		t.Errorf("audience %+v without contact tables, want none", r.Audience)
	}
}

// TestGolden renders every case as a table and as JSON and compares with
// the reviewed files under testdata/ (regenerate with -update).
func TestGolden(t *testing.T) {
	for name, in := range cases(t) {
		t.Run(name, func(t *testing.T) {
			r := Build(in)
			var table, js bytes.Buffer
			if err := r.WriteTable(&table); err != nil {
				t.Fatal(err)
			}
			if err := r.WriteJSON(&js); err != nil {
				t.Fatal(err)
			}
			testkit.Golden(t, filepath.Join("testdata", name+".txt"), table.Bytes())
			testkit.Golden(t, filepath.Join("testdata", name+".json"), js.Bytes())
		})
	}
}

// jsonReport is the documented JSON shape, decoded independently of the
// Go types.
type jsonReport struct {
	Empty      bool                `json:"empty"`
	Message    string              `json:"message"`
	Events     uint64              `json:"events"`
	Indicators map[string]*float64 `json:"indicators"`
	TrustIndex struct {
		Value      *float64 `json:"value"`
		Components []struct {
			Name         string   `json:"name"`
			Value        *float64 `json:"value"`
			Score        *float64 `json:"score"`
			Weight       float64  `json:"weight"`
			Contribution float64  `json:"contribution"`
			Excluded     bool     `json:"excluded"`
		} `json:"components"`
	} `json:"trust_index"`
	Comparison struct {
		Indicators map[string]*float64 `json:"indicators"`
	} `json:"comparison"`
	Change struct {
		Delta *float64 `json:"delta"`
	} `json:"change"`
	Divergence struct {
		Flag bool `json:"flag"`
	} `json:"divergence"`
	ConsentMigration struct {
		Upgrades   uint64 `json:"upgrades"`
		Downgrades uint64 `json:"downgrades"`
		Total      uint64 `json:"total"`
	} `json:"consent_migration"`
	EngagedReach struct {
		Contacts uint64   `json:"contacts"`
		Change   *float64 `json:"change"`
		Days     []struct {
			Day      string `json:"day"`
			Contacts uint64 `json:"contacts"`
		} `json:"days"`
	} `json:"engaged_reach"`
}

func decode(t *testing.T, r Report) jsonReport {
	t.Helper()
	var b bytes.Buffer
	if err := r.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var j jsonReport
	if err := json.Unmarshal(b.Bytes(), &j); err != nil {
		t.Fatal(err)
	}
	return j
}

// Hand-computed checks of the "trap" case, so that a wrong golden file
// cannot be accepted unnoticed.
func TestTrapHandComputed(t *testing.T) {
	j := decode(t, Build(cases(t)["trap"]))
	want := map[string]float64{
		"unsubscribe_rate":                110.0 / 20000,
		"complaint_rate":                  50.0 / 20000,
		"opt_down_share":                  20.0 / 130,
		"preference_center_rate":          12.0 / 20000,
		"direct_traffic_share":            250.0 / 1200,
		"sentiment_avg":                   -2.0 / 20,
		"consent_momentum":                (12.0 - 25 - 10) / 47, // 0->1 is no upgrade
		"too_personal_rate":               30.0 / 20000,
		"explained_personalization_share": 4000.0 / 6000,
		"consent_coverage":                4000.0 / 6000,
		"too_frequent_rate":               0,
		"not_relevant_rate":               0,
		"bounce_rate":                     0,
		"delivery_rate":                   1,
		"open_rate":                       6600.0 / 20000,
		"ctr":                             1200.0 / 20000,
		"click_to_open":                   1200.0 / 6600,
		"form_fill_rate":                  70.0 / 20000,
		"merge_defect_rate":               350.0 / 20000,
		"broken_link_rate":                50.0 / 20000,
		"lineage_coverage":                2500.0 / 6000,
		"input_consent_coverage":          2000.0 / 2500,
		"visible_explanation_share":       0,
		"post_unsubscribe_send_rate":      40.0 / 20000,
		"consent_claim_mismatch_share":    10.0 / 6000,
	}
	if len(j.Indicators) != len(want) {
		t.Errorf("%d indicators, want %d", len(j.Indicators), len(want))
	}
	for name, w := range want {
		if g := j.Indicators[name]; g == nil || *g != w {
			t.Errorf("%s = %v, want %v", name, g, w)
		}
	}
	if j.Events != 20000+110+50+20+12+250+950+20+12+25+10+5+30+4000+2000+14000+6600+1500+1200+70 {
		t.Errorf("events = %d", j.Events)
	}
	if j.TrustIndex.Value == nil {
		t.Fatal("no Trust Index")
	}
	var sum, weights float64
	for _, c := range j.TrustIndex.Components {
		sum += c.Contribution
		weights += c.Weight
		if c.Excluded != (c.Score == nil) {
			t.Errorf("%s: excluded %v with score %v", c.Name, c.Excluded, c.Score)
		}
		if !c.Excluded && math.Abs(c.Contribution-c.Weight**c.Score) > 1e-9 {
			t.Errorf("%s: contribution %v != weight %v x score %v", c.Name, c.Contribution, c.Weight, *c.Score)
		}
	}
	if math.Abs(sum-*j.TrustIndex.Value) > 1e-9 || math.Abs(weights-1) > 1e-9 {
		t.Errorf("contributions sum to %v (Index %v), weights to %v", sum, *j.TrustIndex.Value, weights)
	}
	// complaint_rate 0.25 % with good 0.1 %, bad 0.3 %: score 100 × (0.0025 − 0.003) / (0.001 − 0.003) = 25.
	for _, c := range j.TrustIndex.Components {
		if c.Name == "complaint_rate" && (c.Score == nil || math.Abs(*c.Score-25) > 1e-9) {
			t.Errorf("complaint_rate score %v, want 25", c.Score)
		}
	}
	if !j.Divergence.Flag {
		t.Error("clicks +33 % while trust falls: divergence not flagged")
	}
	if j.Change.Delta == nil || *j.Change.Delta >= 0 {
		t.Errorf("Index change %v, want a fall", j.Change.Delta)
	}
	if m := j.ConsentMigration; m.Upgrades != 12 || m.Downgrades != 35 || m.Total != 52 {
		t.Errorf("consent migration %+v, want 12 up, 35 down, 52 total", m)
	}
	e := j.EngagedReach
	cur, prev := 3120.0, 3410.0 // variables: the change is computed in float64, not as a constant
	if e.Contacts != 3120 || e.Change == nil || *e.Change != cur/prev-1 || len(e.Days) != 7 || e.Days[2].Contacts != 0 {
		t.Errorf("engaged reach %+v", e)
	}
	if g := j.Comparison.Indicators["unsubscribe_rate"]; g == nil || *g != 30.0/20000 {
		t.Errorf("comparison unsubscribe_rate %v", g)
	}
}

func TestEmptyRange(t *testing.T) {
	r := Build(cases(t)["empty"])
	j := decode(t, r)
	if !j.Empty || !strings.HasPrefix(j.Message, "no events between 2026-11-13T00:00:00Z and 2026-11-20T00:00:00Z") {
		t.Errorf("empty %v, message %q", j.Empty, j.Message)
	}
	for name, v := range j.Indicators {
		if v != nil {
			t.Errorf("%s = %v in an empty range, want null", name, *v)
		}
	}
	if j.TrustIndex.Value != nil {
		t.Errorf("Trust Index %v in an empty range", *j.TrustIndex.Value)
	}
	var b bytes.Buffer
	if err := r.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "No events between") || strings.Contains(b.String(), "TRUST INDEX") {
		t.Errorf("table:\n%s", b.String())
	}
}

func TestCount(t *testing.T) {
	for n, want := range map[uint64]string{0: "0", 999: "999", 1000: "1,000", 123456: "123,456", 1234567: "1,234,567"} {
		if got := count(n); got != want {
			t.Errorf("count(%d) = %q, want %q", n, got, want)
		}
	}
	for f, want := range map[float64]string{-3: "-3", 1500: "1,500", 1.5: "1.50", -0.25: "-0.25"} {
		if got := number(f); got != want {
			t.Errorf("number(%v) = %q, want %q", f, got, want)
		}
	}
}
