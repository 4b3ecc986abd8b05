package names

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"time"
)

// FollowOptions tune FollowDNSLog.
type FollowOptions struct {
	// Poll is how often the file is checked for new lines, rotation and
	// truncation (default 1 s).
	Poll time.Duration
	// Backlog is how much of the file's end is read at start, so that
	// names looked up shortly before netmon started are known (default
	// 256 KiB; the first, partial line is dropped).
	Backlog int64
	Now     func() time.Time // time.Now when nil
	Logger  *slog.Logger     // slog.Default() when nil
}

// FollowDNSLog tails dnsmasq's query log at path (log-facility=FILE) into
// d until ctx ends, then returns nil. It follows the file across
// rotation (a new file at path: the rest of the old one is read first)
// and truncation (read again from the start), and waits for a file that
// does not exist yet. Errors are logged when they start, not every poll.
func FollowDNSLog(ctx context.Context, path string, d *DNSLog, opt FollowOptions) error {
	t := tail{path: path, d: d, opt: opt}
	if t.opt.Poll <= 0 {
		t.opt.Poll = time.Second
	}
	if t.opt.Backlog <= 0 {
		t.opt.Backlog = 256 << 10
	}
	if t.opt.Now == nil {
		t.opt.Now = time.Now
	}
	if t.opt.Logger == nil {
		t.opt.Logger = slog.Default()
	}
	defer t.close()
	tick := time.NewTicker(t.opt.Poll)
	defer tick.Stop()
	first := true
	for {
		t.poll(first)
		first = false
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

type tail struct {
	path    string
	d       *DNSLog
	opt     FollowOptions
	f       *os.File
	fi      fs.FileInfo
	off     int64
	partial []byte // a line not yet ended
	failing bool
	buf     []byte
	// skipPartial drops everything up to the next line end: the start
	// of the backlog, or the rest of an over-long line.
	skipPartial bool
}

func (t *tail) close() {
	if t.f != nil {
		t.f.Close()
		t.f = nil
	}
}

// poll reads what is new, then checks for rotation and truncation.
func (t *tail) poll(first bool) {
	if t.f == nil {
		if !t.open(first) {
			return
		}
	}
	t.read()
	fi, err := os.Stat(t.path)
	switch {
	case err != nil:
		// Rotated away and not yet re-created: keep the old file.
		return
	case !os.SameFile(fi, t.fi):
		t.read() // the rest of the rotated file
		t.close()
		t.partial = t.partial[:0]
		if t.open(false) {
			t.read()
		}
	case fi.Size() < t.off:
		t.off = 0
		t.partial = t.partial[:0]
		t.read()
	}
}

func (t *tail) open(first bool) bool {
	f, err := os.Open(t.path)
	if err == nil {
		var fi fs.FileInfo
		if fi, err = f.Stat(); err == nil && !fi.Mode().IsRegular() {
			err = errors.New("not a regular file")
		}
		if err == nil {
			t.f, t.fi, t.off = f, fi, 0
			if first && fi.Size() > t.opt.Backlog {
				t.off = fi.Size() - t.opt.Backlog
				t.skipPartial = true
			}
			if t.failing {
				t.opt.Logger.Info("reading the DNS query log", "path", t.path)
				t.failing = false
			}
			return true
		}
		f.Close()
	}
	if !t.failing {
		t.opt.Logger.Warn("cannot read the DNS query log; trying again", "path", t.path, "err", err)
		t.failing = true
	}
	return false
}

// read feeds every complete line from the offset to the end of the file.
func (t *tail) read() {
	if t.buf == nil {
		t.buf = make([]byte, 64<<10)
	}
	now := t.opt.Now()
	for {
		n, err := t.f.ReadAt(t.buf, t.off)
		t.off += int64(n)
		t.consume(t.buf[:n], now)
		if err != nil || n < len(t.buf) {
			if err != nil && !errors.Is(err, io.EOF) && !t.failing {
				t.opt.Logger.Warn("read the DNS query log", "path", t.path, "err", err)
				t.failing = true
			}
			return
		}
	}
}

func (t *tail) consume(b []byte, now time.Time) {
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			if !t.skipPartial {
				t.partial = append(t.partial, b...)
				if len(t.partial) > maxLine {
					t.partial = t.partial[:0]
					t.skipPartial = true
				}
			}
			return
		}
		line := b[:i]
		b = b[i+1:]
		if t.skipPartial {
			t.skipPartial = false
			t.partial = t.partial[:0]
			continue
		}
		if len(t.partial) > 0 {
			t.partial = append(t.partial, line...)
			line = t.partial
		}
		t.d.Feed(bytes.TrimRight(line, "\r"), now)
		t.partial = t.partial[:0]
	}
}
