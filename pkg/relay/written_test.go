package relay

import (
	"strings"
	"testing"
)

// written answers a waiter once every packet queued before it was written
// (the engine's flushes, each reported by a drain, in order), at once when
// they were, and with lost set when the connection closed first.
func TestWritten(t *testing.T) {
	var w written
	var got []string
	note := func(name string) func(bool) {
		return func(lost bool) {
			if lost {
				name += " lost"
			}
			got = append(got, name)
		}
	}
	w.after(note("nothing queued"))
	w.queued()
	w.queued()
	w.after(note("a")) // waits for 2 packets
	w.flush(1)         // the first in one flush
	w.flush(1)         // the second in another
	w.drain(1)         // the first flush written
	w.queued()         // a third packet
	w.after(note("b")) // waits for 3
	w.drain(1)         // the second flush written: a is done
	w.flush(1)
	w.close(true)      // gone before the third was written: b lost
	w.after(note("c")) // after the close: at once, lost
	if want := "nothing queued,a,b lost,c lost"; strings.Join(got, ",") != want {
		t.Errorf("got %q, want %q", strings.Join(got, ","), want)
	}
}
