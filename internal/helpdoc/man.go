package helpdoc

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Man returns the command's man page, section 1, in roff with the man
// macros: NAME from the name and the first sentence of the intro,
// SYNOPSIS, DESCRIPTION from the intro and the column-0 prose, OPTIONS,
// then the other sections in the order of the help text.
func (h *Help) Man() string {
	var w roff
	w.line(`.\" Man page of ` + h.Name + `, made by internal/helpdoc from "` + h.Name + ` -h":`)
	w.line(`.\" edit that text, not this file.`)
	w.line(fmt.Sprintf(`.TH %s 1 "" "sio" "User Commands"`, quoteArg(code(strings.ToUpper(h.Name)))))
	w.line(".SH NAME")
	w.text(code(h.Name) + ` \- ` + prose(h.summary()))
	w.line(".SH SYNOPSIS")
	w.text(`\fB` + code(h.Name) + `\fR ` + prose(h.Synopsis))
	w.line(".SH DESCRIPTION")
	w.blocks(append(append([]Block(nil), h.Intro...), h.Prose...), underProse)
	if len(h.Options) > 0 {
		w.line(".SH OPTIONS")
		for _, o := range h.Options {
			w.option(o)
		}
	}
	for _, s := range h.Sections {
		w.line(".SH " + quoteArg(prose(strings.ToUpper(s.Title))))
		w.blocks(s.Blocks, underProse)
	}
	return w.String()
}

// summary is the first sentence of the intro, the one-line description
// whatis and apropos show, lower-cased at the start as NAME lines are
// unless it starts with an acronym ("HTTP ...").
func (h *Help) summary() string {
	for _, b := range h.Intro {
		if b.Kind != Paragraph {
			continue
		}
		s := firstSentence(b.Text)
		r, n := utf8.DecodeRuneInString(s)
		next, _ := utf8.DecodeRuneInString(s[n:])
		if unicode.IsUpper(r) && !unicode.IsUpper(next) {
			s = string(unicode.ToLower(r)) + s[n:]
		}
		return s
	}
	return h.Name
}

// firstSentence returns text up to its first full stop that is followed
// by a space and a capital, without that stop.
func firstSentence(text string) string {
	for i := 0; i+2 < len(text); i++ {
		if text[i] == '.' && text[i+1] == ' ' && unicode.IsUpper(rune(text[i+2])) {
			return text[:i]
		}
	}
	return strings.TrimSuffix(text, ".")
}

// roff builds a page line by line.
type roff struct{ strings.Builder }

// line writes a request or a line already escaped.
func (w *roff) line(s string) {
	w.WriteString(s)
	w.WriteByte('\n')
}

// text writes an escaped text line, guarded so that a leading dot or
// apostrophe is not read as a request.
func (w *roff) text(s string) {
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	w.line(s)
}

// nesting says how a preformatted block that stands under a paragraph is
// indented, as the -h text indents it.
type nesting int

const (
	// underProse: four ens right of the paragraph, which starts at the
	// margin of its section.
	underProse nesting = iota
	// underOption: two ens right of the description of an option. An
	// .RS inside .TP counts from the section's margin, not the tag's
	// indent, so the block moves there with a bare .RS (the prevailing
	// indent) and takes its two ens as spaces, which no-fill mode keeps.
	underOption
)

// blocks writes paragraphs, tables as tagged paragraphs, and preformatted
// text with its line breaks kept.
func (w *roff) blocks(blocks []Block, n nesting) {
	for i, b := range blocks {
		switch b.Kind {
		case Paragraph:
			if i > 0 {
				w.line(".PP")
			}
			w.text(prose(b.Text))
		case Table:
			for _, r := range b.Rows {
				w.line(".TP")
				w.line(`\fB` + code(r.Term) + `\fR`)
				w.text(prose(r.Text))
			}
		case Preformatted:
			under := i > 0 && blocks[i-1].Kind == Paragraph
			if i > 0 && !under {
				w.line(".PP") // a blank line from the block above
			}
			w.pre(b.Lines, under, n)
		}
	}
}

// pre writes lines in no-fill mode, so that commands and sub-tables keep
// their layout; nested under the paragraph above when it follows one.
func (w *roff) pre(lines []string, under bool, n nesting) {
	pad := ""
	switch {
	case under && n == underProse:
		w.line(".RS 4")
	case under && n == underOption:
		w.line(".RS")
		pad = "  "
	}
	w.line(".nf")
	for _, l := range lines {
		if l == "" {
			w.line("") // a blank line in no-fill mode is a blank line
			continue
		}
		w.text(pad + code(l))
	}
	w.line(".fi")
	if under {
		w.line(".RE")
	}
}

// option writes one option as a tagged paragraph: the bold flags and the
// italic argument as the tag, the description under it.
func (w *roff) option(o Option) {
	var flags []string
	if o.Short != "" {
		flags = append(flags, `\fB\-`+code(o.Short)+`\fR`)
	}
	if o.Long != "" {
		flags = append(flags, `\fB\-\-`+code(o.Long)+`\fR`)
	}
	tag := strings.Join(flags, ", ")
	if o.Arg != "" {
		tag += ` \fI` + code(o.Arg) + `\fR`
	}
	w.line(".TP")
	w.line(tag)
	w.blocks(o.Blocks, underOption)
}

// flagWord finds an option named in running text ("-f envelope",
// "(--max-bytes)") so that its hyphens can be made minus signs.
var flagWord = regexp.MustCompile(`(^|[\s(\[{"',=|])(--?[A-Za-z0-9][A-Za-z0-9_-]*)`)

// prose escapes running text: backslashes print as themselves, and the
// hyphens of options are minus signs (\-), which is what one types, in
// words never hyphenated across lines (\%); the hyphens of words
// ("non-empty") stay hyphens.
func prose(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	return flagWord.ReplaceAllStringFunc(s, func(m string) string {
		lead := strings.IndexByte(m, '-')
		return m[:lead] + `\%` + strings.ReplaceAll(m[lead:], "-", `\-`)
	})
}

// code escapes text meant to be typed (commands, flags, terms): every
// hyphen is a minus sign.
func code(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	return strings.ReplaceAll(s, "-", `\-`)
}

// quoteArg makes one macro argument of s, which may hold spaces.
func quoteArg(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `\(dq`) + `"`
}
