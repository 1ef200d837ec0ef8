package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trustpipe/trustpipe/sink"
	"github.com/trustpipe/trustpipe/sink/sinktest"
)

// TestDemoOnce runs the quick start as a newcomer would (embedded broker),
// against the test ClickHouse, and checks what it stored and printed.
func TestDemoOnce(t *testing.T) {
	chAddr := sinktest.Addr(t)
	const events = 60000
	cmd := exec.Command(binary, "demo", "--once", "--events", "60000", "--days", "21")
	cmd.Dir = t.TempDir() // the page is written to the working directory
	cmd.Env = []string{"PATH=/usr/bin:/bin", "TRUSTPIPE_CLICKHOUSE_ADDR=" + chAddr, "TRUSTPIPE_HTTP_ADDR=127.0.0.1:0", "TRUSTPIPE_LOG_LEVEL=error"}
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("demo --once: %v\nstderr:\n%s", err, stderr.String())
	}
	st, err := sink.Open(context.Background(), sink.Config{Addr: chAddr, Database: demoDatabase}, sink.LiveTables())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	t.Cleanup(func() { _ = st.DropDatabase(context.Background()) })
	// The demo's history has no invalid records: every event is counted.
	if got := queryUint(t, st.Conn(), "SELECT sum(events) FROM "+demoDatabase+".trust_counts"); got != events {
		t.Fatalf("demo database holds %d events, want %d", got, events)
	}
	out := stdout.String()
	// The demo's scenario (trust-spiral) exercises both divergence rules
	// and shows the audience signals.
	for _, want := range []string{"TRUST INDEX", "WHAT MOVED THE INDEX", "DIVERGENCE", "FLAGGED", "top_decile_click_share", "clicks_per_clicker",
		"engaged_reach_rate", "or more): YES - ctr rose"} {
		if !strings.Contains(out, want) {
			t.Fatalf("demo report lacks %q:\n%s", want, out)
		}
	}
	page := filepath.Join(cmd.Dir, demoPageFile)
	if !strings.Contains(stderr.String(), "the same report as a page, with charts: "+page) {
		t.Errorf("demo --once does not say where the page is:\n%s", stderr.String())
	}
	if html, err := os.ReadFile(page); err != nil || !strings.Contains(string(html), "<svg") || !strings.Contains(string(html), "Content-Security-Policy") {
		t.Errorf("demo --once page %s: %v (%d bytes): want the self-contained report page", page, err, len(html))
	}
}
