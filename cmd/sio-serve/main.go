// Command sio-serve is a Socket.IO v4 relay. See sio-serve -h.
package main

import (
	"os"
	"runtime/debug"

	"github.com/sio-tools/sio/pkg/cli"
	"github.com/sio-tools/sio/pkg/serve"
)

var command = cli.Command[serve.Config]{Name: "sio-serve", Parse: serve.ParseFlags, Run: serve.Run}

func main() {
	tuneGC()
	ctx, stop := cli.SetupProcess(command.Name, os.Stderr)
	code := cli.Run(ctx, command, os.Args[1:], os.Getenv, cli.Stdio{In: os.Stdin, Out: os.Stdout, Err: os.Stderr})
	stop()
	os.Exit(code)
}

// tuneGC sets a heap target of 400 % unless GOGC says otherwise: fan-out
// allocates short-lived buffers, and a larger heap target costs little
// memory and much less GC.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
}
