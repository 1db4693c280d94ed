package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sio-tools/sio/internal/helpdoc"
	"github.com/sio-tools/sio/pkg/pub"
)

// The test binary stands in for the binaries sio-docs runs: with
// SIO_DOCS_TEST_AS=sio-pub it is sio-pub answering -h (pub.ParseFlags
// prints the real help text), with SIO_DOCS_TEST_AS=broken a binary that
// fails on stderr.
func TestMain(m *testing.M) {
	switch os.Getenv("SIO_DOCS_TEST_AS") {
	case "sio-pub":
		pub.ParseFlags(os.Args[1:], func(string) string { return "" }, os.Stdout)
		os.Exit(0)
	case "broken":
		fmt.Fprintln(os.Stderr, "broken: cannot start\nsecond line")
		os.Exit(3)
	}
	os.Exit(m.Run())
}

// stub returns a path that runs this test binary as name.
func stub(t *testing.T, name string) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(t.TempDir(), name)
	text := fmt.Sprintf("#!/bin/sh\nSIO_DOCS_TEST_AS=%s exec %q \"$@\"\n", name, self)
	if err := os.WriteFile(script, []byte(text), 0o755); err != nil {
		t.Fatal(err)
	}
	return script
}

func TestWritesTheFourFiles(t *testing.T) {
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	if code := run([]string{"-o", out, stub(t, "sio-pub")}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	for file, start := range map[string]string{
		"man/man1/sio-pub.1":            `.\" Man page of sio-pub`,
		"completions/bash/sio-pub":      "# bash completion for sio-pub",
		"completions/zsh/_sio-pub":      "#compdef sio-pub\n",
		"completions/fish/sio-pub.fish": "# fish completion for sio-pub",
	} {
		b, err := os.ReadFile(filepath.Join(out, file))
		if err != nil {
			t.Error(err)
			continue
		}
		if !strings.HasPrefix(string(b), start) {
			t.Errorf("%s starts %.40q, want %q", file, b, start)
		}
	}
}

func TestFailures(t *testing.T) {
	broken := stub(t, "broken")
	for _, tc := range []struct {
		args     []string
		code     int
		inStderr string
	}{
		{[]string{}, 2, "-o DIR is required"},
		{[]string{"-o", t.TempDir()}, 2, "no BINARY given"},
		{[]string{"-x"}, 2, "-x"},
		{[]string{"-o", t.TempDir(), broken}, 1, broken + ": -h: exit status 3: broken: cannot start"},
		{[]string{"-o", t.TempDir(), "/nonexistent/sio-pub"}, 1, "/nonexistent/sio-pub: "},
	} {
		var stdout, stderr bytes.Buffer
		code := run(tc.args, &stdout, &stderr)
		msg := stderr.String()
		if code != tc.code || !strings.Contains(msg, tc.inStderr) || strings.Count(msg, "\n") != 1 || stdout.Len() > 0 {
			t.Errorf("%q: exit %d, stderr %q; want exit %d and one line with %q", tc.args, code, msg, tc.code, tc.inStderr)
		}
	}
}

func TestHelp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"-h"}, &stdout, &stderr); code != 0 || !strings.HasPrefix(stdout.String(), "Usage: sio-docs") || stderr.Len() > 0 {
		t.Errorf("-h: exit %d, stdout %q, stderr %q", code, stdout.String(), stderr.String())
	}
	// Its own help has the layout it reads.
	if h, err := helpdoc.Parse(stdout.String()); err != nil || len(h.Options) != 2 {
		t.Errorf("Parse(sio-docs -h): %+v, %v", h, err)
	}
}
