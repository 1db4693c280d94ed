package pub

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/sio-tools/sio/pkg/cli"
)

// invalidStream is stdin for -f json: lines 1 to cancelAt-1 alternate
// valid and invalid ones ("{"), the invalid ones on odd lines; before
// it gives line cancelAt it waits until the valid lines before it were
// delivered (delivered is closed) and cancels; from there on every line
// is invalid, until stop is closed or maxLines.
type invalidStream struct {
	n         int
	cancelAt  int
	cancel    context.CancelFunc
	delivered <-chan struct{}
	stop      <-chan struct{}
}

const maxLines = 1 << 20

func (s *invalidStream) Read(p []byte) (int, error) {
	s.n++
	switch {
	case s.n == s.cancelAt:
		<-s.delivered
		s.cancel()
	case s.n > maxLines:
		return 0, io.EOF
	case s.n > s.cancelAt:
		select {
		case <-s.stop:
			return 0, io.EOF
		default:
		}
	}
	line := "{\n"
	if s.n < s.cancelAt && s.n%2 == 0 {
		line = fmt.Sprintf("%d\n", s.n)
	}
	return copy(p, line), nil
}

// SIGINT in the middle of a stream with invalid lines (--skip-invalid):
// run ends while the reader is still reading and skipping lines. The
// count of skipped lines must come over to run without a data race (run
// with -race), and say what was skipped before the interrupt.
func TestInterruptWhileSkippingInvalidLines(t *testing.T) {
	base := startRelay(t)
	got := subscribe(t, base)
	const cancelAt = 21 // lines 2, 4 ... 20 valid; 1, 3 ... 19 not
	delivered := make(chan struct{})
	go func() {
		defer close(delivered)
		for want := 2; want < cancelAt; want += 2 {
			select {
			case v := <-got:
				if v != fmt.Sprint(want) {
					t.Errorf("received %s, want %d", v, want)
				}
			case <-time.After(10 * time.Second):
				t.Errorf("line %d not received", want)
				return
			}
		}
	}()
	stop := make(chan struct{})
	defer close(stop)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	in := &invalidStream{cancelAt: cancelAt, cancel: cancel, delivered: delivered, stop: stop}
	var stderr lockedWriter
	err := Run(ctx, config(t, base, "-f", "json", "--skip-invalid"), cli.Stdio{In: in, Out: io.Discard, Err: &stderr})
	reported := strings.Count(stderr.String(), ": invalid JSON")
	if cli.ExitCode(err) != cli.ExitData || !strings.Contains(fmt.Sprint(err), "the first: line 1: invalid JSON") {
		t.Fatalf("Run: %v (exit %d), want exit 65 for the lines skipped, the first line 1", err, cli.ExitCode(err))
	}
	var n int
	if _, serr := fmt.Sscanf(err.Error(), "%d invalid line(s) skipped", &n); serr != nil || n < cancelAt/2 {
		t.Errorf("Run: %v: want at least the %d lines skipped before the interrupt", err, cancelAt/2)
	}
	if reported != n {
		t.Errorf("%d lines reported skipped on stderr, and %d counted", reported, n)
	}
}
