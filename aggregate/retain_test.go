package aggregate

import (
	"testing"
	"unsafe"

	"github.com/trustpipe/trustpipe/aggregate/event"
)

// TestKeysDoNotAliasRecords: decoded events alias the fetched record's
// bytes, so keys and contact rows must copy their strings, or one stored key
// keeps a whole record alive. The test builds an event whose strings point
// into a record buffer, as the zero-copy decoder does, then reuses the
// buffer: stored rows must still carry the original values.
func TestKeysDoNotAliasRecords(t *testing.T) {
	record := []byte("camp-1|email|seg-a|web|first_name|human|pseudonym-1")
	at := func(from, to int) string { return unsafe.String(&record[from], to-from) }
	e := &event.Event{
		Type: event.Click, OccurredAt: t0,
		CampaignID: at(0, 6), Channel: at(7, 12), Segment: at(13, 18), Source: at(19, 22),
		Personalization: at(23, 33), Detail: at(34, 39), ContactID: at(40, 51),
	}
	a := newAgg(t, 100)
	a.Accept("t", 0, 0, t0, e)
	for i := range record {
		record[i] = 'x' // the fetch buffer is reused or, in the pipeline, garbage
	}
	snap := a.Snapshot()
	k := snap.Counts[0].Key
	if k.CampaignID != "camp-1" || k.Channel != "email" || k.Segment != "seg-a" || k.Source != "web" || k.Personalization != "first_name" || k.Detail != "human" {
		t.Errorf("count key aliases the record: %+v", k)
	}
	c := snap.Contacts[0]
	if c.CampaignID != "camp-1" || c.Channel != "email" || c.Segment != "seg-a" || c.Source != "web" || c.Contact != "pseudonym-1" {
		t.Errorf("contact row aliases the record: %+v", c)
	}
}

// TestAcceptExistingKeyAllocatesNothing keeps the hot path free of copies:
// only a new key pays for cloning its strings.
func TestAcceptExistingKeyAllocatesNothing(t *testing.T) {
	a := newAgg(t, MaxBlockSize)
	e := ev(event.Click, "camp-1", t0)
	off := int64(0)
	a.Accept("t", 0, off, t0, e)
	allocs := testing.AllocsPerRun(1000, func() {
		off++
		a.Accept("t", 0, off, t0, e)
	})
	if allocs != 0 {
		t.Fatalf("Accept of an existing key: %.1f allocs, want 0", allocs)
	}
}
