package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"time"
)

const probeUsage = `Usage: trustpipe probe [--url URL] [--timeout D]

Requests URL and exits 0 when it answers 2xx, 1 otherwise: the healthcheck
of the container image, which has no shell, curl or wget
(docker-compose.yml: trustpipe probe --url http://localhost:9464/readyz).

Flags:
`

func probeFlags(url *string, timeout *time.Duration) *flag.FlagSet {
	fs := flag.NewFlagSet("probe", flag.ContinueOnError)
	fs.StringVar(url, "url", "http://localhost:9464/healthz", "URL to request")
	fs.DurationVar(timeout, "timeout", 3*time.Second, "give up after this long")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), probeUsage)
		printFlags(fs)
	}
	return fs
}

func cmdProbe(ctx context.Context, args []string) error {
	var url string
	var timeout time.Duration
	if err := parseFlags(probeFlags(&url, &timeout), args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return usagef("probe: --url %q: %v", url, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("probe %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("probe %s: %s", url, resp.Status)
	}
	return nil
}
