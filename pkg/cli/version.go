package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// Version is what --version prints for prog: the module's version, the
// commit it was built from (and whether the tree had changes), the Go
// version and platform, and the Socket.IO library modules linked in.
func Version(prog string) string {
	var b strings.Builder
	info, ok := debug.ReadBuildInfo()
	if !ok {
		fmt.Fprintf(&b, "%s (no build information)\n%s %s/%s\n", prog, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return b.String()
	}
	fmt.Fprintf(&b, "%s %s", prog, info.Main.Version)
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	if rev := settings["vcs.revision"]; rev != "" {
		fmt.Fprintf(&b, ", commit %.12s", rev)
		if settings["vcs.modified"] == "true" {
			b.WriteString(" with local changes")
		}
		if t := settings["vcs.time"]; t != "" {
			fmt.Fprintf(&b, " (%s)", t)
		}
	}
	fmt.Fprintf(&b, "\n%s %s/%s\n", info.GoVersion, runtime.GOOS, runtime.GOARCH)
	for _, d := range info.Deps {
		if strings.HasPrefix(d.Path, "github.com/zishang520/socket.io/") {
			fmt.Fprintf(&b, "%s %s\n", d.Path, d.Version)
		}
	}
	return b.String()
}
