package main

import (
	"bytes"
	"encoding/json"
	"sort"
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

// audienceOracle collects, from the produced records read with
// encoding/json, the contact-level counts of the audience signals per UTC
// send day (sent_at's day when the record carries it, else its own day):
// the contacts delivered to, and each contact's human clicks (bot clicks
// apart). It ranks clickers itself, independently of package indicator.
type audienceOracle struct {
	delivered map[string]map[string]bool
	clicks    map[string]map[string]int
}

func newAudienceOracle() *audienceOracle {
	return &audienceOracle{delivered: map[string]map[string]bool{}, clicks: map[string]map[string]int{}}
}

func (ao *audienceOracle) add(t *testing.T, rec scenario.Record) {
	if rec.Invalid != "" || len(rec.Key) == 0 || (rec.Type != event.Delivered && rec.Type != event.Click) {
		return
	}
	var v struct {
		OccurredAt time.Time `json:"occurred_at"`
		SentAt     time.Time `json:"sent_at"`
		Properties struct {
			Bot bool `json:"bot"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(rec.Value, &v); err != nil {
		t.Fatalf("produced %s: %v", rec.Value, err)
	}
	at := v.OccurredAt
	if !v.SentAt.IsZero() {
		at = v.SentAt
	}
	day, contact := at.UTC().Format("2006-01-02"), string(rec.Key)
	switch {
	case rec.Type == event.Delivered:
		if ao.delivered[day] == nil {
			ao.delivered[day] = map[string]bool{}
		}
		ao.delivered[day][contact] = true
	case !v.Properties.Bot:
		if ao.clicks[day] == nil {
			ao.clicks[day] = map[string]int{}
		}
		ao.clicks[day][contact]++
	}
}

// audienceCounts are the oracle's counts of a period, named as in the
// report's JSON.
type audienceCounts struct {
	Engaged   int `json:"engaged_contacts"`
	Delivered int `json:"delivered_contacts"`
	Clicks    int `json:"clicks"`
	Clickers  int `json:"clickers"`
	TopDecile int `json:"top_decile_clicks"`
}

// counts returns the period's counts: engaged contacts from reach (event
// days), the rest over the send days [from, to); the top decile is the
// ceil(clickers/10) contacts with the most clicks over the whole period.
func (ao *audienceOracle) counts(reach reachOracle, from, to time.Time) audienceCounts {
	c := audienceCounts{Engaged: reach.distinct(from, to)}
	delivered, per := map[string]bool{}, map[string]int{}
	for d := from; d.Before(to); d = d.AddDate(0, 0, 1) {
		day := d.Format("2006-01-02")
		for k := range ao.delivered[day] {
			delivered[k] = true
		}
		for k, n := range ao.clicks[day] {
			per[k] += n
			c.Clicks += n
		}
	}
	c.Delivered, c.Clickers = len(delivered), len(per)
	counts := make([]int, 0, len(per))
	for _, n := range per {
		counts = append(counts, n)
	}
	sort.Sort(sort.Reverse(sort.IntSlice(counts)))
	for _, n := range counts[:(len(counts)+9)/10] {
		c.TopDecile += n
	}
	return c
}

// checkAudience compares the report's audience signals and its
// shrinking-audience verdict with the oracle's counts of both periods: the
// signals are the documented ratios of the counts, the verdict the
// documented rule (ctr up >= 5 % while distinct engaged contacts or
// engaged_reach_rate fall >= 10 %). On the 14-day trust spiral the rule
// must fire: that is the scenario that exercises it (README, "The
// shrinking, self-selected audience").
func checkAudience(t *testing.T, j reportJSON, cur, prev audienceCounts, ctr, prevCTR *float64) {
	t.Helper()
	if j.Audience == nil || j.Audience.Counts != cur || cur.TopDecile == 0 {
		t.Fatalf("audience %+v, want counts %+v", j.Audience, cur)
	}
	want := map[string]float64{
		"engaged_reach_rate":     float64(cur.Engaged) / float64(cur.Delivered),
		"clicks_per_clicker":     float64(cur.Clicks) / float64(cur.Clickers),
		"top_decile_click_share": float64(cur.TopDecile) / float64(cur.Clicks),
	}
	if len(j.Audience.Signals) != len(want) {
		t.Errorf("%d audience signals, want %d", len(j.Audience.Signals), len(want))
	}
	for _, s := range j.Audience.Signals {
		if s.Value == nil || *s.Value != want[s.Name] {
			t.Errorf("%s = %s, want %v", s.Name, fmtPtr(s.Value), want[s.Name])
		}
	}
	prevRate := float64(prev.Engaged) / float64(prev.Delivered)
	d := j.AudienceDivergence
	if d.BaselineContacts != prev.Engaged || d.BaselineRate == nil || *d.BaselineRate != prevRate {
		t.Errorf("comparison period: %d engaged contacts, engaged_reach_rate %s; want %d and %v", d.BaselineContacts, fmtPtr(d.BaselineRate), prev.Engaged, prevRate)
	}
	countFell := float64(cur.Engaged)/float64(prev.Engaged)-1 <= -0.1
	rateFell := want["engaged_reach_rate"]/prevRate-1 <= -0.1
	wantFlag := ctr != nil && prevCTR != nil && *ctr / *prevCTR - 1 >= 0.05 && (countFell || rateFell)
	if d.Flag != wantFlag || !wantFlag {
		t.Errorf("shrinking audience %v (%s); the rule on the oracle's counts says %v, and the trust spiral must exercise it", d.Flag, d.Reason, wantFlag)
	}
	t.Logf("audience %+v (previous %+v): shrinking %v: %s", cur, prev, d.Flag, d.Reason)
}
