package aggregate

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trustpipe/trustpipe/aggregate/event"
)

// clickStore simulates the ReplacingMergeTree of the click rows: per key
// and block the row with the highest version.
type clickStore map[string]ClickRow

func (s clickStore) apply(snap *Snapshot) {
	for _, r := range snap.Clicks {
		k := fmt.Sprintf("%d %s %s %s %d", r.Day, r.CampaignID, r.Channel, r.Contact, r.Block)
		if old, ok := s[k]; !ok || r.Version >= old.Version {
			s[k] = r
		}
	}
}

// perContact sums the stored clicks per contact: what the top-decile read
// ranks.
func (s clickStore) perContact() string {
	sum := map[string]uint64{}
	for _, r := range s {
		sum[r.Contact] += r.Clicks
	}
	var out []string
	for c, n := range sum {
		out = append(out, fmt.Sprintf("%s=%d", c, n))
	}
	slices.Sort(out)
	return strings.Join(out, " ")
}

// Click rows count each contact's human clicks per campaign, channel and
// send day within a block, cumulatively across snapshots; bot clicks are
// left out, and a re-read of a block replaces its rows instead of adding.
func TestClickRowsCountHumanClicksPerContact(t *testing.T) {
	sent := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	next := sent.Add(30 * time.Hour)
	type click struct {
		off     int64
		contact string
		at      time.Time
		sentAt  time.Time
		detail  string
	}
	clicks := []click{
		{0, "c1", sent.Add(time.Hour), sent, ""},
		{1, "c1", next, sent, ""},                   // late, still the send day of 11-01
		{2, "c2", sent.Add(time.Hour), sent, "bot"}, // a scanner: not a human click
		{3, "c2", next, time.Time{}, ""},            // no sent_at: its own day
		{4, "c1", next, sent, ""},                   // block 1 (block size 4)
		{5, "c3", next, sent, ""},
	}
	run := func(a *Aggregator, from int, s clickStore, splitAt int) {
		for i, c := range clicks[from:] {
			e := ev(event.Click, "blast", c.at)
			e.ContactID, e.SentAt, e.Detail = c.contact, c.sentAt, c.detail
			a.Accept("t", 0, c.off, e.OccurredAt, e)
			if from+i == splitAt {
				s.apply(a.Snapshot()) // an interim flush mid-block
			}
		}
		s.apply(a.Snapshot())
	}
	s := clickStore{}
	run(newAgg(t, 4), 0, s, 1)
	if got, want := s.perContact(), "c1=3 c2=1 c3=1"; got != want {
		t.Errorf("clicks per contact %s, want %s", got, want)
	}
	var rows []string
	for _, r := range s {
		rows = append(rows, fmt.Sprintf("%s %s %s b%d n=%d", time.Unix(r.Day, 0).UTC().Format("01-02"), r.Contact, r.Channel, r.Block, r.Clicks))
	}
	slices.Sort(rows)
	want := []string{"11-01 c1 email b0 n=2", "11-01 c1 email b1 n=1", "11-01 c3 email b1 n=1", "11-02 c2 email b0 n=1"}
	if !slices.Equal(rows, want) {
		t.Errorf("click rows:\n%s\nwant:\n%s", strings.Join(rows, "\n"), strings.Join(want, "\n"))
	}
	// A re-read of the whole partition (a crash before the commit) writes
	// the same rows again: the stored counts do not change.
	run(newAgg(t, 4), 0, s, -1)
	if got := s.perContact(); got != "c1=3 c2=1 c3=1" {
		t.Errorf("after a re-read: clicks per contact %s, want unchanged", got)
	}
}
