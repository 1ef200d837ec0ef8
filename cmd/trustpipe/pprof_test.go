package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// The profiler is served only when TRUSTPIPE_PPROF asks for it.
func TestProfilerOnlyWhenEnabled(t *testing.T) {
	ready := func(context.Context) error { return nil }
	for _, tc := range []struct {
		profiling bool
		want      int
	}{{false, http.StatusNotFound}, {true, http.StatusOK}} {
		h := httpHandler(prometheus.NewRegistry(), ready, http.NotFoundHandler(), tc.profiling)
		for _, path := range []string{"/debug/pprof/", "/debug/pprof/heap", "/debug/pprof/cmdline"} {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
			if rec.Code != tc.want {
				t.Errorf("profiling=%v: GET %s = %d, want %d", tc.profiling, path, rec.Code, tc.want)
			}
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
		if rec.Code != http.StatusOK {
			t.Errorf("profiling=%v: /healthz = %d", tc.profiling, rec.Code)
		}
	}
}
