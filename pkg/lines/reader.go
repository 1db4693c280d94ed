// Package lines is the codec between text lines and Socket.IO events, both
// ways: Reader splits input into bounded lines, Parser turns a line into an
// event for sio-pub, and Printer turns an event into a line for sio-sub.
package lines

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// ErrTooLong is returned (wrapped in a *LineError) for a line longer than
// the reader's maximum. The reader has skipped the rest of that line.
var ErrTooLong = errors.New("line too long")

// LineError is an error about one input line.
type LineError struct {
	Line int
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }
func (e *LineError) Unwrap() error { return e.Err }

// Reader reads lines of at most Max bytes, without their "\n" or "\r\n".
// A last line without a newline is a line. An over-long line is an error
// that names its number; reading can go on after it with the next line.
type Reader struct {
	r    *bufio.Reader
	max  int
	line int
}

// NewReader returns a Reader of lines of at most max bytes.
func NewReader(r io.Reader, max int) *Reader {
	return &Reader{r: bufio.NewReaderSize(r, max+2), max: max}
}

// Line returns the number of the line last returned (1-based).
func (r *Reader) Line() int { return r.line }

// Next returns the next line. The slice is valid until the next call. At
// the end of input it returns io.EOF.
func (r *Reader) Next() ([]byte, error) {
	b, err := r.r.ReadSlice('\n')
	switch {
	case err == nil:
	case errors.Is(err, bufio.ErrBufferFull):
		r.line++
		if err := r.skipLine(); err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		return nil, &LineError{Line: r.line, Err: fmt.Errorf("%w (over %d bytes)", ErrTooLong, r.max)}
	case errors.Is(err, io.EOF):
		if len(b) == 0 {
			return nil, io.EOF
		}
	default:
		return nil, err
	}
	r.line++
	b = bytes.TrimSuffix(b, []byte("\n"))
	b = bytes.TrimSuffix(b, []byte("\r"))
	if len(b) > r.max {
		return nil, &LineError{Line: r.line, Err: fmt.Errorf("%w (%d bytes, over %d)", ErrTooLong, len(b), r.max)}
	}
	return b, nil
}

func (r *Reader) skipLine() error {
	for {
		_, err := r.r.ReadSlice('\n')
		if !errors.Is(err, bufio.ErrBufferFull) {
			return err
		}
	}
}
