package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// ShutdownTimeout is how long a command has, from the first SIGINT or
// SIGTERM, to finish what it was doing and exit (sio-serve: tell its
// clients and close; README and sio-serve -h say "within 5 s"). The steps
// of a shutdown share this one deadline rather than each having its own.
const ShutdownTimeout = 5 * time.Second

// SetupProcess makes the process-wide settings every sio command needs and
// is called once, by main, before Run:
//
//   - SIGPIPE is ignored: a closed stdout or stderr is then an error of the
//     write (sio-sub ends quietly; a log line is lost), never a death by
//     SIGPIPE. The README's "sio-serve --port 0 2>&1 | head -1" left a
//     server that died at its next log line.
//   - The first SIGINT or SIGTERM cancels the returned context, which the
//     command takes as "shut down" (within ShutdownTimeout); a second one
//     exits at once with status 130 (INT) or 143 (TERM), saying so on
//     stderr, for a user who will not wait.
//
// stop undoes the signal handling.
func SetupProcess(prog string, stderr io.Writer) (ctx context.Context, stop func()) {
	signal.Ignore(syscall.SIGPIPE)
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case <-sigs:
		case <-done:
			return
		}
		cancel()
		select {
		case s := <-sigs:
			fmt.Fprintf(stderr, "%s: second signal, exiting now\n", prog)
			os.Exit(signalStatus(s))
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		close(done)
		cancel()
	}
}

// signalStatus is the exit status of a process ended by s, as a shell
// reports it: 128 plus the signal's number.
func signalStatus(s os.Signal) int {
	if s == syscall.SIGTERM {
		return 128 + int(syscall.SIGTERM)
	}
	return 128 + int(syscall.SIGINT)
}
