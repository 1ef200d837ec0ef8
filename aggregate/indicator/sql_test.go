package indicator

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/trustpipe/trustpipe/aggregate/event"
	"github.com/trustpipe/trustpipe/aggregate/testkit"
)

func TestSQLGolden(t *testing.T) {
	var b strings.Builder
	for _, d := range All() {
		b.WriteString("-- " + d.Name + "\n")
		b.WriteString("numerator:   " + d.NumeratorSQL() + "\n")
		b.WriteString("denominator: " + d.DenominatorSQL() + "\n\n")
	}
	testkit.Golden(t, filepath.Join("testdata", "sql.golden"), []byte(b.String()))
}

// Hand-written expectations for a few renderings: the golden file could be
// regenerated wrongly; these cannot.
func TestSQLExamples(t *testing.T) {
	d := func(name string) Definition {
		def, ok := ByName(name)
		if !ok {
			t.Fatalf("no %s", name)
		}
		return def
	}
	cases := []struct{ got, want string }{
		{d(UnsubscribeRate).NumeratorSQL(), "sumIf(events, event_type = 'unsubscribe')"},
		{d(UnsubscribeRate).DenominatorSQL(), "sumIf(events, event_type = 'delivered')"},
		{d(OptDownShare).DenominatorSQL(), "sumIf(events, event_type IN ('opt_down', 'unsubscribe'))"},
		{d(OpenRate).NumeratorSQL(), "sumIf(events, event_type = 'open' AND detail != 'machine')"},
		{d(SentimentAvg).NumeratorSQL(), "sumIf(value_sum, event_type = 'sentiment')"},
		{d(ConsentMomentum).NumeratorSQL(), "sumIf(events, event_type = 'consent_change' AND detail IN ('1->2', '1->3', '2->3'))" +
			" - sumIf(events, event_type = 'consent_change' AND detail IN ('2->1', '3->1', '3->2'))"},
		{d(ComplaintRate).NumeratorSQL(), "sumIf(events, event_type = 'complaint' AND channel = 'email')"},
		{d(ComplaintRate).DenominatorSQL(), "sumIf(events, event_type = 'delivered' AND channel = 'email')"},
		{d(CTR).NumeratorSQL(), "sumIf(events, event_type = 'click' AND detail != 'bot')"},
		{d(BounceRate).DenominatorSQL(), "sumIf(events, event_type IN ('bounce', 'delivered'))"},
		{d(ConsentCoverage).NumeratorSQL(), "sumIf(events, event_type = 'send' AND ((personalization = 'basic' AND consent_tier >= 1)" +
			" OR (personalization = 'behavioral' AND consent_tier >= 2) OR (personalization = 'predictive' AND consent_tier >= 3)))"},
		// A send's flags are its detail: every combination with the flag is
		// listed (sendDetailsWhere builds them from the parts, apart from
		// event.SendDetails).
		{d(ExplainedPersonalizationShare).NumeratorSQL(), "sumIf(events, event_type = 'send' AND detail IN (" +
			quoted(sendDetailsWhere(func(has func(string) bool) bool { return has("explained") })...) + ") AND personalization IN ('basic', 'behavioral', 'predictive'))"},
		{d(InputConsentCoverage).NumeratorSQL(), "sumIf(events, event_type = 'send' AND detail IN (" +
			quoted(sendDetailsWhere(func(has func(string) bool) bool { return has("lineage") && !has("input_beyond_consent") })...) +
			") AND personalization IN ('basic', 'behavioral', 'predictive'))"},
		{d(BrokenLinkRate).NumeratorSQL(), "sumIf(events, event_type = 'send' AND detail IN (" +
			quoted(sendDetailsWhere(func(has func(string) bool) bool { return has("broken_link") })...) + "))"},
		{Selector{}.SQL(), "sumIf(events, 1)"},
		{termsSQL(nil), "0"},
		{termsSQL([]Term{Minus(count(event.Click)), Plus(count(event.Open))}), "-sumIf(events, event_type = 'click') + sumIf(events, event_type = 'open')"},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("got  %s\nwant %s", c.got, c.want)
		}
	}
}

func TestSQLQuoting(t *testing.T) {
	s := Selector{EventTypes: []string{"it's"}, Details: []string{`a\b`, "x\ny\t\r\x00z"}}
	want := `sumIf(events, event_type = 'it\'s' AND detail IN ('a\\b', 'x\ny\t\r\0z'))`
	if got := s.SQL(); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	// The interpreter decodes the literals back: the rows with exactly those
	// values, and only they, are counted.
	rows := []Row{
		{EventType: "it's", Detail: `a\b`, Events: 1},
		{EventType: "it's", Detail: "x\ny\t\r\x00z", Events: 10},
		{EventType: "its", Detail: `a\b`, Events: 100},
		{EventType: "it's", Detail: `ab`, Events: 1000},
	}
	got, err := evalSQL(s.SQL(), rows)
	if err != nil {
		t.Fatal(err)
	}
	if got != 11 {
		t.Fatalf("evalSQL = %v, want 11", got)
	}
}

func TestSQLDeterministic(t *testing.T) {
	a := Selector{EventTypes: []string{"b", "a", "b"}, ExcludeDetails: []string{"y", "x"},
		Consent: []ConsentRule{{"z", 2}, {"a", 1}, {"z", 2}}}
	b := Selector{EventTypes: []string{"a", "b"}, ExcludeDetails: []string{"x", "y"},
		Consent: []ConsentRule{{"a", 1}, {"z", 2}}}
	if a.SQL() != b.SQL() {
		t.Fatalf("same selection renders differently:\n%s\n%s", a.SQL(), b.SQL())
	}
	want := "sumIf(events, event_type IN ('a', 'b') AND detail NOT IN ('x', 'y') AND ((personalization = 'a' AND consent_tier >= 1) OR (personalization = 'z' AND consent_tier >= 2)))"
	if a.SQL() != want {
		t.Fatalf("got  %s\nwant %s", a.SQL(), want)
	}
	// Rendering must not reorder the caller's slices.
	if a.EventTypes[0] != "b" || a.Consent[0].Personalization != "z" {
		t.Fatal("SQL modified its input")
	}
}

// The interpreter must itself be able to tell wrong SQL from right, or the
// agreement test below proves nothing.
func TestInterpreterControls(t *testing.T) {
	rows := []Row{
		{EventType: "open", Detail: "", Events: 3},
		{EventType: "open", Detail: "machine", Events: 5},
		{EventType: "send", Personalization: "basic", ConsentTier: 0, Events: 7},
		{EventType: "send", Personalization: "basic", ConsentTier: 2, Events: 11},
		{EventType: "sentiment", Events: 2, ValueSum: 0.75},
	}
	cases := []struct {
		sql  string
		want float64
	}{
		{"sumIf(events, event_type = 'open')", 8},
		{"sumIf(events, event_type = 'open' AND detail != 'machine')", 3},
		{"sumIf(events, event_type = 'open' AND detail NOT IN ('machine', 'x'))", 3},
		{"sumIf(events, (personalization = 'basic' AND consent_tier >= 1) OR event_type = 'sentiment')", 13},
		{"sumIf(events, event_type = 'open') - sumIf(events, event_type = 'send')", -10},
		{"-sumIf(events, event_type = 'open') + sumIf(events, 1)", 20}, // 28 - 8
		{"sumIf(value_sum, event_type = 'sentiment')", 0.75},
		{"0", 0},
	}
	for _, c := range cases {
		got, err := evalSQL(c.sql, rows)
		if err != nil {
			t.Errorf("%s: %v", c.sql, err)
			continue
		}
		if got != c.want {
			t.Errorf("%s = %v, want %v", c.sql, got, c.want)
		}
	}
	for _, bad := range []string{
		"sum(events)",                                 // not sumIf
		"sumIf(events, event_type == 'open')",         // not in the subset
		"sumIf(events, event_type = \"open\")",        // double quotes
		"sumIf(events, event_type = 'op\\en')",        // unknown escape
		"sumIf(events, event_type = 'open'",           // unbalanced
		"sumIf(events, toUInt8(consent_tier) >= 1)",   // function
		"sumIf(events, consent_tier > 1)",             // operator outside the subset
		"sumIf(events, event_type = 'open') * 2",      // arithmetic outside the subset
		"sumIf(events, event_type LIKE 'op%')",        // LIKE
		"sumIf(events, event_type IN ('open', 'send'", // unterminated
	} {
		if _, err := evalSQL(bad, rows); err == nil {
			t.Errorf("evalSQL(%s) accepted SQL outside the subset", bad)
		}
	}
}

// randomTotals draws rows over every value the definitions care about plus
// some they must ignore.
func randomTotals(rng *rand.Rand, n int) Totals {
	var details []string
	details = append(details, "", event.DetailMachine, event.DetailExplained, "other", "o'dd")
	details = append(details, event.TrafficSources...)
	details = append(details, event.FeedbackKinds...)
	details = append(details, event.BounceKinds...)
	details = append(details, consentChanges(func(uint8, uint8) bool { return true })...)
	pers := append([]string{"", "unknown"}, event.Personalization...)
	var typeNames []string
	for _, ty := range event.Types() {
		typeNames = append(typeNames, ty.String())
	}
	typeNames = append(typeNames, "not_a_type")
	var rows []Row
	for range n {
		r := Row{
			EventType:       typeNames[rng.IntN(len(typeNames))],
			Detail:          details[rng.IntN(len(details))],
			Personalization: pers[rng.IntN(len(pers))],
			ConsentTier:     uint8(rng.IntN(4)),
			Events:          uint64(rng.IntN(1000)),
		}
		if r.EventType == event.Sentiment.String() {
			r.ValueSum = float64(r.Events) * (rng.Float64()*2 - 1)
		}
		rows = append(rows, r)
	}
	return Accumulate(rows)
}

// TestSQLAgreesWithGo checks, for every definition and many random inputs,
// that interpreting the rendered SQL gives exactly what Evaluate gives.
func TestSQLAgreesWithGo(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 300 {
		tot := randomTotals(rng, 1+rng.IntN(400))
		rows := tot.Rows()
		for _, d := range All() {
			v := d.Evaluate(tot)
			num, err := evalSQL(d.NumeratorSQL(), rows)
			if err != nil {
				t.Fatalf("%s numerator: %v\n%s", d.Name, err, d.NumeratorSQL())
			}
			den, err := evalSQL(d.DenominatorSQL(), rows)
			if err != nil {
				t.Fatalf("%s denominator: %v\n%s", d.Name, err, d.DenominatorSQL())
			}
			if num != v.Numerator || den != v.Denominator {
				t.Fatalf("run %d, %s: SQL gives %v/%v, Go gives %v/%v", i, d.Name, num, den, v.Numerator, v.Denominator)
			}
			if v.Value != nil && (math.IsNaN(*v.Value) || math.IsInf(*v.Value, 0)) {
				t.Fatalf("%s: non-finite value %v", d.Name, *v.Value)
			}
		}
	}
}

// quoted renders SQL string literals joined by ", ".
func quoted(vs ...string) string { return "'" + strings.Join(vs, "', '") + "'" }

// sendDetailsWhere lists, sorted, every send detail the README documents —
// the set parts joined with "+" in their order, a visible reason being a
// reason and inputs beyond consent being named inputs — whose parts satisfy
// keep.
func sendDetailsWhere(keep func(has func(string) bool) bool) []string {
	parts := []string{"explained", "visible", "merge_defect", "broken_link", "lineage", "input_beyond_consent", "post_unsubscribe", "consent_mismatch"}
	var out []string
	for b := 0; b < 1<<len(parts); b++ {
		has := func(p string) bool { return b&(1<<slices.Index(parts, p)) != 0 }
		if (has("visible") && !has("explained")) || (has("input_beyond_consent") && !has("lineage")) || !keep(has) {
			continue
		}
		var set []string
		for _, p := range parts {
			if has(p) {
				set = append(set, p)
			}
		}
		out = append(out, strings.Join(set, "+"))
	}
	sort.Strings(out)
	return out
}
