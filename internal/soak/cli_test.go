package soak

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeBin is a directory with executables named like the binaries.
func fakeBin(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, b := range []string{"sio-serve", "sio-pub", "sio-sub"} {
		if err := os.WriteFile(filepath.Join(dir, b), []byte("#!/bin/sh\nexit 1\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestMainUsage(t *testing.T) {
	bin := fakeBin(t)
	for _, c := range []struct {
		args []string
		code int
		out  string // in stdout (code 0) or stderr
	}{
		{[]string{"-h"}, 0, "Usage: sio-soak"},
		{[]string{"--help"}, 0, "Exit status"},
		{[]string{"--nope"}, 2, "flag provided but not defined"},
		{[]string{"--bin", bin, "extra"}, 2, `unexpected argument "extra"`},
		{[]string{"--bin", bin, "--lines", "0"}, 2, "--lines must be at least 1"},
		{[]string{"--bin", bin, "--runs", "-1"}, 2, "--runs must not be negative"},
		{[]string{"--bin", bin, "--modes", "plain,nope"}, 2, `unknown mode "nope"`},
		{[]string{"--bin", bin, "--faults", "boom"}, 2, `unknown fault "boom"`},
		{[]string{"--bin", t.TempDir()}, 2, "no executable sio-serve"},
		{[]string{"--duration", "soon"}, 2, "invalid value"},
	} {
		var stdout, stderr bytes.Buffer
		code := Main(context.Background(), c.args, &stdout, &stderr)
		out := stderr.String()
		if c.code == 0 {
			out = stdout.String()
		}
		if code != c.code || !strings.Contains(out, c.out) {
			t.Errorf("sio-soak %q: exit %d, %q; want exit %d and %q", c.args, code, out, c.code, c.out)
		}
		if c.code == 2 && !strings.Contains(stderr.String(), "hint: try sio-soak -h") {
			t.Errorf("sio-soak %q: no hint in %q", c.args, stderr.String())
		}
	}
}

// A run whose sio-serve does not start fails, and says why; the soak
// exits 1 and still prints its table.
func TestMainFailedRun(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := Main(context.Background(), []string{"--bin", fakeBin(t), "-n", "1", "-m", "plain", "-f", "none", "-s", "5"}, &stdout, &stderr)
	if code != 1 {
		t.Errorf("exit %d, want 1; stderr:\n%s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "FAIL run 1 (seed 5, plain/none)") || !strings.Contains(stderr.String(), "exited 1 before listening") {
		t.Errorf("stderr:\n%s", stderr.String())
	}
	if !strings.Contains(stdout.String(), "| plain | none  |    1 |      0 |      1 |") {
		t.Errorf("stdout:\n%s", stdout.String())
	}
}

func TestTable(t *testing.T) {
	s := &Summary{Rows: []Row{
		{Mode: "plain", Fault: "kill", Runs: 3, Passed: 2, Failed: 1, SilentRuns: 1, SilentLines: 120, Faults: 4, MaxTime: 12300 * time.Millisecond},
		{Mode: "fanout", Fault: "storm", Runs: 2, Passed: 2, EarlyCloses: 3, MaxTime: 8 * time.Second},
	}}
	var b bytes.Buffer
	if err := s.Table(&b); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 5 {
		t.Fatalf("%d lines, want header, rule, 2 rows and the total:\n%s", len(lines), b.String())
	}
	for _, l := range lines[1:] {
		if len(l) != len(lines[0]) {
			t.Errorf("columns not aligned:\n%s", b.String())
			break
		}
	}
	for _, want := range []string{"| plain  | kill  |    3 |      2 |      1 |                  1 (120) |",
		"| all    |       |    5 |      4 |      1 |                  1 (120) |", "12.3s |"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("no %q in\n%s", want, b.String())
		}
	}
}
