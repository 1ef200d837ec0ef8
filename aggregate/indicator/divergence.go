package indicator

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// DivergenceConfig sets when DetectDivergence raises its flag.
type DivergenceConfig struct {
	// Index is the Trust Index configuration used for both periods.
	Index IndexConfig
	// ClickMetrics are the indicators whose improvement counts; any one of
	// them improving is enough.
	ClickMetrics []string
	// MinClickLift is the relative rise of a click metric that counts as
	// "improved": 0.05 means current >= baseline × 1.05.
	MinClickLift float64
	// MinIndexDrop is the fall of the Trust Index, in points, that counts
	// as "trust fell": 3 means current <= baseline − 3.
	MinIndexDrop float64
	// MinReachDrop is the relative fall of distinct engaged contacts that
	// counts as "engaged reach fell" for DetectShrinkingAudience: 0.1 means
	// current <= baseline × 0.9.
	MinReachDrop float64
}

// DefaultDivergenceConfig returns the documented defaults: the default
// Index, click metrics open_rate, ctr and click_to_open, a +5 % relative
// click lift and a 3-point Index drop. 5 % is about the smallest lift a
// campaign team would report as a win; 3 points is well beyond the
// window-to-window noise of the Index at the default minimum volumes, so a
// flag means both sides moved for real. A 10 % fall of distinct engaged
// contacts between equal periods is well outside what segment rotation
// moves them by (the steady scenarios stay within a few per cent).
func DefaultDivergenceConfig() DivergenceConfig {
	return DivergenceConfig{
		Index:        DefaultIndexConfig(),
		ClickMetrics: []string{OpenRate, CTR, ClickToOpen},
		MinClickLift: 0.05,
		MinIndexDrop: 3,
		MinReachDrop: 0.1,
	}
}

// Validate reports problems of the configuration, joined.
func (c DivergenceConfig) Validate() error {
	var errs []error
	if err := c.Index.Validate(); err != nil {
		errs = append(errs, err)
	}
	if len(c.ClickMetrics) == 0 {
		errs = append(errs, errors.New("no click metrics"))
	}
	for _, name := range c.ClickMetrics {
		if d, ok := ByName(name); !ok {
			errs = append(errs, fmt.Errorf("unknown click metric %q", name))
		} else if d.Kind != Click {
			errs = append(errs, fmt.Errorf("%s is not a click metric", name))
		}
	}
	if !finite(c.MinClickLift) || c.MinClickLift < 0 {
		errs = append(errs, fmt.Errorf("min click lift %s must be a finite number >= 0", fmtNum(c.MinClickLift)))
	}
	if !finite(c.MinIndexDrop) || c.MinIndexDrop < 0 {
		errs = append(errs, fmt.Errorf("min index drop %s must be a finite number >= 0", fmtNum(c.MinIndexDrop)))
	}
	if !finite(c.MinReachDrop) || c.MinReachDrop < 0 || c.MinReachDrop > 1 {
		errs = append(errs, fmt.Errorf("min reach drop %s must be a number in [0, 1]", fmtNum(c.MinReachDrop)))
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("divergence config: %w", errors.Join(errs...))
}

// Divergence is the result of DetectDivergence, with its evidence.
type Divergence struct {
	// Flag: at least one click metric improved by MinClickLift or more
	// while the Trust Index fell by MinIndexDrop points or more.
	Flag          bool     `json:"flag"`
	BaselineIndex *float64 `json:"baseline_index"`
	CurrentIndex  *float64 `json:"current_index"`
	// IndexDrop is BaselineIndex − CurrentIndex (positive when trust fell);
	// nil unless both exist.
	IndexDrop *float64    `json:"index_drop"`
	Clicks    []ClickMove `json:"clicks"`
	// Reason says in one sentence why the flag is or is not raised.
	Reason string `json:"reason"`
}

// ClickMove is one click metric compared between the periods.
type ClickMove struct {
	Name     string   `json:"name"`
	Baseline *float64 `json:"baseline"`
	Current  *float64 `json:"current"`
	// RelativeChange is Current/Baseline − 1; nil when not comparable.
	RelativeChange *float64 `json:"relative_change"`
	Improved       bool     `json:"improved"`
	// Note says why the metric was not compared, if it was not.
	Note string `json:"note,omitempty"`
}

// tolerance absorbs float rounding at the thresholds, so a lift of exactly
// 5 % computed as 0.04999999999 still counts as "at least 5 %".
const tolerance = 1e-9

// DetectDivergence compares the current window with a baseline window and
// flags the self-referential optimisation trap: click metrics improving
// while the Trust Index falls. A click metric is compared only when both
// windows reach its MinVolume and its baseline value is above 0 (a relative
// change from 0 means nothing); the Index side needs an Index in both
// windows. Gating on volume here is what keeps a quiet night from paging.
func DetectDivergence(cfg DivergenceConfig, baseline, current Totals) Divergence {
	bi, ci := ComputeIndex(cfg.Index, baseline), ComputeIndex(cfg.Index, current)
	dv := Divergence{BaselineIndex: bi.Value, CurrentIndex: ci.Value}
	if bi.Value != nil && ci.Value != nil {
		drop := *bi.Value - *ci.Value
		dv.IndexDrop = &drop
	}
	var lifted []string
	for _, name := range cfg.ClickMetrics {
		m := ClickMove{Name: name}
		d, ok := ByName(name)
		if !ok {
			m.Note = "unknown indicator"
			dv.Clicks = append(dv.Clicks, m)
			continue
		}
		b, c := d.Evaluate(baseline), d.Evaluate(current)
		m.Baseline, m.Current = b.Value, c.Value
		switch {
		case b.Value == nil || c.Value == nil:
			m.Note = "no data in one of the periods"
		case !b.Sufficient || !c.Sufficient:
			m.Note = fmt.Sprintf("low volume: denominators %s and %s, minimum %s",
				fmtCount(b.Denominator), fmtCount(c.Denominator), fmtCount(d.MinVolume))
		case *b.Value <= 0:
			m.Note = "baseline is 0, no relative change"
		default:
			rel := *c.Value / *b.Value - 1
			m.RelativeChange = &rel
			m.Improved = rel >= cfg.MinClickLift-tolerance
			if m.Improved {
				lifted = append(lifted, name+" rose "+pct1(rel))
			}
		}
		dv.Clicks = append(dv.Clicks, m)
	}

	fell := dv.IndexDrop != nil && *dv.IndexDrop >= cfg.MinIndexDrop-tolerance
	dv.Flag = len(lifted) > 0 && fell
	switch {
	case dv.Flag:
		dv.Reason = joinAnd(lifted) + " while the Trust Index fell " + fmt1(*dv.IndexDrop) +
			" points (" + fmt1(*bi.Value) + " -> " + fmt1(*ci.Value) + ")"
	case dv.IndexDrop == nil:
		dv.Reason = "no Trust Index in one of the periods, so no comparison"
	case !fell && len(lifted) > 0:
		dv.Reason = joinAnd(lifted) + ", but the Trust Index did not fall by " +
			fmtNum(cfg.MinIndexDrop) + " points or more (change " + signed1(-*dv.IndexDrop) + ")"
	case !fell:
		dv.Reason = "the Trust Index did not fall by " + fmtNum(cfg.MinIndexDrop) +
			" points or more (change " + signed1(-*dv.IndexDrop) + ")"
	default:
		dv.Reason = "the Trust Index fell " + fmt1(*dv.IndexDrop) + " points, but no click metric rose by " +
			pct1(cfg.MinClickLift) + " or more"
	}
	return dv
}

// joinAnd joins "a", "b", "c" as "a, b and c".
func joinAnd(s []string) string {
	if len(s) < 2 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}

func pct1(f float64) string { return strconv.FormatFloat(f*100, 'f', 1, 64) + "%" }

func signed1(f float64) string {
	s := fmt1(f)
	switch {
	case s == "0.0" || s == "-0.0":
		return "0.0"
	case f > 0:
		return "+" + s
	}
	return s
}
