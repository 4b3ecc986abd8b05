package conntrack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os/exec"
	"strconv"
	"time"
)

// Errors of Snapshot.Read, for callers to branch on with errors.Is. The
// returned error wraps one of them and adds the detail (command, stderr).
var (
	// ErrNotInstalled: the conntrack command is missing.
	ErrNotInstalled = errors.New("conntrack not found in PATH: install conntrack-tools (apt install conntrack)")
	// ErrPermission: conntrack ran but the kernel refused the dump.
	ErrPermission = errors.New("reading the conntrack table needs root or CAP_NET_ADMIN")
	// ErrTimeout: conntrack did not finish within Snapshot.Timeout.
	ErrTimeout = errors.New("conntrack did not finish in time")
	// ErrExit: conntrack exited non-zero for another reason.
	ErrExit = errors.New("conntrack exited with an error")
	// ErrTooLarge: conntrack printed more than Snapshot.MaxBytes.
	ErrTooLarge = errors.New("conntrack output exceeds the size limit")
)

// Defaults of Snapshot's zero fields.
const (
	DefaultCommand  = "conntrack"
	DefaultTimeout  = 10 * time.Second
	DefaultMaxBytes = 512 << 20
)

// maxStderr bounds the stderr kept for error messages and the trailer.
const maxStderr = 64 << 10

// Snapshot reads the connection-tracking table by running
// `conntrack -L -o extended`. The zero value is ready to use.
type Snapshot struct {
	Runner   Runner        // nil → ExecRunner
	Command  string        // "" → "conntrack"
	Args     []string      // nil → {"-L", "-o", "extended"}
	Timeout  time.Duration // 0 → 10s
	MaxBytes int64         // 0 → 512 MiB: bound on stdout; exceeding it is an error
}

// Read runs conntrack once and calls fn for each entry as its output
// streams in (see Parse: the *Entry is reused). The command runs with
// LC_ALL=C and is killed after Timeout. conntrack's trailer on stderr sets
// Stats.Reported, so Stats.TrailerMismatch tells whether lines went missing.
//
// When Read returns an error the caller must discard everything fn
// received: the listing may be partial. The error wraps one of
// ErrNotInstalled, ErrPermission, ErrTimeout, ErrExit or ErrTooLarge, or
// the context's error when ctx was cancelled.
func (s *Snapshot) Read(ctx context.Context, fn func(*Entry)) (Stats, error) {
	runner, name, args, timeout, maxBytes := s.settings()
	runCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	pr, pw := io.Pipe()
	defer pr.Close() // also when fn panics: the writer must not block forever
	stderr := &boundedBuffer{max: maxStderr}
	done := make(chan error, 1)
	go func() {
		err := runner.Run(runCtx, name, args, []string{"LC_ALL=C"}, pw, stderr)
		pw.CloseWithError(err) // nil: the reader sees EOF
		done <- err
	}()
	lr := &limitReader{r: pr, left: maxBytes}
	st, parseErr := Parse(lr, fn)
	if lr.exceeded {
		cancel() // kill conntrack rather than read the rest
	}
	pr.Close() // unblocks the writer if Parse stopped early
	runErr := <-done

	switch {
	case lr.exceeded:
		return st, fmt.Errorf("run %s: %w (more than %d bytes): raise the limit if the table is really this large", name, ErrTooLarge, maxBytes)
	case runErr != nil:
		return st, s.runError(ctx, runCtx, name, timeout, runErr, stderr.Bytes())
	case parseErr != nil:
		return st, fmt.Errorf("run %s: %w", name, parseErr)
	}
	for line := range bytes.Lines(stderr.Bytes()) {
		if n, ok := ParseTrailer(line); ok {
			st.Reported = n
		}
	}
	return st, nil
}

// settings returns s's fields with the defaults filled in.
func (s *Snapshot) settings() (Runner, string, []string, time.Duration, int64) {
	runner, name, args, timeout, maxBytes := s.Runner, s.Command, s.Args, s.Timeout, s.MaxBytes
	if runner == nil {
		runner = ExecRunner{}
	}
	if name == "" {
		name = DefaultCommand
	}
	if args == nil {
		args = []string{"-L", "-o", "extended"}
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
func (s *Snapshot) runError(ctx, runCtx context.Context, name string, timeout time.Duration, runErr error, stderr []byte) error {
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
	exceeded bool
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.exceeded {
		return 0, ErrTooLarge
	}
	if int64(len(p)) > l.left+1 {
		p = p[:l.left+1] // one byte more than allowed tells "exceeded" from "exactly full"
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
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
