package main

import (
	"flag"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trustpipe/trustpipe/aggregate/testkit"
)

var screenshots = flag.String("screenshots", "",
	"also save the report page's desktop screenshot in this directory (the README's: ../../dashboards/screenshots)")

// chromiumPath finds Debian's chromium; without it the browser checks skip,
// except under CI=true, where .ci/test.sh installs it (testkit.Missing).
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/chromium", "chromium", "chromium-browser"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	testkit.Missing(t, "chromium is not installed (apt-get install chromium; .ci/test.sh does)")
	return ""
}

// requestLog is an HTTP proxy that answers every request with 502 and
// remembers it (except the browser's own, see browserService): Chromium is
// pointed at it for every URL, loopback included, so anything the page
// tries to fetch shows up here.
type requestLog struct {
	addr string
	mu   sync.Mutex
	seen []string
}

func startRequestLog(t *testing.T) *requestLog {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rl := &requestLog{addr: ln.Addr().String()}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !browserService(r.Host) {
			rl.mu.Lock()
			rl.seen = append(rl.seen, r.Method+" "+r.Host+r.URL.Path)
			rl.mu.Unlock()
		}
		http.Error(w, "no requests may leave the report page", http.StatusBadGateway)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return rl
}

// browserService tells Chromium's own traffic — update checks, sign-in,
// network time, which it sends even for a blank page whatever the flags —
// from the page's: it goes to Google's service hosts, which the page never
// names (checked apart: it names no URL at all).
func browserService(host string) bool {
	h, _, err := net.SplitHostPort(host)
	if err != nil {
		h = host
	}
	for _, d := range []string{".google.com", ".googleapis.com", ".gstatic.com"} {
		if strings.HasSuffix(h, d) {
			return true
		}
	}
	return false
}

func (rl *requestLog) take() []string {
	rl.mu.Lock()
	defer rl.mu.Unlock()
	s := rl.seen
	rl.seen = nil
	return s
}

// browser runs headless Chromium on one page per call, with a fresh
// profile, no background networking and every request sent to its proxy.
type browser struct {
	path  string
	dir   string
	proxy *requestLog
}

func (b browser) run(t *testing.T, page string, args ...string) []byte {
	t.Helper()
	profile, err := os.MkdirTemp(b.dir, "profile-")
	if err != nil {
		t.Fatal(err)
	}
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
		"--user-data-dir=" + profile,
		"--proxy-server=http://" + b.proxy.addr, "--proxy-bypass-list=<-loopback>"}
	cmd := exec.Command(b.path, append(append(base, args...), "file://"+page)...)
	cmd.Dir = b.dir
	var stderr strings.Builder
	cmd.Stderr = &stderr
	done := make(chan struct{})
	var out []byte
	go func() { out, err = cmd.Output(); close(done) }()
	select {
	case <-done:
	case <-time.After(90 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("chromium on %s timed out\n%s", page, stderr.String())
	}
	if err != nil {
		t.Fatalf("chromium %v on %s: %v\n%s", args, page, err, stderr.String())
	}
	return out
}

// reportSections are the page's sections, each of which must hold a chart.
var reportSections = []string{"now", "over-time", "clicks-vs-trust", "complaints", "divergence", "consent", "reach", "campaigns"}

// checkReportPage renders the HTML report in headless Chromium and checks
// the rendered DOM against the JSON report (the Index value and the
// divergence flag), a chart in every section, and that the page fetches
// nothing; it saves desktop and phone screenshots under the test's temp
// dir (and -screenshots).
func checkReportPage(t *testing.T, page []byte, j reportJSON) {
	t.Helper()
	b := browser{path: chromiumPath(t), dir: t.TempDir(), proxy: startRequestLog(t)}
	write := func(name string, data []byte) string {
		p := filepath.Join(b.dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	path := write("report.html", page)

	dom := string(b.run(t, path, "--dump-dom"))
	m := regexp.MustCompile(`<div id="trust-index" class="index ([a-z-]+)" data-value="([^"]*)"[^>]*>([0-9.]+)<small>`).FindStringSubmatch(dom)
	if m == nil || j.TrustIndex.Value == nil {
		t.Fatalf("no Trust Index in the rendered page (JSON: %v):\n%.2000s", j.TrustIndex.Value, dom)
	}
	if got, err := strconv.ParseFloat(m[2], 64); err != nil || got != *j.TrustIndex.Value {
		t.Errorf("page Index %q, report --format json %v", m[2], *j.TrustIndex.Value)
	}
	if want := strconv.FormatFloat(*j.TrustIndex.Value, 'f', 1, 64); m[3] != want {
		t.Errorf("page shows Index %s, want %s", m[3], want)
	}
	div := regexp.MustCompile(`<section id="divergence"[^>]*data-flag="(true|false)"`).FindStringSubmatch(dom)
	if div == nil || div[1] != strconv.FormatBool(j.Divergence.Flag) {
		t.Errorf("page divergence flag %v, report --format json %v", div, j.Divergence.Flag)
	}
	if j.Divergence.Flag && !strings.Contains(dom, `id="divergence-flag">FLAGGED<`) {
		t.Error("the page does not say FLAGGED")
	}
	for _, id := range reportSections {
		sec := regexp.MustCompile(`(?s)<section id="` + id + `"[^>]*>(.*?)</section>`).FindStringSubmatch(dom)
		if sec == nil {
			t.Errorf("the page has no section %q", id)
			continue
		}
		if n := strings.Count(sec[1], `<svg class="chart"`); n == 0 {
			t.Errorf("section %q has no chart", id)
		}
	}

	// Nothing leaves the page: it names no URL, it carries the strict CSP,
	// and even without that CSP the browser requests nothing through the
	// proxy — which, as the control shows, would see a single image.
	if u := regexp.MustCompile(`(?i)(https?:|ftp:|//[a-z0-9.-]+\.[a-z]|url\([^#)])`).FindString(string(page)); u != "" {
		t.Errorf("the page references something outside itself: %q", u)
	}
	csp := `<meta http-equiv="Content-Security-Policy" content="default-src &#39;none&#39;; style-src &#39;unsafe-inline&#39;; img-src data:">`
	if !strings.Contains(string(page), csp) {
		t.Errorf("the page lacks %s", csp)
	}
	bare := strings.Replace(string(page), csp, "", 1)
	b.run(t, write("no-csp.html", []byte(bare)), "--dump-dom")
	if seen := b.proxy.take(); len(seen) > 0 {
		t.Errorf("the page (without its CSP) made requests: %v", seen)
	}
	leak := strings.Replace(bare, "</main>", `<img src="http://192.0.2.1/pixel.png" alt=""></main>`, 1)
	b.run(t, write("control.html", []byte(leak)), "--dump-dom")
	if seen := strings.Join(b.proxy.take(), " "); !strings.Contains(seen, "192.0.2.1/pixel.png") {
		t.Errorf("control: an image on the page was not seen by the proxy (saw %q): the request check is blind", seen)
	}

	for _, shot := range []struct {
		name, size string
		readme     bool // the README's screenshot, saved under -screenshots
	}{
		{"report-trust-spiral.png", "1280,3900", true},
		{"report-trust-spiral-phone.png", "390,7000", false},
	} {
		out := filepath.Join(b.dir, shot.name)
		b.run(t, path, "--screenshot="+out, "--window-size="+shot.size)
		png, err := os.ReadFile(out)
		if err != nil || len(png) < 10000 {
			t.Fatalf("screenshot %s: %d bytes, %v", shot.name, len(png), err)
		}
		t.Logf("screenshot %s", out)
		if *screenshots != "" && shot.readme {
			if err := os.WriteFile(filepath.Join(*screenshots, shot.name), png, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
