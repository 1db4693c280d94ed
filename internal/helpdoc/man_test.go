package helpdoc

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// renderMan formats page with man -l at 80 columns, with every groff
// warning on, and returns the text. Anything man or groff says on stderr
// ("warning: ...", "can't break line") fails the test: the page must read
// cleanly, not only exist.
func renderMan(t *testing.T, page string) string {
	t.Helper()
	man, err := exec.LookPath("man")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("man is not installed (scripts/peers.sh man installs man-db): %v", err)
		}
		t.Skipf("man is not installed, so the man page cannot be rendered: %v", err)
	}
	f := filepath.Join(t.TempDir(), "page.1")
	if err := os.WriteFile(f, []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, man, "-l", f)
	// UTF-8 output, where a hyphen that should have been \- may render
	// as a typographic hyphen and fail the search for the flag below.
	cmd.Env = append(withoutManSettings(os.Environ()),
		"LC_ALL=C.UTF-8", "MANWIDTH=80", "MANPAGER=cat", "PAGER=cat", "MANROFFOPT=-ww")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("man -l: %v\n%s", err, stderr.String())
	}
	if stderr.Len() > 0 {
		t.Errorf("man -l said on stderr:\n%s", stderr.String())
	}
	return stdout.String()
}

// withoutManSettings drops the caller's locale and man settings, which
// would change what the page renders to.
func withoutManSettings(env []string) []string {
	var kept []string
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		if name == "LANG" || name == "LANGUAGE" || strings.HasPrefix(name, "LC_") ||
			strings.HasPrefix(name, "MAN") || name == "PAGER" || strings.HasPrefix(name, "GROFF") {
			continue
		}
		kept = append(kept, kv)
	}
	return kept
}

func TestManPagesRender(t *testing.T) {
	for name, h := range parseAll(t) {
		t.Run(name, func(t *testing.T) {
			out := renderMan(t, h.Man())
			for _, title := range []string{"NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "EXIT STATUS", "EXAMPLES"} {
				if !regexp.MustCompile(`(?m)^` + title + `$`).MatchString(out) {
					t.Errorf("no %s section in\n%s", title, out)
				}
			}
			if !regexp.MustCompile(`(?m)^ +` + name + ` +- +\S`).MatchString(out) {
				t.Errorf("no NAME line %q - ... in\n%s", name, out)
			}
			for _, o := range h.Options {
				for _, f := range o.flags() {
					if !strings.Contains(out, f) {
						t.Errorf("%s not in the rendered page", f)
					}
				}
			}
		})
	}
}

func TestManPageDetails(t *testing.T) {
	helps := parseAll(t)
	pubPage := helps["sio-pub"].Man()
	for _, want := range []string{
		`.TH "SIO\-PUB" 1`,
		`.SH "EXIT STATUS"`,
		"\\fB\\-f\\fR, \\fB\\-\\-format\\fR \\fIFORMAT\\fR\n", // bold flags, italic argument
		`without its "\en" or "\er\en"`,                       // a backslash prints as one
		`over \%\-\-max\-bytes or`,                            // an option in prose
		"\n.nf\n  text      the line",                         // the sub-table keeps its layout
	} {
		if !strings.Contains(pubPage, want) {
			t.Errorf("sio-pub.1 lacks %q", want)
		}
	}
	out := renderMan(t, pubPage)
	// Filled text is justified: compare it with its spaces squeezed.
	if want := `A line is sent without its "\n" or "\r\n".`; !strings.Contains(strings.Join(strings.Fields(out), " "), want) {
		t.Errorf("rendered sio-pub.1 lacks %q:\n%s", want, out)
	}
	for _, want := range []string{
		"       -f, --format FORMAT\n",
		"                text      the line, without its newline, as\n",
		"       65     a bad input line",
		"       seq 1 10 | sio-pub -e count\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("rendered sio-pub.1 lacks %q:\n%s", want, out)
		}
	}
}

// TestManEscapes renders text that roff would otherwise read as requests
// or escapes: lines starting with a dot or an apostrophe, backslashes.
func TestManEscapes(t *testing.T) {
	const text = "Usage: tool [options]\n\n" +
		"Tool writes C:\\dir\\new and \\fB as they are.\n\n" +
		".dot files are skipped, see --all.\n\n" +
		"'quoted' paragraph, then lines:\n" +
		"  .hidden\n" +
		"  'quoted' \\fB not bold\n\n" +
		"Options:\n" +
		"  -a, --all-files ARG  .starts with a dot; a \\backslash\n"
	h, err := Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	out := renderMan(t, h.Man())
	for _, want := range []string{
		`Tool writes C:\dir\new and \fB as they are.`,
		".dot files are skipped, see --all.",
		"'quoted' paragraph, then lines:",
		"           .hidden\n",
		`'quoted' \fB not bold`,
		"-a, --all-files ARG",
		`.starts with a dot; a \backslash`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("rendered page lacks %q:\n%s", want, out)
		}
	}
}
