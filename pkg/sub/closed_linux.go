package sub

import (
	"errors"
	"io"
	"os"
	"syscall"
)

// closedPipe returns a channel closed when w is a pipe whose reading end
// was closed (sio-sub | head -1 once head exited): without it sio-sub
// learned that only at its next write, which could be long (or never)
// coming. It returns nil for anything else, and stops when done closes.
func closedPipe(w io.Writer, done <-chan struct{}) <-chan struct{} {
	f, ok := w.(*os.File)
	if !ok {
		return nil
	}
	if fi, err := f.Stat(); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		return nil
	}
	ep, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil
	}
	// A pipe's writing end reports EPOLLERR once no reader is left; epoll
	// always reports it, no event needs asking for.
	fd := int(f.Fd())
	if err := syscall.EpollCtl(ep, syscall.EPOLL_CTL_ADD, fd, &syscall.EpollEvent{Fd: int32(fd)}); err != nil {
		syscall.Close(ep)
		return nil
	}
	closed := make(chan struct{})
	go func() {
		defer syscall.Close(ep)
		events := make([]syscall.EpollEvent, 1)
		for {
			n, err := syscall.EpollWait(ep, events, 200) // ms: how soon done is seen
			if n > 0 && events[0].Events&(syscall.EPOLLERR|syscall.EPOLLHUP) != 0 {
				close(closed)
				return
			}
			if err != nil && !errors.Is(err, syscall.EINTR) {
				return
			}
			select {
			case <-done:
				return
			default:
			}
		}
	}()
	return closed
}
