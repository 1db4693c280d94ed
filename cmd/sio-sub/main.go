// Command sio-sub prints Socket.IO events as lines. See sio-sub -h.
package main

import (
	"os"

	"github.com/sio-tools/sio/pkg/cli"
	"github.com/sio-tools/sio/pkg/sub"
)

func main() {
	os.Exit(cli.Main("sio-sub", os.Args[1:], sub.ParseFlags, sub.Run))
}
