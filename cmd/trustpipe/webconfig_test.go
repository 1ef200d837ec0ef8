package main

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/trustpipe/trustpipe/consumers/kafkatest"
	"github.com/trustpipe/trustpipe/sink/sinktest"
)

// TestMetricsBasicAuth serves /metrics behind the exporter-toolkit web
// config (TRUSTPIPE_HTTP_WEB_CONFIG_FILE), as Prometheus exporters do.
func TestMetricsBasicAuth(t *testing.T) {
	chAddr := sinktest.Addr(t)
	db := sinktest.Database(t)
	brokers := kafkatest.Start(t, 1, "trust-events")
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	webConfig := filepath.Join(t.TempDir(), "web.yml")
	if err := os.WriteFile(webConfig, []byte("basic_auth_users:\n  prometheus: "+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	run, out := startTrustpipe(t, testEnv(brokers, chAddr, db, "TRUSTPIPE_HTTP_ADDR="+addr, "TRUSTPIPE_HTTP_WEB_CONFIG_FILE="+webConfig), "run")
	t.Cleanup(func() { _ = dropDatabase(context.Background(), Config{ClickhouseAddr: chAddr, ClickhouseDatabase: db}) })

	getPath := func(path, user, pass string) int {
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	get := func(user, pass string) int { return getPath("/metrics", user, pass) }
	waitFor(t, "the HTTP endpoint", time.Minute, out, func() bool { return get("prometheus", "s3cret") == http.StatusOK })
	if code := get("", ""); code != http.StatusUnauthorized {
		t.Fatalf("GET /metrics without credentials: %d, want 401", code)
	}
	if code := get("prometheus", "wrong"); code != http.StatusUnauthorized {
		t.Fatalf("GET /metrics with a wrong password: %d, want 401", code)
	}
	// The report page sits behind the same web config.
	if code := getPath("/report?from=-1d", "", ""); code != http.StatusUnauthorized {
		t.Fatalf("GET /report without credentials: %d, want 401", code)
	}
	if code := getPath("/report?from=-1d", "prometheus", "s3cret"); code != http.StatusOK {
		t.Fatalf("GET /report with credentials: %d, want 200", code)
	}
	_ = run.Process.Kill()
}
