package indicator

import (
	"cmp"
	"slices"
)

// Row is one row of the trust_counts view reduced to the columns indicators
// depend on. The other dimensions (campaign, segment, source, bucket) only
// filter which rows a caller feeds in; no formula looks at them. Channel is
// kept because a rate judged by mailbox providers must stay in its channel
// (email complaints over email deliveries).
type Row struct {
	EventType       string  `json:"event_type"`
	Detail          string  `json:"detail"`
	Channel         string  `json:"channel,omitempty"`
	Personalization string  `json:"personalization"`
	ConsentTier     uint8   `json:"consent_tier"`
	Events          uint64  `json:"events"`
	ValueSum        float64 `json:"value_sum"`
}

// Totals is the sum of trust_counts rows over a window and a dimension
// filter, kept per (event_type, detail, channel, personalization, consent_tier): the
// finest grouping any Selector can tell apart. Build it with Accumulate or
// Add. The zero value is empty and ready to use.
//
// Rows are kept sorted by key so that evaluation visits them in the same
// order whatever order they arrived in: the float sum of value_sum is then
// reproducible, which golden tests and the "exact to floating point"
// report test rely on.
type Totals struct {
	rows []Row
}

// Accumulate sums rows into Totals.
func Accumulate(rows []Row) Totals {
	var t Totals
	for _, r := range rows {
		t.Add(r)
	}
	return t
}

func compareKey(a, b Row) int {
	if c := cmp.Compare(a.EventType, b.EventType); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Detail, b.Detail); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Channel, b.Channel); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Personalization, b.Personalization); c != 0 {
		return c
	}
	return cmp.Compare(a.ConsentTier, b.ConsentTier)
}

// Add adds one row. It mutates t: do not call it concurrently with any other
// use of the same Totals.
func (t *Totals) Add(r Row) {
	i, found := slices.BinarySearchFunc(t.rows, r, compareKey)
	if found {
		t.rows[i].Events += r.Events
		t.rows[i].ValueSum += r.ValueSum
		return
	}
	t.rows = slices.Insert(t.rows, i, r)
}

// Merge returns the sum of t and u; neither is modified. It lets a caller
// combine per-bucket totals into a window.
func (t Totals) Merge(u Totals) Totals {
	out := Totals{rows: slices.Clone(t.rows)}
	for _, r := range u.rows {
		out.Add(r)
	}
	return out
}

// Rows returns a copy of the accumulated rows, sorted by key.
func (t Totals) Rows() []Row { return slices.Clone(t.rows) }

// Empty reports whether no events were accumulated.
func (t Totals) Empty() bool {
	for _, r := range t.rows {
		if r.Events != 0 {
			return false
		}
	}
	return true
}

// Sum is the Go rendering of Selector.SQL: the selector's measure summed
// over the matching rows. Event counts are summed as integers and converted
// once, so they are exact up to 2^53.
func (t Totals) Sum(s Selector) float64 {
	if s.Measure == ValueSum {
		var sum float64
		for _, r := range t.rows {
			if s.Matches(r) {
				sum += r.ValueSum
			}
		}
		return sum
	}
	var n uint64
	for _, r := range t.rows {
		if s.Matches(r) {
			n += r.Events
		}
	}
	return float64(n)
}

// sumTerms evaluates a signed sum of selectors.
func (t Totals) sumTerms(ts []Term) float64 {
	var sum float64
	for _, term := range ts {
		v := t.Sum(term.Selector)
		if term.Negate {
			v = -v
		}
		sum += v
	}
	return sum
}
