package sink_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/trustpipe/trustpipe/aggregate"
	"github.com/trustpipe/trustpipe/aggregate/indicator"
	"github.com/trustpipe/trustpipe/aggregate/report"
	"github.com/trustpipe/trustpipe/sink"
	"github.com/trustpipe/trustpipe/sink/sinktest"
)

// TestAudienceReads stores click, unique and engaged-contact rows over two
// days — with stale lower versions and re-read duplicates of click rows —
// and checks Store.Audience, Store.AudienceDays and audience_daily against
// counts computed here from the rows written (the click oracle keeps the
// highest version per key and block, ranks contacts with
// indicator.TopDecileClicks), never through the SQL under test.
func TestAudienceReads(t *testing.T) {
	st, cfg := sinktest.Open(t, sink.ReadSurfaceViews(indicator.DefaultIndexConfig()))
	ctx := context.Background()
	d0 := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
	d1 := d0.Add(24 * time.Hour)
	rng := rand.New(rand.NewPCG(1, 2))

	type key struct {
		day              int64
		campaign, person string
		block            int64
	}
	final := map[key]aggregate.ClickRow{}
	var snap aggregate.Snapshot
	for i := 0; i < 400; i++ {
		day := d0
		if i%3 == 0 {
			day = d1
		}
		r := aggregate.ClickRow{
			ClickKey: aggregate.ClickKey{Day: day.Unix(), CampaignID: fmt.Sprintf("c%d", rng.IntN(3)), Channel: "email",
				Contact: fmt.Sprintf("p%d", rng.IntN(120))},
			BlockRef: aggregate.BlockRef{Topic: "t", Partition: 0, Block: int64(rng.IntN(4))},
			Clicks:   uint64(1 + rng.IntN(9)), Version: int64(1 + rng.IntN(5)),
		}
		k := key{r.Day, r.CampaignID, r.Contact, r.Block}
		if old, ok := final[k]; ok && old.Version > r.Version {
			snap.Clicks = append(snap.Clicks, r) // stale: must be replaced
			continue
		}
		if old, ok := final[k]; ok && old.Version == r.Version {
			r.Clicks = old.Clicks // a re-read writes the same count at the same version
		}
		final[k] = r
		snap.Clicks = append(snap.Clicks, r)
	}
	for i := 0; i < 300; i++ {
		day := d0
		if i%2 == 0 {
			day = d1
		}
		p := fmt.Sprintf("p%d", rng.IntN(250))
		snap.Uniques = append(snap.Uniques, aggregate.UniqueRow{Day: day.Unix(), CampaignID: "c0", Channel: "email", Kind: aggregate.UniqueRecipient, Contact: p})
		if i%4 == 0 {
			snap.Contacts = append(snap.Contacts, aggregate.ContactRow{Day: day.Unix(), CampaignID: "c0", Channel: "email", Contact: p})
		}
	}
	if err := st.Write(ctx, &snap); err != nil {
		t.Fatal(err)
	}

	// The oracle, per day set and campaign filter.
	want := func(days map[int64]bool, campaign string) indicator.Audience {
		var a indicator.Audience
		per := map[string]uint64{}
		for _, r := range final {
			if days[r.Day] && (campaign == "" || r.CampaignID == campaign) {
				per[r.Contact] += r.Clicks
				a.Clicks += r.Clicks
			}
		}
		var counts []uint64
		for _, n := range per {
			counts = append(counts, n)
		}
		a.Clickers, a.TopDecileClicks = uint64(len(counts)), indicator.TopDecileClicks(counts)
		delivered, engaged := map[string]bool{}, map[string]bool{}
		for _, u := range snap.Uniques {
			if days[u.Day] && (campaign == "" || u.CampaignID == campaign) {
				delivered[u.Contact] = true
			}
		}
		for _, c := range snap.Contacts {
			if days[c.Day] && (campaign == "" || c.CampaignID == campaign) {
				engaged[c.Contact] = true
			}
		}
		a.DeliveredContacts, a.EngagedContacts = uint64(len(delivered)), uint64(len(engaged))
		return a
	}
	both := map[int64]bool{d0.Unix(): true, d1.Unix(): true}
	c1 := "c1"
	for _, tc := range []struct {
		name string
		p    report.Period
		f    report.Filter
		days map[int64]bool
		camp string
	}{
		{"both days", report.Period{From: d0, To: d1.Add(24 * time.Hour)}, report.Filter{}, both, ""},
		{"part of the second day touches it", report.Period{From: d1.Add(3 * time.Hour), To: d1.Add(5 * time.Hour)}, report.Filter{}, map[int64]bool{d1.Unix(): true}, ""},
		{"one campaign", report.Period{From: d0, To: d1.Add(24 * time.Hour)}, report.Filter{Campaign: &c1}, both, "c1"},
	} {
		got, err := st.Audience(ctx, tc.p, tc.f)
		if err != nil {
			t.Fatal(err)
		}
		if w := want(tc.days, tc.camp); got == nil || *got != w {
			t.Errorf("%s: Audience = %+v, want %+v", tc.name, got, w)
		}
	}
	seg := "smb"
	if a, err := st.Audience(ctx, report.Period{From: d0, To: d1}, report.Filter{Segment: &seg}); err != nil || a != nil {
		t.Errorf("Audience under a segment filter = %+v, %v; want nil (not kept per segment)", a, err)
	}
	days, err := st.AudienceDays(ctx, report.Period{From: d0, To: d1.Add(24 * time.Hour)}, report.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(days) != 2 || days[0].Day != "2026-11-02" || days[0].Audience != want(map[int64]bool{d0.Unix(): true}, "") ||
		days[1].Audience != want(map[int64]bool{d1.Unix(): true}, "") {
		t.Errorf("AudienceDays = %+v", days)
	}
	// The view gives the same per day.
	var top, clicks uint64
	if err := st.Conn().QueryRow(ctx, "SELECT top_decile_clicks, clicks FROM "+cfg.Database+"."+sink.ViewAudienceDaily+" WHERE day = toDate('2026-11-03')").Scan(&top, &clicks); err != nil {
		t.Fatal(err)
	}
	if w := want(map[int64]bool{d1.Unix(): true}, ""); top != w.TopDecileClicks || clicks != w.Clicks {
		t.Errorf("audience_daily 2026-11-03: top %d of %d clicks, want %d of %d", top, clicks, w.TopDecileClicks, w.Clicks)
	}
}
