package cli_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/sio-tools/sio/pkg/cli"
	"github.com/sio-tools/sio/pkg/pub"
	"github.com/sio-tools/sio/pkg/serve"
	"github.com/sio-tools/sio/pkg/sub"
)

// runner runs one command through cli.Run; its Run part fails the test,
// since none of these cases may get that far (nothing is started).
type runner func(t *testing.T, args []string, stdio cli.Stdio) int

func noEnv(string) string { return "" }

func command[C any](name string, parse func([]string, func(string) string, io.Writer) (C, error)) runner {
	return func(t *testing.T, args []string, stdio cli.Stdio) int {
		cmd := cli.Command[C]{Name: name, Parse: parse, Run: func(context.Context, C, cli.Stdio) error {
			t.Errorf("%s %q: ran the command", name, args)
			return nil
		}}
		return cli.Run(context.Background(), cmd, args, noEnv, stdio)
	}
}

// The exit status and what goes where for the arguments that end before
// the command runs, for each of the three commands as main wires them.
func TestRunExitCodes(t *testing.T) {
	commands := map[string]runner{
		"sio-pub":   command("sio-pub", pub.ParseFlags),
		"sio-sub":   command("sio-sub", sub.ParseFlags),
		"sio-serve": command("sio-serve", serve.ParseFlags),
	}
	cases := []struct {
		name       string
		args       []string
		code       int
		stdout     string // a substring of stdout ("" for empty)
		stderr     string // a substring of stderr ("" for empty)
		stderrHint bool   // stderr ends with the "try -h" hint
	}{
		{"help", []string{"-h"}, cli.ExitOK, "Usage: PROG ", "", false},
		{"long help", []string{"--help"}, cli.ExitOK, "Usage: PROG ", "", false},
		{"version", []string{"--version"}, cli.ExitOK, "PROG ", "", false},
		{"bad flag", []string{"--no-such-flag"}, cli.ExitUsage, "", "PROG: flag provided but not defined: -no-such-flag\n", true},
		{"unknown argument", []string{"stray"}, cli.ExitUsage, "", "PROG: unexpected argument \"stray\"\n", true},
	}
	for prog, run := range commands {
		for _, c := range cases {
			t.Run(prog+"/"+c.name, func(t *testing.T) {
				var out, errOut strings.Builder
				code := run(t, c.args, cli.Stdio{In: strings.NewReader(""), Out: &out, Err: &errOut})
				if code != c.code {
					t.Errorf("exit %d, want %d", code, c.code)
				}
				checkStream(t, "stdout", out.String(), strings.ReplaceAll(c.stdout, "PROG", prog))
				checkStream(t, "stderr", errOut.String(), strings.ReplaceAll(c.stderr, "PROG", prog))
				hint := prog + ": hint: try '" + prog + " -h'\n"
				if got := strings.HasSuffix(errOut.String(), hint); got != c.stderrHint {
					t.Errorf("stderr %q: ends with the -h hint %v, want %v", errOut.String(), got, c.stderrHint)
				}
			})
		}
	}
}

func checkStream(t *testing.T, name, got, want string) {
	t.Helper()
	if want == "" && got != "" || !strings.Contains(got, want) {
		t.Errorf("%s %q, want it to hold %q", name, got, want)
	}
}

// What the command returns becomes the exit status, with the error and its
// hint on stderr; the command gets the context, the environment and the
// streams it was given.
func TestRunReportsTheCommandsError(t *testing.T) {
	type config struct{ env string }
	parse := func(_ []string, getenv func(string) string, _ io.Writer) (config, error) {
		return config{env: getenv("SIO_TEST")}, nil
	}
	getenv := func(k string) string {
		if k == "SIO_TEST" {
			return "set"
		}
		return ""
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, c := range []struct {
		err    error
		code   int
		stderr string
	}{
		{nil, cli.ExitOK, ""},
		{errors.New("boom"), cli.ExitFailure, "t: boom\n"},
		{cli.Errorf(cli.ExitStart, "listen: in use").WithHint("stop the other one"), cli.ExitStart,
			"t: listen: in use\nt: hint: stop the other one\n"},
		{cli.Errorf(cli.ExitTimeout, "no answer"), cli.ExitTimeout, "t: no answer\n"},
	} {
		in := strings.NewReader("input")
		var out, errOut strings.Builder
		cmd := cli.Command[config]{Name: "t", Parse: parse, Run: func(got context.Context, cfg config, stdio cli.Stdio) error {
			if got.Err() == nil || cfg.env != "set" || stdio.In != in || stdio.Out != &out {
				t.Errorf("run got ctx error %v, env %q, stdin and stdout the same %v", got.Err(), cfg.env, stdio.In == in && stdio.Out == &out)
			}
			return c.err
		}}
		code := cli.Run(ctx, cmd, nil, getenv, cli.Stdio{In: in, Out: &out, Err: &errOut})
		if code != c.code || errOut.String() != c.stderr {
			t.Errorf("%v: exit %d, stderr %q; want %d, %q", c.err, code, errOut.String(), c.code, c.stderr)
		}
	}
}
