package e2e

import (
	"os"
	"path/filepath"
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
	})
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
