// Package cli holds what the three sio commands share: the error type that
// carries an exit code, flag and environment helpers, and Main, which runs a
// command with a signal context and turns its error into an exit status.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit codes, the same for all three commands (README, "Exit status").
const (
	ExitOK      = 0
	ExitFailure = 1
	ExitUsage   = 2
	ExitStart   = 3
	ExitData    = 65
	ExitTimeout = 124
)

// Error is an error with the exit code it stands for, and an optional hint
// printed on a second line.
type Error struct {
	Code int
	Err  error
	Hint string
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// ExitCode returns the process exit status this error stands for.
func (e *Error) ExitCode() int { return e.Code }

// Errorf returns an *Error with the given exit code.
func Errorf(code int, format string, a ...any) *Error {
	return &Error{Code: code, Err: fmt.Errorf(format, a...)}
}

// WithHint returns e with a hint line.
func (e *Error) WithHint(format string, a ...any) *Error {
	e.Hint = fmt.Sprintf(format, a...)
	return e
}

// ExitCode maps an error to an exit status: nil is 0, an error carrying a
// code gives that code, anything else is 1.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var c interface{ ExitCode() int }
	if errors.As(err, &c) {
		return c.ExitCode()
	}
	return ExitFailure
}

// Report writes err as one line on w, "prog: message", with a hint line when
// it has one, and returns the exit code.
func Report(w io.Writer, prog string, err error) int {
	if err == nil {
		return ExitOK
	}
	fmt.Fprintf(w, "%s: %v\n", prog, err)
	var e *Error
	if errors.As(err, &e) && e.Hint != "" {
		fmt.Fprintf(w, "%s: hint: %s\n", prog, e.Hint)
	}
	return ExitCode(err)
}

// Stdio are the streams a command reads and writes; tests pass their own.
type Stdio struct {
	In  io.Reader
	Out io.Writer
	Err io.Writer
}

// Main parses args with parse, runs run with a context that is cancelled
// on SIGINT or SIGTERM, reports the error on stderr and returns the exit
// status. A second signal exits at once with status 130 (INT) or 143 (TERM).
func Main[C any](prog string, args []string,
	parse func(args []string, getenv func(string) string, stdout io.Writer) (C, error),
	run func(ctx context.Context, cfg C, stdio Stdio) error) int {
	// A closed stdout or stderr is an error of the write (sio-sub ends
	// quietly; a log line is lost), never a death by SIGPIPE: the README's
	// "sio-serve --port 0 2>&1 | head -1" left a server that died at its
	// next log line.
	signal.Ignore(syscall.SIGPIPE)
	stdio := Stdio{In: os.Stdin, Out: os.Stdout, Err: os.Stderr}
	cfg, err := parse(args, os.Getenv, os.Stdout)
	if errors.Is(err, flag.ErrHelp) {
		return ExitOK
	}
	if err != nil {
		code := Report(os.Stderr, prog, err)
		if code == ExitUsage {
			fmt.Fprintf(os.Stderr, "%s: hint: try '%s -h'\n", prog, prog)
		}
		return code
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		<-sigs
		cancel()
		s := <-sigs
		code := 130
		if s == syscall.SIGTERM {
			code = 143
		}
		fmt.Fprintf(os.Stderr, "%s: second signal, exiting now\n", prog)
		os.Exit(code)
	}()
	return Report(os.Stderr, prog, run(ctx, cfg, stdio))
}
