package helpdoc

import (
	"bytes"
	"context"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// runBash runs script with bash and its arguments, in dir, and returns
// its stdout lines.
func runBash(t *testing.T, dir, script string, args ...string) []string {
	t.Helper()
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skipf("bash is not installed: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bash, append([]string{"--norc", "--noprofile", "-c", script, "bash"}, args...)...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("bash: %v\n%s", err, stderr.String())
	}
	if stderr.Len() > 0 {
		t.Errorf("bash said on stderr: %s", stderr.String())
	}
	return strings.Fields(stdout.String())
}

// completeScript sources a completion file, finds the function complete -F
// registered for the command, and calls it as bash would for the words
// given, the last one being the word under the cursor.
const completeScript = `
source "$1" || exit 1
spec=$(complete -p "$2") || exit 1
fn=${spec#*-F }
fn=${fn%% *}
shift 2
COMP_WORDS=("$@")
COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
"$fn"
printf '%s\n' "${COMPREPLY[@]}"
`

func TestBashCompletion(t *testing.T) {
	helps := parseAll(t)
	scripts := t.TempDir()
	for name, h := range helps {
		if err := os.WriteFile(filepath.Join(scripts, name), []byte(h.Bash()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The directory the user completes in: two directories and a file.
	cwd := t.TempDir()
	for _, d := range []string{"alpha", "beta"} {
		if err := os.Mkdir(filepath.Join(cwd, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(cwd, "afile"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		words []string
		want  []string
	}{
		{[]string{"sio-pub", "--ur"}, []string{"--url"}},
		{[]string{"sio-pub", "-f", ""}, []string{"text", "json", "envelope"}},
		{[]string{"sio-pub", "--format", "e"}, []string{"envelope"}},
		{[]string{"sio-pub", "--format", "=", ""}, []string{"text", "json", "envelope"}}, // --format=
		{[]string{"sio-pub", "--format", "=", "j"}, []string{"json"}},                    // --format=j
		{[]string{"sio-pub", "--url", ""}, nil},
		{[]string{"sio-pub", "--cacert", ""}, []string{"afile", "alpha", "beta"}},
		{[]string{"sio-pub", "--file", "a"}, []string{"afile", "alpha"}},
		{[]string{"sio-pub", "--ack", "--re"}, []string{"--retry-for", "--reply"}},
		{[]string{"sio-sub", "--no"}, []string{"--no-reconnect"}},
		{[]string{"sio-sub", "-f", ""}, []string{"text", "json", "envelope"}},
		{[]string{"sio-serve", "--static", ""}, []string{"alpha", "beta"}},
		{[]string{"sio-serve", "--log-format", ""}, []string{"text", "json"}},
		{[]string{"sio-serve", "--tls-key", "af"}, []string{"afile"}},
		{[]string{"sio-serve", "--port", ""}, nil},
	} {
		got := runBash(t, cwd, completeScript, append([]string{filepath.Join(scripts, tc.words[0])}, tc.words...)...)
		slices.Sort(got)
		want := slices.Sorted(slices.Values(tc.want))
		if !slices.Equal(got, want) {
			t.Errorf("%q: COMPREPLY %q, want %q", tc.words, got, want)
		}
	}
}

// zshSpecLine reads one _arguments spec: an exclusion list or '*', the
// flag, '=' when a long flag takes its argument, [description], and the
// ":message:action" of the argument.
var zshSpecLine = regexp.MustCompile(`^(\([^)]*\)|\*)?(--?[A-Za-z0-9][A-Za-z0-9_-]*)(=?)\[((?:[^\]\\]|\\.)*)\](.*)$`)

// zshSpecs returns the words the zsh completion passes to _arguments. zsh
// is not installed here, so the file is not run by zsh: bash reads it
// with an _arguments that prints its arguments instead, which checks the
// shell quoting and the brace expansion, on which the two shells agree.
// What _arguments makes of the specs is checked by the patterns below.
func zshSpecs(t *testing.T, h *Help) []string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "_"+h.Name)
	if err := os.WriteFile(f, []byte(h.Zsh()), 0o644); err != nil {
		t.Fatal(err)
	}
	script := `_arguments() { printf '%s\n' "$@"; }; source "$1"`
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skipf("bash is not installed: %v", err)
	}
	out, err := exec.Command(bash, "--norc", "--noprofile", "-c", script, "bash", f).Output()
	if err != nil {
		t.Fatalf("bash reading the zsh completion: %v", err)
	}
	return strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
}

func TestZshCompletionShape(t *testing.T) {
	for name, h := range parseAll(t) {
		t.Run(name, func(t *testing.T) {
			if first, _, _ := strings.Cut(h.Zsh(), "\n"); first != "#compdef "+name {
				t.Errorf("first line %q, want #compdef %s", first, name)
			}
			words := zshSpecs(t, h)
			if len(words) == 0 || words[0] != "-S" {
				t.Fatalf("_arguments got %q, want -S then the specs", words)
			}
			seen := map[string]int{}
			for _, spec := range words[1:] {
				m := zshSpecLine.FindStringSubmatch(spec)
				if m == nil {
					t.Errorf("%q is not an _arguments option spec", spec)
					continue
				}
				seen[m[2]]++
			}
			for _, o := range h.Options {
				for _, f := range o.flags() {
					if seen[f] != 1 {
						t.Errorf("%s in %d specs, want 1", f, seen[f])
					}
				}
			}
			if len(words)-1 != len(seen) {
				t.Errorf("%d specs for %d flags", len(words)-1, len(seen))
			}
		})
	}
	helps := parseAll(t)
	for _, tc := range []struct{ bin, want string }{
		{"sio-pub", "(-f --format)--format=[how a line stands for an event]:FORMAT:(text json envelope)"},
		{"sio-pub", "--cacert=[trust the certificates in FILE]:FILE:_files"},
		{"sio-pub", `*-H[an HTTP header sent with the websocket handshake]:'N\: V': `},
		{"sio-pub", "--ack[ask the server to acknowledge each event]"},
		{"sio-pub", `(-u --url)-u[server URL, http(s)\:// or ws(s)\://]:URL: `},
		{"sio-serve", "--static=[serve the files under DIR at /]:DIR:_files -/"},
	} {
		if words := zshSpecs(t, helps[tc.bin]); !slices.Contains(words, tc.want) {
			t.Errorf("%s: no spec %q in\n%s", tc.bin, tc.want, strings.Join(words, "\n"))
		}
	}
}

// fishWords splits a fish command line into words, with fish's rules for
// single quotes: inside them a backslash escapes only a quote or a
// backslash. fish is not installed here, so the completions are not run
// by fish; this reads them as fish would.
func fishWords(line string) ([]string, bool) {
	var words []string
	var w strings.Builder
	inWord, quoted := false, false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quoted && c == '\\' && i+1 < len(line) && (line[i+1] == '\'' || line[i+1] == '\\'):
			i++
			w.WriteByte(line[i])
		case quoted && c == '\'':
			quoted = false
		case quoted:
			w.WriteByte(c)
		case c == '\'':
			quoted, inWord = true, true
		case c == ' ':
			if inWord {
				words = append(words, w.String())
				w.Reset()
			}
			inWord = false
		default:
			w.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, w.String())
	}
	return words, !quoted
}

// fishCompletions reads the complete commands of a fish completion,
// keyed by their -l (or -s) name, each as a map of its switches.
func fishCompletions(t *testing.T, h *Help) map[string][]map[string]string {
	t.Helper()
	byFlag := map[string][]map[string]string{}
	for _, line := range strings.Split(strings.TrimSuffix(h.Fish(), "\n"), "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		words, ok := fishWords(line)
		if !ok || len(words) < 3 || words[0] != "complete" || words[1] != "-c" || words[2] != h.Name {
			t.Errorf("%q is not a complete -c %s command", line, h.Name)
			continue
		}
		sw := map[string]string{}
		for i := 3; i < len(words); i++ {
			switch words[i] {
			case "-s", "-l", "-d", "-a":
				if i+1 < len(words) {
					sw[words[i]] = words[i+1]
					i++
				}
			default:
				sw[words[i]] = ""
			}
		}
		key := sw["-l"]
		if key == "" {
			key = sw["-s"]
		}
		byFlag[key] = append(byFlag[key], sw)
	}
	return byFlag
}

func TestFishCompletionShape(t *testing.T) {
	helps := parseAll(t)
	for name, h := range helps {
		byFlag := fishCompletions(t, h)
		for _, o := range h.Options {
			key := o.Long
			if key == "" {
				key = o.Short
			}
			if len(byFlag[key]) != 1 {
				t.Errorf("%s %s: %d complete commands, want 1", name, o.Flag(), len(byFlag[key]))
				continue
			}
			sw := byFlag[key][0]
			if sw["-s"] != o.Short || sw["-d"] != o.summary() {
				t.Errorf("%s %s: -s %q -d %q, want %q %q", name, o.Flag(), sw["-s"], sw["-d"], o.Short, o.summary())
			}
		}
		if all := byFlag[""]; len(all) != 1 || !maps.Equal(all[0], map[string]string{"-f": ""}) {
			t.Errorf("%s: want one complete -c %s -f, so that no file names are offered but for file options", name, name)
		}
	}
	for _, tc := range []struct {
		bin, long string
		want      map[string]string
	}{
		{"sio-pub", "format", map[string]string{"-s": "f", "-l": "format", "-x": "", "-a": "text json envelope", "-d": "how a line stands for an event"}},
		{"sio-pub", "file", map[string]string{"-l": "file", "-r": "", "-F": "", "-d": "read the lines from file F instead of stdin"}},
		{"sio-pub", "path", map[string]string{"-l": "path", "-x": "", "-d": "the server's Socket.IO path"}},
		{"sio-pub", "ack", map[string]string{"-l": "ack", "-d": "ask the server to acknowledge each event"}},
		{"sio-serve", "static", map[string]string{"-l": "static", "-x": "", "-a": "(__fish_complete_directories)", "-d": "serve the files under DIR at /"}},
	} {
		if got := fishCompletions(t, helps[tc.bin])[tc.long]; len(got) != 1 || !maps.Equal(got[0], tc.want) {
			t.Errorf("%s --%s: %v, want %v", tc.bin, tc.long, got, tc.want)
		}
	}
}

// TestCompletionQuoting puts the characters each shell's quoting must
// escape into a description and checks that each reads back whole.
func TestCompletionQuoting(t *testing.T) {
	const text = "Usage: tool [options]\n\nTool.\n\nOptions:\n" +
		"  -q, --quote WORD   it's [a] key:value, back\\slash and \"double\"\n"
	h, err := Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	const desc = `it's [a] key:value, back\slash and "double"`
	if got := h.Options[0].summary(); got != desc {
		t.Fatalf("summary %q, want %q", got, desc)
	}
	wantZsh := `(-q --quote)--quote=[it's \[a\] key\:value, back\\slash and "double"]:WORD: `
	if words := zshSpecs(t, h); !slices.Contains(words, wantZsh) {
		t.Errorf("zsh specs %q lack %q", words, wantZsh)
	}
	if got := fishCompletions(t, h)["quote"]; len(got) != 1 || got[0]["-d"] != desc {
		t.Errorf("fish: %v, want -d %q", got, desc)
	}
	got := runBash(t, t.TempDir(), `source "$1"; complete -p tool`, writeTemp(t, h.Bash()))
	if strings.Join(got, " ") != "complete -F _tool tool" {
		t.Errorf("bash registers %q", got)
	}
}

func writeTemp(t *testing.T, text string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "script")
	if err := os.WriteFile(f, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}
