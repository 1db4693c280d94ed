package cli

import (
	"io"
	"syscall"
	"testing"
	"time"
)

// The first SIGTERM cancels the context (the second would exit, which a
// test cannot watch); stop leaves the process as it was for signals.
func TestSetupProcessCancelsOnSignal(t *testing.T) {
	ctx, stop := SetupProcess("t", io.Discard)
	defer stop()
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("SIGTERM did not cancel the context")
	}
}

func TestSignalStatus(t *testing.T) {
	if got := signalStatus(syscall.SIGINT); got != 130 {
		t.Errorf("SIGINT: %d, want 130", got)
	}
	if got := signalStatus(syscall.SIGTERM); got != 143 {
		t.Errorf("SIGTERM: %d, want 143", got)
	}
}
