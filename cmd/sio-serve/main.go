// Command sio-serve is a Socket.IO v4 relay. See sio-serve -h.
package main

import (
	"os"

	"github.com/sio-tools/sio/pkg/cli"
	"github.com/sio-tools/sio/pkg/serve"
)

func main() {
	os.Exit(cli.Main("sio-serve", os.Args[1:], serve.ParseFlags, serve.Run))
}
