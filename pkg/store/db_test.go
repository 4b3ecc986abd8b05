package store

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestOpen(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		// setup returns the path to open, preparing whatever it needs.
		setup   func(t *testing.T) string
		wantIs  error // errors.Is target; nil means Open must succeed
		wantErr bool
	}{
		{
			name:  "fresh file",
			setup: func(t *testing.T) string { return filepath.Join(t.TempDir(), "netmon.db") },
		},
		{
			name: "older schema is upgraded",
			setup: func(t *testing.T) string {
				p := filepath.Join(t.TempDir(), "old.db")
				raw := rawOpen(t, p)
				if _, err := raw.Exec(`CREATE TABLE keep (x INTEGER)`); err != nil {
					t.Fatal(err)
				}
				raw.Close()
				return p
			},
		},
		{
			name: "newer schema is refused",
			setup: func(t *testing.T) string {
				p := filepath.Join(t.TempDir(), "new.db")
				raw := rawOpen(t, p)
				if _, err := raw.Exec(`PRAGMA user_version = 99`); err != nil {
					t.Fatal(err)
				}
				raw.Close()
				return p
			},
			wantIs: ErrNewerSchema,
		},
		{
			name: "not a database",
			setup: func(t *testing.T) string {
				p := filepath.Join(t.TempDir(), "notes.txt")
				text := strings.Repeat("these are notes, not an sqlite database\n", 200)
				if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
				return p
			},
			wantIs: ErrNotDatabase,
		},
		{
			name:   "missing directory",
			setup:  func(t *testing.T) string { return filepath.Join(t.TempDir(), "nope", "netmon.db") },
			wantIs: fs.ErrNotExist,
		},
		{
			name: "parent is a file",
			setup: func(t *testing.T) string {
				p := filepath.Join(t.TempDir(), "file")
				if err := os.WriteFile(p, nil, 0o644); err != nil {
					t.Fatal(err)
				}
				return filepath.Join(p, "netmon.db")
			},
			wantErr: true,
		},
		{
			// /proc is read-only even for root, who ignores directory modes.
			name:    "read-only directory",
			setup:   func(t *testing.T) string { return "/proc/netmon-test.db" },
			wantErr: true,
		},
		{
			name:    "empty path",
			setup:   func(t *testing.T) string { return "" },
			wantErr: true,
		},
		{
			name:    "query characters in path",
			setup:   func(t *testing.T) string { return filepath.Join(t.TempDir(), "a?mode=ro") },
			wantErr: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.setup(t)
			db, err := OpenLive(ctx, path)
			if tt.wantIs == nil && !tt.wantErr {
				if err != nil {
					t.Fatalf("Open(%q): %v", path, err)
				}
				if err := db.Close(); err != nil {
					t.Fatalf("Close: %v", err)
				}
				return
			}
			if err == nil {
				db.Close()
				t.Fatalf("Open(%q): no error", path)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("Open(%q) = %v, want errors.Is %v", path, err, tt.wantIs)
			}
			if path != "" && !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name the path %q", err, path)
			}
		})
	}
}

// TestOpenReadOnlyDirUnprivileged covers a directory without write
// permission where the mode bits apply (not as root).
func TestOpenReadOnlyDirUnprivileged(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root ignores directory modes; TestOpen covers a read-only filesystem")
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o755) })
	if db, err := OpenLive(context.Background(), filepath.Join(dir, "netmon.db")); err == nil {
		db.Close()
		t.Fatal("Open in a read-only directory: no error")
	}
}

// TestPragmasOnEveryConnection holds several pooled connections at once and
// checks each has the DSN's pragmas, not only the first, and the busy
// timeout Open was given.
func TestPragmasOnEveryConnection(t *testing.T) {
	tests := []struct {
		name string
		opts []Option
		want string // journal_mode busy_timeout synchronous (NORMAL is 1) foreign_keys
	}{
		{"defaults", nil, "wal 5000 1 1"},
		{"busy timeout", []Option{WithBusyTimeout(250 * time.Millisecond)}, "wal 250 1 1"},
		{"last option wins", []Option{WithBusyTimeout(time.Second), WithBusyTimeout(1500 * time.Microsecond)}, "wal 1 1 1"},
		{"negative busy timeout", []Option{WithBusyTimeout(-time.Second)}, "wal 0 1 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			db, err := OpenLive(ctx, filepath.Join(t.TempDir(), "netmon.db"), tt.opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			const n = 4
			var wg sync.WaitGroup
			got := make([]string, n)
			errs := make([]error, n)
			ready := make(chan struct{})
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					conn, err := db.sql.Conn(ctx)
					if err != nil {
						errs[i] = err
						return
					}
					defer conn.Close()
					<-ready // all n connections are checked out together
					var vals []string
					for _, p := range []string{"journal_mode", "busy_timeout", "synchronous", "foreign_keys"} {
						var v string
						if errs[i] = conn.QueryRowContext(ctx, "PRAGMA "+p).Scan(&v); errs[i] != nil {
							return
						}
						vals = append(vals, v)
					}
					got[i] = strings.Join(vals, " ")
				}()
			}
			close(ready)
			wg.Wait()
			for i := range n {
				if errs[i] != nil {
					t.Fatalf("connection %d: %v", i, errs[i])
				}
				if diff := cmp.Diff(tt.want, got[i]); diff != "" {
					t.Errorf("connection %d pragmas (-want +got):\n%s", i, diff)
				}
			}
		})
	}
}
