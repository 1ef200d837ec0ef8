package indicator

import (
	"cmp"
	"slices"

	"github.com/trustpipe/trustpipe/aggregate/event"
)

// FactIndicators are the indicators evaluated per send fact (README,
// "Provenance"): over the lineage rows of one fact — the sends with it
// and the follow-ups attributed to them — the very definitions of All,
// so a leader compares the complaint rate of sends personalized with
// third_party_intent, or of sends whose reason the buyer saw, with the
// same rate of the whole programme. Both have a delivered denominator, so
// they are judged against the deliveries of those sends.
var FactIndicators = []string{ComplaintRate, TooPersonalRate}

// FactTotals are the lineage totals of one send fact.
type FactTotals struct {
	Facet  string // aggregate.FacetInput, FacetReason
	Fact   string
	Totals Totals
}

// FactValues are the FactIndicators of one send fact, each with its Wilson
// 95 % interval.
type FactValues struct {
	Facet string `json:"facet"`
	Fact  string `json:"fact"`
	// Sends are the sends with the fact; Delivered the deliveries
	// attributed to them.
	Sends     uint64  `json:"sends"`
	Delivered uint64  `json:"delivered"`
	Values    []Value `json:"values"`
}

// Get returns the named value (nil without data).
func (f FactValues) Get(name string) *Value {
	for i := range f.Values {
		if f.Values[i].Name == name {
			return &f.Values[i]
		}
	}
	return nil
}

// EvaluateFacts evaluates FactIndicators for every fact, ordered by facet,
// then by attributed deliveries (most first), then by fact.
func EvaluateFacts(facts []FactTotals) []FactValues {
	defs := make([]Definition, len(FactIndicators))
	for i, n := range FactIndicators {
		defs[i], _ = ByName(n)
	}
	out := make([]FactValues, 0, len(facts))
	for _, f := range facts {
		v := FactValues{Facet: f.Facet, Fact: f.Fact, Sends: uint64(f.Totals.Sum(count(event.Send))),
			Delivered: uint64(f.Totals.Sum(count(event.Delivered)))}
		for _, d := range defs {
			v.Values = append(v.Values, d.Evaluate(f.Totals))
		}
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b FactValues) int {
		return cmp.Or(cmp.Compare(a.Facet, b.Facet), cmp.Compare(b.Delivered, a.Delivered), cmp.Compare(a.Fact, b.Fact))
	})
	return out
}
