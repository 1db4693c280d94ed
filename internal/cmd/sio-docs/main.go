// Command sio-docs writes the man page and the bash, zsh and fish
// completions of each binary it is given from that binary's -h text, so
// that the help text stays their one source. make docs runs it.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/sio-tools/sio/internal/helpdoc"
)

const usage = `Usage: sio-docs -o DIR BINARY...

Run each BINARY with -h and write, from its help text, its man page and its
shell completions, NAME being the name on the text's Usage line:
  DIR/man/man1/NAME.1
  DIR/completions/bash/NAME
  DIR/completions/zsh/_NAME
  DIR/completions/fish/NAME.fish

Options:
  -o DIR    where to write the files (required)
  -h        show this help

Exit status:
  0  every file written
  1  a binary failed: it did not run, or its help text could not be read
  2  usage error
`

// helpTimeout bounds one binary's -h, which prints a constant and exits.
const helpTimeout = 30 * time.Second

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sio-docs", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported below, on one line
	out := fs.String("o", "", "")
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprint(stdout, usage)
		return 0
	case err != nil:
		fmt.Fprintf(stderr, "sio-docs: %v (see sio-docs -h)\n", err)
		return 2
	case *out == "":
		fmt.Fprintln(stderr, "sio-docs: -o DIR is required (see sio-docs -h)")
		return 2
	case fs.NArg() == 0:
		fmt.Fprintln(stderr, "sio-docs: no BINARY given (see sio-docs -h)")
		return 2
	}
	for _, bin := range fs.Args() {
		if err := document(bin, *out); err != nil {
			fmt.Fprintf(stderr, "sio-docs: %s: %s\n", bin, oneLine(err.Error()))
			return 1
		}
	}
	return 0
}

// document writes the four files of one binary.
func document(bin, dir string) error {
	text, err := helpText(bin)
	if err != nil {
		return err
	}
	h, err := helpdoc.Parse(text)
	if err != nil {
		return err
	}
	if strings.ContainsAny(h.Name, `/\`) || h.Name == "." || h.Name == ".." {
		return fmt.Errorf("usage line names %q, not a file name", h.Name)
	}
	files := []struct{ path, text string }{
		{filepath.Join(dir, "man", "man1", h.Name+".1"), h.Man()},
		{filepath.Join(dir, "completions", "bash", h.Name), h.Bash()},
		{filepath.Join(dir, "completions", "zsh", "_"+h.Name), h.Zsh()},
		{filepath.Join(dir, "completions", "fish", h.Name+".fish"), h.Fish()},
	}
	for _, f := range files {
		if err := os.MkdirAll(filepath.Dir(f.path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(f.path, []byte(f.text), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// helpText runs bin -h and returns what it printed on stdout.
func helpText(bin string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), helpTimeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "-h")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			return "", fmt.Errorf("-h: %v: %s", err, msg)
		}
		return "", fmt.Errorf("-h: %v", err)
	}
	if stdout.Len() == 0 {
		return "", errors.New("-h printed nothing on stdout")
	}
	return stdout.String(), nil
}

// oneLine keeps the first line of a message that may quote a binary's
// stderr, so that each failure is one line.
func oneLine(s string) string {
	first, _, _ := strings.Cut(s, "\n")
	return first
}
