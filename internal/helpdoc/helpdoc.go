// Package helpdoc turns the -h text of a command into its man page and its
// bash, zsh and fish completions, so that the help text a user reads with
// -h stays the one source of them all.
//
// It reads the layout the sio binaries use: a "Usage: NAME ..." line,
// intro paragraphs, sections headed by a short column-0 line ending in ':'
// ("Options:", "Exit status:"), option lines such as
//
//	-e, --event NAME          event name (default "message")
//	    --ack                 ask the server to acknowledge each event
//
// whose continuation lines are indented to the description column, and
// deeper-indented sub-tables under an option that list the values its
// argument may take.
package helpdoc

// Help is a parsed -h text.
type Help struct {
	Name     string    // the command, from the "Usage: NAME ..." line
	Synopsis string    // what follows NAME on the usage line
	Intro    []Block   // the text between the usage line and the first section
	Prose    []Block   // column-0 text after the first section, wherever it stands
	Options  []Option  // the entries of every section made of options
	Sections []Section // the other sections, in the order of the text
}

// Section is a part of the text under a column-0 header such as
// "Exit status:".
type Section struct {
	Title  string // as written, without its colon: "Exit status"
	Blocks []Block
}

// BlockKind says how a block of text is laid out.
type BlockKind int

const (
	// Paragraph is flowing text: its lines are joined and may be refilled.
	Paragraph BlockKind = iota
	// Preformatted is text whose line breaks and indentation matter, such
	// as commands, sample output or a sub-table.
	Preformatted
	// Table is a two-column list of terms and their descriptions, such as
	// exit codes or routes.
	Table
)

// Block is a paragraph, a preformatted block or a table.
type Block struct {
	Kind  BlockKind
	Text  string   // Paragraph: its lines joined with single spaces
	Lines []string // Preformatted: its lines, less their common indentation
	Rows  []Row    // Table
}

// Row is one entry of a Table.
type Row struct {
	Term string // "0", "/healthz"
	Text string // its description, lines joined with single spaces
}

// Option is one entry of an options section.
type Option struct {
	Short  string  // "e" for -e; empty when there is none
	Long   string  // "event" for --event; empty when there is none
	Arg    string  // the argument's name as written ("NAME", "'N: V'"); empty for a switch
	Blocks []Block // the description: paragraphs, and sub-tables as Preformatted
	Values []Value // the values the argument may take, when the text lists them
}

// Value is one value an option's argument may take.
type Value struct {
	Name string // "json"
	Text string // what it means, when the text says; else empty
}

// Flag returns the option's most telling name, for messages: "--event",
// or "-e" when it has no long name.
func (o Option) Flag() string {
	if o.Long != "" {
		return "--" + o.Long
	}
	return "-" + o.Short
}

// Description returns the option's paragraphs joined into one text,
// without its sub-tables.
func (o Option) Description() string {
	var text string
	for _, b := range o.Blocks {
		if b.Kind != Paragraph {
			continue
		}
		if text != "" {
			text += " "
		}
		text += b.Text
	}
	return text
}
