package indicator

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Component is one indicator in the Trust Index.
type Component struct {
	Indicator string
	// Weight is relative: weights are renormalised over the components that
	// qualify in a window, so only ratios between weights matter. 0 disables
	// the component.
	Weight float64
	// Good, Bad and MinVolume override the definition's thresholds and
	// minimum volume when non-nil. Pointers, because 0 is a meaningful
	// threshold (e.g. a neutral sentiment) and must not mean "unset".
	Good, Bad *float64
	MinVolume *float64
}

// IndexConfig lists the Trust Index components. Order is kept in results.
type IndexConfig struct {
	Components []Component
}

// DefaultIndexConfig returns the documented default components. Only trust
// indicators are included — click metrics are what the Index is compared
// against, never part of it. Thresholds and minimum volumes come from the
// definitions (see All). Weights, and why:
//
//	complaint_rate                   3    mailbox providers throttle or block senders over 0.3 %: the most costly signal
//	unsubscribe_rate                 2    a contact lost for good
//	consent_coverage                 2    personalization beyond consent is a compliance failure, not just a mood
//	opt_down_share                   1
//	too_personal_rate                1
//	consent_momentum                 1
//	explained_personalization_share  1
//	direct_traffic_share             1
//	sentiment_avg                    1    sales-reported, sparse and subjective
//	preference_center_rate           0.5  ambiguous: a visit often precedes an opt-down or an unsubscribe
//	too_frequent_rate                0.5  cadence feedback: sparse, and usually fixed by frequency caps
//	not_relevant_rate                0.5  targeting feedback: sparse
//
// bounce_rate and delivery_rate are list-hygiene signals, shown but not
// scored; add them with TRUSTPIPE_INDEX_COMPONENTS if wanted.
func DefaultIndexConfig() IndexConfig {
	return IndexConfig{Components: []Component{
		{Indicator: ComplaintRate, Weight: 3},
		{Indicator: UnsubscribeRate, Weight: 2},
		{Indicator: ConsentCoverage, Weight: 2},
		{Indicator: OptDownShare, Weight: 1},
		{Indicator: TooPersonalRate, Weight: 1},
		{Indicator: ConsentMomentum, Weight: 1},
		{Indicator: ExplainedPersonalizationShare, Weight: 1},
		{Indicator: DirectTrafficShare, Weight: 1},
		{Indicator: SentimentAvg, Weight: 1},
		{Indicator: PreferenceCenterRate, Weight: 0.5},
		{Indicator: TooFrequentRate, Weight: 0.5},
		{Indicator: NotRelevantRate, Weight: 0.5},
	}}
}

// resolved is a component with its definition and effective settings.
type resolved struct {
	def                  Definition
	good, bad, minVolume float64
}

// resolve checks one component and fills in the definition's defaults. The
// error text is what ComputeIndex reports as the exclusion reason, so that
// Validate and ComputeIndex never disagree about what is wrong.
func resolve(c Component) (resolved, error) {
	d, ok := ByName(c.Indicator)
	if !ok {
		return resolved{}, fmt.Errorf("unknown indicator %q", c.Indicator)
	}
	if d.Kind != Trust || d.Direction == None {
		return resolved{}, fmt.Errorf("%s is a %s metric with no better direction; only trust indicators can be scored", d.Name, d.Kind)
	}
	r := resolved{def: d, good: d.Good, bad: d.Bad, minVolume: d.MinVolume}
	if c.Good != nil {
		r.good = *c.Good
	}
	if c.Bad != nil {
		r.bad = *c.Bad
	}
	if c.MinVolume != nil {
		r.minVolume = *c.MinVolume
	}
	switch {
	case !finite(c.Weight) || c.Weight < 0:
		return r, fmt.Errorf("weight %s must be a finite number >= 0", fmtNum(c.Weight))
	case !finite(r.good) || !finite(r.bad):
		return r, fmt.Errorf("thresholds good=%s bad=%s must be finite", fmtNum(r.good), fmtNum(r.bad))
	case d.Direction == LowerIsBetter && !(r.good < r.bad):
		return r, fmt.Errorf("lower is better for %s, so good (%s) must be below bad (%s)", d.Name, fmtNum(r.good), fmtNum(r.bad))
	case d.Direction == HigherIsBetter && !(r.good > r.bad):
		return r, fmt.Errorf("higher is better for %s, so good (%s) must be above bad (%s)", d.Name, fmtNum(r.good), fmtNum(r.bad))
	case !finite(r.minVolume) || r.minVolume < 0:
		return r, fmt.Errorf("min_volume %s must be a finite number >= 0", fmtNum(r.minVolume))
	}
	return r, nil
}

// Validate reports every problem of the configuration, joined.
func (c IndexConfig) Validate() error {
	var errs []error
	seen := map[string]bool{}
	positive := false
	for i, comp := range c.Components {
		if seen[comp.Indicator] {
			errs = append(errs, fmt.Errorf("component %d: %s listed twice", i+1, comp.Indicator))
		}
		seen[comp.Indicator] = true
		if _, err := resolve(comp); err != nil {
			errs = append(errs, fmt.Errorf("component %d (%s): %w", i+1, comp.Indicator, err))
		} else if comp.Weight > 0 {
			positive = true
		}
	}
	if !positive && len(errs) == 0 {
		errs = append(errs, errors.New("no component has a positive weight"))
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("index config: %w", errors.Join(errs...))
}

// Index is a Trust Index value with its full explanation.
type Index struct {
	// Value is the Index, 0–100, the sum of the components' contributions;
	// nil when no component qualifies (e.g. an empty window).
	Value      *float64          `json:"value"`
	Components []ComponentResult `json:"components"`
	// Coverage says how much of the configured Index the Value rests on;
	// it is shown next to every Index headline so that a 100 computed from
	// one component of ten cannot be misread.
	Coverage Coverage `json:"coverage"`
}

// Coverage is the part of the configured Trust Index a value is built from.
type Coverage struct {
	// Used is the number of components scored; Configured the number with a
	// positive configured weight (the components that could be scored).
	Used       int `json:"used"`
	Configured int `json:"configured"`
	// WeightShare is the configured weight of the used components over the
	// configured weight of all of them, in [0, 1].
	WeightShare float64 `json:"weight_share"`
}

// String renders the coverage as shown beside the Index, e.g.
// "7/10 components, 85 % of weight".
func (c Coverage) String() string {
	return fmt.Sprintf("%d/%d components, %s %% of weight", c.Used, c.Configured, strconv.FormatFloat(100*c.WeightShare, 'f', 0, 64))
}

// ComponentResult explains one component's part in an Index value.
type ComponentResult struct {
	Name string `json:"name"`
	// Value is the indicator value (also reported when the component is
	// excluded for low volume, so a reader can see what was left out).
	Value *float64 `json:"value"`
	// Score is 0 at the bad threshold, 100 at the good one; nil if excluded.
	Score *float64 `json:"score"`
	// Weight is the renormalised weight: the included components' weights
	// sum to 1. 0 when excluded.
	Weight float64 `json:"weight"`
	// Contribution = Weight * Score; contributions sum to the Index value.
	Contribution     float64 `json:"contribution"`
	ConfiguredWeight float64 `json:"configured_weight"`
	Denominator      float64 `json:"denominator"`
	MinVolume        float64 `json:"min_volume"`
	Good             float64 `json:"good"`
	Bad              float64 `json:"bad"`
	Excluded         bool    `json:"excluded"`
	ExcludedReason   string  `json:"excluded_reason,omitempty"`
}

// ComputeIndex computes the Trust Index over t. It never fails: a component
// that is misconfigured, has no data or too little volume is reported as
// excluded with a reason, and the remaining weights are renormalised. Run
// Validate at start-up to reject a bad configuration early.
func ComputeIndex(cfg IndexConfig, t Totals) Index {
	idx := Index{Components: make([]ComponentResult, len(cfg.Components))}
	var total, configured float64
	seen := map[string]bool{}
	for i, c := range cfg.Components {
		cr := &idx.Components[i]
		cr.Name, cr.ConfiguredWeight = c.Indicator, c.Weight
		if finite(c.Weight) && c.Weight > 0 {
			configured += c.Weight
			idx.Coverage.Configured++
		}
		r, err := resolve(c)
		cr.Good, cr.Bad, cr.MinVolume = r.good, r.bad, r.minVolume
		if err != nil {
			cr.Excluded, cr.ExcludedReason = true, "invalid: "+err.Error()
			continue
		}
		if seen[c.Indicator] {
			cr.Excluded, cr.ExcludedReason = true, "invalid: listed twice; only the first counts"
			continue
		}
		seen[c.Indicator] = true
		v := r.def.Evaluate(t)
		cr.Value, cr.Denominator = v.Value, v.Denominator
		switch {
		case c.Weight == 0:
			cr.Excluded, cr.ExcludedReason = true, "weight is 0"
		case v.Value == nil:
			cr.Excluded, cr.ExcludedReason = true, "no data: denominator is 0"
		case v.Denominator < r.minVolume:
			cr.Excluded, cr.ExcludedReason = true, fmt.Sprintf("low volume: denominator %s below minimum %s", fmtCount(v.Denominator), fmtCount(r.minVolume))
		default:
			s := score(*v.Value, r.good, r.bad)
			cr.Score = &s
			total += c.Weight
			idx.Coverage.Used++
		}
	}
	if total == 0 {
		return idx
	}
	idx.Coverage.WeightShare = total / configured
	var sum float64
	for i := range idx.Components {
		cr := &idx.Components[i]
		if cr.Excluded {
			continue
		}
		cr.Weight = cr.ConfiguredWeight / total
		cr.Contribution = cr.Weight * *cr.Score
		sum += cr.Contribution
	}
	// The Index is the sum of the contributions by construction, so the
	// explanation adds up.
	idx.Value = &sum
	return idx
}

// score maps v linearly to 0 at bad and 100 at good, clamped to [0, 100].
// The direction is encoded in the order of good and bad (resolve checks it).
func score(v, good, bad float64) float64 {
	s := 100 * (v - bad) / (good - bad)
	return min(max(s, 0), 100)
}

// ErrIndexComponents is wrapped by every error of ParseIndexComponents, so
// a caller can name the setting the string came from.
var ErrIndexComponents = errors.New("invalid Trust Index components")

// ParseIndexComponents applies an override string to base and returns the
// result, validated. The syntax is
//
//	name:key=value[,key=value...][;name:...]
//
// with keys weight, good, bad and min_volume, e.g.
//
//	complaint_rate:weight=3,good=0.001,bad=0.003;unsubscribe_rate:weight=2
//
// A named component of base gets the given keys replaced and keeps the
// others; a name not in base is appended and must set weight; weight=0
// disables a component. Whitespace around names, keys and values is ignored;
// an empty string returns base unchanged. Errors name the offending part.
func ParseIndexComponents(s string, base IndexConfig) (IndexConfig, error) {
	out := IndexConfig{Components: slices.Clone(base.Components)}
	if strings.TrimSpace(s) == "" {
		return out, nil
	}
	seen := map[string]bool{}
	for part := range strings.SplitSeq(s, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, settings, ok := strings.Cut(part, ":")
		name = strings.TrimSpace(name)
		if !ok {
			return IndexConfig{}, fmt.Errorf("%w: %q: expected name:key=value[,key=value]", ErrIndexComponents, part)
		}
		if name == "" {
			return IndexConfig{}, fmt.Errorf("%w: %q: missing indicator name before ':'", ErrIndexComponents, part)
		}
		if _, known := ByName(name); !known {
			return IndexConfig{}, fmt.Errorf("%w: %q: unknown indicator %q (known: %s)", ErrIndexComponents, part, name, strings.Join(Names(), ", "))
		}
		if seen[name] {
			return IndexConfig{}, fmt.Errorf("%w: %q: %s is configured twice", ErrIndexComponents, part, name)
		}
		seen[name] = true

		i := slices.IndexFunc(out.Components, func(c Component) bool { return c.Indicator == name })
		var c Component
		if i >= 0 {
			c = out.Components[i]
		} else {
			c = Component{Indicator: name, Weight: math.NaN()} // NaN: weight not yet given
		}
		keys := map[string]bool{}
		for kv := range strings.SplitSeq(settings, ",") {
			kv = strings.TrimSpace(kv)
			if kv == "" {
				continue
			}
			k, v, ok := strings.Cut(kv, "=")
			k, v = strings.TrimSpace(k), strings.TrimSpace(v)
			if !ok || k == "" || v == "" {
				return IndexConfig{}, fmt.Errorf("%w: %q: %q is not key=value", ErrIndexComponents, part, kv)
			}
			if keys[k] {
				return IndexConfig{}, fmt.Errorf("%w: %q: %s given twice", ErrIndexComponents, part, k)
			}
			keys[k] = true
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || !finite(f) {
				return IndexConfig{}, fmt.Errorf("%w: %q: %s: %q is not a finite number", ErrIndexComponents, part, k, v)
			}
			switch k {
			case "weight":
				if f < 0 {
					return IndexConfig{}, fmt.Errorf("%w: %q: weight %s must be >= 0", ErrIndexComponents, part, v)
				}
				c.Weight = f
			case "good":
				c.Good = &f
			case "bad":
				c.Bad = &f
			case "min_volume":
				if f < 0 {
					return IndexConfig{}, fmt.Errorf("%w: %q: min_volume %s must be >= 0", ErrIndexComponents, part, v)
				}
				c.MinVolume = &f
			default:
				return IndexConfig{}, fmt.Errorf("%w: %q: unknown key %q (known: weight, good, bad, min_volume)", ErrIndexComponents, part, k)
			}
		}
		if len(keys) == 0 {
			return IndexConfig{}, fmt.Errorf("%w: %q: no settings after ':'", ErrIndexComponents, part)
		}
		if math.IsNaN(c.Weight) {
			return IndexConfig{}, fmt.Errorf("%w: %q: %s is not a default component, so it needs weight=", ErrIndexComponents, part, name)
		}
		if i >= 0 {
			out.Components[i] = c
		} else {
			out.Components = append(out.Components, c)
		}
	}
	if err := out.Validate(); err != nil {
		return IndexConfig{}, fmt.Errorf("%w: %w", ErrIndexComponents, err)
	}
	return out, nil
}

// String renders the configuration in ParseIndexComponents syntax (only the
// overrides that are set), so `trustpipe help` can print the default and a
// rendered config parses back to itself.
func (c IndexConfig) String() string {
	parts := make([]string, len(c.Components))
	for i, comp := range c.Components {
		s := comp.Indicator + ":weight=" + fmtNum(comp.Weight)
		if comp.Good != nil {
			s += ",good=" + fmtNum(*comp.Good)
		}
		if comp.Bad != nil {
			s += ",bad=" + fmtNum(*comp.Bad)
		}
		if comp.MinVolume != nil {
			s += ",min_volume=" + fmtNum(*comp.MinVolume)
		}
		parts[i] = s
	}
	return strings.Join(parts, ";")
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// fmtCount formats a count (or volume) without an exponent.
func fmtCount(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// fmtNum formats a number in the shortest form that parses back exactly.
func fmtNum(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
