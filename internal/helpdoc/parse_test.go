package helpdoc

import (
	"bytes"
	"io"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/sio-tools/sio/pkg/pub"
	"github.com/sio-tools/sio/pkg/serve"
	"github.com/sio-tools/sio/pkg/sub"
)

// helpTexts returns the -h text of each binary, as the binaries print it:
// each package's ParseFlags writes it for -h.
func helpTexts(t *testing.T) map[string]string {
	t.Helper()
	parsers := map[string]func([]string, func(string) string, io.Writer) error{
		"sio-pub": func(a []string, e func(string) string, w io.Writer) error {
			_, err := pub.ParseFlags(a, e, w)
			return err
		},
		"sio-sub": func(a []string, e func(string) string, w io.Writer) error {
			_, err := sub.ParseFlags(a, e, w)
			return err
		},
		"sio-serve": func(a []string, e func(string) string, w io.Writer) error {
			_, err := serve.ParseFlags(a, e, w)
			return err
		},
	}
	texts := map[string]string{}
	for name, parse := range parsers {
		var out bytes.Buffer
		parse([]string{"-h"}, func(string) string { return "" }, &out) // -h is reported as an error: flag.ErrHelp
		if !strings.HasPrefix(out.String(), "Usage: "+name) {
			t.Fatalf("%s -h printed %q, not a usage text", name, out.String())
		}
		texts[name] = out.String()
	}
	return texts
}

func parseAll(t *testing.T) map[string]*Help {
	t.Helper()
	helps := map[string]*Help{}
	for name, text := range helpTexts(t) {
		h, err := Parse(text)
		if err != nil {
			t.Fatalf("Parse(%s -h): %v", name, err)
		}
		helps[name] = h
	}
	return helps
}

// optionLine finds the option lines of a help text without the parser:
// two spaces, then a short flag and a comma or four spaces (the room of
// one), then a long flag. Continuation lines that start with an option
// ("--token and --room merged over it") are indented further.
var optionLine = regexp.MustCompile(`(?m)^ {2}(?:-\w, | {4})--([a-z][a-z0-9-]*)`)

func TestParseRealHelpTexts(t *testing.T) {
	for name, text := range helpTexts(t) {
		t.Run(name, func(t *testing.T) {
			h, err := Parse(text)
			if err != nil {
				t.Fatal(err)
			}
			if h.Name != name {
				t.Errorf("name %q, want %q", h.Name, name)
			}
			var want []string
			for _, m := range optionLine.FindAllStringSubmatch(text, -1) {
				want = append(want, m[1])
			}
			var got []string
			for _, o := range h.Options {
				got = append(got, o.Long)
			}
			if !slices.Equal(got, want) {
				t.Errorf("options\n got %q\nwant %q (every option line of the text, in order)", got, want)
			}
			if len(h.Intro) == 0 || h.Intro[0].Kind != Paragraph {
				t.Errorf("intro %+v, want a paragraph first", h.Intro)
			}
			exit := section(h, "Exit status")
			if exit == nil || len(exit.Blocks) != 1 || exit.Blocks[0].Kind != Table || exit.Blocks[0].Rows[0].Term != "0" {
				t.Errorf("Exit status %+v, want a table whose first code is 0", exit)
			}
			if ex := section(h, "Examples"); ex == nil || len(ex.Blocks) == 0 || ex.Blocks[0].Kind != Preformatted {
				t.Errorf("Examples %+v, want preformatted lines", ex)
			}
		})
	}
}

func TestParseRealOptionDetails(t *testing.T) {
	helps := parseAll(t)
	for _, tc := range []struct {
		bin, long, short, arg string
		kind                  argKind
		values                []string
	}{
		{"sio-pub", "format", "f", "FORMAT", argValues, []string{"text", "json", "envelope"}},
		{"sio-sub", "format", "f", "FORMAT", argValues, []string{"text", "json", "envelope"}},
		{"sio-pub", "file", "", "F", argFile, nil},
		{"sio-pub", "cacert", "", "FILE", argFile, nil},
		{"sio-pub", "header", "H", "'N: V'", argFree, nil},
		{"sio-pub", "ack", "", "", argNone, nil},
		{"sio-serve", "static", "", "DIR", argDir, nil},
		{"sio-serve", "log-format", "", "F", argValues, []string{"text", "json"}},
		{"sio-serve", "max-handshakes-per-ip", "", "N", argFree, nil},
		{"sio-serve", "port", "p", "PORT", argFree, nil},
		{"sio-sub", "time-format", "", "F", argFree, nil}, // F for format, not file
	} {
		o := option(helps[tc.bin], tc.long)
		if o == nil {
			t.Errorf("%s: no --%s", tc.bin, tc.long)
			continue
		}
		got := []any{o.Short, o.Arg, o.argKind(), o.valueNames()}
		want := []any{tc.short, tc.arg, tc.kind, tc.values}
		if len(tc.values) == 0 {
			want[3] = []string{}
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s --%s: short, arg, kind, values %v, want %v", tc.bin, tc.long, got, want)
		}
	}
	// A description that runs on keeps its words; one pushed right by
	// long flags starts where it does.
	if d := option(helps["sio-serve"], "max-handshakes-per-ip").Description(); !strings.HasPrefix(d, "most connections from one address that have not joined") {
		t.Errorf("--max-handshakes-per-ip description %q", d)
	}
	// The prose line ending in a colon is prose, with its indented line
	// under it, not a section.
	serveHelp := helps["sio-serve"]
	if section(serveHelp, "When ready it prints one line on stderr") != nil {
		t.Error("a prose line ending in ':' was read as a section header")
	}
	if !hasBlock(serveHelp.Prose, Preformatted, "sio-serve: listening on http://HOST:PORT") {
		t.Errorf("sio-serve prose %+v lacks the listening line as preformatted text", serveHelp.Prose)
	}
	var titles []string
	for _, s := range serveHelp.Sections {
		titles = append(titles, s.Title)
	}
	if want := []string{"Routes", "Exit status", "Examples"}; !slices.Equal(titles, want) {
		t.Errorf("sio-serve sections %q, want %q", titles, want)
	}
}

func TestParseLayouts(t *testing.T) {
	const text = "usage: tool [-x] FILE...\n" +
		"\n" +
		"Tool does things. It does them well.\n" +
		"\n" +
		"Options:\n" +
		"  -x                 a switch\n" +
		"  -n N               a short option with an argument,\n" +
		"                     over two lines\n" +
		"      --very-long-flag-name=ARG  pushed right\n" +
		"                     and continued\n" +
		"  -m, --mode MODE    one of:\n" +
		"                       fast  quick\n" +
		"                       slow  careful, and\n" +
		"                             thorough\n" +
		"                     then more text\n" +
		"\n" +
		"Output looks like this:\n" +
		"\tresult: 42\n" +
		"For example:\n" +
		"  not a section\n" +
		"\n" +
		"Environment:\n" +
		"  TOOL_HOME   where it keeps state\n"
	h, err := Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	if h.Name != "tool" || h.Synopsis != "[-x] FILE..." {
		t.Errorf("name %q synopsis %q", h.Name, h.Synopsis)
	}
	if got := h.summary(); got != "tool does things" {
		t.Errorf("summary %q", got)
	}
	want := []Option{
		{Short: "x", Blocks: []Block{{Kind: Paragraph, Text: "a switch"}}},
		{Short: "n", Arg: "N", Blocks: []Block{{Kind: Paragraph, Text: "a short option with an argument, over two lines"}}},
		{Long: "very-long-flag-name", Arg: "ARG", Blocks: []Block{{Kind: Paragraph, Text: "pushed right and continued"}}},
		{Short: "m", Long: "mode", Arg: "MODE",
			Blocks: []Block{
				{Kind: Paragraph, Text: "one of:"},
				{Kind: Preformatted, Lines: []string{"fast  quick", "slow  careful, and", "      thorough"}},
				{Kind: Paragraph, Text: "then more text"},
			},
			Values: []Value{{Name: "fast", Text: "quick"}, {Name: "slow", Text: "careful, and thorough"}}},
	}
	if !reflect.DeepEqual(h.Options, want) {
		t.Errorf("options\n got %+v\nwant %+v", h.Options, want)
	}
	// "For example:" has the shape of a header but follows a line of
	// text: it is prose, and so is the indented line under it.
	wantProse := []Block{
		{Kind: Paragraph, Text: "Output looks like this:"},
		{Kind: Preformatted, Lines: []string{"result: 42"}},
		{Kind: Paragraph, Text: "For example:"},
		{Kind: Preformatted, Lines: []string{"not a section"}},
	}
	if !reflect.DeepEqual(h.Prose, wantProse) {
		t.Errorf("prose\n got %+v\nwant %+v", h.Prose, wantProse)
	}
	wantSections := []Section{{Title: "Environment", Blocks: []Block{{Kind: Table, Rows: []Row{{Term: "TOOL_HOME", Text: "where it keeps state"}}}}}}
	if !reflect.DeepEqual(h.Sections, wantSections) {
		t.Errorf("sections\n got %+v\nwant %+v", h.Sections, wantSections)
	}
}

func TestParseRefuses(t *testing.T) {
	for name, text := range map[string]string{
		"no usage line":       "tool does things\n",
		"empty":               "\n\n",
		"stray option text":   "Usage: tool\n\nOptions:\n  -x   a switch\n  what is this\n",
		"flag glued to words": "Usage: tool\n\nOptions:\n  -xyz   a switch\n",
	} {
		if h, err := Parse(text); err == nil {
			t.Errorf("%s: Parse gave %+v, want an error", name, h)
		}
	}
}

func section(h *Help, title string) *Section {
	for i := range h.Sections {
		if h.Sections[i].Title == title {
			return &h.Sections[i]
		}
	}
	return nil
}

func option(h *Help, long string) *Option {
	for i := range h.Options {
		if h.Options[i].Long == long {
			return &h.Options[i]
		}
	}
	return nil
}

func hasBlock(blocks []Block, kind BlockKind, line string) bool {
	for _, b := range blocks {
		if b.Kind == kind && (b.Text == line || slices.Contains(b.Lines, line)) {
			return true
		}
	}
	return false
}
