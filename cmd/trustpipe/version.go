package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
)

// Build stamps, set by `make build` and the Dockerfile:
//
//	go build -ldflags "-X main.version=v1.2.0 -X main.commit=$(git rev-parse HEAD) -X main.date=2026-11-20T10:00:00Z"
//
// Unset stamps fall back to what the Go toolchain records in the binary
// (the module version, vcs.revision and vcs.time of a build from a
// checkout), so `go install` and `go build` binaries still say what they are.
var version, commit, date string

// build describes this binary.
type build struct {
	Version, Commit, Date, GoVersion string
}

// buildInfo resolves the stamps: -ldflags first, then runtime/debug's build
// information, then "unknown".
func buildInfo() build {
	b := build{Version: version, Commit: commit, Date: date, GoVersion: runtime.Version()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if b.Version == "" && bi.Main.Version != "" {
			b.Version = bi.Main.Version
		}
		modified := false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if b.Commit == "" {
					b.Commit = s.Value
				}
			case "vcs.time":
				if b.Date == "" {
					b.Date = s.Value
				}
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		if modified && commit == "" && b.Commit != "" {
			b.Commit += "-modified"
		}
	}
	for _, f := range []*string{&b.Version, &b.Commit, &b.Date} {
		if *f == "" {
			*f = "unknown"
		}
	}
	return b
}

func (b build) String() string {
	return fmt.Sprintf("trustpipe %s (commit %s, built %s, %s)", b.Version, b.Commit, b.Date, b.GoVersion)
}

// buildInfoCollector is the trustpipe_build_info gauge: always 1, the build
// in its labels, as Prometheus exporters do, so dashboards can show and
// join on the running version.
func buildInfoCollector() prometheus.Collector {
	b := buildInfo()
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "trustpipe_build_info",
		Help: "A metric with a constant '1' value labelled by the version, commit and build date trustpipe was built from.",
		ConstLabels: prometheus.Labels{
			"version": b.Version, "revision": b.Commit, "build_date": b.Date, "goversion": b.GoVersion,
		},
	})
	g.Set(1)
	return g
}
