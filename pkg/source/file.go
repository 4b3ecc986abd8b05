package source

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/netmon-dev/netmon/pkg/conntrack"
)

// File replays saved conntrack output instead of running conntrack: a
// plain file, a .gz file, or a directory whose regular files are replayed
// one per List in name order, looping (a live demo without a router). Hidden
// files, *.stderr and *.md files in a directory are skipped (a README may
// describe the snapshots). The file is re-read on every List, so editing it
// changes what the next List sees.
//
// A capture X.txt (or X.txt.gz) may have conntrack's stderr beside it as
// X.stderr; its "N flow entries have been shown" trailer then sets
// Stats.Reported, as with a live run.
//
// A File is safe for concurrent use; it must not be copied after the first
// List.
type File struct {
	Path string
	// MaxBytes bounds the bytes one List takes from the file, after
	// decompression (0 → DefaultMaxBytes); more is an error wrapping
	// ErrTooLarge, so a gzip bomb cannot keep a cycle busy for ever.
	MaxBytes int64

	mu   sync.Mutex
	next int // index of the directory file the next List replays
}

// List parses the file (or the directory's next file) like Conntrack.List
// parses conntrack's output. An error names the path; as with Conntrack,
// the caller must then discard what it received.
func (f *File) List(ctx context.Context, st *conntrack.Stats) iter.Seq2[*conntrack.Entry, error] {
	return sequence(st, func(yield func(*conntrack.Entry) bool) (conntrack.Stats, error) {
		return f.read(ctx, yield)
	})
}

func (f *File) read(ctx context.Context, yield func(*conntrack.Entry) bool) (conntrack.Stats, error) {
	st := conntrack.Stats{Reported: -1}
	if err := ctx.Err(); err != nil {
		return st, fmt.Errorf("replay %s: %w", f.Path, err)
	}
	path, err := f.pick()
	if err != nil {
		return st, err
	}
	lr, closeFile, err := openReplay(path, f.MaxBytes)
	if err != nil {
		return st, err
	}
	defer closeFile()
	st, err = conntrack.Parse(ctxReader{ctx: ctx, r: lr}, yield)
	if lr.exceeded {
		return st, fmt.Errorf("replay %s: %w (more than %d bytes)", path, ErrTooLarge, lr.max())
	}
	if err != nil {
		return st, fmt.Errorf("replay %s: %w", path, err)
	}
	if n, ok := siblingTrailer(path); ok {
		st.Reported = n
	}
	return st, nil
}

// errNotRegular: the replay path is a FIFO, device or socket, whose open
// may block for ever (a FIFO without a writer) or whose content never ends
// (/dev/zero).
var errNotRegular = errors.New("not a regular file or directory")

// siblingTrailer reads the trailer of the X.stderr file saved beside the
// capture X.txt or X.txt.gz, if there is one.
func siblingTrailer(path string) (int, bool) {
	base := strings.TrimSuffix(strings.TrimSuffix(path, ".gz"), ".txt")
	b, err := os.ReadFile(base + ".stderr")
	if err != nil || len(b) > 64<<10 {
		return 0, false
	}
	return conntrack.ParseTrailer(b)
}

// pick returns the file the next List replays.
func (f *File) pick() (string, error) {
	fi, err := os.Stat(f.Path)
	if err != nil {
		return "", fmt.Errorf("replay conntrack output: %w", err)
	}
	if !fi.IsDir() {
		if !fi.Mode().IsRegular() {
			return "", fmt.Errorf("replay %s: %w", f.Path, errNotRegular)
		}
		return f.Path, nil
	}
	names, err := replayNames(f.Path)
	if err != nil {
		return "", err
	}
	f.mu.Lock()
	i := f.next % len(names)
	f.next = i + 1
	f.mu.Unlock()
	return filepath.Join(f.Path, names[i]), nil
}

// replayNames lists the files of a replay directory in name order: the
// regular files but hidden ones, *.stderr and *.md.
func replayNames(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir) // sorted by name
	if err != nil {
		return nil, fmt.Errorf("replay conntrack output: %w", err)
	}
	var names []string
	for _, e := range entries {
		name := e.Name()
		if e.Type().IsRegular() && !strings.HasPrefix(name, ".") &&
			!strings.HasSuffix(name, ".stderr") && !strings.HasSuffix(name, ".md") {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("replay %s: the directory holds no file to replay", dir)
	}
	return names, nil
}

// openReplay opens a replay file, decompressing a .gz one, and bounds what
// it yields to maxBytes (0: DefaultMaxBytes). close releases it.
func openReplay(path string, maxBytes int64) (r *limitReader, close func(), err error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("replay conntrack output: %w", err)
	}
	var rd io.Reader = file
	closeAll := func() { file.Close() }
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(file)
		if err != nil {
			file.Close()
			return nil, nil, fmt.Errorf("replay %s: %w", path, err)
		}
		rd = zr
		closeAll = func() { zr.Close(); file.Close() }
	}
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	return &limitReader{r: rd, left: maxBytes}, closeAll, nil
}

// ctxReader stops a replay of a big file when ctx ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
