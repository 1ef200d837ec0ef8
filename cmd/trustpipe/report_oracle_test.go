package main

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/trustpipe/trustpipe/aggregate/event"
	"github.com/trustpipe/trustpipe/aggregate/scenario"
)

// Independent oracles of the report's end-to-end test: counted from the
// produced records, never through the pipeline or the contract decoder.

// reachOracle collects, from the produced records, the distinct contacts
// that engaged per UTC day (DESIGN.md engaged reach: human opens, clicks,
// form fills, web sessions, preference-centre visits, opt-ups).
type reachOracle map[string]map[string]bool

func (ro reachOracle) add(rec scenario.Record) {
	if rec.Invalid != "" || len(rec.Key) == 0 {
		return
	}
	switch rec.Type {
	case event.Open:
		if bytes.Contains(rec.Value, []byte(`"machine":true`)) {
			return
		}
	case event.Click, event.FormFill, event.WebSession, event.PreferenceCenterVisit, event.OptUp:
	default:
		return
	}
	day := rec.Time.UTC().Format("2006-01-02")
	if ro[day] == nil {
		ro[day] = map[string]bool{}
	}
	ro[day][string(rec.Key)] = true
}

func (ro reachOracle) distinct(from, to time.Time) int {
	seen := map[string]bool{}
	for d := from; d.Before(to); d = d.AddDate(0, 0, 1) {
		for c := range ro[d.Format("2006-01-02")] {
			seen[c] = true
		}
	}
	return len(seen)
}

// renderOracle counts, per UTC day, the produced sends and those whose
// render-check properties report an unresolved merge tag or a broken link,
// read from the JSON with encoding/json: independent of the contract
// decoder and of the send details it derives.
type renderOracle map[string]*renderDay

type renderDay struct{ sends, merge, link int }

func (ro renderOracle) add(t *testing.T, rec scenario.Record) {
	if rec.Invalid != "" || rec.Type != event.Send {
		return
	}
	var v struct {
		Properties struct {
			UnresolvedTokens int `json:"unresolved_tokens"`
			BrokenLinks      int `json:"broken_links"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(rec.Value, &v); err != nil {
		t.Fatalf("produced send %s: %v", rec.Value, err)
	}
	day := rec.Time.UTC().Format("2006-01-02")
	d := ro[day]
	if d == nil {
		d = &renderDay{}
		ro[day] = d
	}
	d.sends++
	if v.Properties.UnresolvedTokens > 0 {
		d.merge++
	}
	if v.Properties.BrokenLinks > 0 {
		d.link++
	}
}

// set puts the days' merge-defect and broken-link rates into want.
func (ro renderOracle) set(want map[string]*float64, from, to time.Time) {
	var sum renderDay
	for d := from; d.Before(to); d = d.AddDate(0, 0, 1) {
		if x := ro[d.Format("2006-01-02")]; x != nil {
			sum.sends, sum.merge, sum.link = sum.sends+x.sends, sum.merge+x.merge, sum.link+x.link
		}
	}
	want["merge_defect_rate"] = ratio(float64(sum.merge), float64(sum.sends))
	want["broken_link_rate"] = ratio(float64(sum.link), float64(sum.sends))
}
