// Command sio-sub prints Socket.IO events as lines. See sio-sub -h.
package main

import (
	"os"

	"github.com/sio-tools/sio/pkg/cli"
	"github.com/sio-tools/sio/pkg/sub"
)

var command = cli.Command[sub.Config]{Name: "sio-sub", Parse: sub.ParseFlags, Run: sub.Run}

func main() {
	ctx, stop := cli.SetupProcess(command.Name, os.Stderr)
	code := cli.Run(ctx, command, os.Args[1:], os.Getenv, cli.Stdio{In: os.Stdin, Out: os.Stdout, Err: os.Stderr})
	stop()
	os.Exit(code)
}
