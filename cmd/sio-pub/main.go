// Command sio-pub emits stdin lines as Socket.IO events. See sio-pub -h.
package main

import (
	"os"

	"github.com/sio-tools/sio/pkg/cli"
	"github.com/sio-tools/sio/pkg/pub"
)

var command = cli.Command[pub.Config]{Name: "sio-pub", Parse: pub.ParseFlags, Run: pub.Run}

func main() {
	ctx, stop := cli.SetupProcess(command.Name, os.Stderr)
	code := cli.Run(ctx, command, os.Args[1:], os.Getenv, cli.Stdio{In: os.Stdin, Out: os.Stdout, Err: os.Stderr})
	stop()
	os.Exit(code)
}
