package source

import (
	"github.com/netmon-dev/netmon/pkg/conntrack"

	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// TestFileSourceHostile replays files no capture should be: a FIFO (whose
// open blocks until a writer comes), an endless device, a symlink to one,
// a gzip bomb, a truncated gzip stream. Each Read returns promptly with one
// error naming the path, never hangs, and allocates little whatever the
// file would expand to. (Hostile conntrack output through the runner is
// tested end to end, with the database, in pkg/ingest.)
func TestFileSourceHostile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.txt")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "zero.txt")
	if err := os.Symlink("/dev/zero", link); err != nil {
		t.Fatal(err)
	}
	bomb := filepath.Join(dir, "bomb.txt.gz")
	writeGzip(t, bomb, bytes.Repeat([]byte{0}, 16<<20))
	table := readFixture(t, "small_mixed.txt")
	truncated := filepath.Join(dir, "truncated.txt.gz")
	writeGzip(t, truncated, table)
	b, err := os.ReadFile(truncated)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(truncated, b[:len(b)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		path     string
		maxBytes int64
		wantErr  error // nil: any error
	}{
		{name: "FIFO", path: fifo, wantErr: errNotRegular},
		{name: "endless device", path: "/dev/zero", wantErr: errNotRegular},
		{name: "symlink to an endless device", path: link, wantErr: errNotRegular},
		{name: "gzip bomb past the size limit", path: bomb, maxBytes: 1 << 20, wantErr: ErrTooLarge},
		{name: "truncated gzip", path: truncated, wantErr: io.ErrUnexpectedEOF},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := &File{Path: tc.path, MaxBytes: tc.maxBytes}
			type result struct {
				st  conntrack.Stats
				err error
			}
			done := make(chan result, 1)
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			go func() {
				st, err := readAll(context.Background(), src, func(*conntrack.Entry) {})
				done <- result{st, err}
			}()
			var res result
			select {
			case res = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("Read still running after 10 s")
			}
			runtime.ReadMemStats(&after)
			if res.err == nil {
				t.Fatalf("Read succeeded: %+v", res.st)
			}
			if tc.wantErr != nil && !errors.Is(res.err, tc.wantErr) {
				t.Errorf("Read error = %v, want one wrapping %v", res.err, tc.wantErr)
			}
			if !bytes.Contains([]byte(res.err.Error()), []byte(tc.path)) {
				t.Errorf("error %q does not name %s", res.err, tc.path)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4<<20 {
				t.Errorf("Read allocated %d bytes", alloc)
			}
		})
	}
}

// writeGzip writes data gzipped to path.
func writeGzip(t *testing.T, path string, data []byte) {
	t.Helper()
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}
