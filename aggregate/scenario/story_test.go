package scenario

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/trustpipe/trustpipe/aggregate/event"
)

// The story tests look at the decoded stream the way a marketing-ops
// analyst would — per channel, per message, per week — and check the send
// patterns and stories the package documentation promises. Everything is
// derived from the bytes, not from the generator's internals.

// decoded is one decoded valid record with its stream position.
type decoded struct {
	pos int
	ev  event.Event
}

// decodeStream runs g to the end and returns its valid records decoded
// (with their own copy of the bytes) and the invalid ones' count.
func decodeStream(t *testing.T, g *Generator) []decoded {
	t.Helper()
	dec := event.NewDecoder(event.DefaultLimits())
	var out []decoded
	for i := 0; ; i++ {
		r, ok := g.Next()
		if !ok {
			break
		}
		if r.Invalid != "" {
			continue
		}
		r = r.Clone()
		var ev event.Event
		if rej := dec.Decode(r.Value, r.Time, &ev); rej != nil {
			t.Fatalf("record %d rejected: %v", i, rej)
		}
		out = append(out, decoded{i, ev})
	}
	return out
}

// weekly splits the period ending at end into whole weeks, oldest first,
// and applies f to each week's events.
func weekly(evs []decoded, end time.Time, weeks int, f func(w int, ev *event.Event)) {
	for i := range evs {
		ev := &evs[i].ev
		w := weeks - 1 - int(end.Sub(ev.OccurredAt)/(7*24*time.Hour))
		if w >= 0 {
			f(w, ev)
		}
	}
}

type weekFigures struct {
	delivered, clicks, botClicks, unsubs, complaints int
	engaged                                          map[string]bool // contacts with a human open or click
}

func (w weekFigures) ctr() float64 { return float64(w.clicks) / float64(w.delivered) }

// emailWeeks returns the weekly email figures.
func emailWeeks(evs []decoded, end time.Time, weeks int) []weekFigures {
	ws := make([]weekFigures, weeks)
	for i := range ws {
		ws[i].engaged = map[string]bool{}
	}
	weekly(evs, end, weeks, func(w int, ev *event.Event) {
		if ev.Channel != "email" {
			return
		}
		f := &ws[w]
		switch ev.Type {
		case event.Delivered:
			f.delivered++
		case event.Click:
			if ev.Detail == event.DetailBot {
				f.botClicks++
				return
			}
			f.clicks++
			f.engaged[ev.ContactID] = true
		case event.Open:
			if ev.Detail != event.DetailMachine {
				f.engaged[ev.ContactID] = true
			}
		case event.Unsubscribe:
			f.unsubs++
		case event.Complaint:
			f.complaints++
		}
	})
	return ws
}

// TestStoryWeekly checks each scenario's week-over-week story on email.
func TestStoryWeekly(t *testing.T) {
	const weeks = 6
	tests := []struct {
		name  string
		check func(t *testing.T, ws []weekFigures)
	}{
		{"trust-spiral", func(t *testing.T, ws []weekFigures) {
			// The first half is steady; over the second half CTR rises
			// week over week while the engaged audience shrinks (from the
			// second week of the drift on: in the first, sending more still
			// reaches about as many people as the audience loses).
			for w := weeks/2 + 1; w < weeks; w++ {
				check(t, ws[w].ctr() > ws[w-1].ctr(), "week %d: CTR %.4f not above week %d's %.4f", w, ws[w].ctr(), w-1, ws[w-1].ctr())
				check(t, len(ws[w].engaged) < len(ws[w-1].engaged), "week %d: %d engaged contacts, not fewer than week %d's %d", w, len(ws[w].engaged), w-1, len(ws[w-1].engaged))
			}
			f, l := ws[0], ws[weeks-1]
			check(t, l.ctr() > 1.3*f.ctr(), "CTR %.4f -> %.4f, want +30%%", f.ctr(), l.ctr())
			check(t, len(l.engaged) < len(f.engaged)/2, "engaged contacts %d -> %d, want halved", len(f.engaged), len(l.engaged))
			check(t, float64(l.complaints)/float64(l.delivered) > 0.003, "last week's email complaint rate %.4f, want > 0.3%%", float64(l.complaints)/float64(l.delivered))
		}},
		{"healthy", func(t *testing.T, ws []weekFigures) {
			for w, f := range ws {
				u := float64(f.unsubs) / float64(f.delivered)
				c := float64(f.complaints) / float64(f.delivered)
				check(t, within(u, 0.0015, 0.0026), "week %d: email unsubscribe rate %.4f, want ~0.2%%", w, u)
				check(t, c < 0.0007, "week %d: email complaint rate %.4f, want well under 0.1%%", w, c)
				check(t, within(f.ctr(), 0.03, 0.04), "week %d: CTR %.4f, want ~3.5%%", w, f.ctr())
				bot := float64(f.botClicks) / float64(f.clicks+f.botClicks)
				check(t, within(bot, 0.08, 0.25), "week %d: bot share of clicks %.3f", w, bot)
				// Distinct engaged contacts vary with the segments the week's
				// blasts target, but do not trend.
				check(t, within(float64(len(f.engaged))/float64(len(ws[0].engaged)), 0.7, 1.3), "week %d: %d engaged contacts vs %d in week 0", w, len(f.engaged), len(ws[0].engaged))
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := mustNew(t, Config{Name: tt.name, Events: 500000, Days: 7 * weeks, Seed: 3, End: testEnd})
			ws := emailWeeks(decodeStream(t, g), testEnd, weeks)
			for w, f := range ws {
				t.Logf("week %d: %d delivered, CTR %.4f, %d engaged contacts, unsub %.4f, complaints %.4f, bot clicks %d",
					w, f.delivered, f.ctr(), len(f.engaged), float64(f.unsubs)/float64(f.delivered), float64(f.complaints)/float64(f.delivered), f.botClicks)
			}
			tt.check(t, ws)
		})
	}
}

// TestSendPatterns checks the blast, the follow-ups' attribution to their
// sends and their delays, and the email-only fields.
func TestSendPatterns(t *testing.T) {
	cfg := Config{Name: "healthy", Events: 200000, Days: 14, Seed: 11, End: testEnd}
	evs := decodeStream(t, mustNew(t, cfg))
	begin := testEnd.Add(-14 * 24 * time.Hour)

	// The daily blast: for every whole day, most email sends of the day go
	// out in one hour, the blast hour.
	type dayHour struct {
		day  time.Time
		hour int
	}
	sends := map[dayHour]int{}
	perDay := map[time.Time]int{}
	type msg struct {
		campaign, contact string
		at                time.Time
	}
	msgs := map[string]msg{}
	channels := map[string]int{}
	for _, d := range evs {
		ev := &d.ev
		if ev.Type == event.Send {
			channels[ev.Channel]++
			if _, dup := msgs[ev.MessageID]; dup {
				t.Fatalf("message_id %s sent twice", ev.MessageID)
			}
			msgs[ev.MessageID] = msg{ev.CampaignID, ev.ContactID, ev.OccurredAt}
			if ev.Channel == "email" {
				day := ev.OccurredAt.Truncate(24 * time.Hour)
				sends[dayHour{day, ev.OccurredAt.Hour()}]++
				perDay[day]++
			}
		}
		email := ev.Channel == "email"
		if email != (ev.MailboxProvider != "") || email != (ev.SendingDomain != "") {
			t.Fatalf("%v on %s: mailbox_provider %q sending_domain %q", ev.Type, ev.Channel, ev.MailboxProvider, ev.SendingDomain)
		}
	}
	for _, ch := range campaignChannels {
		check(t, channels[ch] > 0, "no sends on channel %s: %v", ch, channels)
	}
	t.Logf("sends by channel: %v", channels)
	for day, n := range perDay {
		if day.Before(begin) || !day.Add(24*time.Hour).Before(testEnd) {
			continue // partial days
		}
		share := float64(sends[dayHour{day, blastHour}]) / float64(n)
		check(t, share > 0.5, "%v: blast hour carries %.2f of %d email sends, want most", day, share, n)
	}

	// Follow-ups: the campaign, contact and sent_at of the send they follow
	// (sends before the period are not in the stream), after it.
	delays := map[event.Type][]time.Duration{}
	for _, d := range evs {
		ev := &d.ev
		switch ev.Type {
		case event.Send, event.WebSession, event.Sentiment, event.ConsentChange, event.FormFill, event.OptUp:
			if !ev.SentAt.IsZero() {
				t.Fatalf("%v with sent_at", ev.Type)
			}
			continue
		}
		if ev.MessageID == "" || ev.SentAt.IsZero() || ev.CampaignID == "" {
			t.Fatalf("%v without message_id, sent_at or campaign_id: %+v", ev.Type, ev)
		}
		if !ev.SentAt.Before(ev.OccurredAt.Add(time.Millisecond)) {
			t.Fatalf("%v at %v before its send at %v", ev.Type, ev.OccurredAt, ev.SentAt)
		}
		m, ok := msgs[ev.MessageID]
		if !ok {
			if !ev.SentAt.Before(begin) {
				t.Fatalf("%v follows message %s not sent", ev.Type, ev.MessageID)
			}
			continue
		}
		if m.campaign != ev.CampaignID || m.contact != ev.ContactID || !m.at.Equal(ev.SentAt) {
			t.Fatalf("%v of message %s: campaign %s contact %s sent_at %v; the send: %+v", ev.Type, ev.MessageID, ev.CampaignID, ev.ContactID, ev.SentAt, m)
		}
		key := ev.Type
		if ev.Detail == event.DetailMachine || ev.Detail == event.DetailBot {
			key = 0 // machine opens and bot clicks apart
		}
		delays[key] = append(delays[key], ev.OccurredAt.Sub(ev.SentAt))
	}
	q := func(ty event.Type, p float64) time.Duration {
		ds := delays[ty]
		slices.Sort(ds)
		return ds[int(p*float64(len(ds)-1))]
	}
	tests := []struct {
		typ          event.Type
		medLo, medHi time.Duration
		p90Lo, p90Hi time.Duration
	}{
		{event.Delivered, 0, time.Minute, 0, 5 * time.Minute},
		{0, 0, 10 * time.Minute, 0, time.Hour}, // machine opens and scanner clicks
		{event.Open, 30 * time.Minute, 4 * time.Hour, 4 * time.Hour, 24 * time.Hour},
		{event.Click, 30 * time.Minute, 5 * time.Hour, 4 * time.Hour, 30 * time.Hour},
		{event.Unsubscribe, 2 * time.Hour, 12 * time.Hour, 12 * time.Hour, 3 * 24 * time.Hour},
		{event.Complaint, 4 * time.Hour, 24 * time.Hour, 24 * time.Hour, 7 * 24 * time.Hour},
	}
	for _, tt := range tests {
		med, p90 := q(tt.typ, 0.5), q(tt.typ, 0.9)
		t.Logf("%v: %d follow-ups, median delay %v, 90th percentile %v", tt.typ, len(delays[tt.typ]), med, p90)
		check(t, med >= tt.medLo && med <= tt.medHi, "%v: median delay %v not in [%v, %v]", tt.typ, med, tt.medLo, tt.medHi)
		check(t, p90 >= tt.p90Lo && p90 <= tt.p90Hi, "%v: 90th percentile delay %v not in [%v, %v]", tt.typ, p90, tt.p90Lo, tt.p90Hi)
	}
}

// TestDuplicates checks re-sent records against Stats: each duplicate
// repeats an earlier record's key, bytes and time, some right after it and
// some thousands of records later, and Stats counts them apart, per day and
// type; without DuplicateRatio there are none.
func TestDuplicates(t *testing.T) {
	for _, ratio := range []float64{0, 0.02} {
		cfg := Config{Name: "trust-spiral", Events: 60000, Days: 7, Seed: 5, End: testEnd, DuplicateRatio: ratio, InvalidRatio: 0.01}
		g := mustNew(t, cfg)
		seen := map[string]int{} // value -> position
		dups := map[time.Time]map[event.Type]int{}
		var near, far, n, unique int
		for i := 0; ; i++ {
			r, ok := g.Next()
			if !ok {
				break
			}
			n++
			if first, ok := seen[string(r.Value)]; ok {
				if r.Invalid != "" {
					t.Fatalf("record %d: an invalid record re-sent", i)
				}
				switch lag := i - first; {
				case lag <= 10: // 1-3, pushed back by other duplicates due
					near++
				case lag >= 2000:
					far++
				default:
					t.Fatalf("record %d repeats record %d: lag %d", i, first, lag)
				}
				d := r.Time.Truncate(24 * time.Hour)
				if dups[d] == nil {
					dups[d] = map[event.Type]int{}
				}
				dups[d][r.Type]++
				continue
			}
			if !bytes.Contains(r.Value, []byte(`"event_id"`)) && r.Invalid == "" {
				t.Fatalf("record %d without event_id", i)
			}
			seen[string(r.Value)] = i
			unique++
		}
		st := g.Stats()
		if n != cfg.Events || st.Records != n || st.Valid+st.InvalidTotal() != unique || st.Duplicates != near+far {
			t.Fatalf("ratio %v: %d records (%d unique, %d+%d duplicates); stats %d records, %d valid, %d invalid, %d duplicates",
				ratio, n, unique, near, far, st.Records, st.Valid, st.InvalidTotal(), st.Duplicates)
		}
		for _, d := range st.Days {
			for ty, c := range dups[d.Day] {
				if d.Duplicates[ty] != c {
					t.Errorf("%v %v: stats %d duplicates, stream %d", d.Day, ty, d.Duplicates[ty], c)
				}
			}
			if len(d.Duplicates) != len(dups[d.Day]) {
				t.Errorf("%v: stats duplicates %v, stream %v", d.Day, d.Duplicates, dups[d.Day])
			}
		}
		want := ratio * float64(cfg.Events)
		check(t, float64(near+far) >= 0.8*want && float64(near+far) <= 1.2*want, "ratio %v: %d duplicates, want ~%.0f", ratio, near+far, want)
		check(t, ratio == 0 || (near > 0 && far > 0), "ratio %v: %d near and %d far duplicates, want both", ratio, near, far)
		t.Logf("ratio %v: %d near, %d far duplicates of %d records", ratio, near, far, n)
	}
}

// TestStoryBrokenMergeTag checks the broken-merge-tag story from the bytes:
// before the break no send carries a render-check defect; after it exactly
// one campaign does, most of its sends with an unresolved tag and some with
// a broken link, and the unsubscribes of its defective messages (joined by
// message_id) run several times those of the rest of the programme.
func TestStoryBrokenMergeTag(t *testing.T) {
	const days = 28
	g := mustNew(t, Config{Name: "broken-merge-tag", Events: 300000, Days: days, Seed: 5, End: testEnd})
	evs := decodeStream(t, g)
	breakAt := testEnd.Add(-3 * 24 * time.Hour)
	type campaignSends struct{ sends, merge, link int }
	byCampaign := map[string]*campaignSends{}
	defective := map[string]bool{} // message ids
	delivered := map[bool]int{}    // by defective
	unsubs := map[bool]int{}
	for _, d := range evs {
		ev := &d.ev
		if ev.Type != event.Send {
			continue
		}
		f := ev.Flags()
		if ev.Detail != f.Detail() {
			t.Fatalf("send %s: detail %q, flags say %q", ev.ID, ev.Detail, f.Detail())
		}
		if (f.MergeDefect || f.BrokenLink) && ev.OccurredAt.Before(breakAt) {
			t.Errorf("send %s at %s has a defect before the break", ev.ID, ev.OccurredAt)
		}
		if ev.OccurredAt.Before(breakAt) {
			continue
		}
		c := byCampaign[ev.CampaignID]
		if c == nil {
			c = &campaignSends{}
			byCampaign[ev.CampaignID] = c
		}
		c.sends++
		if f.MergeDefect {
			c.merge++
		}
		if f.BrokenLink {
			c.link++
		}
		if f.MergeDefect || f.BrokenLink {
			defective[ev.MessageID] = true
		}
	}
	var broken []string
	for id, c := range byCampaign {
		if c.merge+c.link > 0 {
			broken = append(broken, id)
		}
	}
	if len(broken) != 1 {
		t.Fatalf("campaigns with defects after the break: %v, want exactly one", broken)
	}
	c := byCampaign[broken[0]]
	t.Logf("campaign %s: %d sends, %d merge defects, %d broken links", broken[0], c.sends, c.merge, c.link)
	check(t, c.sends >= 1000, "broken campaign has %d sends after the break, want >= 1000", c.sends)
	check(t, within(float64(c.merge)/float64(c.sends), 0.25, 0.8), "merge defect share %.3f", float64(c.merge)/float64(c.sends))
	check(t, within(float64(c.link)/float64(c.sends), 0.03, 0.15), "broken link share %.3f", float64(c.link)/float64(c.sends))
	for _, d := range evs {
		ev := &d.ev
		if ev.MessageID == "" || ev.SentAt.Before(breakAt) {
			continue
		}
		switch ev.Type {
		case event.Delivered:
			delivered[defective[ev.MessageID]]++
		case event.Unsubscribe:
			unsubs[defective[ev.MessageID]]++
		}
	}
	bad := float64(unsubs[true]) / float64(delivered[true])
	good := float64(unsubs[false]) / float64(delivered[false])
	t.Logf("unsubscribes per delivery after the break: defective %.4f (%d/%d), sound %.4f (%d/%d)", bad, unsubs[true], delivered[true], good, unsubs[false], delivered[false])
	check(t, bad > 4*good, "defective messages' unsubscribe rate %.4f, want > 4x the sound ones' %.4f", bad, good)
}
