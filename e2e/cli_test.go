package e2e

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestCLI runs the testscript files in testdata: usage, flags, exit codes
// and messages of the built binaries.
func TestCLI(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata",
		RequireExplicitExec: true,
		UpdateScripts:       os.Getenv("UPDATE_SCRIPTS") != "",
		Setup: func(env *testscript.Env) error {
			env.Setenv("PATH", binDir+string(os.PathListSeparator)+os.Getenv("PATH"))
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){"status": status},
	})
}

// status N PROGRAM [ARGS]: runs PROGRAM, which must exit with status N
// (its stdout and stderr are kept for the next commands, as for exec).
func status(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: status N program [args...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("status %q: not a number", args[0])
	}
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("%s: %v", args[1], err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("%s exited with status %d, want %d", args[1], got, want)
	}
}

// docs/USAGE.md's usage blocks are the binaries' -h (scripts/usage-doc.sh
// rewrites them).
func TestUsageDocIsCurrent(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(repoRoot(), "docs", "USAGE.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range []string{"sio-serve", "sio-pub", "sio-sub"} {
		_, out, _ := runCmd(t, nil, 10*time.Second, b, "-h")
		if !strings.Contains(string(readme), "## "+b+"\n\n```\n"+out+"```\n") {
			t.Errorf("docs/USAGE.md's usage of %s is not its -h: run scripts/usage-doc.sh", b)
		}
	}
}
