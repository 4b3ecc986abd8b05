package source

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"os/exec"
	"strconv"
	"time"

	"github.com/netmon-dev/netmon/pkg/conntrack"
)

// Errors of Conntrack.List, for callers to branch on with errors.Is. The
// returned error wraps one of them and adds the detail (command, stderr).
var (
	// ErrNotInstalled: the conntrack command is missing.
	ErrNotInstalled = errors.New("conntrack not found in PATH: install conntrack-tools (apt install conntrack)")
	// ErrPermission: conntrack ran but the kernel refused the dump.
	ErrPermission = errors.New("reading the conntrack table needs root or CAP_NET_ADMIN")
	// ErrTimeout: conntrack did not finish within Conntrack.Timeout.
	ErrTimeout = errors.New("conntrack did not finish in time")
	// ErrExit: conntrack exited non-zero for another reason.
	ErrExit = errors.New("conntrack exited with an error")
	// ErrTooLarge: conntrack printed more than Conntrack.MaxBytes.
	ErrTooLarge = errors.New("conntrack output exceeds the size limit")
)

// Defaults of Conntrack's zero fields.
const (
	DefaultCommand  = "conntrack"
	DefaultTimeout  = 10 * time.Second
	DefaultMaxBytes = 512 << 20
)

// maxStderr bounds the stderr kept for error messages and the trailer.
const maxStderr = 64 << 10

// Conntrack reads the connection-tracking table by running
// `conntrack -L -o extended,id` (the id joins a listed flow and its
// DESTROY event). The zero value is ready to use.
type Conntrack struct {
	Runner   Runner        // nil → ExecRunner
	Command  string        // "" → "conntrack"
	Args     []string      // nil → {"-L", "-o", "extended,id"}
	Timeout  time.Duration // 0 → 10s
	MaxBytes int64         // 0 → 512 MiB: bound on stdout; exceeding it is an error
}

// List runs conntrack once and yields each entry as its output streams in
// (the *Entry is reused: copy what you keep). The command runs with
// LC_ALL=C and is killed after Timeout, or as soon as the loop stops
// early. A failure is yielded last, as (nil, err): the caller must then
// discard what it received, the listing may be partial. The error wraps one
// of ErrNotInstalled, ErrPermission, ErrTimeout, ErrExit or ErrTooLarge, or
// the context's error when ctx was cancelled.
//
// When the sequence ends, *st (if st is not nil) holds the counts of the
// parse; conntrack's trailer on stderr sets Stats.Reported, so
// Stats.TrailerMismatch tells whether lines went missing.
func (s *Conntrack) List(ctx context.Context, st *conntrack.Stats) iter.Seq2[*conntrack.Entry, error] {
	return sequence(st, func(yield func(*conntrack.Entry) bool) (conntrack.Stats, error) {
		return s.read(ctx, yield)
	})
}

func (s *Conntrack) read(ctx context.Context, yield func(*conntrack.Entry) bool) (conntrack.Stats, error) {
	runner, name, args, timeout, maxBytes := s.settings()
	runCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	pr, pw := io.Pipe()
	defer pr.Close() // also when yield panics: the writer must not block forever
	stderr := &boundedBuffer{max: maxStderr}
	done := make(chan error, 1)
	go func() {
		err := runner.Run(runCtx, name, args, []string{"LC_ALL=C"}, pw, stderr)
		pw.CloseWithError(err) // nil: the reader sees EOF
		done <- err
	}()
	lr := &limitReader{r: pr, left: maxBytes}
	stopped := false
	st, parseErr := conntrack.Parse(lr, func(e *conntrack.Entry) bool {
		stopped = !yield(e)
		return !stopped
	})
	if lr.exceeded || stopped {
		cancel() // kill conntrack rather than read the rest
	}
	pr.Close() // unblocks the writer if Parse stopped early
	runErr := <-done

	switch {
	case stopped:
		return st, nil
	case lr.exceeded:
		return st, fmt.Errorf("run %s: %w (more than %d bytes): raise the limit if the table is really this large", name, ErrTooLarge, maxBytes)
	case runErr != nil:
		return st, s.runError(ctx, runCtx, name, timeout, runErr, stderr.Bytes())
	case parseErr != nil:
		return st, fmt.Errorf("run %s: %w", name, parseErr)
	}
	for line := range bytes.Lines(stderr.Bytes()) {
		if n, ok := conntrack.ParseTrailer(line); ok {
			st.Reported = n
		}
	}
	return st, nil
}

// sequence turns a read that calls yield for each entry into the sequence
// List returns: entries as (e, nil), then a failure as (nil, err), and
// the read's counts in *st.
func sequence(st *conntrack.Stats, read func(yield func(*conntrack.Entry) bool) (conntrack.Stats, error)) iter.Seq2[*conntrack.Entry, error] {
	return func(yield func(*conntrack.Entry, error) bool) {
		stopped := false
		stats, err := read(func(e *conntrack.Entry) bool {
			stopped = !yield(e, nil)
			return !stopped
		})
		if st != nil {
			*st = stats
		}
		if err != nil && !stopped {
			yield(nil, err)
		}
	}
}

// settings returns s's fields with the defaults filled in.
func (s *Conntrack) settings() (Runner, string, []string, time.Duration, int64) {
	runner, name, args, timeout, maxBytes := s.Runner, s.Command, s.Args, s.Timeout, s.MaxBytes
	if runner == nil {
		runner = ExecRunner{}
	}
	if name == "" {
		name = DefaultCommand
	}
	if args == nil {
		args = []string{"-L", "-o", "extended,id"}
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	return runner, name, args, timeout, maxBytes
}

// runError turns the Runner's error into one error naming cause and fix.
func (s *Conntrack) runError(ctx, runCtx context.Context, name string, timeout time.Duration, runErr error, stderr []byte) error {
	msg := trimStderr(stderr)
	switch {
	case errors.Is(runErr, exec.ErrNotFound) || errors.Is(runErr, fs.ErrNotExist):
		if name == DefaultCommand {
			return fmt.Errorf("run %s: %w", name, ErrNotInstalled)
		}
		return fmt.Errorf("run %s: %w (%v)", name, ErrNotInstalled, runErr)
	case ctx.Err() != nil:
		return fmt.Errorf("run %s: %w", name, ctx.Err())
	case errors.Is(runCtx.Err(), context.DeadlineExceeded):
		return fmt.Errorf("run %s: %w (%s): the table may be huge or the system overloaded; raise the timeout", name, ErrTimeout, timeout)
	case bytes.Contains(stderr, []byte("Operation not permitted")):
		return fmt.Errorf("run %s: %w (%s)", name, ErrPermission, msg)
	case msg != "":
		return fmt.Errorf("run %s: %w (%v): %s", name, ErrExit, runErr, msg)
	}
	return fmt.Errorf("run %s: %w (%v)", name, ErrExit, runErr)
}

// trimStderr returns stderr trimmed and cut short for an error message.
func trimStderr(b []byte) string {
	const max = 512
	b = bytes.TrimSpace(b)
	if len(b) > max {
		return strconv.Quote(string(b[:max])) + "..."
	}
	return string(b)
}

// limitReader reads from r until left bytes have been read, then fails.
type limitReader struct {
	r        io.Reader
	left     int64
	read     int64
	exceeded bool
}

// max is the limit the reader was made with.
func (l *limitReader) max() int64 { return l.left + l.read }

func (l *limitReader) Read(p []byte) (int, error) {
	if l.exceeded {
		return 0, ErrTooLarge
	}
	if int64(len(p)) > l.left+1 {
		p = p[:l.left+1] // one byte more than allowed tells "exceeded" from "exactly full"
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	l.read += int64(n)
	if l.left < 0 {
		l.exceeded = true
		return 0, ErrTooLarge
	}
	return n, err
}

// boundedBuffer keeps the first max bytes written to it and drops the
// rest, while telling the writer all went well so the command is not
// disturbed by a chatty stderr.
type boundedBuffer struct {
	buf bytes.Buffer
	max int
}

func (b *boundedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// Bytes returns what was kept.
func (b *boundedBuffer) Bytes() []byte { return b.buf.Bytes() }
