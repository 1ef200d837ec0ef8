package scenario

import (
	"testing"

	"github.com/trustpipe/trustpipe/aggregate/event"
)

// The shape tests compute the trust indicators of DESIGN.md from the decoded
// stream itself (not from the rate profiles) and check that each scenario
// tells its story: healthy stays put, trust-spiral and creepy-personalization
// drift the way their descriptions say over the last third of the period.

// window sums decoded days.
type window struct{ decodedDay }

func sumDays(days []decodedDay) window {
	var w window
	w.details = map[DetailKey]int{}
	for _, d := range days {
		for t, c := range d.types {
			w.types[t] += c
		}
		for k, c := range d.details {
			w.details[k] += c
		}
		w.score += d.score
		w.pers += d.pers
		w.expl += d.expl
		w.covered += d.covered
		w.blamedBeyond += d.blamedBeyond
		for t, c := range d.email {
			w.email[t] += c
		}
	}
	return w
}

func (w window) n(t event.Type) float64 { return float64(w.types[t]) }
func (w window) perDelivered(t event.Type) float64 {
	return w.n(t) / w.n(event.Delivered)
}

// emailRate is an email rate per email delivery (human opens and clicks).
func (w window) emailRate(t event.Type) float64 {
	return float64(w.email[t]) / float64(w.email[event.Delivered])
}
func (w window) unsubRate() float64     { return w.perDelivered(event.Unsubscribe) }
func (w window) complaintRate() float64 { return w.perDelivered(event.Complaint) }
func (w window) clickRate() float64     { return w.perDelivered(event.Click) }
func (w window) optDownShare() float64 {
	return w.n(event.OptDown) / (w.n(event.OptDown) + w.n(event.Unsubscribe))
}
func (w window) tooPersonal() float64 {
	return float64(w.details[DetailKey{event.Feedback, "too_personal"}]) / w.n(event.Delivered)
}
func (w window) directShare() float64 {
	return float64(w.details[DetailKey{event.WebSession, "direct"}]) / w.n(event.WebSession)
}
func (w window) sentiment() float64 { return w.score / w.n(event.Sentiment) }
func (w window) coverage() float64  { return float64(w.covered) / float64(w.pers) }
func (w window) explained() float64 { return float64(w.expl) / float64(w.pers) }

type thirds struct{ first, last, lastDays window }

func shape(t *testing.T, name string) thirds {
	t.Helper()
	g := mustNew(t, Config{Name: name, Events: 300000, Days: 30, Seed: 1, End: testEnd})
	days := decodeAll(t, g)
	k := len(days) / 3
	th := thirds{first: sumDays(days[:k]), last: sumDays(days[len(days)-k:]), lastDays: sumDays(days[len(days)-3:])}
	t.Logf("%s first third: unsub %.3f%% complaints %.3f%% clicks %.2f%% opt-down share %.2f too-personal %.3f%% direct %.2f sentiment %.2f coverage %.2f explained %.2f",
		name, 100*th.first.unsubRate(), 100*th.first.complaintRate(), 100*th.first.clickRate(), th.first.optDownShare(),
		100*th.first.tooPersonal(), th.first.directShare(), th.first.sentiment(), th.first.coverage(), th.first.explained())
	t.Logf("%s last third:  unsub %.3f%% complaints %.3f%% clicks %.2f%% opt-down share %.2f too-personal %.3f%% direct %.2f sentiment %.2f coverage %.2f explained %.2f",
		name, 100*th.last.unsubRate(), 100*th.last.complaintRate(), 100*th.last.clickRate(), th.last.optDownShare(),
		100*th.last.tooPersonal(), th.last.directShare(), th.last.sentiment(), th.last.coverage(), th.last.explained())
	return th
}

func check(t *testing.T, cond bool, format string, args ...any) {
	t.Helper()
	if !cond {
		t.Errorf(format, args...)
	}
}

func within(x, lo, hi float64) bool { return x >= lo && x <= hi }

func TestShapeHealthy(t *testing.T) {
	th := shape(t, "healthy")
	for _, w := range []window{th.first, th.last} {
		check(t, within(w.emailRate(event.Unsubscribe), 0.0015, 0.0025), "email unsubscribe rate %.4f, want ~0.2%%", w.emailRate(event.Unsubscribe))
		check(t, w.emailRate(event.Complaint) < 0.001, "email complaint rate %.4f, want < 0.1%%", w.emailRate(event.Complaint))
		check(t, w.n(event.OptDown) > w.n(event.Unsubscribe), "opt-downs %v do not exceed unsubscribes %v", w.n(event.OptDown), w.n(event.Unsubscribe))
		check(t, within(w.directShare(), 0.32, 0.38), "direct share %.3f, want ~35%%", w.directShare())
		// human opens: 25 % of deliveries less the 20 % machine opens
		check(t, within(w.emailRate(event.Open), 0.18, 0.22), "human email open rate %.3f, want ~20%%", w.emailRate(event.Open))
		check(t, within(w.emailRate(event.Click), 0.03, 0.04), "email CTR %.4f, want 3-4%%", w.emailRate(event.Click))
		check(t, within(w.n(event.Delivered)/w.n(event.Send), 0.95, 0.99), "delivery rate %.3f, want ~97%%", w.n(event.Delivered)/w.n(event.Send))
		check(t, w.coverage() > 0.95, "consent coverage %.3f, want > 95%%", w.coverage())
		check(t, within(w.explained(), 0.85, 0.95), "explained personalization %.3f, want ~90%%", w.explained())
		check(t, w.sentiment() > 0.25, "sentiment %.2f, want positive", w.sentiment())
	}
	check(t, within(th.last.unsubRate()/th.first.unsubRate(), 0.7, 1.4), "unsubscribe rate moved %.2fx", th.last.unsubRate()/th.first.unsubRate())
	check(t, within(th.last.clickRate()/th.first.clickRate(), 0.85, 1.15), "click rate moved %.2fx", th.last.clickRate()/th.first.clickRate())
}

func TestShapeTrustSpiral(t *testing.T) {
	th := shape(t, "trust-spiral")
	f, l := th.first, th.last
	check(t, f.complaintRate() < 0.001, "first third already unhealthy: complaints %.4f", f.complaintRate())
	check(t, l.unsubRate() > 2*f.unsubRate(), "unsubscribe rate %.4f -> %.4f, want > 2x", f.unsubRate(), l.unsubRate())
	check(t, l.clickRate() > 1.15*f.clickRate(), "click rate %.4f -> %.4f, want rising", f.clickRate(), l.clickRate())
	check(t, th.lastDays.complaintRate() >= 0.003, "complaint rate over the last 3 days %.4f, want >= 0.3%%", th.lastDays.complaintRate())
	check(t, f.optDownShare() > 0.6 && l.optDownShare() < f.optDownShare()-0.2, "opt-down share %.2f -> %.2f, want falling from > 0.6", f.optDownShare(), l.optDownShare())
	check(t, l.tooPersonal() > 3*f.tooPersonal(), "too-personal feedback %.5f -> %.5f, want > 3x", f.tooPersonal(), l.tooPersonal())
	check(t, l.directShare() < f.directShare()-0.07, "direct share %.3f -> %.3f, want falling", f.directShare(), l.directShare())
	check(t, l.sentiment() < f.sentiment()-0.2, "sentiment %.2f -> %.2f, want falling", f.sentiment(), l.sentiment())
}

func TestShapeCreepyPersonalization(t *testing.T) {
	th := shape(t, "creepy-personalization")
	f, l := th.first, th.last
	check(t, f.coverage() > 0.95 && l.coverage() < f.coverage()-0.2, "consent coverage %.3f -> %.3f, want falling from > 95%%", f.coverage(), l.coverage())
	check(t, l.explained() < f.explained()-0.15, "explained personalization %.3f -> %.3f, want falling", f.explained(), l.explained())
	check(t, l.complaintRate() > 3*f.complaintRate(), "complaint rate %.4f -> %.4f, want > 3x", f.complaintRate(), l.complaintRate())
	check(t, l.tooPersonal() > 3*f.tooPersonal(), "too-personal feedback %.5f -> %.5f, want > 3x", f.tooPersonal(), l.tooPersonal())
	check(t, l.clickRate() > f.clickRate(), "click rate %.4f -> %.4f, want rising (the divergence)", f.clickRate(), l.clickRate())
	// The cause is visible in the data: most complaints of the last third
	// are about predictive personalization of contacts below tier 3.
	blamed := float64(l.blamedBeyond) / l.n(event.Complaint)
	check(t, blamed > 0.5, "%.2f of last-third complaints are about predictive personalization beyond consent, want > 0.5", blamed)
	check(t, f.blamedBeyond*10 < int(f.n(event.Complaint))+10, "first third already blames personalization: %d of %v", f.blamedBeyond, f.n(event.Complaint))
}

// TestDailySeriesDrift checks that the drift shows day by day, not only in
// aggregates: the unsubscribe rate of the last two days of trust-spiral is
// well above that of any two-day stretch in the first half.
func TestDailySeriesDrift(t *testing.T) {
	g := mustNew(t, Config{Name: "trust-spiral", Events: 300000, Days: 30, Seed: 5, End: testEnd})
	days := decodeAll(t, g)
	end := sumDays(days[len(days)-2:]).unsubRate()
	for i := 1; i+2 <= len(days)/2; i++ {
		if r := sumDays(days[i : i+2]).unsubRate(); end < 2*r {
			t.Errorf("last two days unsubscribe rate %.4f not 2x days %d-%d (%.4f)", end, i, i+1, r)
		}
	}
}
