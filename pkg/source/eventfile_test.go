package source

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/netmon-dev/netmon/pkg/conntrack"
)

// destroysOf parses the DESTROY lines of a capture, the way a reader of
// the text would.
func destroysOf(t *testing.T, data []byte) []conntrack.Entry {
	t.Helper()
	var out []conntrack.Entry
	if _, err := conntrack.Parse(bytes.NewReader(data), func(e *conntrack.Entry) bool {
		if e.Event == conntrack.EventDestroy {
			out = append(out, *e)
		}
		return true
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func drainAll(t *testing.T, f *EventFile) ([]conntrack.Entry, error) {
	t.Helper()
	var got []conntrack.Entry
	err := f.Drain(func(e *conntrack.Entry) { got = append(got, *e) })
	return got, err
}

// TestEventFileReplaysOnce: a file's DESTROY events come at the first
// Drain, filtered by keep, and never again; NEW and UPDATE lines are no
// events.
func TestEventFileReplaysOnce(t *testing.T) {
	data, err := os.ReadFile(fixturePath("events.txt"))
	if err != nil {
		t.Fatal(err)
	}
	all := destroysOf(t, data)
	if len(all) != 30 {
		t.Fatalf("the capture has %d DESTROY lines, want 30", len(all))
	}
	dir := t.TempDir()
	gz := filepath.Join(dir, "events.txt.gz")
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(data)
	zw.Close()
	os.WriteFile(gz, buf.Bytes(), 0o644)

	for _, path := range []string{fixturePath("events.txt"), gz} {
		t.Run(filepath.Base(path), func(t *testing.T) {
			f := &EventFile{Path: path}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error)
			v4 := func(e *conntrack.Entry) bool { return e.Family == 2 }
			go func() { done <- f.Listen(ctx, v4, nil) }()
			for !f.Stats().Listening {
				time.Sleep(time.Millisecond)
			}
			got, err := drainAll(t, f)
			if err != nil {
				t.Fatal(err)
			}
			var want []conntrack.Entry
			for _, e := range all {
				if e.Family == 2 {
					want = append(want, e)
				}
			}
			if diff := cmp.Diff(want, got, addrOpts); diff != "" {
				t.Errorf("first Drain (-want +got):\n%s", diff)
			}
			if again, _ := drainAll(t, f); len(again) != 0 {
				t.Errorf("second Drain: %d events, want none", len(again))
			}
			st := f.Stats()
			if st.Received != 30 || st.Kept != uint64(len(want)) || st.Lost() {
				t.Errorf("stats %+v: want 30 received, %d kept, nothing lost", st, len(want))
			}
			cancel()
			if err := <-done; err != nil {
				t.Error(err)
			}
		})
	}
}

// TestEventFileDirectory: a directory is replayed one file per Drain, in
// name order, without looping; a file that cannot be read is an error and
// is tried again.
func TestEventFileDirectory(t *testing.T) {
	data, err := os.ReadFile(fixturePath("events.txt"))
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(data, []byte("\n"))
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "01.txt"), bytes.Join(lines[:60], nil), 0o644)
	os.WriteFile(filepath.Join(dir, "02.txt"), bytes.Join(lines[60:], nil), 0o644)
	os.WriteFile(filepath.Join(dir, "README.md"), []byte("not replayed\n"), 0o644)
	f := &EventFile{Path: dir}
	var counts []int
	for range 3 {
		got, err := drainAll(t, f)
		if err != nil {
			t.Fatal(err)
		}
		counts = append(counts, len(got))
	}
	first, second := len(destroysOf(t, bytes.Join(lines[:60], nil))), len(destroysOf(t, bytes.Join(lines[60:], nil)))
	if diff := cmp.Diff([]int{first, second, 0}, counts); diff != "" {
		t.Errorf("events per Drain (-want +got):\n%s", diff)
	}

	missing := &EventFile{Path: filepath.Join(dir, "nope.txt")}
	if _, err := drainAll(t, missing); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v, want ErrNotExist", err)
	}
	os.WriteFile(missing.Path, lines[len(lines)-2], 0o644)
	if got, err := drainAll(t, missing); err != nil || len(got) != 1 {
		t.Errorf("after the file appeared: %d events, %v; want 1, nil", len(got), err)
	}
}
