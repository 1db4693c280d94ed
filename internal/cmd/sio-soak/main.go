// Command sio-soak is the soak and fault harness of scripts/soak.sh; see
// internal/soak and "sio-soak -h".
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/sio-tools/sio/internal/soak"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := soak.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
