package scenario

import (
	"testing"
	"time"

	"github.com/trustpipe/trustpipe/aggregate/event"
)

// breaches counts, in a decoded stream in record order, the sends to a
// contact who unsubscribed from the send's channel 48 h or more before
// (an opt-up on the channel after the unsubscribe undoes it), and the
// personalized sends claiming a tier above the contact's latest consent
// record, by sending source.
func breaches(evs []decoded) (postUnsub, overclaim map[string]int, sends int) {
	type key struct{ contact, channel string }
	unsub := map[key]time.Time{}
	tier := map[string]uint8{}
	postUnsub, overclaim = map[string]int{}, map[string]int{}
	for i := range evs {
		ev := &evs[i].ev
		k := key{ev.ContactID, ev.Channel}
		switch ev.Type {
		case event.Unsubscribe:
			if at, ok := unsub[k]; !ok || ev.OccurredAt.Before(at) {
				unsub[k] = ev.OccurredAt
			}
		case event.OptUp:
			if at, ok := unsub[k]; ok && ev.OccurredAt.After(at) {
				delete(unsub, k)
			}
		case event.ConsentChange:
			tier[ev.ContactID] = ev.ToTier
		case event.Send:
			sends++
			if at, ok := unsub[k]; ok && !ev.OccurredAt.Before(at.Add(48*time.Hour)) {
				postUnsub[ev.Source]++
			}
			if r, ok := tier[ev.ContactID]; ok && r > 0 && ev.ConsentTier > r && ev.Personalization != "none" {
				overclaim[ev.Source]++
			}
		}
	}
	return postUnsub, overclaim, sends
}

// TestHonestProgrammesHonourUnsubscribes: no scenario but
// ignored-unsubscribes mails a contact who unsubscribed, or claims more
// consent than recorded; there, the legacy platform does the first and
// the intent sync the second, in the last week only.
func TestHonestProgrammesHonourUnsubscribes(t *testing.T) {
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			evs := decodeStream(t, mustNew(t, Config{Name: name, Events: 200000, Days: 28, Seed: 4, End: testEnd}))
			post, over, sends := breaches(evs)
			t.Logf("%s: %d sends; after unsubscribe %v; above the consent record %v", name, sends, post, over)
			if name != "ignored-unsubscribes" {
				if len(post) > 0 || len(over) > 0 {
					t.Errorf("an honest programme breached: after unsubscribe %v, above the record %v", post, over)
				}
				return
			}
			if len(post) != 1 || post[sourceLegacy] < 50 {
				t.Errorf("after unsubscribe %v, want only %s, at least 50", post, sourceLegacy)
			}
			if len(over) != 1 || over[sourceIntent] < 50 {
				t.Errorf("above the record %v, want only %s, at least 50", over, sourceIntent)
			}
			weekAgo := testEnd.Add(-8 * 24 * time.Hour)
			for _, d := range evs {
				if d.ev.Type == event.Send && (d.ev.Source == sourceLegacy || d.ev.Source == sourceIntent) && d.ev.OccurredAt.Before(weekAgo) {
					t.Fatalf("a rogue send at %v, before the last week", d.ev.OccurredAt)
				}
			}
		})
	}
}
