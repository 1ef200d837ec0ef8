package report

import (
	"github.com/trustpipe/trustpipe/aggregate/indicator"
)

// The provenance section (README, "Provenance"): the complaint and "too
// personal" rates of the deliveries of the sends made with each input, and
// with and without a reason the buyer sees, with Wilson 95 % intervals —
// which data source unsettles buyers, and whether explaining helps. Its
// inputs come from the lineage rows, which keep campaign and channel: with
// a segment or source filter the section is left out (Available false).

// Provenance is the provenance side of the Input: the lineage totals of
// the sends made on the days the period touches.
type Provenance struct {
	Available bool
	Facts     []indicator.FactTotals
	// Unattributed counts the follow-ups with a message_id whose send the
	// pipeline's message memory did not hold.
	Unattributed uint64
}

// ProvenanceSection is the report's provenance section.
type ProvenanceSection struct {
	Available    bool                   `json:"available"`
	Facts        []indicator.FactValues `json:"facts,omitempty"`
	Unattributed uint64                 `json:"unattributed_followups"`
}

func buildProvenance(p Provenance) ProvenanceSection {
	s := ProvenanceSection{Available: p.Available, Unattributed: p.Unattributed}
	if p.Available {
		s.Facts = indicator.EvaluateFacts(p.Facts)
	}
	return s
}

func (r Report) provenance(p *printer) {
	s := r.Provenance
	p.line("")
	if !s.Available {
		p.line("PROVENANCE      not available with a segment or source filter (lineage rows keep campaign and channel only)")
		return
	}
	p.line("PROVENANCE (sends of the range's days by input and reason visibility; rates over the deliveries of those sends, 95 % interval)")
	if len(s.Facts) == 0 {
		p.line("  no send named its inputs or was personalized")
	} else {
		head := []string{"FACET", "FACT", "SENDS", "DELIVERED"}
		for _, n := range indicator.FactIndicators {
			head = append(head, n, "95 %")
		}
		rows := [][]string{head}
		for _, f := range s.Facts {
			row := []string{f.Facet, f.Fact, count(f.Sends), count(f.Delivered)}
			for _, n := range indicator.FactIndicators {
				v := f.Get(n)
				row = append(row, indicator.FormatValue(n, v.Value), interval(n, v))
			}
			rows = append(rows, row)
		}
		p.table(rows)
	}
	p.line("  " + count(s.Unattributed) + " follow-ups with a message_id whose send was not found (other partition, past the horizon or the cap)")
}

// interval formats a value's Wilson interval, "-" without one.
func interval(name string, v *indicator.Value) string {
	if v == nil || v.Low == nil {
		return "-"
	}
	return indicator.FormatValue(name, v.Low) + " – " + indicator.FormatValue(name, v.High)
}

type provenanceRow struct {
	Facet, Fact, Sends, Delivered                      string
	Complaint, ComplaintCI, TooPersonal, TooPersonalCI string
}

// provenance fills the page's provenance table from the report's section.
func (p *pageData) provenance(r Report) {
	s := r.Provenance
	p.ProvenanceAvailable = s.Available
	p.Unattributed = count(s.Unattributed) + " follow-ups could not be attributed to their send."
	var bars []hbar
	for _, f := range s.Facts {
		c, tp := f.Get(indicator.ComplaintRate), f.Get(indicator.TooPersonalRate)
		if c.Value != nil {
			bars = append(bars, hbar{f.Facet + " " + f.Fact, *c.Value, indicator.FormatValue(indicator.ComplaintRate, c.Value), "down"})
		}
		p.Provenance = append(p.Provenance, provenanceRow{Facet: f.Facet, Fact: f.Fact, Sends: count(f.Sends), Delivered: count(f.Delivered),
			Complaint: indicator.FormatValue(indicator.ComplaintRate, c.Value), ComplaintCI: interval(indicator.ComplaintRate, c),
			TooPersonal: indicator.FormatValue(indicator.TooPersonalRate, tp.Value), TooPersonalCI: interval(indicator.TooPersonalRate, tp)})
	}
	if len(bars) > 0 {
		p.ProvenanceChart = hbars(narrow, "Complaint rate of the deliveries of the sends with each input and reason visibility", bars, nil)
	}
}
