// Command sio-load is the load generator of scripts/bench.sh; see
// internal/load and "sio-load -h".
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/sio-tools/sio/internal/load"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := load.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
