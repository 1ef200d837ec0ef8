package aggregate

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trustpipe/trustpipe/aggregate/event"
)

// mrec is one record of a test partition for the message memory: a send or
// a follow-up of message msg.
type mrec struct {
	send         bool
	msg          string
	at           time.Time // Kafka record timestamp
	reject       bool
	inputs       []string
	personalized bool
	reason       string // "", "hidden", "visible"
}

// event builds the record's event; a follow-up's campaign is its offset, so
// its lineage rows tell which facts it was attributed to.
func (r mrec) event(off int64) *event.Event {
	ev := &event.Event{ID: fmt.Sprint("e", off), OccurredAt: r.at, ContactID: "c", Channel: "email", MessageID: r.msg}
	if !r.send {
		ev.Type, ev.CampaignID = event.Complaint, fmt.Sprint("o", off)
		return ev
	}
	ev.Type, ev.Inputs = event.Send, r.inputs
	if r.personalized {
		ev.Personalization = "behavioral"
	}
	if r.reason != "" {
		ev.Reason, ev.ReasonVisible = "r", r.reason == "visible"
	}
	return ev
}

// mOracle attributes every follow-up straight from the definition of
// MessagesConfig, comparing message ids as strings: the newest valid send
// of the id at a lower offset, in the remembered blocks, within the horizon
// before the newer of the follow-up's time and the newest send time so far.
// It returns the facts per follow-up offset, as "facet=fact" sorted, or
// "unattributed".
func mOracle(recs []mrec, block int64, horizon time.Duration, maxMsgs int, models []string) map[int64][]string {
	out := map[int64][]string{}
	back := (int64(maxMsgs) + block - 1) / block
	var newest int64
	for off, r := range recs {
		if r.reject {
			continue
		}
		t := r.at.Unix()
		if r.send {
			newest = max(newest, t)
			continue
		}
		found := -1
		for j := off - 1; j >= 0; j-- {
			if s := recs[j]; s.send && !s.reject && s.msg == r.msg {
				found = j
				break
			}
		}
		if found < 0 || int64(found)/block < int64(off)/block-back || recs[found].at.Unix() <= max(t, newest)-int64(horizon/time.Second) {
			out[int64(off)] = []string{FacetUnattributed + "="}
			continue
		}
		s := recs[found]
		var facts []string
		if len(s.inputs) == 0 && s.personalized {
			facts = append(facts, "input=none")
		}
		for _, in := range s.inputs {
			if m, ok := strings.CutPrefix(in, "model:"); ok && !slices.Contains(models, m) {
				in = "model:other"
			}
			facts = append(facts, "input="+in)
		}
		if s.personalized {
			reason := s.reason
			if reason == "" {
				reason = "none"
			}
			facts = append(facts, "reason="+reason)
		}
		slices.Sort(facts)
		out[int64(off)] = facts
	}
	return out
}

// attributed reads the facts per follow-up offset back from lineage rows
// (campaign "o<offset>"), keeping the highest version per block and key.
type lineageStore struct {
	rows map[LineageKey]map[int64]LineageRow // key → block → row
	msgs map[int64]MessageBlock
}

func newLineageStore() *lineageStore {
	return &lineageStore{rows: map[LineageKey]map[int64]LineageRow{}, msgs: map[int64]MessageBlock{}}
}

func (s *lineageStore) apply(snap *Snapshot) {
	for _, r := range snap.Lineage {
		if s.rows[r.LineageKey] == nil {
			s.rows[r.LineageKey] = map[int64]LineageRow{}
		}
		if old, ok := s.rows[r.LineageKey][r.Block]; !ok || r.Version >= old.Version {
			s.rows[r.LineageKey][r.Block] = r
		}
	}
	for _, m := range snap.Messages {
		if old, ok := s.msgs[m.Block]; !ok || m.Version >= old.Version {
			s.msgs[m.Block] = m
		}
	}
}

// load answers a MessagesQuery as the sink does from ClickHouse.
func (s *lineageStore) load(q HistoryQuery) MessageHistory {
	var h MessageHistory
	var blocks []int64
	for b, m := range s.msgs {
		if b < q.Block {
			h.Watermark = max(h.Watermark, m.Watermark)
		}
		blocks = append(blocks, b)
	}
	slices.Sort(blocks)
	for _, b := range blocks {
		m := s.msgs[b]
		for i := range m.Offsets {
			off, t := m.Base+int64(m.Offsets[i]), int64(m.RecordTimes[i])
			if off >= q.Messages.FromOffset && off < q.Before {
				h.Sends = append(h.Sends, SeenSend{Offset: off, Hash: m.Hashes[i], RecordTime: t,
					Facts: SendFacts{Day: m.Days[i], Inputs: m.Inputs[i], Flags: m.Flags[i]}})
			}
		}
	}
	return h
}

// facts returns the facts per follow-up offset the snapshot's rows hold.
func followUpFacts(rows []LineageRow) map[int64][]string {
	out := map[int64][]string{}
	for _, r := range rows {
		if r.EventType == event.Send {
			continue
		}
		var off int64
		fmt.Sscanf(r.CampaignID, "o%d", &off)
		for range r.Events {
			out[off] = append(out[off], r.Facet+"="+r.Fact)
		}
	}
	for _, f := range out {
		slices.Sort(f)
	}
	return out
}

func newMsgAgg(t *testing.T, block int64, horizon time.Duration, maxMsgs int, models []string) *Aggregator {
	t.Helper()
	a, err := New(Config{BucketSize: time.Minute, BlockSize: block, Dedup: DefaultDedupConfig(),
		Messages: MessagesConfig{Horizon: horizon, MaxMessages: maxMsgs, Models: models}})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func randomMessages(rng *rand.Rand, n int) []mrec {
	tags := []string{"crm", "web_behaviour", "third_party_intent", "enrichment", "model:a", "model:b"}
	recs := make([]mrec, n)
	clock := t0
	for i := range recs {
		clock = clock.Add(time.Duration(rng.IntN(3000)) * time.Millisecond)
		at := clock
		switch rng.IntN(40) {
		case 0, 1, 2:
			at = at.Add(-time.Duration(rng.IntN(200)) * time.Second) // out of order
		case 3:
			at = at.Add(150 * time.Second) // a clock far ahead moves the horizon on
		}
		r := mrec{send: rng.IntN(3) == 0, msg: fmt.Sprint("m", rng.IntN(40)), at: at, reject: rng.IntN(25) == 0}
		if r.send {
			for _, tag := range tags {
				if rng.IntN(4) == 0 {
					r.inputs = append(r.inputs, tag)
				}
			}
			r.personalized = rng.IntN(3) > 0
			r.reason = []string{"", "hidden", "visible"}[rng.IntN(3)]
		}
		recs[i] = r
	}
	return recs
}

func feedMessages(a *Aggregator, recs []mrec, from, to int64) {
	for off := from; off < to; off++ {
		r := recs[off]
		if r.reject {
			a.Reject("t", 0, off)
			continue
		}
		a.Accept("t", 0, off, r.at, r.event(off))
	}
}

// TestMessagesAttributionIsDeterministicAcrossReads checks, on random
// streams of sends and follow-ups with re-used message ids, out-of-order
// record times and rejects, that one read attributes every follow-up as
// the definition says, and that a read restarted at a block start or
// mid-block from the stored history attributes every later follow-up the
// same way: the kill -9 / rebalance / mid-block re-read case.
func TestMessagesAttributionIsDeterministicAcrossReads(t *testing.T) {
	const block = 10
	horizon := 100 * time.Second
	models := []string{"a"}
	blind := 20
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 2))
		maxMsgs := 1 + rng.IntN(40)
		recs := randomMessages(rng, 300)
		want := mOracle(recs, block, horizon, maxMsgs, models)

		full := newMsgAgg(t, block, horizon, maxMsgs, models)
		st := newLineageStore()
		var rows []LineageRow
		for off := range int64(len(recs)) {
			feedMessages(full, recs, off, off+1)
			if rng.IntN(7) == 0 {
				snap := full.Snapshot()
				st.apply(snap)
				rows = append(rows, snap.Lineage...)
			}
		}
		snap := full.Snapshot()
		st.apply(snap)
		rows = append(rows, snap.Lineage...)
		compareFacts(t, fmt.Sprintf("seed %d, one read", seed), latest(rows), want, 0)

		for _, start := range []int64{block, 5 * block, 5*block + 3, 17 * block, 29*block + 9} {
			a := newMsgAgg(t, block, horizon, maxMsgs, models)
			if !a.NeedsHistory("t", 0, start) {
				t.Fatal("a new partition needs its history")
			}
			q := a.HistoryQuery("t", 0, start)
			a.Seed(q, History{Messages: st.load(q)})
			if a.NeedsHistory("t", 0, start) {
				t.Fatal("a seeded partition needs no history")
			}
			feedMessages(a, recs, start, int64(len(recs)))
			compareFacts(t, fmt.Sprintf("seed %d, restart at %d", seed, start), a.Snapshot().Lineage, want, start)
		}
		// Without the seed a restart mid-stream attributes differently:
		// the test can fail.
		a := newMsgAgg(t, block, horizon, maxMsgs, models)
		feedMessages(a, recs, 5*block, int64(len(recs)))
		if got := followUpFacts(a.Snapshot().Lineage); !equalFrom(got, want, 5*block) {
			blind--
		}
	}
	if blind > 10 {
		t.Errorf("an unseeded restart attributed like the full read on %d of 20 streams; the check is blind", blind)
	}
}

// latest keeps, per key and block, the last row of an append-only list.
func latest(rows []LineageRow) []LineageRow {
	m := map[[2]any]LineageRow{}
	for _, r := range rows {
		m[[2]any{r.LineageKey, r.Block}] = r
	}
	out := make([]LineageRow, 0, len(m))
	for _, r := range m {
		out = append(out, r)
	}
	return out
}

func equalFrom(got, want map[int64][]string, from int64) bool {
	for off, w := range want {
		if off >= from && !slices.Equal(got[off], w) {
			return false
		}
	}
	return true
}

func compareFacts(t *testing.T, what string, rows []LineageRow, want map[int64][]string, from int64) {
	t.Helper()
	got := followUpFacts(rows)
	for off, w := range want {
		if off >= from && !slices.Equal(got[off], w) {
			t.Errorf("%s: follow-up at %d attributed %q, want %q", what, off, got[off], w)
		}
	}
	for off := range got {
		if _, ok := want[off]; !ok {
			t.Errorf("%s: offset %d attributed but is no valid follow-up", what, off)
		}
	}
}

func TestMessagesCases(t *testing.T) {
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	send := func(msg string, d time.Duration, inputs ...string) mrec {
		return mrec{send: true, msg: msg, at: at(d), inputs: inputs, personalized: true, reason: "visible"}
	}
	fu := func(msg string, d time.Duration) mrec { return mrec{msg: msg, at: at(d)} }
	cases := []struct {
		name    string
		horizon time.Duration
		maxMsgs int
		recs    []mrec
		want    map[int64][]string
	}{
		{"attributed to its send", time.Hour, 100,
			[]mrec{send("a", 0, "crm", "model:x"), fu("a", time.Minute)},
			map[int64][]string{1: {"input=crm", "input=model:x", "reason=visible"}}},
		{"an unnamed model folds into model:other", time.Hour, 100,
			[]mrec{send("a", 0, "model:y"), fu("a", time.Minute)},
			map[int64][]string{1: {"input=model:other", "reason=visible"}}},
		{"no send", time.Hour, 100, []mrec{fu("a", 0)}, map[int64][]string{0: {"unattributed="}}},
		{"a follow-up before its send", time.Hour, 100, []mrec{fu("a", 0), send("a", 0)},
			map[int64][]string{0: {"unattributed="}}},
		{"past the horizon", time.Hour, 100, []mrec{send("a", 0), fu("a", time.Hour)},
			map[int64][]string{1: {"unattributed="}}},
		{"the horizon follows the newest send", time.Hour, 100,
			[]mrec{send("a", 0), send("b", 2*time.Hour), fu("a", time.Minute)},
			map[int64][]string{2: {"unattributed="}}},
		{"a rejected send is not remembered", time.Hour, 100,
			[]mrec{{send: true, msg: "a", at: at(0), reject: true}, fu("a", 0)},
			map[int64][]string{1: {"unattributed="}}},
		{"the newest send of an id wins", time.Hour, 100,
			[]mrec{send("a", 0, "crm"), send("a", time.Second, "enrichment"), fu("a", time.Minute)},
			map[int64][]string{2: {"input=enrichment", "reason=visible"}}},
		{"past MaxMessages whole blocks a send is forgotten", 24 * time.Hour, 10, // block 10: 1 block back
			append(append([]mrec{send("a", 0)}, fillers(25)...), fu("a", time.Minute)),
			map[int64][]string{26: {"unattributed="}}},
		{"a plain send attributes no fact", time.Hour, 100,
			[]mrec{{send: true, msg: "a", at: at(0)}, fu("a", 0)}, map[int64][]string{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := newMsgAgg(t, 10, c.horizon, c.maxMsgs, []string{"x"})
			feedMessages(a, c.recs, 0, int64(len(c.recs)))
			got := followUpFacts(a.Snapshot().Lineage)
			for off, w := range c.want {
				if !slices.Equal(got[off], w) {
					t.Errorf("offset %d: %q, want %q", off, got[off], w)
				}
			}
			for off, g := range got {
				if _, ok := c.want[off]; !ok {
					t.Errorf("offset %d: unexpected facts %q", off, g)
				}
			}
			want := mOracle(c.recs, 10, c.horizon, c.maxMsgs, []string{"x"})
			for off, w := range c.want {
				if !slices.Equal(want[off], w) {
					t.Errorf("the oracle disagrees with the case at %d: %q", off, want[off])
				}
			}
		})
	}
}

// fillers are plain sends of distinct messages at t0.
func fillers(n int) []mrec {
	out := make([]mrec, n)
	for i := range out {
		out[i] = mrec{send: true, msg: fmt.Sprint("f", i), at: t0}
	}
	return out
}

func TestMessagesMemoryIsBounded(t *testing.T) {
	const block, maxMsgs = 100, 250 // 3 blocks back + the current one
	a := newMsgAgg(t, block, 24*time.Hour, maxMsgs, nil)
	peak := 0
	for off := range int64(5000) {
		a.Accept("t", 0, off, t0, mrec{send: true, msg: fmt.Sprint(off), at: t0}.event(off))
		peak = max(peak, a.MessagesRemembered())
		if off%block == 0 {
			a.Snapshot()
		}
	}
	if peak > 4*block {
		t.Fatalf("remembered up to %d sends, bound is %d", peak, 4*block)
	}
	a = newMsgAgg(t, block, time.Minute, maxMsgs, nil)
	for off := range int64(1000) {
		a.Accept("t", 0, off, t0.Add(time.Duration(off)*time.Second), mrec{send: true, msg: fmt.Sprint(off), at: t0}.event(off))
	}
	if n := a.MessagesRemembered(); n > 61 {
		t.Fatalf("remembered %d sends of a one-minute horizon at one send per second", n)
	}
}

func TestMessagesConfigValidate(t *testing.T) {
	long := strings.Repeat("m", event.MaxInputTagLen)
	many := make([]string, MaxModels+1)
	for i := range many {
		many[i] = fmt.Sprint(i)
	}
	for _, c := range []MessagesConfig{{Horizon: time.Millisecond, MaxMessages: 1}, {Horizon: time.Hour}, {Horizon: time.Hour, MaxMessages: maxDedupIDs + 1},
		{Horizon: time.Hour, MaxMessages: 1, Models: []string{""}}, {Horizon: time.Hour, MaxMessages: 1, Models: []string{"a", "a"}},
		{Horizon: time.Hour, MaxMessages: 1, Models: []string{long}}, {Horizon: time.Hour, MaxMessages: 1, Models: many}} {
		if _, err := New(Config{BucketSize: time.Minute, BlockSize: 10, Messages: c}); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	if _, err := New(Config{BucketSize: time.Minute, BlockSize: 10, Messages: MessagesConfig{Models: []string{""}}}); err != nil {
		t.Errorf("off, yet refused: %v", err)
	}
}
