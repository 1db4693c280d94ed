// Package cli holds what the three sio commands share: the error type that
// carries an exit code, flag and environment helpers, Run, which runs a
// command on the streams and environment it is given and turns its error
// into an exit status, and SetupProcess, the one place that changes
// process-wide state (signals) for a command's main.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
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

// Command is one sio command: its name, how it reads its flags and the
// environment (writing -h and --version to stdout), and how it runs.
type Command[C any] struct {
	Name  string
	Parse func(args []string, getenv func(string) string, stdout io.Writer) (C, error)
	Run   func(ctx context.Context, cfg C, stdio Stdio) error
}

// Run runs cmd with args, the environment getenv and the streams of stdio,
// until it ends or ctx is cancelled; it reports an error on stdio.Err and
// returns the exit status. It touches nothing of the process (no os.Stdin,
// no os.Getenv, no signals), so a test can call it as main does:
//
//	os.Exit(cli.Run(ctx, cmd, os.Args[1:], os.Getenv, cli.Stdio{In: os.Stdin, Out: os.Stdout, Err: os.Stderr}))
func Run[C any](ctx context.Context, cmd Command[C], args []string, getenv func(string) string, stdio Stdio) int {
	cfg, err := cmd.Parse(args, getenv, stdio.Out)
	if errors.Is(err, flag.ErrHelp) {
		return ExitOK // -h or --version: printed by Parse
	}
	if err != nil {
		code := Report(stdio.Err, cmd.Name, err)
		if code == ExitUsage {
			fmt.Fprintf(stdio.Err, "%s: hint: try '%s -h'\n", cmd.Name, cmd.Name)
		}
		return code
	}
	return Report(stdio.Err, cmd.Name, cmd.Run(ctx, cfg, stdio))
}
