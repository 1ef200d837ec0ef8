package aggregate

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/trustpipe/trustpipe/aggregate/event"
)

var t0 = time.Date(2026, 11, 1, 10, 0, 30, 0, time.UTC)

func ev(typ event.Type, campaign string, at time.Time) *event.Event {
	return &event.Event{ID: "e", Type: typ, OccurredAt: at, ContactID: "c1", CampaignID: campaign, Channel: "email"}
}

// store simulates ReplacingMergeTree: per (key, block) it keeps the row
// with the highest version, the last one on equal versions.
type store map[string]CountRow

func (s store) apply(snap *Snapshot) {
	for _, r := range snap.Counts {
		id := fmt.Sprintf("%v|%v", r.Key, r.BlockRef)
		if old, ok := s[id]; !ok || r.Version >= old.Version {
			s[id] = r
		}
	}
}

func (s store) total() (n uint64) {
	for _, r := range s {
		n += r.Events
	}
	return n
}

func newAgg(t *testing.T, block int64) *Aggregator {
	t.Helper()
	a, err := New(Config{BucketSize: time.Minute, BlockSize: block})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestBucketsAndDimensions(t *testing.T) {
	a := newAgg(t, 100)
	a.Accept("t", 0, 0, t0, ev(event.Click, "a", t0))
	a.Accept("t", 0, 1, t0, ev(event.Click, "a", t0.Add(20*time.Second))) // same minute
	a.Accept("t", 0, 2, t0, ev(event.Click, "a", t0.Add(40*time.Second))) // next minute
	a.Accept("t", 0, 3, t0, ev(event.Click, "b", t0))                     // other campaign
	sent := ev(event.Sentiment, "a", t0)
	sent.Score = 0.25
	a.Accept("t", 0, 4, t0, sent)
	sent2 := ev(event.Sentiment, "a", t0)
	sent2.Score = -0.5
	a.Accept("t", 0, 5, t0, sent2)
	snap := a.Snapshot()
	var got []string
	for _, r := range snap.Counts {
		got = append(got, fmt.Sprintf("%s %s %s events=%d nanos=%d v=%d",
			time.Unix(r.Bucket, 0).UTC().Format("15:04"), r.EventType, r.CampaignID, r.Events, r.ValueNanos, r.Version-versionEpoch))
	}
	sort.Strings(got)
	// Version − epoch = ((block size − 1 − where the read began in the
	// block) × block size + last offset in the block) × 2 = (99×100 + 5)×2.
	want := []string{
		"10:00 click a events=2 nanos=0 v=19810",
		"10:00 click b events=1 nanos=0 v=19810",
		"10:00 sentiment a events=2 nanos=-250000000 v=19810",
		"10:01 click a events=1 nanos=0 v=19810",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(snap.Ledger) != 1 || snap.Ledger[0].Consumed != 6 || snap.Ledger[0].Complete {
		t.Fatalf("ledger = %+v, want one open row with 6 consumed", snap.Ledger)
	}
	if len(snap.Commits) != 0 {
		t.Fatalf("commits %v before any block completed", snap.Commits)
	}
}

// Skipped offsets (transaction markers, aborted records) advance the block
// and complete it like any other offset, but count neither as accepted nor
// as rejected, and a re-delivered one is not counted twice.
func TestSkipAccountsOffsetsWithoutCounting(t *testing.T) {
	a := newAgg(t, 10)
	for off := int64(0); off < 12; off++ {
		switch {
		case off == 4 || off == 5 || off == 9:
			a.Skip("t", 0, off)
		case off == 7:
			a.Reject("t", 0, off)
		default:
			a.Accept("t", 0, off, t0, ev(event.Open, "a", t0))
		}
	}
	if a.Skip("t", 0, 11) {
		t.Fatal("re-delivered offset 11 skipped again")
	}
	snap := a.Snapshot()
	want := []LedgerRow{
		{BlockRef: BlockRef{"t", 0, 0}, FirstOffset: 0, LastOffset: 9, Consumed: 7, Accepted: 6, Rejected: 1, Skipped: 3, Complete: true, Version: versionEpoch + 199},
		{BlockRef: BlockRef{"t", 0, 1}, FirstOffset: 10, LastOffset: 11, Consumed: 2, Accepted: 2, Version: versionEpoch + 182}, // (9×10 + 1)×2
	}
	sort.Slice(snap.Ledger, func(i, j int) bool { return snap.Ledger[i].Block < snap.Ledger[j].Block })
	if !reflect.DeepEqual(snap.Ledger, want) {
		t.Fatalf("ledger = %+v\nwant %+v", snap.Ledger, want)
	}
	if len(snap.Commits) != 1 || snap.Commits[0] != (Position{"t", 0, 9}) {
		t.Fatalf("commits = %v, want t/0 up to offset 9", snap.Commits)
	}
	var events uint64
	for _, r := range snap.Counts {
		events += r.Events
	}
	if events != 8 {
		t.Fatalf("counted %d events, want the 8 accepted", events)
	}
}

func TestCommitsOnlyCompletedBlocks(t *testing.T) {
	a := newAgg(t, 10)
	for off := int64(0); off < 25; off++ {
		if off%7 == 3 {
			a.Reject("t", 1, off)
			continue
		}
		a.Accept("t", 1, off, t0, ev(event.Open, "a", t0))
	}
	snap := a.Snapshot()
	if len(snap.Commits) != 1 || snap.Commits[0] != (Position{"t", 1, 19}) {
		t.Fatalf("commits = %v, want t/1 up to offset 19 (end of block 1)", snap.Commits)
	}
	byBlock := map[int64]LedgerRow{}
	for _, l := range snap.Ledger {
		byBlock[l.Block] = l
		if l.Consumed != l.Accepted+l.Rejected {
			t.Fatalf("ledger row %+v: consumed != accepted + rejected", l)
		}
	}
	want := map[int64]LedgerRow{
		// Ledger versions − epoch: ((9 − (first − block start))×10 + last
		// − block start)×2, +1 when complete.
		0: {BlockRef: BlockRef{"t", 1, 0}, FirstOffset: 0, LastOffset: 9, Consumed: 10, Accepted: 9, Rejected: 1, Complete: true, Version: versionEpoch + 199},
		1: {BlockRef: BlockRef{"t", 1, 1}, FirstOffset: 10, LastOffset: 19, Consumed: 10, Accepted: 8, Rejected: 2, Complete: true, Version: versionEpoch + 199}, // offsets 10 and 17 rejected,
		2: {BlockRef: BlockRef{"t", 1, 2}, FirstOffset: 20, LastOffset: 24, Consumed: 5, Accepted: 4, Rejected: 1, Version: versionEpoch + 188},
	}
	for b, w := range want {
		if byBlock[b] != w {
			t.Errorf("block %d ledger = %+v, want %+v", b, byBlock[b], w)
		}
	}
	if a.Pending() != 0 {
		t.Fatalf("pending %d after snapshot", a.Pending())
	}
	if again := a.Snapshot(); !again.Empty() {
		t.Fatalf("second snapshot without input = %+v, want empty", again)
	}
}

// TestRereadIsIdempotent replays a partition from a block start after
// flushes, as a restart or rebalance does, and checks the replacement
// semantics keep the total exact — and that re-deliveries inside the
// current block are not counted twice.
func TestRereadIsIdempotent(t *testing.T) {
	cases := []struct {
		name   string
		script []int64 // offsets in delivery order; -1 means "snapshot now"
		want   uint64
	}{
		{"straight", []int64{0, 1, 2, 3, 4, 5, 6, 7, -1}, 8},
		{"restart from block start", []int64{0, 1, 2, 3, 4, 5, -1, 4, 5, 6, -1, 0, 1, 2, 3, 4, 5, 6, 7, -1}, 8},
		{"re-delivery inside block is skipped", []int64{0, 1, 2, 1, 2, 3, -1, 4, 5, 6, 7, -1}, 8},
		{"stale flush after newer", []int64{4, 5, 6, 7, -1, 0, 1, 2, 3, 4, 5, 6, 7, -1}, 8},
		{"re-read of earlier block after partial flush", []int64{0, 1, 2, 3, 4, -1, 5, 6, -1, 0, 1, 2, 3, 4, 5, 6, 7, -1}, 8},
		// A read that starts mid-block (retention deleted offsets 0–1, or the
		// group lost its offsets) reaches the same last offset as the
		// complete read before it: the complete rows must win the tie.
		{"partial re-read from mid-block after a complete read", []int64{0, 1, 2, 3, 4, 5, 6, 7, 8, -1, 2, 3, 4, 5, 6, 7, 8, -1}, 9},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := newAgg(t, 4)
			st := store{}
			for _, off := range tc.script {
				if off < 0 {
					st.apply(a.Snapshot())
					continue
				}
				a.Accept("t", 0, off, t0, ev(event.Click, "a", t0))
			}
			if got := st.total(); got != tc.want {
				t.Fatalf("stored total = %d, want %d", got, tc.want)
			}
		})
	}
}

// TestCommitsAreBlockStarts: a block that completes without its last
// offsets (gaps, or a partition moved away and back) still commits its
// nominal end, so every committed offset is a block start.
func TestCommitsAreBlockStarts(t *testing.T) {
	a := newAgg(t, 10)
	a.Accept("t", 0, 3, t0, ev(event.Click, "a", t0))
	a.Accept("t", 0, 4, t0, ev(event.Click, "a", t0))
	a.Accept("t", 0, 31, t0, ev(event.Click, "a", t0)) // jump to block 3
	snap := a.Snapshot()
	if len(snap.Commits) != 1 || snap.Commits[0].Offset != 9 {
		t.Fatalf("commits = %v, want offset 9 (block 0's end)", snap.Commits)
	}
}

func TestEngagedContactsDeduplicatedPerBlock(t *testing.T) {
	a := newAgg(t, 100)
	a.Accept("t", 0, 0, t0, ev(event.Click, "a", t0))
	a.Accept("t", 0, 1, t0, ev(event.Click, "a", t0.Add(time.Hour)))
	machine := ev(event.Open, "a", t0)
	machine.Detail = event.DetailMachine
	a.Accept("t", 0, 2, t0, machine)
	a.Accept("t", 0, 3, t0, ev(event.Delivered, "a", t0))
	snap := a.Snapshot()
	if len(snap.Contacts) != 1 || snap.Contacts[0].Contact != "c1" {
		t.Fatalf("contacts = %+v, want one engaged contact, stored as given", snap.Contacts)
	}
	if snap.Contacts[0].Day != time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC).Unix() {
		t.Fatalf("contact day = %d", snap.Contacts[0].Day)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []struct {
		cfg   Config
		want  error
		value string
	}{
		{Config{BucketSize: 7 * time.Minute, BlockSize: 1}, ErrBucketSize, "7m0s"},
		{Config{BucketSize: 0, BlockSize: 5}, ErrBucketSize, "0s"},
		{Config{BucketSize: time.Minute}, ErrBlockSize, "got 0"},
		{Config{BucketSize: time.Minute, BlockSize: MaxBlockSize + 1}, ErrBlockSize, "got 1000001"},
	} {
		err := c.cfg.Validate()
		if !errors.Is(err, c.want) || !strings.Contains(fmt.Sprint(err), c.value) {
			t.Errorf("%+v: err = %v, want %v naming %q", c.cfg, err, c.want, c.value)
		}
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
}

// TestAcceptRecordCountsAllEventsAtOneOffset: a record of three events is
// one accepted offset in the ledger and three events in the counts; its
// re-delivery counts nothing, and with dedup on a re-sent copy at a later
// offset is a duplicate as a whole.
func TestAcceptRecordCountsAllEventsAtOneOffset(t *testing.T) {
	at := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	evs := []event.Event{
		{ID: "a", Type: event.Delivered, OccurredAt: at, Channel: "email"},
		{ID: "b", Type: event.Open, OccurredAt: at, Channel: "email", ContactID: "c"},
		{ID: "c", Type: event.Open, OccurredAt: at, Channel: "email", ContactID: "c"},
	}
	for _, dedup := range []bool{false, true} {
		cfg := Config{BucketSize: time.Minute, BlockSize: 100}
		if dedup {
			cfg.Dedup = DedupConfig{Window: time.Hour, MaxIDs: 1000}
		}
		a, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if dedup {
			a.Seed(a.HistoryQuery("t", 0, 0), History{})
		}
		outcomes := []Outcome{
			a.AcceptRecord("t", 0, 0, at, "abc", evs),
			a.AcceptRecord("t", 0, 0, at, "abc", evs), // re-delivered offset
			a.AcceptRecord("t", 0, 1, at, "abc", evs), // re-sent record
			a.AcceptRecord("t", 0, 2, at, "", nil),    // all events skipped
		}
		wantDup := map[bool]Outcome{false: Counted, true: Duplicate}[dedup]
		if want := []Outcome{Counted, Redelivered, wantDup, Counted}; fmt.Sprint(outcomes) != fmt.Sprint(want) {
			t.Errorf("dedup %v: outcomes %v, want %v", dedup, outcomes, want)
		}
		s := a.Snapshot()
		var events uint64
		for _, r := range s.Counts {
			events += r.Counts.Events
		}
		wantEvents := map[bool]uint64{false: 6, true: 3}[dedup]
		if events != wantEvents || len(s.Ledger) != 1 || s.Ledger[0].Accepted != 3 || s.Ledger[0].Consumed != 3 {
			t.Errorf("dedup %v: %d events, ledger %+v; want %d events and 3 accepted offsets", dedup, events, s.Ledger, wantEvents)
		}
	}
}

// Delivery outcomes and follow-ups are counted in the cohort of the send they
// follow: sent_at's hour when given, else the event's own hour flagged as
// campaign-only attribution. Events that follow no message have no cohort.
// Unique rows keep each recipient, human opener and human clicker once per
// campaign and send day.
func TestCohortsAndUniques(t *testing.T) {
	a := newAgg(t, 100)
	blast := time.Date(2026, 11, 1, 9, 0, 5, 0, time.UTC)
	later := blast.Add(26 * time.Hour) // the next day, 11:00
	add := func(off int64, typ event.Type, contact string, at, sentAt time.Time, detail string) {
		e := ev(typ, "blast", at)
		e.ContactID, e.SentAt, e.Detail = contact, sentAt, detail
		if typ == event.Complaint {
			e.MailboxProvider, e.SendingDomain = "gmail", "news.example.com"
		}
		a.Accept("t", 0, off, e.OccurredAt, e)
	}
	add(0, event.Delivered, "c1", blast, time.Time{}, "")
	add(1, event.Delivered, "c2", blast.Add(30*time.Minute), time.Time{}, "")
	add(2, event.Open, "c1", later, blast, "")                  // late open, attributed to the blast hour
	add(3, event.Open, "c1", later.Add(time.Minute), blast, "") // repeat open: counted, unique once
	add(4, event.Open, "c2", later, blast, event.DetailMachine)
	add(5, event.Click, "c2", later, blast, event.DetailBot)
	add(6, event.Unsubscribe, "c2", later, time.Time{}, "") // no sent_at: its own hour, campaign only
	add(7, event.Complaint, "c1", later, blast, "")
	add(8, event.WebSession, "c1", later, time.Time{}, "direct") // follows no message
	add(9, event.Send, "c3", blast, time.Time{}, "")
	snap := a.Snapshot()
	var got []string
	for _, r := range snap.Cohorts {
		got = append(got, fmt.Sprintf("%s send=%v %s %q %s %s %s %s n=%d",
			time.Unix(r.Cohort, 0).UTC().Format("02 15:04"), r.BySendTime, r.EventType, r.Detail,
			r.CampaignID, r.Channel, r.MailboxProvider, r.SendingDomain, r.Events))
	}
	sort.Strings(got)
	want := []string{
		`01 09:00 send=true click "bot" blast email   n=1`,
		`01 09:00 send=true complaint "" blast email gmail news.example.com n=1`,
		`01 09:00 send=true delivered "" blast email   n=2`,
		`01 09:00 send=true open "" blast email   n=2`,
		`01 09:00 send=true open "machine" blast email   n=1`,
		`02 11:00 send=false unsubscribe "" blast email   n=1`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("cohort rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	got = got[:0]
	for _, u := range snap.Uniques {
		got = append(got, fmt.Sprintf("%s %s %s %s", time.Unix(u.Day, 0).UTC().Format("01-02"), u.CampaignID, u.Kind, u.Contact))
	}
	sort.Strings(got)
	want = []string{"11-01 blast delivered c1", "11-01 blast delivered c2", "11-01 blast open c1"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("unique rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, r := range snap.Cohorts {
		if r.Version != snap.Counts[0].Version {
			t.Errorf("cohort row version %d, count row version %d: one block snapshot, one version", r.Version, snap.Counts[0].Version)
		}
	}
}
