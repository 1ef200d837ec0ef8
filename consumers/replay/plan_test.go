package replay

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseOffsets(t *testing.T) {
	for _, tc := range []struct {
		spec string
		want []Range
		err  string
	}{
		{spec: "0:0-99", want: []Range{{"t", 0, 0, 99}}},
		{spec: "0:5-5", want: []Range{{"t", 0, 5, 5}}},
		{spec: " 1:1000-4999 , 2:0- ", want: []Range{{"t", 1, 1000, 4999}, {"t", 2, 0, ToEnd}}},
		{spec: "", err: "missing ':'"},
		{spec: "0", err: "missing ':'"},
		{spec: "x:1-2", err: "partition is not"},
		{spec: "-1:1-2", err: "partition is not"},
		{spec: "0:12", err: "missing '-'"},
		{spec: "0:a-2", err: "FROM is not"},
		{spec: "0:-5", err: "FROM is not"},
		{spec: "0:1-b", err: "TO is not"},
		{spec: "0:9-3", err: "FROM is after TO"},
		{spec: "0:1-2,", err: "missing ':'"},
	} {
		got, err := ParseOffsets("t", tc.spec)
		if tc.err != "" {
			var ie *InputError
			if !errors.As(err, &ie) || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseOffsets(%q) error %v, want an InputError containing %q", tc.spec, err, tc.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("ParseOffsets(%q) = %v, %v; want %v", tc.spec, got, err, tc.want)
		}
	}
}

func TestParsePartitions(t *testing.T) {
	got, err := ParsePartitions("2, 0,2")
	if err != nil || !slices.Equal(got, []int{0, 2}) {
		t.Fatalf("got %v, %v", got, err)
	}
	for _, bad := range []string{"", "a", "1,,2", "-1"} {
		if _, err := ParsePartitions(bad); err == nil {
			t.Errorf("ParsePartitions(%q): no error", bad)
		}
	}
}

func TestParseTime(t *testing.T) {
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Time
	}{
		{"2026-11-19T08:30:00Z", time.Date(2026, 11, 19, 8, 30, 0, 0, time.UTC)},
		{"2026-11-19T08:30:00+02:00", time.Date(2026, 11, 19, 6, 30, 0, 0, time.UTC)},
		{"2026-11-19", time.Date(2026, 11, 19, 0, 0, 0, 0, time.UTC)},
		{"2026-11-19T08:30", time.Date(2026, 11, 19, 8, 30, 0, 0, time.UTC)},
		{"2026-11-19 08:30:15", time.Date(2026, 11, 19, 8, 30, 15, 0, time.UTC)},
		{"now", now},
		{"-36h", now.Add(-36 * time.Hour)},
		{"now-90m", now.Add(-90 * time.Minute)},
	} {
		got, err := ParseTime(tc.in, now)
		if err != nil || !got.Equal(tc.want) {
			t.Errorf("ParseTime(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "yesterday", "2026-13-01", "-x", "20261119"} {
		if _, err := ParseTime(bad, now); err == nil {
			t.Errorf("ParseTime(%q): no error", bad)
		}
	}
}

func TestWiden(t *testing.T) {
	const B = 1000
	r := func(from, to int64) Range { return Range{"t", 0, from, to} }
	for _, tc := range []struct {
		name         string
		in           Range
		logStart, hw int64
		want         Range
		skipped      Range // Len() == 0: none
		ok           bool
	}{
		{"aligned", r(0, 999), 0, 5000, r(0, 999), r(0, -1), true},
		{"inside one block", r(1234, 1500), 0, 5000, r(1000, 1999), r(0, -1), true},
		{"across blocks", r(1999, 2000), 0, 5000, r(1000, 2999), r(0, -1), true},
		{"single offset", r(4321, 4321), 0, 5000, r(4000, 4999), r(0, -1), true},
		{"end clamped to the last record", r(4100, 4200), 0, 4500, r(4000, 4499), r(0, -1), true},
		{"last offset of the topic", r(4499, 4499), 0, 4500, r(4000, 4499), r(0, -1), true},
		{"partly deleted first block skipped", r(1500, 3500), 1200, 5000, r(2000, 3999), r(1000, 1999), true},
		{"log start on a boundary", r(2000, 2500), 2000, 5000, r(2000, 2999), r(0, -1), true},
		{"only a partly deleted block", r(1300, 1800), 1200, 5000, r(2000, 1999), r(1000, 1999), false},
		{"partly deleted block that is also the last", r(1300, 1400), 1200, 1500, r(2000, 1499), r(1000, 1499), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, skipped, ok := Widen(tc.in, B, tc.logStart, tc.hw)
			if ok != tc.ok || (ok && w != tc.want) {
				t.Errorf("Widen(%v, log start %d, hw %d) = %v, ok %v; want %v, ok %v", tc.in, tc.logStart, tc.hw, w, ok, tc.want, tc.ok)
			}
			if skipped.Len() > 0 || tc.skipped.Len() > 0 {
				if skipped != tc.skipped {
					t.Errorf("skipped %v, want %v", skipped, tc.skipped)
				}
			}
			if ok && (w.From%B != 0 || (w.To+1)%B != 0 && w.To != tc.hw-1) {
				t.Errorf("%v is not whole blocks", w)
			}
		})
	}
}

// fakeBroker serves planning from fixed partition bounds and timestamps.
type fakeBroker struct {
	parts map[string]map[int]partitionInfo
	// times: per topic and partition, the timestamp of each offset from
	// logStart (non-decreasing).
	times map[string]map[int][]time.Time
}

func (f fakeBroker) partitions(_ context.Context, topic string) ([]int, error) {
	ps, ok := f.parts[topic]
	if !ok {
		return nil, inputErrorf("topic %s does not exist", topic)
	}
	var out []int
	for p := range ps {
		out = append(out, p)
	}
	slices.Sort(out)
	return out, nil
}

func (f fakeBroker) bounds(_ context.Context, topic string, parts []int) (map[int]partitionInfo, error) {
	out := map[int]partitionInfo{}
	for _, p := range parts {
		out[p] = f.parts[topic][p]
	}
	return out, nil
}

func (f fakeBroker) offsetsAt(_ context.Context, topic string, parts []int, t time.Time) (map[int]int64, error) {
	out := map[int]int64{}
	for _, p := range parts {
		out[p] = -1
		in := f.parts[topic][p]
		for i, ts := range f.times[topic][p] {
			if !ts.Before(t) {
				out[p] = in.logStart + int64(i)
				break
			}
		}
	}
	return out, nil
}

func TestPlan(t *testing.T) {
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	minutes := func(n int) []time.Time { // one record a minute
		out := make([]time.Time, n)
		for i := range out {
			out[i] = t0.Add(time.Duration(i) * time.Minute)
		}
		return out
	}
	b := fakeBroker{
		parts: map[string]map[int]partitionInfo{
			"t": {0: {0, 5000}, 1: {1200, 5000}, 2: {0, 0}},
			"u": {0: {0, 10}},
		},
		times: map[string]map[int][]time.Time{"t": {0: minutes(5000), 1: minutes(3800)}},
	}
	ctx := context.Background()
	show := func(p *Plan) string {
		var parts []string
		for _, r := range p.Ranges {
			parts = append(parts, fmt.Sprintf("%s/%d:%d-%d", r.Widened.Topic, r.Widened.Partition, r.Widened.From, r.Widened.To))
		}
		for _, s := range p.Skipped {
			parts = append(parts, fmt.Sprintf("skip %s/%d:%d-%d", s.Topic, s.Partition, s.From, s.To))
		}
		parts = append(parts, fmt.Sprintf("empty %d", len(p.Empty)))
		return strings.Join(parts, " ")
	}
	offsets := func(spec string) Selection {
		rs, err := ParseOffsets("t", spec)
		if err != nil {
			t.Fatal(err)
		}
		return Selection{Topics: []string{"t"}, Offsets: rs}
	}
	for _, tc := range []struct {
		name string
		sel  Selection
		want string
		err  string // an InputError containing this
	}{
		{name: "all", sel: Selection{Topics: []string{"t"}, All: true},
			want: "t/0:0-4999 t/1:2000-4999 skip t/1:1000-1999 empty 1"},
		{name: "all of chosen partitions", sel: Selection{Topics: []string{"t"}, All: true, Partitions: []int{0}}, want: "t/0:0-4999 empty 0"},
		{name: "offsets inside blocks", sel: offsets("0:1234-2345"), want: "t/0:1000-2999 empty 0"},
		{name: "overlapping ranges merge", sel: offsets("0:10-20,0:900-1100,0:3000-3001"), want: "t/0:0-1999 t/0:3000-3999 empty 0"},
		{name: "to the end", sel: offsets("0:4100-"), want: "t/0:4000-4999 empty 0"},
		{name: "catch-up past the end is empty", sel: offsets("0:5000-"), want: "empty 1"},
		{name: "from the log start", sel: Selection{Offsets: []Range{{"t", 1, FromStart, ToEnd}}}, want: "t/1:2000-4999 skip t/1:1000-1999 empty 0"},
		{name: "two topics", sel: Selection{Offsets: []Range{{"t", 0, 0, 1}, {"u", 0, 5, 9}}}, want: "t/0:0-999 u/0:0-9 empty 0"},
		{name: "time range", sel: Selection{Topics: []string{"t"}, From: t0.Add(1500 * time.Minute), To: t0.Add(2500 * time.Minute)},
			want: "t/0:1000-2999 t/1:2000-3999 empty 1"},
		{name: "time range in a partly deleted block", sel: Selection{Topics: []string{"t"}, Partitions: []int{1}, From: t0, To: t0.Add(100 * time.Minute)},
			want: "skip t/1:1000-1999 empty 0"},
		{name: "time range with no records", sel: Selection{Topics: []string{"t"}, From: t0.AddDate(1, 0, 0), To: t0.AddDate(2, 0, 0)}, want: "empty 3"},
		{name: "time range before the data", sel: Selection{Topics: []string{"t"}, From: t0.AddDate(-1, 0, 0), To: t0}, want: "empty 3"},
		{name: "time range to now", sel: Selection{Topics: []string{"t"}, Partitions: []int{0}, From: t0.Add(4990 * time.Minute), To: t0.AddDate(1, 0, 0)}, want: "t/0:4000-4999 empty 0"},
		{name: "unknown partition", sel: offsets("7:0-1"), err: "partition 7: topic t has partitions 0-2"},
		{name: "unknown partition filter", sel: Selection{Topics: []string{"t"}, All: true, Partitions: []int{0, 9}}, err: "partition 9"},
		{name: "unknown topic", sel: Selection{Topics: []string{"nope"}, All: true}, err: "topic nope does not exist"},
		{name: "offsets past the end", sel: offsets("0:4000-5000"), err: "outside the topic: partition 0 of t holds offsets 0-4999"},
		{name: "offsets deleted by retention", sel: offsets("1:0-1100"), err: "outside the topic: partition 1 of t holds offsets 1200-4999"},
		{name: "empty partition", sel: offsets("2:0-0"), err: "holds no records"},
		{name: "from after to", sel: Selection{Topics: []string{"t"}, From: t0.Add(time.Hour), To: t0}, err: "is not before --to"},
		{name: "from equals to", sel: Selection{Topics: []string{"t"}, From: t0, To: t0}, err: "is not before --to"},
		{name: "from without to", sel: Selection{Topics: []string{"t"}, From: t0}, err: "give both --from and --to"},
		{name: "no mode", sel: Selection{Topics: []string{"t"}}, err: "choose exactly one"},
		{name: "two modes", sel: Selection{Topics: []string{"t"}, All: true, Offsets: []Range{{"t", 0, 0, 1}}}, err: "choose exactly one"},
		{name: "partitions with offsets", sel: Selection{Offsets: []Range{{"t", 0, 0, 1}}, Partitions: []int{0}}, err: "--partitions applies"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := plan(ctx, b, tc.sel, 1000)
			if tc.err != "" {
				var ie *InputError
				if !errors.As(err, &ie) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want an InputError containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := show(p); got != tc.want {
				t.Fatalf("plan %q, want %q", got, tc.want)
			}
		})
	}
}
