package helpdoc

import (
	"fmt"
	"regexp"
	"strings"
)

// argKind says what a shell offers for an option's argument.
type argKind int

const (
	argNone   argKind = iota // a switch: it takes no argument
	argFree                  // any value (a URL, a name, a number): nothing to offer
	argFile                  // a file name
	argDir                   // a directory name
	argValues                // one of the values the help text lists
)

// argKind is read from the argument's name as the help text writes it:
// FILE is a file, DIR a directory. A lone F is a file in "--file F  read
// the lines from file F" but a format in "--time-format F", so it counts
// as a file only when its description says "file". Listed values come
// first: "--log-format F  text (default) or json".
func (o Option) argKind() argKind {
	switch {
	case o.Arg == "":
		return argNone
	case len(o.Values) > 0:
		return argValues
	case strings.HasSuffix(o.Arg, "DIR"):
		return argDir
	case strings.HasSuffix(o.Arg, "FILE"), o.Arg == "F" && fileWord.MatchString(o.Description()):
		return argFile
	}
	return argFree
}

var fileWord = regexp.MustCompile(`\bfile\b`)

// valueNames returns the names of the option's listed values.
func (o Option) valueNames() []string {
	names := make([]string, len(o.Values))
	for i, v := range o.Values {
		names[i] = v.Name
	}
	return names
}

// repeatable tells whether the option may be given more than once, as
// the help text says in its description.
func (o Option) repeatable() bool {
	return strings.Contains(o.Description(), "repeatable")
}

// summary is the start of the description, for the one line a completion
// menu has for an option: up to the first parenthesis, semicolon, colon
// or full stop, as in "send MSG as the one event (in the -f format; ...",
// unless that leaves a single word ("text (default) or json, ...").
func (o Option) summary() string {
	d := strings.TrimLeft(o.Description(), ". ")
	cut := len(d)
	for _, sep := range []string{" (", "; ", ": ", ". "} {
		if i := strings.Index(d, sep); i > 0 && i < cut && strings.Contains(d[:i], " ") {
			cut = i
		}
	}
	return strings.TrimRight(d[:cut], ":,. ")
}

// flags returns the option's names as typed: "-e", "--event".
func (o Option) flags() []string {
	var f []string
	if o.Short != "" {
		f = append(f, "-"+o.Short)
	}
	if o.Long != "" {
		f = append(f, "--"+o.Long)
	}
	return f
}

// generatedBy is the comment each completion file opens with.
func (h *Help) generatedBy(shell string) string {
	return fmt.Sprintf("# %s completion for %s, made by internal/helpdoc from %q:\n# edit that text, not this file.\n",
		shell, h.Name, h.Name+" -h")
}

// Bash returns a bash completion script: a function registered with
// complete -F that offers the option names, and after an option the files,
// directories or listed values its argument takes, or nothing when any
// value goes. It needs bash 4 and nothing from the bash-completion package.
func (h *Help) Bash() string {
	fn := "_" + shellIdent(h.Name)
	var b strings.Builder
	b.WriteString(h.generatedBy("bash"))
	fmt.Fprintf(&b, "%s() {\n", fn)
	b.WriteString(`	local cur=${COMP_WORDS[COMP_CWORD]} prev=
	((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}
	# bash splits --opt=value at the '=' (COMP_WORDBREAKS): complete the
	# value as if it were the word after the option.
	if [[ $cur == = ]]; then
		cur=
	elif [[ $prev == = ]] && ((COMP_CWORD > 1)); then
		prev=${COMP_WORDS[COMP_CWORD - 2]}
	fi
	COMPREPLY=()
	case $prev in
`)
	for _, o := range h.Options {
		if o.argKind() == argValues {
			bashCase(&b, []Option{o}, "mapfile -t COMPREPLY < <(compgen -W "+shQuote(strings.Join(o.valueNames(), " "))+` -- "$cur")`)
		}
	}
	bashCase(&b, h.optionsOf(argFile), "compopt -o filenames 2>/dev/null", `mapfile -t COMPREPLY < <(compgen -f -- "$cur")`)
	bashCase(&b, h.optionsOf(argDir), "compopt -o filenames 2>/dev/null", `mapfile -t COMPREPLY < <(compgen -d -- "$cur")`)
	bashCase(&b, h.optionsOf(argFree), "# any value: nothing to offer")
	b.WriteString("\tesac\n")
	var words []string
	for _, o := range h.Options {
		words = append(words, o.flags()...)
	}
	fmt.Fprintf(&b, "\tmapfile -t COMPREPLY < <(compgen -W %s -- \"$cur\")\n", shQuote(strings.Join(words, " ")))
	b.WriteString("}\n")
	fmt.Fprintf(&b, "complete -F %s %s\n", fn, h.Name)
	return b.String()
}

// bashCase writes one branch of the case on the previous word: the flags
// of opts, then the commands, then return, so that option names are not
// offered where a value is due.
func bashCase(b *strings.Builder, opts []Option, commands ...string) {
	var flags []string
	for _, o := range opts {
		flags = append(flags, o.flags()...)
	}
	if len(flags) == 0 {
		return
	}
	fmt.Fprintf(b, "\t%s)\n", strings.Join(flags, " | "))
	for _, c := range commands {
		fmt.Fprintf(b, "\t\t%s\n", c)
	}
	b.WriteString("\t\treturn 0\n\t\t;;\n")
}

// optionsOf returns the options whose argument is of kind k.
func (h *Help) optionsOf(k argKind) []Option {
	var opts []Option
	for _, o := range h.Options {
		if o.argKind() == k {
			opts = append(opts, o)
		}
	}
	return opts
}

// Zsh returns a zsh completion function for fpath (a file named _NAME):
// one _arguments spec per option, with its description, and _files, a
// directory or the listed values for its argument.
func (h *Help) Zsh() string {
	var b strings.Builder
	fmt.Fprintf(&b, "#compdef %s\n", h.Name)
	b.WriteString(h.generatedBy("zsh"))
	b.WriteString("\n_arguments -S")
	for _, o := range h.Options {
		b.WriteString(" \\\n\t" + zshSpec(o))
	}
	b.WriteString("\n")
	return b.String()
}

// zshSpec writes an option's _arguments spec as shell words, such as
//
//	'(-e --event)'{-e,--event=}'[event name]:NAME: '
//
// which brace expansion makes one spec per flag. A short flag takes its
// argument as the next word; a long one also after '=', as Go's flag
// package reads them. Options that may be repeated are marked '*', the
// others exclude each other's spelling.
func zshSpec(o Option) string {
	flags := o.flags()
	if o.Arg != "" && o.Long != "" {
		flags[len(flags)-1] += "="
	}
	rest := shQuoteBody("[" + zshEscape(o.summary()) + "]" + zshArg(o))
	var prefix string
	switch {
	case o.repeatable():
		prefix = "*"
	case len(flags) == 2:
		prefix = "(" + strings.Join(o.flags(), " ") + ")"
	}
	if len(flags) == 2 {
		return "'" + prefix + "'{" + strings.Join(flags, ",") + "}'" + rest + "'"
	}
	return "'" + prefix + flags[0] + rest + "'"
}

// zshArg is the ":message:action" part of a spec: what the argument is
// called, and what completes it (a space: nothing).
func zshArg(o Option) string {
	msg := ":" + strings.ReplaceAll(strings.ReplaceAll(o.Arg, `\`, `\\`), ":", `\:`) + ":"
	switch o.argKind() {
	case argNone:
		return ""
	case argFile:
		return msg + "_files"
	case argDir:
		return msg + "_files -/"
	case argValues:
		return msg + "(" + strings.Join(o.valueNames(), " ") + ")"
	}
	return msg + " "
}

// zshEscape escapes what ends or splits a description in an _arguments
// spec: brackets, colons and backslashes.
func zshEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, "[", `\[`, "]", `\]`, ":", `\:`).Replace(s)
}

// Fish returns fish completions: one complete command per option, -F for
// a file argument, -a for listed values or directories, and no file names
// where the command takes none.
func (h *Help) Fish() string {
	var b strings.Builder
	b.WriteString(h.generatedBy("fish"))
	fmt.Fprintf(&b, "complete -c %s -f\n", h.Name)
	for _, o := range h.Options {
		b.WriteString("complete -c " + h.Name)
		if o.Short != "" {
			b.WriteString(" -s " + o.Short)
		}
		if o.Long != "" {
			b.WriteString(" -l " + o.Long)
		}
		switch o.argKind() {
		case argFile:
			b.WriteString(" -r -F")
		case argDir:
			b.WriteString(" -x -a '(__fish_complete_directories)'")
		case argValues:
			b.WriteString(" -x -a " + fishQuote(strings.Join(o.valueNames(), " ")))
		case argFree:
			b.WriteString(" -x")
		}
		b.WriteString(" -d " + fishQuote(o.summary()) + "\n")
	}
	return b.String()
}

// fishQuote quotes s for fish, in whose single quotes a backslash escapes
// a quote or a backslash.
func fishQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, "'", `\'`).Replace(s) + "'"
}

// shQuote quotes s as one POSIX shell word.
func shQuote(s string) string { return "'" + shQuoteBody(s) + "'" }

// shQuoteBody makes s safe inside single quotes: each quote closes the
// quoting, is escaped, and opens it again.
func shQuoteBody(s string) string { return strings.ReplaceAll(s, "'", `'\''`) }

// shellIdent makes a shell function name of a command name: sio-pub
// gives sio_pub.
func shellIdent(name string) string {
	return strings.Map(func(r rune) rune {
		if r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			return r
		}
		return '_'
	}, name)
}
