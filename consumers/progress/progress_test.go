package progress

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeClock advances by step on every reading.
type fakeClock struct {
	t    time.Time
	step time.Duration
}

func (c *fakeClock) now() time.Time { c.t = c.t.Add(c.step); return c.t }

func TestProgressPlain(t *testing.T) {
	var buf bytes.Buffer
	p := New(&buf, "gen")
	if p.Terminal {
		t.Fatal("a buffer is not a terminal")
	}
	clk := &fakeClock{t: progressStart, step: 500 * time.Millisecond}
	p.Now = clk.now
	p.Interval = time.Second
	for done := 0; done <= 100000; done += 10000 {
		p.Update(done, 100000)
	}
	p.Update(100000, 100000) // repeated final updates print nothing more
	p.Finish()
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	// 0 is silent; then one line per second (every other update) and the final one.
	want := []string{
		"gen: 20000/100000 events (20%), 20000 ev/s, eta 4s",
		"gen: 40000/100000 events (40%), 20000 ev/s, eta 3s",
		"gen: 60000/100000 events (60%), 20000 ev/s, eta 2s",
		"gen: 80000/100000 events (80%), 20000 ev/s, eta 1s",
		"gen: 100000/100000 events (100%), 20000 ev/s, eta 0s",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got:\n%s\nwant:\n%s", buf.String(), strings.Join(want, "\n"))
	}
}

func TestProgressTerminal(t *testing.T) {
	var buf bytes.Buffer
	p := New(&buf, "gen")
	p.Terminal = true
	p.Interval = 0
	clk := &fakeClock{t: progressStart, step: time.Second}
	p.Now = clk.now
	p.Update(0, 1000)
	p.Update(500, 1000)
	p.Finish() // an interrupted bar ends its line
	p.Update(1000, 1000)
	out := buf.String()
	if !strings.HasPrefix(out, "\rgen [░░░") || !strings.Contains(out, "\rgen [███████████████░░░░░░░░░░░░░░░]  50% 500/1000 events  500 ev/s  eta 1s") {
		t.Fatalf("bar output %q", out)
	}
	if !strings.HasSuffix(out, "\n") || strings.Count(out, "\n") != 1 {
		t.Fatalf("bar not ended by exactly one newline: %q", out)
	}

	// Completing normally ends the line too, and blanks a longer previous bar.
	buf.Reset()
	p = New(&buf, "gen")
	p.Terminal, p.Interval, p.Now = true, 0, (&fakeClock{t: progressStart, step: time.Second}).now
	p.Update(123456, 1000000)
	p.Update(1000000, 1000000)
	p.Finish()
	if out := buf.String(); !strings.HasSuffix(out, "eta 0s\n") || strings.Count(out, "\n") != 1 {
		t.Fatalf("final bar %q", out)
	}
}

func TestProgressZeroTotal(t *testing.T) {
	var buf bytes.Buffer
	p := New(&buf, "gen")
	p.Update(0, 0)
	if got := buf.String(); got != "gen: 0/0 events (100%), 0 ev/s, eta 0s\n" {
		t.Fatalf("got %q", got)
	}
}

func TestIsTerminal(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if IsTerminal(f) || IsTerminal(&bytes.Buffer{}) {
		t.Fatal("regular file or buffer reported as a terminal")
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if IsTerminal(w) {
		t.Fatal("pipe reported as a terminal")
	}
}

// progressStart is an arbitrary fixed start for the fake clock.
var progressStart = time.Date(2026, 3, 2, 15, 30, 0, 0, time.UTC)
