// Command sio-pub emits stdin lines as Socket.IO events. See sio-pub -h.
package main

import (
	"os"

	"github.com/sio-tools/sio/pkg/cli"
	"github.com/sio-tools/sio/pkg/pub"
)

func main() {
	os.Exit(cli.Main("sio-pub", os.Args[1:], pub.ParseFlags, pub.Run))
}
