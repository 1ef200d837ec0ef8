package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/trustpipe/trustpipe/aggregate/indicator"
	"github.com/trustpipe/trustpipe/aggregate/report"
	"github.com/trustpipe/trustpipe/sink"
)

// reportPath is where `run` and `demo` serve the report page.
const reportPath = "/report"

// reportPageTimeout bounds the reads of one page view.
const reportPageTimeout = 30 * time.Second

// reportHandler serves `trustpipe report` at /report: its flags are the
// query parameters (/report?from=-7d&campaign=spring-launch), parsed by the
// same parseReportArgs, and the format is html unless ?format= says
// otherwise. A bad parameter is a 400 with the usage message.
func reportHandler(st *sink.Store, dcfg indicator.DivergenceConfig, targets []string, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "use GET", http.StatusMethodNotAllowed)
			return
		}
		o, err := parseReportArgs(queryArgs(r.URL.Query()), time.Now())
		if err == nil && o.help {
			err = errors.New("help is not a report parameter; see trustpipe report --help")
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), reportPageTimeout)
		defer cancel()
		var b bytes.Buffer
		if err := renderReport(ctx, st, dcfg, targets, o, &b); err != nil {
			log.Warn("report page", "err", err)
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		switch o.format {
		case "html":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Header().Set("Content-Security-Policy", report.CSP)
		case "json":
			w.Header().Set("Content-Type", "application/json")
		default:
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		}
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(b.Bytes())
	}
}

// queryArgs turns query parameters into report flags, in a fixed order:
// ?from=-7d&campaign=x becomes --campaign=x --from=-7d, plus --format=html
// unless a format is given.
func queryArgs(q url.Values) []string {
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var args []string
	for _, k := range keys {
		for _, v := range q[k] {
			args = append(args, "--"+k+"="+v)
		}
	}
	if !q.Has("format") {
		args = append(args, "--format=html")
	}
	return args
}

// reportURL is the address of the page for a report's flags (pairs of
// "--name", value), on the HTTP endpoint listening at addr; a wildcard
// listen address becomes localhost, which a browser can open.
func reportURL(addr string, args []string) string {
	q := url.Values{}
	for i := 0; i+1 < len(args); i += 2 {
		if k, ok := strings.CutPrefix(args[i], "--"); ok {
			q.Set(k, args[i+1])
		}
	}
	if host, port, err := net.SplitHostPort(addr); err == nil {
		if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
			addr = net.JoinHostPort("localhost", port)
		}
	}
	return "http://" + addr + reportPath + "?" + q.Encode()
}
