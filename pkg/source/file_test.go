package source

import (
	"github.com/netmon-dev/netmon/pkg/conntrack"

	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// readKeys replays once and returns the keys of the entries.
func readKeys(t *testing.T, f *File) ([]string, conntrack.Stats, error) {
	t.Helper()
	var keys []string
	st, err := readAll(context.Background(), f, func(e *conntrack.Entry) { keys = append(keys, conntrack.KeyOf(e).String()) })
	return keys, st, err
}

func TestFileSourceFiles(t *testing.T) {
	tests := []struct {
		name        string
		path        string
		wantEntries int
		wantFirst   string
	}{
		{name: "plain file", path: fixturePath("small_mixed.txt"), wantEntries: 29, wantFirst: "udp|203.0.113.1|37252|203.0.113.80|123"},
		{name: "gzipped file", path: fixturePath("big_10000.txt.gz"), wantEntries: 10000, wantFirst: "tcp|10.0.0.51|44391|203.0.113.82|80"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			keys, st, err := readKeys(t, &File{Path: tc.path})
			if err != nil {
				t.Fatal(err)
			}
			if st.Entries != tc.wantEntries || len(keys) != tc.wantEntries || keys[0] != tc.wantFirst {
				t.Errorf("got %d entries (stats %d), first %q; want %d, %q", len(keys), st.Entries, keys[0], tc.wantEntries, tc.wantFirst)
			}
		})
	}
}

func TestFileSourceDirectoryLoops(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"b.txt":        udpLine + "\n",
		"a.txt":        tcpLine + "\n",
		".a.txt.swp":   "editor junk",
		"a.stderr":     "conntrack v1.4.7 (conntrack-tools): 1 flow entries have been shown.\n",
		"README.md":    "# what these snapshots show\n",
		"sub/c.txt":    icmpLine + "\n",
		"c-icmp.txt":   icmpLine + "\n" + icmpLine + "\n",
		"zz-empty.txt": "",
	} {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f := &File{Path: dir}
	var got, reported []int
	for range 6 {
		_, st, err := readKeys(t, f)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, st.Entries)
		reported = append(reported, st.Reported)
	}
	// a.txt (1), b.txt (1), c-icmp.txt (2), zz-empty.txt (0), then again;
	// only a.txt has its stderr trailer beside it.
	if diff := cmp.Diff([]int{1, 1, 2, 0, 1, 1}, got); diff != "" {
		t.Errorf("entries per Read (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int{1, -1, -1, -1, 1, -1}, reported); diff != "" {
		t.Errorf("Reported per Read (-want +got):\n%s", diff)
	}
}

func TestFileSourceRereadsEditedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "table.txt")
	f := &File{Path: path}
	var got [][]string
	for _, content := range []string{tcpLine + "\n", tcpLine + "\n" + udpLine + "\n"} {
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		keys, _, err := readKeys(t, f)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, keys)
	}
	want := [][]string{
		{"tcp|10.0.0.6|33857|203.0.113.80|443"},
		{"tcp|10.0.0.6|33857|203.0.113.80|443", "udp|10.0.0.5|41467|203.0.113.80|53"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("keys per Read (-want +got):\n%s", diff)
	}
}

func TestFileSourceErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "router_extended.txt")
	corrupt := filepath.Join(dir, "corrupt.txt.gz")
	if err := os.WriteFile(corrupt, []byte("not gzip at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name     string
		ctx      context.Context
		path     string
		wantErr  error
		wantPath string // the path a *fs.PathError must name, when set
	}{
		{name: "missing file names the path", ctx: context.Background(), path: missing, wantErr: fs.ErrNotExist, wantPath: missing},
		{name: "corrupt gzip", ctx: context.Background(), path: corrupt},
		{name: "directory without files", ctx: context.Background(), path: empty},
		{name: "cancelled", ctx: cancelled, path: fixturePath("small_mixed.txt"), wantErr: context.Canceled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &File{Path: tc.path}
			_, err := readAll(tc.ctx, f, func(*conntrack.Entry) {})
			if err == nil {
				t.Fatal("Read returned no error")
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("Read error = %v, want %v", err, tc.wantErr)
			}
			var pe *fs.PathError
			if tc.wantPath != "" && (!errors.As(err, &pe) || pe.Path != tc.wantPath) {
				t.Errorf("Read error = %v, want it to name %s", err, tc.wantPath)
			}
		})
	}
}

// TestFileSourceConcurrent: Reads of a directory from several goroutines
// share the cursor safely (run with -race).
func TestFileSourceConcurrent(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"small_mixed.txt", "events.txt", "malformed.txt"} {
		if err := os.WriteFile(filepath.Join(dir, name), readFixture(t, name), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f := &File{Path: dir}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			_, err := readAll(context.Background(), f, func(*conntrack.Entry) {})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}
