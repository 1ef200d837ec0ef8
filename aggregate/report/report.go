// Package report builds and renders `trustpipe report`: the trust indicators
// of a time range, the Trust Index with its explanation, what moved it since
// a comparison period, the divergence verdict, consent-tier migration and
// engaged reach — as a terminal table or as JSON.
//
// It is pure: the caller reads the totals and reach from ClickHouse and
// passes them in an Input; Build evaluates them with package indicator (the
// one definition of every indicator) and the renderers only format. No
// clock is read, so the same Input always renders the same bytes, which the
// golden tests rely on.
//
// Concurrency: Build and the renderers are pure functions; a Report is
// read-only after Build and safe for concurrent use.
package report

import (
	"bytes"
	"encoding/json"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/trustpipe/trustpipe/aggregate/event"
	"github.com/trustpipe/trustpipe/aggregate/indicator"
)

// Period is the half-open UTC time range [From, To).
type Period struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// Filter restricts the report to one value of a dimension; nil means any
// value. A pointer, because the empty string is a real value (events
// without a campaign, say).
type Filter struct {
	Campaign *string `json:"campaign,omitempty"`
	Channel  *string `json:"channel,omitempty"`
	Segment  *string `json:"segment,omitempty"`
	Source   *string `json:"source,omitempty"`
}

// Dimensions returns the set filters as (trust_counts column, value) pairs,
// in a fixed order.
func (f Filter) Dimensions() [][2]string {
	var out [][2]string
	for _, d := range []struct {
		col string
		v   *string
	}{{"campaign_id", f.Campaign}, {"channel", f.Channel}, {"segment", f.Segment}, {"source", f.Source}} {
		if d.v != nil {
			out = append(out, [2]string{d.col, *d.v})
		}
	}
	return out
}

// String describes the filter for people.
func (f Filter) String() string {
	dims := f.Dimensions()
	if len(dims) == 0 {
		return "all campaigns, channels, segments and sources"
	}
	parts := make([]string, len(dims))
	for i, d := range dims {
		parts[i] = d[0] + "=" + strconv.Quote(d[1])
	}
	return strings.Join(parts, ", ")
}

// Reach is the engaged reach of a period, read from engaged_contacts. It is
// counted over whole UTC days (engaged_contacts is kept per day).
type Reach struct {
	// FirstDay and LastDay are the UTC days counted, inclusive.
	FirstDay time.Time
	LastDay  time.Time
	// Contacts is the number of distinct contacts over all those days (not
	// the sum of the per-day counts: a contact engaging on two days counts
	// once).
	Contacts uint64
	// Days holds the distinct contacts of each day that has any; Build
	// fills in the missing days with 0.
	Days []DayReach
}

// DayReach is the number of distinct engaged contacts of one UTC day.
type DayReach struct {
	Day      string `json:"day"` // YYYY-MM-DD
	Contacts uint64 `json:"contacts"`
}

// Mode says how the comparison period was chosen.
const (
	ComparePrevious = "previous" // the same length just before the range
	CompareRange    = "range"    // given explicitly
)

// Input is what Build needs: both periods' totals and reach, and the
// configuration.
type Input struct {
	Period         Period
	Comparison     Period
	ComparisonMode string // ComparePrevious or CompareRange
	Filter         Filter
	// Current and Baseline are the trust_counts totals of Period and
	// Comparison under Filter.
	Current, Baseline indicator.Totals
	Reach             Reach
	BaselineReach     Reach
	// Duplicates is the number of valid records whose record time lies in
	// Period that were not counted because their event_id already was
	// (duplicate_events; not kept per dimension, so not filtered).
	Duplicates uint64
	// Divergence holds the Trust Index configuration (Divergence.Index) and
	// the divergence thresholds.
	Divergence indicator.DivergenceConfig
	// Cohorts holds the attributed inputs of Period.
	Cohorts Cohorts
	// Audience and BaselineAudience are the contact-level counts of Period
	// and Comparison (the send days they touch, distinct across
	// campaigns); nil under a segment or source filter, which the contact
	// tables do not keep.
	Audience, BaselineAudience *indicator.Audience
	// Accounts is the account section over the UTC days of Period (nil:
	// none, e.g. under a dimension filter).
	Accounts *indicator.AccountSummary
	// Provenance holds the lineage totals of Period's sends.
	Provenance Provenance
}

// Report is the whole report. Its JSON form is the `--format json` output.
type Report struct {
	From   time.Time `json:"from"`
	To     time.Time `json:"to"`
	Filter Filter    `json:"filter"`
	// Events is the number of valid events in the range under the filter.
	Events uint64 `json:"events"`
	// Duplicates is Input.Duplicates; absent when 0.
	Duplicates uint64 `json:"duplicates,omitempty"`
	// Empty is true when there are no events; Message then says so.
	Empty   bool   `json:"empty"`
	Message string `json:"message,omitempty"`
	// Indicators maps every indicator name to its value, or null when its
	// denominator is 0.
	Indicators Values `json:"indicators"`
	// IndicatorDetails adds numerator, denominator, Wilson 95 % interval,
	// sufficiency and the comparison value.
	IndicatorDetails []IndicatorDetail `json:"indicator_details"`
	TrustIndex       indicator.Index   `json:"trust_index"`
	// IndexConfig is the Trust Index configuration in the
	// syntax of indicator.ParseIndexComponents.
	IndexConfig      string               `json:"index_config"`
	Comparison       Comparison           `json:"comparison"`
	Change           indicator.Change     `json:"change"`
	Divergence       indicator.Divergence `json:"divergence"`
	DivergenceConfig DivergenceSettings   `json:"divergence_config"`
	ConsentMigration ConsentMigration     `json:"consent_migration"`
	EngagedReach     EngagedReach         `json:"engaged_reach"`
	// Audience holds the audience signals (engaged_reach_rate,
	// clicks_per_clicker, top_decile_click_share); absent under a segment
	// or source filter.
	Audience *Audience `json:"audience,omitempty"`
	// AudienceDivergence is the second divergence rule: ctr up while the
	// distinct engaged contacts fall.
	AudienceDivergence indicator.ShrinkingAudience `json:"audience_divergence"`
	// DirectTrafficGrowth is direct web sessions per day against the
	// comparison period, minus 1; null without direct sessions there.
	DirectTrafficGrowth *float64        `json:"direct_traffic_growth"`
	ByChannel           []ChannelValues `json:"by_channel"`
	Attributed          Attributed      `json:"attributed"`
	// Accounts: accounts in alarm and the target accounts, by pseudonym;
	// absent under a dimension filter.
	Accounts   *indicator.AccountSummary `json:"accounts,omitempty"`
	Provenance ProvenanceSection         `json:"provenance"`

	values []indicator.Value // current, All order
}

// Values is an ordered indicator name → value map; it marshals as a JSON
// object in indicator.All order, with null for a missing value.
type Values []indicator.Value

// MarshalJSON implements json.Marshaler.
func (vs Values) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, v := range vs {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(v.Name)
		b.Write(k)
		b.WriteByte(':')
		if v.Value == nil {
			b.WriteString("null")
			continue
		}
		n, err := json.Marshal(*v.Value)
		if err != nil {
			return nil, err
		}
		b.Write(n)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// Get returns the value of the named indicator (nil without data).
func (vs Values) Get(name string) *float64 {
	for _, v := range vs {
		if v.Name == name {
			return v.Value
		}
	}
	return nil
}

// IndicatorDetail is one indicator with everything the table shows.
type IndicatorDetail struct {
	indicator.Value
	Title     string  `json:"title"`
	Kind      string  `json:"kind"`      // trust or click
	Direction string  `json:"direction"` // higher, lower or none
	MinVolume float64 `json:"min_volume"`
	// Previous is the value in the comparison period.
	Previous *float64 `json:"previous"`
}

// Comparison is the comparison period's side of the report.
type Comparison struct {
	Mode       string          `json:"mode"`
	From       time.Time       `json:"from"`
	To         time.Time       `json:"to"`
	Events     uint64          `json:"events"`
	Indicators Values          `json:"indicators"`
	TrustIndex indicator.Index `json:"trust_index"`
}

// DivergenceSettings are the thresholds the divergence verdict used.
type DivergenceSettings struct {
	ClickMetrics []string `json:"click_metrics"`
	MinClickLift float64  `json:"min_click_lift"`
	MinIndexDrop float64  `json:"min_index_drop"`
	MinReachDrop float64  `json:"min_reach_drop"`
}

// Audience is the shrinking-audience side of the report: the audience
// signals (indicator.AudienceSignals) of the range with their counts.
type Audience struct {
	Counts  indicator.Audience `json:"counts"`
	Signals []indicator.Value  `json:"signals"`
}

// DayAudience is the audience counts of one UTC day: the report page's
// audience chart.
type DayAudience struct {
	Day      string             `json:"day"`
	Audience indicator.Audience `json:"audience"`
}

func buildAudience(a *indicator.Audience) *Audience {
	if a == nil {
		return nil
	}
	out := &Audience{Counts: *a}
	for _, s := range indicator.AudienceSignals() {
		out.Signals = append(out.Signals, s.Evaluate(*a))
	}
	return out
}

// audienceOrReach is the period's Audience, or under a segment or source
// filter (no contact-level counts) just its engaged contacts, so the
// shrinking-audience rule still compares those.
func audienceOrReach(a *indicator.Audience, r Reach) indicator.Audience {
	if a != nil {
		return *a
	}
	return indicator.Audience{EngagedContacts: r.Contacts}
}

// ConsentMigration counts consent-tier transitions in the range.
type ConsentMigration struct {
	// Transitions lists every (from, to) pair seen in either period,
	// ordered by from then to tier.
	Transitions []Transition `json:"transitions"`
	Upgrades    uint64       `json:"upgrades"`   // to a higher known tier
	Downgrades  uint64       `json:"downgrades"` // to a lower known tier
	Total       uint64       `json:"total"`      // all consent changes
	// The same counts in the comparison period.
	PreviousUpgrades   uint64 `json:"previous_upgrades"`
	PreviousDowngrades uint64 `json:"previous_downgrades"`
	PreviousTotal      uint64 `json:"previous_total"`
}

// Transition is the number of consent changes from one tier to another.
type Transition struct {
	From           uint8  `json:"from_tier"`
	To             uint8  `json:"to_tier"`
	Events         uint64 `json:"events"`
	PreviousEvents uint64 `json:"previous_events"`
}

// EngagedReach is the number of distinct pseudonymized contacts that
// engaged (human open, click, form fill, web session, preference-centre
// visit or opt-up), over whole UTC days.
type EngagedReach struct {
	FirstDay         string `json:"first_day"`
	LastDay          string `json:"last_day"`
	Contacts         uint64 `json:"contacts"`
	PreviousFirstDay string `json:"previous_first_day"`
	PreviousLastDay  string `json:"previous_last_day"`
	PreviousContacts uint64 `json:"previous_contacts"`
	// Change is Contacts / PreviousContacts − 1; null when there were none.
	Change *float64 `json:"change"`
	// Days lists every day of the range with its distinct contacts.
	Days []DayReach `json:"days"`
}

const dayFormat = "2006-01-02"

// Build evaluates the input. It never fails: missing data shows as null
// values and excluded Index components, and an empty range sets Empty and
// Message.
func Build(in Input) Report {
	icfg := in.Divergence.Index
	cur := indicator.EvaluateAll(in.Current)
	prev := indicator.EvaluateAll(in.Baseline)
	curIdx := indicator.ComputeIndex(icfg, in.Current)
	prevIdx := indicator.ComputeIndex(icfg, in.Baseline)
	r := Report{
		From:        in.Period.From.UTC(),
		To:          in.Period.To.UTC(),
		Filter:      in.Filter,
		Events:      totalEvents(in.Current),
		Duplicates:  in.Duplicates,
		Indicators:  Values(cur),
		TrustIndex:  curIdx,
		IndexConfig: icfg.String(),
		Comparison: Comparison{
			Mode:       in.ComparisonMode,
			From:       in.Comparison.From.UTC(),
			To:         in.Comparison.To.UTC(),
			Events:     totalEvents(in.Baseline),
			Indicators: Values(prev),
			TrustIndex: prevIdx,
		},
		Change:     indicator.ExplainChange(prevIdx, curIdx),
		Divergence: indicator.DetectDivergence(in.Divergence, in.Baseline, in.Current),
		DivergenceConfig: DivergenceSettings{
			ClickMetrics: slices.Clone(in.Divergence.ClickMetrics),
			MinClickLift: in.Divergence.MinClickLift,
			MinIndexDrop: in.Divergence.MinIndexDrop,
			MinReachDrop: in.Divergence.MinReachDrop,
		},
		Audience: buildAudience(in.Audience),
		AudienceDivergence: indicator.DetectShrinkingAudience(in.Divergence, in.Baseline, in.Current,
			audienceOrReach(in.BaselineAudience, in.BaselineReach), audienceOrReach(in.Audience, in.Reach)),
		ConsentMigration:    consentMigration(in.Current, in.Baseline),
		EngagedReach:        engagedReach(in.Reach, in.BaselineReach),
		DirectTrafficGrowth: directGrowth(in),
		ByChannel:           buildChannels(in.Current),
		Attributed:          buildAttributed(in.Cohorts),
		Accounts:            in.Accounts,
		Provenance:          buildProvenance(in.Provenance),
		values:              cur,
	}
	if r.Events == 0 {
		r.Empty = true
		r.Message = "no events between " + r.From.Format(time.RFC3339) + " and " + r.To.Format(time.RFC3339) +
			" (" + in.Filter.String() + ")"
	}
	for i, d := range indicator.All() {
		r.IndicatorDetails = append(r.IndicatorDetails, IndicatorDetail{
			Value:     cur[i],
			Title:     d.Title,
			Kind:      d.Kind.String(),
			Direction: d.Direction.String(),
			MinVolume: d.MinVolume,
			Previous:  prev[i].Value,
		})
	}
	return r
}

func totalEvents(t indicator.Totals) uint64 {
	var n uint64
	for _, r := range t.Rows() {
		n += r.Events
	}
	return n
}

// transitions returns the consent changes of t by (from, to) tier. The
// detail of a consent_change is "<from>-><to>" (CONTRACT.md §3).
func transitions(t indicator.Totals) map[[2]uint8]uint64 {
	out := map[[2]uint8]uint64{}
	for _, r := range t.Rows() {
		if r.EventType != event.ConsentChange.String() {
			continue
		}
		a, b, ok := strings.Cut(r.Detail, "->")
		from, err1 := strconv.ParseUint(a, 10, 8)
		to, err2 := strconv.ParseUint(b, 10, 8)
		if !ok || err1 != nil || err2 != nil {
			continue // not a contract detail; nothing to attribute it to
		}
		out[[2]uint8{uint8(from), uint8(to)}] += r.Events
	}
	return out
}

func consentMigration(cur, prev indicator.Totals) ConsentMigration {
	c, p := transitions(cur), transitions(prev)
	var m ConsentMigration
	keys := map[[2]uint8]bool{}
	for k := range c {
		keys[k] = true
	}
	for k := range p {
		keys[k] = true
	}
	sorted := make([][2]uint8, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	slices.SortFunc(sorted, func(a, b [2]uint8) int {
		if a[0] != b[0] {
			return int(a[0]) - int(b[0])
		}
		return int(a[1]) - int(b[1])
	})
	// Upgrades and downgrades are what consent_momentum counts (moves out of
	// or into tier 0, "unknown", are neither): its selectors decide.
	momentum, _ := indicator.ByName(indicator.ConsentMomentum)
	up, down := momentum.Numerator[0].Selector, momentum.Numerator[1].Selector
	for _, k := range sorted {
		m.Transitions = append(m.Transitions, Transition{From: k[0], To: k[1], Events: c[k], PreviousEvents: p[k]})
		r := indicator.Row{EventType: event.ConsentChange.String(), Detail: indicator.ConsentChangeDetail(k[0], k[1])}
		switch {
		case up.Matches(r):
			m.Upgrades += c[k]
			m.PreviousUpgrades += p[k]
		case down.Matches(r):
			m.Downgrades += c[k]
			m.PreviousDowngrades += p[k]
		}
		m.Total += c[k]
		m.PreviousTotal += p[k]
	}
	if m.Transitions == nil {
		m.Transitions = []Transition{}
	}
	return m
}

func engagedReach(cur, prev Reach) EngagedReach {
	e := EngagedReach{
		FirstDay:         cur.FirstDay.UTC().Format(dayFormat),
		LastDay:          cur.LastDay.UTC().Format(dayFormat),
		Contacts:         cur.Contacts,
		PreviousFirstDay: prev.FirstDay.UTC().Format(dayFormat),
		PreviousLastDay:  prev.LastDay.UTC().Format(dayFormat),
		PreviousContacts: prev.Contacts,
		Days:             []DayReach{},
	}
	if prev.Contacts > 0 {
		ch := float64(cur.Contacts)/float64(prev.Contacts) - 1
		e.Change = &ch
	}
	byDay := map[string]uint64{}
	for _, d := range cur.Days {
		byDay[d.Day] += d.Contacts
	}
	first, last := cur.FirstDay.UTC(), cur.LastDay.UTC()
	for d := first; !d.After(last) && !first.IsZero(); d = d.AddDate(0, 0, 1) {
		k := d.Format(dayFormat)
		e.Days = append(e.Days, DayReach{Day: k, Contacts: byDay[k]})
		delete(byDay, k)
	}
	// Days outside [first, last] (a caller's mistake) are still shown.
	var rest []DayReach
	for k, n := range byDay {
		rest = append(rest, DayReach{Day: k, Contacts: n})
	}
	slices.SortFunc(rest, func(a, b DayReach) int { return strings.Compare(a.Day, b.Day) })
	e.Days = append(e.Days, rest...)
	return e
}

// WriteJSON writes the report as indented JSON.
func (r Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}
