// Package progress draws the progress of long-running commands (gen, replay,
// the demo): a redrawn bar on a terminal, plain periodic lines otherwise.
package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// Progress reports the progress of a long write: a redrawn progress bar with
// rate and ETA when the output is a terminal, and plain periodic lines
// otherwise, because carriage returns and bars make a mess of CI logs and
// redirected output.
//
// Its Update method has the signature Produce expects for its progress
// callback. Progress is safe for concurrent use.
type Progress struct {
	// Label prefixes every line ("gen").
	Label string
	// Terminal selects the bar; New sets it when the writer is a
	// character device.
	Terminal bool
	// Interval is the minimum time between two outputs (the last update,
	// done == total, is always shown). New sets 100ms on a terminal
	// and 5s otherwise.
	Interval time.Duration
	// Now is the clock (injected for tests); New sets time.Now.
	Now func() time.Time

	mu       sync.Mutex
	w        io.Writer
	start    time.Time
	last     time.Time
	shown    bool // something has been written
	finished bool
	width    int // length of the last bar, to blank leftovers
}

// New returns a Progress writing to w.
func New(w io.Writer, label string) *Progress {
	p := &Progress{Label: label, Now: time.Now, Interval: 5 * time.Second, w: w}
	if IsTerminal(w) {
		p.Terminal = true
		p.Interval = 100 * time.Millisecond
	}
	return p
}

// IsTerminal reports whether w is a terminal (a character device; /dev/null
// counts too, which only means a bar nobody sees).
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// Update reports that done of total records are written. The first call
// starts the clock used for rate and ETA.
func (p *Progress) Update(done, total int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.finished {
		return
	}
	now := p.Now()
	if p.start.IsZero() {
		p.start, p.last = now, now
	}
	final := done >= total
	// A bar is drawn at once; plain lines wait an interval, so that a short
	// run logs only its final line.
	if !final && (p.shown || !p.Terminal) && now.Sub(p.last) < p.Interval {
		return
	}
	p.last, p.shown = now, true
	elapsed := now.Sub(p.start)
	rate := 0.0
	if elapsed > 0 {
		rate = float64(done) / elapsed.Seconds()
	}
	pct := 100.0
	if total > 0 {
		pct = 100 * float64(done) / float64(total)
	}
	eta := "?"
	switch {
	case final:
		eta = "0s"
	case rate > 0:
		eta = (time.Duration(float64(total-done) / rate * float64(time.Second))).Round(time.Second).String()
	}
	if !p.Terminal {
		fmt.Fprintf(p.w, "%s: %d/%d events (%.0f%%), %.0f ev/s, eta %s\n", p.Label, done, total, pct, rate, eta)
		if final {
			p.finished = true
		}
		return
	}
	const barWidth = 30
	fill := int(pct / 100 * barWidth)
	line := fmt.Sprintf("%s [%s%s] %3.0f%% %d/%d events  %.0f ev/s  eta %s",
		p.Label, strings.Repeat("█", fill), strings.Repeat("░", barWidth-fill), pct, done, total, rate, eta)
	n := len([]rune(line))
	pad := ""
	if p.width > n {
		pad = strings.Repeat(" ", p.width-n)
	}
	p.width = n
	fmt.Fprintf(p.w, "\r%s%s", line, pad)
	if final {
		fmt.Fprintln(p.w)
		p.finished = true
	}
}

// Finish ends the output when the work stopped early (an error, Ctrl-C): it
// terminates a partially drawn bar with a newline so later messages start on
// their own line. It does nothing after a final update.
func (p *Progress) Finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.finished {
		return
	}
	p.finished = true
	if p.Terminal && p.shown {
		fmt.Fprintln(p.w)
	}
}
