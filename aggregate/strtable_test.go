package aggregate

import (
	"math/rand/v2"
	"testing"
	"time"
	"unsafe"

	"github.com/trustpipe/trustpipe/aggregate/event"
)

// TestPackedCountKeysMatchOracle counts random events whose dimensions
// share values across fields (the same string as campaign, channel and
// source; the empty string) through small blocks on two partitions, with
// snapshots in between, and compares the stored totals per Key with a
// map[Key] counted directly from the events. The events' strings alias a
// buffer that is overwritten after each event, as decoded events alias
// the fetched record, so a string the block's table kept without cloning
// would show up as a wrong key.
func TestPackedCountKeysMatchOracle(t *testing.T) {
	a := newAgg(t, 7)
	pool := []string{"", "a", "b", "email", "ab"}
	types := []event.Type{event.Open, event.Click, event.Delivered, event.Unsubscribe}
	rng := rand.New(rand.NewPCG(13, 1))
	want := map[Key]uint64{}
	st := store{}
	var buf []byte
	alias := func(s string) string { // s in buf, valid until buf is overwritten
		if s == "" {
			return ""
		}
		start := len(buf)
		buf = append(buf, s...)
		return unsafe.String(&buf[start], len(s))
	}
	offsets := [2]int64{}
	for i := range 3000 {
		buf = make([]byte, 0, 64)
		pick := func() string { return pool[rng.IntN(len(pool))] }
		e := &event.Event{ID: "e", Type: types[rng.IntN(len(types))], OccurredAt: t0.Add(time.Duration(rng.IntN(5)) * time.Minute),
			ContactID: alias("c"), CampaignID: alias(pick()), Channel: alias(pick()), Segment: alias(pick()), Source: alias(pick()),
			Personalization: alias(pick()), Detail: alias(pick()), ConsentTier: uint8(rng.IntN(3))}
		k := Key{Bucket: e.OccurredAt.Unix() / 60 * 60, EventType: e.Type, Detail: e.Detail, CampaignID: e.CampaignID, Channel: e.Channel,
			Segment: e.Segment, Source: e.Source, Personalization: e.Personalization, ConsentTier: e.ConsentTier}
		k.Detail, k.CampaignID, k.Channel = string([]byte(k.Detail)), string([]byte(k.CampaignID)), string([]byte(k.Channel))
		k.Segment, k.Source, k.Personalization = string([]byte(k.Segment)), string([]byte(k.Source)), string([]byte(k.Personalization))
		part := int32(rng.IntN(2))
		// Every event is valid, at an offset of its own, with dedup off:
		// each must count.
		if out := a.Accept("t", part, offsets[part], t0, e); out != Counted {
			t.Fatalf("event %d (%+v): outcome %v, want Counted", i, k, out)
		}
		want[k]++
		offsets[part]++
		for j := range buf {
			buf[j] = '#'
		}
		if i%13 == 12 {
			st.apply(a.Snapshot())
		}
	}
	st.apply(a.Snapshot())
	got := map[Key]uint64{}
	for _, r := range st {
		got[r.Key] += r.Events
	}
	if len(want) == 0 || len(got) != len(want) {
		t.Fatalf("%d stored keys, want %d", len(got), len(want))
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("key %+v: stored %d events, want %d", k, got[k], n)
		}
	}
}
