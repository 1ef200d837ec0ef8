package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
)

// The compose healthcheck of the shell-less image: 2xx is healthy, anything
// else (a 503 from /readyz, nothing listening) is not.
func TestProbe(t *testing.T) {
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(status) }))
	defer srv.Close()
	if err := cmdProbe(context.Background(), []string{"--url", srv.URL}); err != nil {
		t.Errorf("probe of a 200: %v", err)
	}
	status = http.StatusServiceUnavailable
	if err := cmdProbe(context.Background(), []string{"--url=" + srv.URL}); err == nil {
		t.Error("probe of a 503 succeeded")
	}
	srv.Close()
	if err := cmdProbe(context.Background(), []string{"--url", srv.URL, "--timeout", "1s"}); err == nil {
		t.Error("probe of a closed port succeeded")
	}
}
