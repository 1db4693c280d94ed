package helpdoc

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Parse reads a -h text. It fails when the text has no usage line, or when
// an options section holds a line that is neither an option nor the
// continuation of one: better to stop the build than to leave an option
// out of the man page and the completions without a word.
func Parse(text string) (*Help, error) {
	lines := normalize(text)
	first := 0
	for first < len(lines) && blank(lines[first]) {
		first++
	}
	if first == len(lines) {
		return nil, errors.New("empty help text")
	}
	name, synopsis, err := parseUsage(lines[first])
	if err != nil {
		return nil, err
	}
	h := &Help{Name: name, Synopsis: synopsis}
	for i, c := range splitChunks(lines, first+1) {
		if err := h.add(c, i == 0); err != nil {
			return nil, fmt.Errorf("%s -h: %w", name, err)
		}
	}
	return h, nil
}

// normalize splits text into lines with tabs expanded and trailing spaces
// cut, so that indentation can be measured in columns.
func normalize(text string) []string {
	text = strings.ReplaceAll(text, "\r\n", "\n")
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(expandTabs(l), " ")
	}
	return lines
}

func expandTabs(l string) string {
	if !strings.Contains(l, "\t") {
		return l
	}
	var b strings.Builder
	for _, r := range l {
		if r == '\t' {
			b.WriteString(strings.Repeat(" ", 8-b.Len()%8))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func parseUsage(l string) (name, synopsis string, err error) {
	const prefix = "usage:"
	l = strings.TrimSpace(l)
	if !strings.HasPrefix(strings.ToLower(l), prefix) {
		return "", "", fmt.Errorf("help text does not start with a usage line: %q", l)
	}
	rest := strings.TrimSpace(l[len(prefix):])
	fields := strings.Fields(rest)
	if len(fields) == 0 {
		return "", "", fmt.Errorf("usage line names no command: %q", l)
	}
	return fields[0], strings.TrimSpace(rest[len(fields[0]):]), nil
}

// chunk is a run of lines: the body of a section, or column-0 prose with
// the indented lines under it.
type chunk struct {
	section bool
	title   string
	lines   []string
}

// splitChunks cuts the lines after the usage line at each section header,
// and at each column-0 line after a section, which ends the section.
func splitChunks(lines []string, from int) []chunk {
	chunks := []chunk{{}}
	cur := &chunks[0]
	for i := from; i < len(lines); i++ {
		l := lines[i]
		switch {
		case isHeader(lines, i, from):
			chunks = append(chunks, chunk{section: true, title: strings.TrimSuffix(l, ":")})
			cur = &chunks[len(chunks)-1]
		case cur.section && !blank(l) && indent(l) == 0:
			chunks = append(chunks, chunk{lines: []string{l}})
			cur = &chunks[len(chunks)-1]
		default:
			cur.lines = append(cur.lines, l)
		}
	}
	return chunks
}

// isHeader tells a section header ("Exit status:") from a prose line that
// ends in a colon ("When ready it prints one line on stderr:"): a header
// is short, stands after a blank line and has indented lines under it.
func isHeader(lines []string, i, from int) bool {
	l := lines[i]
	if blank(l) || indent(l) > 0 || !strings.HasSuffix(l, ":") || len(strings.Fields(l)) > 3 {
		return false
	}
	if i > from && !blank(lines[i-1]) {
		return false
	}
	return i+1 < len(lines) && !blank(lines[i+1]) && indent(lines[i+1]) > 0
}

func (h *Help) add(c chunk, intro bool) error {
	switch {
	case !c.section && intro:
		h.Intro = proseBlocks(c.lines)
	case !c.section:
		h.Prose = append(h.Prose, proseBlocks(c.lines)...)
	case isOptionSection(c.lines):
		opts, err := parseOptions(c.lines)
		if err != nil {
			return fmt.Errorf("section %q: %w", c.title, err)
		}
		h.Options = append(h.Options, opts...)
	default:
		h.Sections = append(h.Sections, Section{Title: c.title, Blocks: sectionBlocks(c.title, c.lines)})
	}
	return nil
}

// proseBlocks makes paragraphs of the column-0 lines and preformatted
// blocks of the indented ones.
func proseBlocks(lines []string) []Block {
	var b blockBuilder
	for _, l := range lines {
		switch {
		case blank(l):
			b.flush()
		case indent(l) == 0:
			b.addText(l)
		default:
			b.addPre(l)
		}
	}
	return b.done()
}

// sectionBlocks reads each blank-line separated group of a section as a
// table when its lines line up as one, else as preformatted text.
// Examples stay preformatted whatever their layout: they are commands, to
// be copied as they are.
func sectionBlocks(title string, lines []string) []Block {
	examples := strings.HasPrefix(strings.ToLower(title), "example")
	var blocks []Block
	for _, g := range groups(lines) {
		if rows, ok := tableRows(g); ok && !examples {
			blocks = append(blocks, Block{Kind: Table, Rows: rows})
			continue
		}
		blocks = append(blocks, Block{Kind: Preformatted, Lines: dedent(g)})
	}
	return blocks
}

// tableRows reads lines as a two-column table: terms at the smallest
// indentation, each followed by two or more spaces and its text, and
// continuation lines indented to the text column. A term too long for the
// column may push its own text further right, as in
// "  /socket.io/socket.io.js  the official browser client".
func tableRows(lines []string) ([]Row, bool) {
	base := minIndent(lines)
	var rows []Row
	textCol := -1
	var textCols []int
	for _, l := range lines {
		if indent(l) > base {
			continue
		}
		term, text, col, ok := splitColumns(l, base)
		if !ok {
			return nil, false
		}
		rows = append(rows, Row{Term: term, Text: text})
		textCols = append(textCols, col)
		if textCol < 0 || col < textCol {
			textCol = col
		}
	}
	r := -1
	for _, l := range lines {
		if indent(l) == base {
			r++
			if textCols[r] != textCol && base+len(rows[r].Term)+2 <= textCol {
				return nil, false // misaligned, not pushed by a long term
			}
			continue
		}
		if r < 0 || indent(l) != textCol {
			return nil, false
		}
		rows[r].Text += " " + strings.TrimSpace(l)
	}
	return rows, len(rows) > 0
}

// splitColumns cuts a line at the first run of two or more spaces after
// column base.
func splitColumns(l string, base int) (term, text string, textCol int, ok bool) {
	s := l[base:]
	i := strings.Index(s, "  ")
	if i <= 0 {
		return "", "", 0, false
	}
	text = strings.TrimLeft(s[i:], " ")
	if text == "" {
		return "", "", 0, false
	}
	return s[:i], text, len(l) - len(text), true
}

// isOptionSection tells whether a section lists options: its first line
// is one.
func isOptionSection(lines []string) bool {
	for _, l := range lines {
		if !blank(l) {
			return strings.HasPrefix(strings.TrimSpace(l), "-")
		}
	}
	return false
}

// parseOptions reads the lines of an options section. An option line
// starts at most four columns right of the section's indentation (the
// long-only options are indented past the room a short one takes);
// deeper lines continue the option above: at the description column they
// are text, two or more columns past it a sub-table.
func parseOptions(lines []string) ([]Option, error) {
	base := minIndent(lines)
	isHead := func(l string) bool {
		return !blank(l) && indent(l) <= base+4 && strings.HasPrefix(strings.TrimSpace(l), "-")
	}
	descCol, err := descriptionColumn(lines, isHead)
	if err != nil {
		return nil, err
	}
	var opts []Option
	var cur *Option
	var desc blockBuilder
	finish := func() {
		if cur != nil {
			cur.Blocks = desc.done()
			cur.Values = valuesOf(*cur)
			opts = append(opts, *cur)
		}
		desc = blockBuilder{}
	}
	for _, l := range lines {
		switch {
		case isHead(l):
			finish()
			o, text, _, err := parseOptionHead(l)
			if err != nil {
				return nil, err
			}
			cur = &o
			if text != "" {
				desc.addText(text)
			}
		case blank(l):
			desc.flush()
		case cur == nil || indent(l) <= base:
			return nil, fmt.Errorf("cannot read %q as an option or the description of one", l)
		case indent(l) >= descCol+2:
			desc.addPre(l)
		default:
			desc.addText(l)
		}
	}
	finish()
	return opts, nil
}

// descriptionColumn finds where option descriptions start: the leftmost
// column at which an option line's description starts (a few lines whose
// flags run long start theirs further right), or, when no option line has
// its description beside it, the indentation of the first line under one.
func descriptionColumn(lines []string, isHead func(string) bool) (int, error) {
	col := -1
	for _, l := range lines {
		if !isHead(l) {
			continue
		}
		_, text, c, err := parseOptionHead(l)
		if err != nil {
			return 0, err
		}
		if text != "" && (col < 0 || c < col) {
			col = c
		}
	}
	if col >= 0 {
		return col, nil
	}
	for _, l := range lines {
		if !blank(l) && !isHead(l) {
			return indent(l), nil
		}
	}
	return 1 << 30, nil // no descriptions at all: nothing is a sub-table
}

// parseOptionHead reads "-e, --event NAME  text", "    --ack  text",
// "-C N  text" or "--flag=ARG  text". The argument runs to the first two
// spaces, so it may hold one ("-H, --header 'N: V'").
func parseOptionHead(l string) (o Option, text string, textCol int, err error) {
	bad := fmt.Errorf("cannot read %q as an option", l)
	i := indent(l)
	if i+1 < len(l) && l[i] == '-' && l[i+1] != '-' {
		if !isNameByte(l[i+1]) {
			return Option{}, "", 0, bad
		}
		o.Short = l[i+1 : i+2]
		i += 2
		if strings.HasPrefix(l[i:], ",") {
			i++
			for i < len(l) && l[i] == ' ' {
				i++
			}
		}
	}
	if strings.HasPrefix(l[i:], "--") {
		j := i + 2
		for j < len(l) && isNameByte(l[j]) {
			j++
		}
		o.Long = l[i+2 : j]
		i = j
	}
	if o.Short == "" && o.Long == "" {
		return Option{}, "", 0, bad
	}
	if i+1 < len(l) && (l[i] == '=' || l[i] == ' ' && l[i+1] != ' ') {
		rest := l[i+1:]
		end := strings.Index(rest, "  ")
		if end < 0 {
			end = len(rest)
		}
		o.Arg = rest[:end]
		i += 1 + end
	}
	text = strings.TrimLeft(l[i:], " ")
	if text != "" && l[i] != ' ' {
		return Option{}, "", 0, bad // "-xyz": no space after the flag
	}
	return o, text, len(l) - len(text), nil
}

func isNameByte(c byte) bool {
	return c == '-' || c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// valueName is what a listed value may look like: one word a shell
// completion can offer without quoting.
var valueName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]*$`)

// valuesOf lists the values an option's argument may take: the terms of a
// sub-table under it ("text  the line ...", "json  ..."), else a list
// with a default marked at the start of its description ("text (default)
// or json, ..."). The default marker is required so that ordinary prose
// such as "one or two" is not taken for a list.
func valuesOf(o Option) []Value {
	if o.Arg == "" {
		return nil
	}
	for _, b := range o.Blocks {
		if b.Kind != Preformatted {
			continue
		}
		if values, ok := subTableValues(b.Lines); ok {
			return values
		}
	}
	return inlineValues(o.Description())
}

func subTableValues(lines []string) ([]Value, bool) {
	rows, ok := tableRows(lines)
	if !ok {
		return nil, false
	}
	values := make([]Value, 0, len(rows))
	for _, r := range rows {
		if !valueName.MatchString(r.Term) {
			return nil, false
		}
		values = append(values, Value{Name: r.Term, Text: r.Text})
	}
	return values, true
}

var inlineList = regexp.MustCompile(`^\w+(?: \(default\))?(?:, \w+(?: \(default\))?)*,? or \w+(?: \(default\))?(?:[,;:.]|$)`)

func inlineValues(desc string) []Value {
	list := inlineList.FindString(desc)
	if !strings.Contains(list, "(default)") {
		return nil
	}
	list = strings.ReplaceAll(list, " (default)", "")
	var values []Value
	for _, w := range strings.FieldsFunc(list, func(r rune) bool { return strings.ContainsRune(" ,;:.", r) }) {
		if w != "or" {
			values = append(values, Value{Name: w})
		}
	}
	return values
}

// blockBuilder gathers lines into blocks: text lines into a paragraph,
// indented lines into a preformatted block, each ending the other.
type blockBuilder struct {
	blocks []Block
	text   []string
	pre    []string
}

func (b *blockBuilder) addText(l string) {
	b.flushPre()
	b.text = append(b.text, strings.TrimSpace(l))
}

func (b *blockBuilder) addPre(l string) {
	b.flushText()
	b.pre = append(b.pre, l)
}

func (b *blockBuilder) flushText() {
	if len(b.text) > 0 {
		b.blocks = append(b.blocks, Block{Kind: Paragraph, Text: strings.Join(b.text, " ")})
		b.text = nil
	}
}

func (b *blockBuilder) flushPre() {
	if len(b.pre) > 0 {
		b.blocks = append(b.blocks, Block{Kind: Preformatted, Lines: dedent(b.pre)})
		b.pre = nil
	}
}

func (b *blockBuilder) flush() {
	b.flushText()
	b.flushPre()
}

func (b *blockBuilder) done() []Block {
	b.flush()
	return b.blocks
}

// groups splits lines at blank lines, dropping the blanks.
func groups(lines []string) [][]string {
	var gs [][]string
	var g []string
	for _, l := range lines {
		if blank(l) {
			if len(g) > 0 {
				gs = append(gs, g)
			}
			g = nil
			continue
		}
		g = append(g, l)
	}
	if len(g) > 0 {
		gs = append(gs, g)
	}
	return gs
}

// dedent removes the indentation the lines have in common.
func dedent(lines []string) []string {
	n := minIndent(lines)
	out := make([]string, len(lines))
	for i, l := range lines {
		if len(l) >= n {
			out[i] = l[n:]
		}
	}
	return out
}

func minIndent(lines []string) int {
	m := -1
	for _, l := range lines {
		if !blank(l) && (m < 0 || indent(l) < m) {
			m = indent(l)
		}
	}
	if m < 0 {
		return 0
	}
	return m
}

func indent(l string) int { return len(l) - len(strings.TrimLeft(l, " ")) }

func blank(l string) bool { return strings.TrimSpace(l) == "" }
