// Package testkit is the test toolkit every layer's tests share: golden
// files, and the rule for tests that need a server or a tool — skip when it
// is missing, fail under CI=true, where nothing may be skipped.
//
// It lives at the bottom of the stack (aggregate/, the lowest layer) and
// imports nothing of trustpipe, so the tests of aggregate, sink, consumers,
// cmd and dashboards can all import it without an arrow pointing upward.
// Helpers that need a layer (sink/sinktest's databases, consumers/kafkatest's
// broker) build on it in their own layer.
package testkit

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files instead of comparing with them")

// Updating reports whether the test binary runs with -update.
func Updating() bool { return *update }

// Golden compares got with the file at path (relative to the package
// directory, usually under testdata/); with -update it writes got there
// instead. A difference reports the first line that differs.
func Golden(t testing.TB, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run '%s' -update to create it)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the output (run go test -run '%s' -update and review the diff): %s",
			path, t.Name(), FirstDiff(string(want), string(got)))
	}
}

// FirstDiff describes the first line in which two texts differ, "" if none.
func FirstDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return "line " + strconv.Itoa(i+1) + ":\n want: " + wl + "\n  got: " + gl
		}
	}
	return ""
}

// Missing skips the test because something it needs is missing, or fails
// it under CI=true: CI must never silently skip an integration test.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true, so this test must not skip: "+format, args...)
	} else {
		t.Skipf(format, args...)
	}
}

// Env returns the value of the environment variable name, or calls Missing
// with hint (how to provide it) when it is unset.
func Env(t testing.TB, name, hint string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		Missing(t, "%s is not set: %s", name, hint)
	}
	return v
}

// Tool returns the path of the command name, or calls Missing when it is
// not on PATH, naming the Debian package that installs it.
func Tool(t testing.TB, name, debianPackage string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Missing(t, "%s not found on PATH (install Debian package %s): %v", name, debianPackage, err)
	}
	return p
}
