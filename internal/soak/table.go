package soak

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Table writes the summary as one markdown table, one row per mode and
// fault, with its columns aligned, and a total row.
func (s *Summary) Table(w io.Writer) error {
	head := []string{"mode", "fault", "runs", "passed", "failed", "silent loss runs (lines)",
		"reported loss runs (lines)", "dup runs (lines)", "reorder runs", "bad exits", "hangs",
		"client closed at 2s", "ping timeouts", "resumed (most replayed)", "faults", "max sio-pub time", "max run time"}
	rows := [][]string{head}
	var tot Row
	for _, r := range s.Rows {
		rows = append(rows, r.cells())
		tot.Runs += r.Runs
		tot.Passed += r.Passed
		tot.Failed += r.Failed
		tot.SilentRuns += r.SilentRuns
		tot.SilentLines += r.SilentLines
		tot.ReportedRuns += r.ReportedRuns
		tot.ReportedLines += r.ReportedLines
		tot.DupRuns += r.DupRuns
		tot.DupLines += r.DupLines
		tot.ReorderRuns += r.ReorderRuns
		tot.BadExits += r.BadExits
		tot.Hangs += r.Hangs
		tot.EarlyCloses += r.EarlyCloses
		tot.PingTimeouts += r.PingTimeouts
		tot.Resumed += r.Resumed
		tot.MaxReplayed = max(tot.MaxReplayed, r.MaxReplayed)
		tot.Faults += r.Faults
		tot.MaxPubTime = max(tot.MaxPubTime, r.MaxPubTime)
		tot.MaxTime = max(tot.MaxTime, r.MaxTime)
	}
	if len(s.Rows) > 1 {
		tot.Mode, tot.Fault = "all", ""
		rows = append(rows, tot.cells())
	}
	width := make([]int, len(head))
	for _, r := range rows {
		for i, c := range r {
			width[i] = max(width[i], len(c))
		}
	}
	var b strings.Builder
	line := func(cells []string) {
		b.WriteString("|")
		for i, c := range cells {
			if i < 2 {
				fmt.Fprintf(&b, " %-*s |", width[i], c)
			} else {
				fmt.Fprintf(&b, " %*s |", width[i], c)
			}
		}
		b.WriteString("\n")
	}
	line(rows[0])
	b.WriteString("|")
	for i, w := range width {
		if i < 2 {
			b.WriteString(" " + strings.Repeat("-", w) + " |")
		} else {
			b.WriteString(" " + strings.Repeat("-", w-1) + ": |")
		}
	}
	b.WriteString("\n")
	for _, r := range rows[1:] {
		line(r)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func (r Row) cells() []string {
	runsLines := func(runs, lines int) string {
		if runs == 0 {
			return "0"
		}
		return fmt.Sprintf("%d (%d)", runs, lines)
	}
	return []string{
		r.Mode, r.Fault,
		fmt.Sprint(r.Runs), fmt.Sprint(r.Passed), fmt.Sprint(r.Failed),
		runsLines(r.SilentRuns, r.SilentLines),
		runsLines(r.ReportedRuns, r.ReportedLines),
		runsLines(r.DupRuns, r.DupLines),
		fmt.Sprint(r.ReorderRuns), fmt.Sprint(r.BadExits), fmt.Sprint(r.Hangs),
		fmt.Sprint(r.EarlyCloses), fmt.Sprint(r.PingTimeouts),
		fmt.Sprintf("%d (%d)", r.Resumed, r.MaxReplayed), fmt.Sprint(r.Faults),
		fmt.Sprintf("%.1fs", r.MaxPubTime.Seconds()), fmt.Sprintf("%.1fs", r.MaxTime.Seconds()),
	}
}

// Markdown writes the report for --out: how the soak ran, the table, and
// every failure.
func (s *Summary) Markdown(w io.Writer, c Config) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# sio-soak\n\n")
	fmt.Fprintf(&b, "%s; seed %d; %d run(s) in %v, %d failed; %d line(s) per publisher; bin `%s`",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), s.Seed, s.Runs, s.Elapsed.Round(time.Second), s.Failed, c.Lines, c.Bin)
	if len(c.ServeArgs) > 0 {
		fmt.Fprintf(&b, "; sio-serve `%s`", strings.Join(c.ServeArgs, " "))
	}
	if s.Interrupted {
		b.WriteString("; interrupted")
	}
	b.WriteString(".\n\n")
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	if err := s.Table(w); err != nil {
		return err
	}
	if len(s.Failures) == 0 {
		return nil
	}
	b.Reset()
	b.WriteString("\n## Failures\n\n```\n")
	for _, f := range s.Failures {
		b.WriteString(f.String())
	}
	b.WriteString("```\n")
	_, err := io.WriteString(w, b.String())
	return err
}
