package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

var (
	peerMu   sync.Mutex
	peerDone = map[string]error{}
)

// requirePeers is true under CI=true or SIO_REQUIRE_PEERS=1: a peer that
// cannot be installed fails the test instead of skipping it.
func requirePeers() bool {
	return os.Getenv("CI") == "true" || os.Getenv("SIO_REQUIRE_PEERS") == "1"
}

// needPeer makes sure a peer is installed through scripts/peers.sh (once
// per test binary): node, python, chromium, redis or mosquitto. When it
// cannot be, the test is skipped, or fails under CI.
func needPeer(t *testing.T, name string) {
	t.Helper()
	peerMu.Lock()
	err, done := peerDone[name]
	if !done {
		cmd := exec.Command("scripts/peers.sh", name)
		cmd.Dir = repoRoot()
		out, e := cmd.CombinedOutput()
		if e != nil {
			err = &peerError{name: name, out: string(out), err: e}
		}
		peerDone[name] = err
	}
	peerMu.Unlock()
	if err == nil {
		return
	}
	if requirePeers() {
		t.Fatalf("peer %s is required (CI=true or SIO_REQUIRE_PEERS=1): %v", name, err)
	}
	t.Skipf("peer %s not available: %v", name, err)
}

type peerError struct {
	name, out string
	err       error
}

func (e *peerError) Error() string {
	return "scripts/peers.sh " + e.name + ": " + e.err.Error() + ": " + e.out
}

// repoRoot is the top of the repository (the e2e tests run in e2e/).
func repoRoot() string {
	abs, _ := filepath.Abs("..")
	return abs
}

// nodeEnv is the environment a Node peer script needs to find the
// project's pinned npm packages wherever the script file is.
func nodeEnv() []string {
	return []string{"NODE_PATH=" + filepath.Join(repoRoot(), "node_modules")}
}

// python is Debian's interpreter, the one python3-socketio installs into.
const python = "/usr/bin/python3"

// startScript writes a peer script (Node or Python) to a temp file and
// starts it with the interpreter, like start does for the binaries.
func startScript(t *testing.T, o procOpts, interp, script string, args ...string) *proc {
	t.Helper()
	ext := ".js"
	if interp == python {
		ext = ".py"
	}
	f := filepath.Join(t.TempDir(), "peer"+ext)
	if err := os.WriteFile(f, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	if interp == "node" {
		o.env = append(o.env, nodeEnv()...)
	}
	return startPath(t, o, interp, append([]string{f}, args...)...)
}
