package scenario

import (
	"slices"
	"testing"
	"time"

	"github.com/trustpipe/trustpipe/aggregate/event"
)

// TestStoryIntentData checks the intent-data story from the bytes: before
// the drift no send uses third_party_intent; after it, sends that do draw
// several times the complaints and "too personal" feedback per delivery of
// the other personalized sends (joined by message_id), a visible reason
// lowers them, and fewer personalized sends name their inputs.
func TestStoryIntentData(t *testing.T) {
	const days = 30
	g := mustNew(t, Config{Name: "intent-data", Events: 400000, Days: days, Seed: 7, End: testEnd})
	evs := decodeStream(t, g)
	driftAt := testEnd.Add(-10 * 24 * time.Hour)
	type group struct{ delivered, negative int }
	kind := map[string]string{} // message id -> "intent", "visible", "other" (personalized sends after the drift)
	named := map[bool][2]int{}  // by after drift: personalized sends, those naming inputs
	for _, d := range evs {
		ev := &d.ev
		if ev.Type != event.Send || ev.Personalization == "none" || ev.Personalization == "" {
			continue
		}
		after := !ev.OccurredAt.Before(driftAt)
		n := named[after]
		n[0]++
		if len(ev.Inputs) > 0 {
			n[1]++
		}
		named[after] = n
		intent := slices.Contains(ev.Inputs, "third_party_intent")
		if intent && !after && !ev.OccurredAt.Before(driftAt.Add(-24*time.Hour)) {
			continue // the drift starts within the day before
		}
		if intent && ev.OccurredAt.Before(driftAt.Add(-24*time.Hour)) {
			t.Fatalf("send %s at %s uses intent data before the drift", ev.ID, ev.OccurredAt)
		}
		if !after {
			continue
		}
		switch {
		case intent:
			kind[ev.MessageID] = "intent"
		case ev.ReasonVisible:
			kind[ev.MessageID] = "visible"
		default:
			kind[ev.MessageID] = "other"
		}
	}
	groups := map[string]*group{"intent": {}, "visible": {}, "other": {}}
	for _, d := range evs {
		ev := &d.ev
		k, ok := kind[ev.MessageID]
		if !ok || ev.Type == event.Send {
			continue
		}
		switch {
		case ev.Type == event.Delivered:
			groups[k].delivered++
		case ev.Type == event.Complaint, ev.Type == event.Feedback && ev.Detail == "too_personal":
			groups[k].negative++
		}
	}
	rate := func(k string) float64 { return float64(groups[k].negative) / float64(groups[k].delivered) }
	for k, gr := range groups {
		t.Logf("%s: %d delivered, %d complaints and too-personal (%.4f)", k, gr.delivered, gr.negative, rate(k))
	}
	check(t, groups["intent"].delivered >= 2000, "intent sends delivered %d, want >= 2000", groups["intent"].delivered)
	check(t, rate("intent") > 2.5*rate("other"), "intent rate %.4f, want > 2.5x the other personalized sends' %.4f", rate("intent"), rate("other"))
	check(t, rate("visible") < rate("other"), "visible-reason rate %.4f, want below the others' %.4f", rate("visible"), rate("other"))
	before, after := named[false], named[true]
	check(t, float64(before[1])/float64(before[0]) > 0.95, "before the drift %d of %d personalized sends name inputs", before[1], before[0])
	check(t, float64(after[1])/float64(after[0]) < 0.9, "after the drift %d of %d personalized sends name inputs", after[1], after[0])
}
