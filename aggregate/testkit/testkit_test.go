package testkit

import (
	"os"
	"path/filepath"
	"testing"
)

func TestFirstDiff(t *testing.T) {
	for _, tc := range []struct{ want, got, diff string }{
		{"a\nb\n", "a\nb\n", ""},
		{"a\nb\n", "a\nc\n", "line 2:\n want: b\n  got: c"},
		{"a\n", "a\nb", "line 2:\n want: \n  got: b"},
	} {
		if d := FirstDiff(tc.want, tc.got); d != tc.diff {
			t.Errorf("FirstDiff(%q, %q) = %q, want %q", tc.want, tc.got, d, tc.diff)
		}
	}
}

// recorder is a testing.TB that records failures and skips instead of
// stopping the test.
type recorder struct {
	testing.TB
	failed, skipped bool
}

func (r *recorder) Helper()               {}
func (r *recorder) Errorf(string, ...any) { r.failed = true }
func (r *recorder) Fatalf(string, ...any) { r.failed = true }
func (r *recorder) Skipf(string, ...any)  { r.skipped = true }
func (r *recorder) Fatal(...any)          { r.failed = true }
func (r *recorder) Name() string          { return r.TB.Name() }

func TestGolden(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.golden")
	if err := os.WriteFile(path, []byte("one\ntwo\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := &recorder{TB: t}
	Golden(r, path, []byte("one\ntwo\n"))
	if r.failed {
		t.Error("equal output failed")
	}
	Golden(r, path, []byte("one\nthree\n"))
	if !r.failed {
		t.Error("different output passed")
	}
	r = &recorder{TB: t}
	Golden(r, filepath.Join(t.TempDir(), "missing.golden"), nil)
	if !r.failed {
		t.Error("a missing golden file passed")
	}
}

func TestMissingFailsUnderCI(t *testing.T) {
	for _, ci := range []string{"true", ""} {
		t.Setenv("CI", ci)
		r := &recorder{TB: t}
		Env(r, "TESTKIT_SURELY_UNSET_VARIABLE", "set it")
		if r.failed != (ci == "true") || r.skipped != (ci != "true") {
			t.Errorf("CI=%q: failed %v, skipped %v", ci, r.failed, r.skipped)
		}
		r = &recorder{TB: t}
		Tool(r, "testkit-surely-missing-tool", "none")
		if r.failed != (ci == "true") || r.skipped != (ci != "true") {
			t.Errorf("CI=%q: tool: failed %v, skipped %v", ci, r.failed, r.skipped)
		}
	}
	t.Setenv("TESTKIT_SET_VARIABLE", "v")
	if v := Env(t, "TESTKIT_SET_VARIABLE", ""); v != "v" {
		t.Errorf("Env = %q", v)
	}
}
