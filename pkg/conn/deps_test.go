package conn

import (
	"os/exec"
	"strings"
	"testing"
)

// sio-pub and sio-sub link no part of the Socket.IO library the server
// is built on: it reads a terminal database and opens files as it starts
// (one took the file descriptor sio-sub --ready-fd 7 was checked for),
// and the clients do not need it.
func TestClientLinksNoServerLibrary(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/sio-tools/sio/cmd/sio-pub", "github.com/sio-tools/sio/cmd/sio-sub").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		if strings.Contains(p, "zishang520") || strings.Contains(p, "gookit") {
			t.Errorf("sio-pub or sio-sub links %s", p)
		}
	}
}
