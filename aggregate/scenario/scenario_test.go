package scenario

import (
	"bytes"
	"crypto/sha256"
	"maps"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trustpipe/trustpipe/aggregate/event"
)

// testEnd is deliberately not aligned to midnight, so the first and last
// UTC days of a period are partial.
var testEnd = time.Date(2026, 3, 2, 15, 30, 0, 0, time.UTC)

func mustNew(t testing.TB, cfg Config) *Generator {
	t.Helper()
	g, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// digest hashes the whole record stream (keys, values, times, flags).
func digest(t testing.TB, cfg Config) [32]byte {
	t.Helper()
	g := mustNew(t, cfg)
	h := sha256.New()
	var tb []byte
	for {
		r, ok := g.Next()
		if !ok {
			break
		}
		tb = r.Time.AppendFormat(tb[:0], time.RFC3339Nano)
		for _, b := range [][]byte{r.Key, {0}, r.Value, {0}, tb, {0}, []byte(r.Invalid), {'\n'}} {
			h.Write(b)
		}
	}
	var d [32]byte
	h.Sum(d[:0])
	return d
}

func TestNames(t *testing.T) {
	want := []string{"account-pullback", "broken-merge-tag", "creepy-personalization", "healthy", "ignored-unsubscribes", "intent-data", "trust-spiral"}
	if got := Names(); !slices.Equal(got, want) {
		t.Fatalf("Names() = %v, want %v", got, want)
	}
	for _, n := range want {
		if d, ok := Describe(n); !ok || d == "" {
			t.Errorf("Describe(%q) = %q, %v", n, d, ok)
		}
	}
	if _, ok := Describe("nope"); ok {
		t.Error(`Describe("nope") ok`)
	}
}

func TestNewValidation(t *testing.T) {
	ok := Config{Name: "healthy", Events: 10, End: testEnd}
	tests := []struct {
		name string
		mod  func(*Config)
		want []string // substrings of the error; nil: no error
	}{
		{"defaults", func(*Config) {}, nil},
		{"zero events", func(c *Config) { c.Events = 0 }, nil},
		{"max days", func(c *Config) { c.Days = MaxDays }, nil},
		{"unknown scenario", func(c *Config) { c.Name = "chaos" }, []string{`"chaos"`, "creepy-personalization", "healthy", "trust-spiral"}},
		{"empty scenario", func(c *Config) { c.Name = "" }, []string{`unknown scenario ""`, "healthy"}},
		{"negative events", func(c *Config) { c.Events = -1 }, []string{"events must be >= 0, got -1"}},
		{"negative days", func(c *Config) { c.Days = -3 }, []string{"days", "got -3"}},
		{"too many days", func(c *Config) { c.Days = 500 }, []string{"days must be in 1..366, got 500"}},
		{"no end", func(c *Config) { c.End = time.Time{} }, []string{"end time must be set"}},
		{"negative contacts", func(c *Config) { c.Contacts = -1 }, []string{"contacts", "got -1"}},
		{"accounts beyond contacts", func(c *Config) { c.Contacts = 10; c.Accounts = 11 }, []string{"accounts must be in 1..contacts (10), got 11"}},
		{"negative campaigns", func(c *Config) { c.Campaigns = -2 }, []string{"campaigns", "got -2"}},
		{"invalid ratio", func(c *Config) { c.InvalidRatio = 1.5 }, []string{"invalid ratio", "1.5"}},
		{"NaN ratio", func(c *Config) { c.InvalidRatio = math.NaN() }, []string{"invalid ratio", "NaN"}},
		{"several", func(c *Config) { c.Events = -1; c.Days = -1 }, []string{"events must", "; days must"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := ok
			tt.mod(&cfg)
			g, err := New(cfg)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, generator %+v", g.Config())
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	g := mustNew(t, Config{Name: "healthy", End: testEnd})
	c := g.Config()
	if c.Days != DefaultDays || c.Contacts != DefaultContacts || c.Accounts != DefaultContacts/8 || c.Campaigns != DefaultCampaigns {
		t.Errorf("defaults not applied: %+v", c)
	}
	if len(g.pop.campaigns) != DefaultCampaigns || len(g.pop.contacts) != DefaultContacts {
		t.Errorf("population: %d campaigns, %d contacts", len(g.pop.campaigns), len(g.pop.contacts))
	}
}

func TestDeterministic(t *testing.T) {
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			cfg := Config{Name: name, Events: 20000, Days: 10, Seed: 42, End: testEnd, InvalidRatio: 0.05}
			a, b := digest(t, cfg), digest(t, cfg)
			if a != b {
				t.Fatal("same seed gave different streams")
			}
			cfg.Seed = 43
			if c := digest(t, cfg); c == a {
				t.Fatal("different seeds gave the same stream")
			}
		})
	}
	// Scenarios differ even with one seed.
	base := Config{Events: 5000, Days: 3, Seed: 1, End: testEnd}
	h, s := base, base
	h.Name, s.Name = "healthy", "trust-spiral"
	if digest(t, h) == digest(t, s) {
		t.Error("healthy and trust-spiral gave the same stream")
	}
}

// TestExactCount checks, for many sizes and period shapes, that exactly
// Events records come out, in non-decreasing time order inside the period,
// and that Stats agrees.
func TestExactCount(t *testing.T) {
	midnight := time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC)
	odd := time.Date(2026, 1, 10, 7, 13, 59, 987654321, time.FixedZone("CET", 3600))
	for _, end := range []time.Time{testEnd, midnight, odd} {
		for _, days := range []int{1, 3, 28, MaxDays} {
			for _, n := range []int{0, 1, 2, 7, 999, 12345} {
				cfg := Config{Name: "trust-spiral", Events: n, Days: days, Seed: int64(n + days), End: end, Contacts: 500}
				g := mustNew(t, cfg)
				lo := end.Add(-time.Duration(days) * 24 * time.Hour)
				var prev time.Time
				got := 0
				for {
					r, ok := g.Next()
					if !ok {
						break
					}
					got++
					if r.Time.Before(prev) {
						t.Fatalf("%v/%d/%d: record %d at %v before previous %v", end, days, n, got, r.Time, prev)
					}
					if r.Time.Before(lo.Truncate(time.Millisecond)) || !r.Time.Before(end) {
						t.Fatalf("%v/%d/%d: record at %v outside [%v, %v)", end, days, n, r.Time, lo, end)
					}
					if r.Time.Location() != time.UTC || r.Time.Nanosecond()%int(time.Millisecond) != 0 {
						t.Fatalf("record time %v not UTC milliseconds", r.Time)
					}
					prev = r.Time
				}
				if got != n {
					t.Fatalf("%v/%d days: got %d records, want %d", end, days, got, n)
				}
				if _, ok := g.Next(); ok {
					t.Fatal("Next yielded after the end")
				}
				st := g.Stats()
				sum := 0
				for _, d := range st.Days {
					sum += d.Events
				}
				if st.Records != n || st.Valid != n || sum != n || g.Done() != n || g.Total() != n {
					t.Fatalf("stats: records %d valid %d day sum %d done %d, want %d", st.Records, st.Valid, sum, g.Done(), n)
				}
			}
		}
	}
}

// decodedDay aggregates decoded events of one UTC day: the same quantities
// the pipeline computes, derived only from the bytes.
type decodedDay struct {
	types   [nTypes]int
	details map[DetailKey]int
	score   float64
	pers    int
	expl    int
	covered int
	// complaints and too_personal feedback about predictive personalization
	// of contacts below tier 3
	blamedBeyond int
	// email events by type, bot clicks and machine opens left out
	email [nTypes]int
}

func (d *decodedDay) add(ev *event.Event) {
	d.types[ev.Type]++
	if ev.Channel == "email" && ev.Detail != event.DetailBot && ev.Detail != event.DetailMachine {
		d.email[ev.Type]++
	}
	if ev.Detail != "" {
		d.details[DetailKey{ev.Type, ev.Detail}]++
	}
	switch ev.Type {
	case event.Sentiment:
		d.score += ev.Score
	case event.Send:
		if lv := levelIndex(ev.Personalization); lv > levelNone {
			d.pers++
			if ev.Reason != "" {
				d.expl++
			}
			if uint8(lv) <= ev.ConsentTier {
				d.covered++
			}
		}
	case event.Complaint:
		if ev.Personalization == "predictive" && ev.ConsentTier < 3 {
			d.blamedBeyond++
		}
	}
}

// decodeAll runs a generator to the end, decodes every record with the
// contract decoder and returns the per-day aggregates, checking on the way
// that valid records decode to exactly the generated event and invalid ones
// are rejected for the reason they were built for.
func decodeAll(t testing.TB, g *Generator) []decodedDay {
	t.Helper()
	dec := event.NewDecoder(event.DefaultLimits())
	days := map[time.Time]*decodedDay{}
	var ev event.Event
	ids := map[string]bool{}
	for {
		r, ok := g.Next()
		if !ok {
			break
		}
		rej := dec.Decode(r.Value, r.Time, &ev)
		if r.Invalid != "" {
			if rej == nil {
				t.Fatalf("invalid record (%s) accepted: %s", r.Invalid, trunc(r.Value))
			}
			if rej.Reason != r.Invalid {
				t.Fatalf("record built for %s rejected as %v: %s", r.Invalid, rej, trunc(r.Value))
			}
			continue
		}
		if rej != nil {
			t.Fatalf("valid record rejected: %v: %s", rej, r.Value)
		}
		want := g.ev
		if !ev.OccurredAt.Equal(want.OccurredAt) {
			t.Fatalf("occurred_at %v, want %v", ev.OccurredAt, want.OccurredAt)
		}
		got := ev
		got.OccurredAt, want.OccurredAt = time.Time{}, time.Time{}
		if !reflect.DeepEqual(got, want) { // Event holds a slice (Inputs)
			t.Fatalf("decoded %+v\nwant     %+v", ev, want)
		}
		if !bytes.Equal(r.Key, []byte(ev.ContactID)) || (ev.ContactID == "") != (r.Key == nil) {
			t.Fatalf("key %q for contact %q", r.Key, ev.ContactID)
		}
		if r.Type != ev.Type || !r.Time.Equal(ev.OccurredAt) {
			t.Fatalf("record type/time %v %v, event %v %v", r.Type, r.Time, ev.Type, ev.OccurredAt)
		}
		if ids[g.ev.ID] {
			t.Fatalf("duplicate event id %s", g.ev.ID)
		}
		ids[g.ev.ID] = true
		day := ev.OccurredAt.Truncate(24 * time.Hour)
		d := days[day]
		if d == nil {
			d = &decodedDay{details: map[DetailKey]int{}}
			days[day] = d
		}
		d.add(&ev)
	}
	// Compare with Stats: the generator's own count must match what the
	// bytes say, day by day.
	st := g.Stats()
	out := make([]decodedDay, len(st.Days))
	for i, sd := range st.Days {
		d := days[sd.Day]
		delete(days, sd.Day)
		if d == nil {
			d = &decodedDay{details: map[DetailKey]int{}}
		}
		out[i] = *d
		n := 0
		for ty, c := range d.types {
			n += c
			if sd.Types[event.Type(ty)] != c {
				t.Fatalf("%v: stats count %d %v, decoded %d", sd.Day, sd.Types[event.Type(ty)], event.Type(ty), c)
			}
		}
		if n != sd.Events || !maps.Equal(sd.Details, d.details) || math.Abs(sd.ScoreSum-d.score) > 1e-6 ||
			sd.PersonalizedSends != d.pers || sd.ExplainedSends != d.expl || sd.CoveredSends != d.covered {
			t.Fatalf("%v: stats %+v disagree with decoded %+v", sd.Day, sd, d)
		}
	}
	if len(days) != 0 {
		t.Fatalf("decoded events on days outside Stats: %v", days)
	}
	return out
}

func trunc(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "..."
	}
	return string(b)
}

func TestValidRecordsDecode(t *testing.T) {
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			g := mustNew(t, Config{Name: name, Events: 60000, Days: 14, Seed: 7, End: testEnd})
			days := decodeAll(t, g)
			var all decodedDay
			for _, d := range days {
				for ty, c := range d.types {
					all.types[ty] += c
				}
			}
			for _, ty := range event.Types() {
				if all.types[ty] == 0 {
					t.Errorf("no %v events in 60000", ty)
				}
			}
			st := g.Stats()
			if st.Valid != 60000 || st.InvalidTotal() != 0 {
				t.Errorf("stats: %d valid, %d invalid", st.Valid, st.InvalidTotal())
			}
		})
	}
}

func TestInvalidRecords(t *testing.T) {
	cfg := Config{Name: "trust-spiral", Events: 40000, Days: 7, Seed: 3, End: testEnd, InvalidRatio: 0.15}
	g := mustNew(t, cfg)
	decodeAll(t, g) // checks each invalid record's verdict
	st := g.Stats()
	for _, r := range InvalidKinds() {
		if st.Invalid[r] == 0 {
			t.Errorf("no invalid records of kind %s", r)
		}
	}
	inv := st.InvalidTotal()
	if st.Valid+inv != cfg.Events || st.Records != cfg.Events {
		t.Errorf("valid %d + invalid %d != records %d (want %d)", st.Valid, inv, st.Records, cfg.Events)
	}
	if want := 0.15 * float64(cfg.Events); math.Abs(float64(inv)-want) > 0.1*want {
		t.Errorf("%d invalid records, want about %.0f", inv, want)
	}
	t.Logf("invalid: %v", st.Invalid)

	// The invalid decisions come from their own random stream: every valid
	// record is identical to the record at the same position in the clean
	// run, and invalid records keep the position's key and time.
	clean := cfg
	clean.InvalidRatio = 0
	a, b := mustNew(t, cfg), mustNew(t, clean)
	for i := 0; ; i++ {
		ra, oka := a.Next()
		rb, okb := b.Next()
		if oka != okb {
			t.Fatalf("record %d: runs end at different lengths", i)
		}
		if !oka {
			break
		}
		if !bytes.Equal(ra.Key, rb.Key) || !ra.Time.Equal(rb.Time) || ra.Type != rb.Type {
			t.Fatalf("record %d: key/time/type differ", i)
		}
		if ra.Invalid == "" && !bytes.Equal(ra.Value, rb.Value) {
			t.Fatalf("record %d: valid record differs from the clean run", i)
		}
	}
}

func TestRecordClone(t *testing.T) {
	g := mustNew(t, Config{Name: "healthy", Events: 3, End: testEnd})
	r1, _ := g.Next()
	c := r1.Clone()
	v := string(r1.Value)
	g.Next()
	if string(c.Value) != v {
		t.Fatal("clone changed by the next record")
	}
}

func TestNextAt(t *testing.T) {
	g := mustNew(t, Config{Name: "trust-spiral", Events: 100, Days: 2, End: testEnd, Seed: 9})
	for _, ok := g.Next(); ok; _, ok = g.Next() {
	}
	dec := event.NewDecoder(event.DefaultLimits())
	var ev event.Event
	live := testEnd.Add(36 * time.Hour) // crosses into days after the period
	for i := range 500 {
		at := live.Add(time.Duration(i) * time.Minute)
		r := g.NextAt(at)
		if !r.Time.Equal(at) {
			t.Fatalf("time %v, want %v", r.Time, at)
		}
		if rej := dec.Decode(r.Value, at, &ev); rej != nil {
			t.Fatalf("live record rejected: %v", rej)
		}
	}
	st := g.Stats()
	if st.Records != 600 || st.Valid != 600 || g.Done() != 600 {
		t.Fatalf("stats records %d valid %d done %d, want 600", st.Records, st.Valid, g.Done())
	}
	last := st.Days[len(st.Days)-1]
	if want := live.Add(499 * time.Minute).Truncate(24 * time.Hour); !last.Day.Equal(want) || last.Events == 0 {
		t.Fatalf("last stats day %v with %d events, want %v", last.Day, last.Events, want)
	}
	if _, ok := g.Next(); ok {
		t.Fatal("Next yielded after NextAt")
	}
}

// TestTimeShape checks the volume profile: business hours busier than
// nights, weekdays busier than weekends.
func TestTimeShape(t *testing.T) {
	g := mustNew(t, Config{Name: "healthy", Events: 100000, Days: 28, End: testEnd})
	var hours [24]int
	var weekday, weekend int
	for r, ok := g.Next(); ok; r, ok = g.Next() {
		hours[r.Time.Hour()]++
		switch r.Time.Weekday() {
		case time.Saturday, time.Sunday:
			weekend++
		default:
			weekday++
		}
	}
	if hours[10] < 3*hours[2] {
		t.Errorf("10:00 has %d events, 02:00 has %d: no diurnal shape", hours[10], hours[2])
	}
	if perWeekday, perWeekend := weekday/20, weekend/8; perWeekday < 2*perWeekend {
		t.Errorf("%d events per weekday vs %d per weekend day", perWeekday, perWeekend)
	}
}

// TestTinyPopulation covers degenerate sizes: one contact, one account, one
// campaign (segment lists empty, consent changes with nobody to move).
func TestTinyPopulation(t *testing.T) {
	for _, name := range Names() {
		g := mustNew(t, Config{Name: name, Events: 5000, Days: 3, Contacts: 1, Campaigns: 1, End: testEnd, InvalidRatio: 0.1})
		decodeAll(t, g)
		if st := g.Stats(); st.Records != 5000 {
			t.Fatalf("%s: %d records", name, st.Records)
		}
	}
}
