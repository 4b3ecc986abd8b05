package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

func TestNotWritable(t *testing.T) {
	const dir, path = "/var/lib/netmon", "/var/lib/netmon/netmon.db"
	type result struct {
		Cause   string
		OK      bool
		Checked bool // whether the file system was asked
	}
	tests := []struct {
		name   string
		code   int
		access access
		want   result
	}{
		{"readonly, read-only file system", sqlite3.SQLITE_READONLY, access{readOnlyFS: true},
			result{"read-only file system", true, true}},
		{"readonly, no permission on the file", sqlite3.SQLITE_READONLY, access{denied: path},
			result{"no write permission", true, true}},
		{"readonly, no permission on the directory", sqlite3.SQLITE_READONLY, access{denied: dir},
			result{"no write permission on " + dir, true, true}},
		{"readonly, nothing found", sqlite3.SQLITE_READONLY, access{},
			result{"read-only file system or no write permission", true, true}},
		{"readonly -shm, nothing found", sqlite3.SQLITE_READONLY_CANTINIT, access{},
			result{"read-only file system or no write permission", true, true}},
		{"readonly directory", sqlite3.SQLITE_READONLY_DIRECTORY, access{denied: dir},
			result{"no write permission on " + dir, true, true}},
		{"file moved is another matter", sqlite3.SQLITE_READONLY_DBMOVED, access{readOnlyFS: true},
			result{}},
		{"cantopen, read-only file system", sqlite3.SQLITE_CANTOPEN, access{readOnlyFS: true},
			result{"read-only file system", true, true}},
		{"cantopen, no permission on the -wal", sqlite3.SQLITE_CANTOPEN, access{denied: path + "-wal"},
			result{"no write permission on " + path + "-wal", true, true}},
		{"cantopen, nothing found", sqlite3.SQLITE_CANTOPEN, access{},
			result{"", false, true}},
		{"write error, read-only file system", sqlite3.SQLITE_IOERR_WRITE, access{readOnlyFS: true},
			result{"read-only file system", true, true}},
		{"fsync error, read-only file system", sqlite3.SQLITE_IOERR_FSYNC, access{readOnlyFS: true},
			result{"read-only file system", true, true}},
		{"write error, no permission: a disk error", sqlite3.SQLITE_IOERR_WRITE, access{denied: path},
			result{"", false, true}},
		{"write error, nothing found: a disk error", sqlite3.SQLITE_IOERR_WRITE, access{},
			result{"", false, true}},
		{"disk full", sqlite3.SQLITE_FULL, access{readOnlyFS: true}, result{}},
		{"busy", sqlite3.SQLITE_BUSY, access{readOnlyFS: true}, result{}},
		{"not a database", sqlite3.SQLITE_NOTADB, access{readOnlyFS: true}, result{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got result
			got.Cause, got.OK = notWritable(tt.code, path, func() access {
				got.Checked = true
				return tt.access
			})
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("notWritable(%d) (-want +got):\n%s", tt.code, diff)
			}
		})
	}
}

// TestClassifyKeepsSQLiteError classifies a real SQLite error: a write
// through a connection opened read-only (mode=ro), so the file system is
// writable and the cause is unknown.
func TestClassifyKeepsSQLiteError(t *testing.T) {
	db := openTemp(t)
	ro, err := sql.Open("sqlite", "file:"+db.Path()+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	_, err = ro.Exec(`DELETE FROM connections`)
	if err == nil {
		t.Fatal("write through a read-only connection: no error")
	}
	err = classify(db.Path(), err)
	var se *sqlite.Error
	got := []any{errors.Is(err, ErrReadOnly), errors.As(err, &se) && se.Code() == sqlite3.SQLITE_READONLY,
		strings.HasPrefix(err.Error(), "not writable (read-only file system or no write permission): ")}
	if diff := cmp.Diff([]any{true, true, true}, got); diff != "" {
		t.Errorf("classify(%v): errors.Is ErrReadOnly, As *sqlite.Error READONLY, cause first (-want +got):\n%s", err, diff)
	}
}

// needRoot skips a test that mounts or changes users unless it runs as
// root (CI runs these as root).
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (CI runs this as root)")
	}
}

// run runs a command that must succeed.
func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
}

// cannot skips a root test this machine cannot run (a container without
// CAP_SYS_ADMIN or without user 65534), except in CI (CI=true, or
// NETMON_REQUIRE_E2E=1 as .ci/run sets), where it must run, as pkg/ingest's
// fault tests do.
func cannot(t *testing.T, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" || os.Getenv("NETMON_REQUIRE_E2E") == "1" {
		t.Fatal(msg + " (in CI this test must run)")
	}
	t.Skip(msg)
}

// mountTmpfs mounts a small tmpfs in a temporary directory and unmounts
// it (lazily, so a database left open cannot keep it) when the test ends.
func mountTmpfs(t *testing.T) string {
	t.Helper()
	needRoot(t)
	dir := t.TempDir()
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=16m,mode=0755", "netmon-test", dir).CombinedOutput()
	if err != nil {
		cannot(t, "mount tmpfs: "+err.Error()+": "+strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	return dir
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkNotWritable checks that err says, on one line, that the database at
// path is not writable and why, and still wraps SQLite's error.
func checkNotWritable(t *testing.T, err error, path, cause string) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	var se *sqlite.Error
	msg := err.Error()
	got := []any{errors.Is(err, ErrReadOnly), errors.As(err, &se), strings.Contains(msg, path),
		strings.Contains(msg, "not writable ("+cause+"): "), strings.Contains(msg, "\n")}
	if diff := cmp.Diff([]any{true, true, true, true, false}, got); diff != "" {
		t.Errorf("error %q: errors.Is ErrReadOnly, As *sqlite.Error, names %s, says %q, two lines (-want +got):\n%s",
			msg, path, cause, diff)
	}
}

// TestReadOnlyFilesystem runs a cycle on a tmpfs, remounts it read-only
// and checks that cycles and opens fail with ErrReadOnly naming the
// database and the read-only file system, that the file is unchanged, and
// that once the file system is read-write again the next cycle of the same
// DB succeeds.
func TestReadOnlyFilesystem(t *testing.T) {
	dir := mountTmpfs(t)
	path := filepath.Join(dir, "netmon.db")
	ctx := context.Background()
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	if _, err := db.Reconcile(ctx, t0, synthFlows(100, 0), 0); err != nil {
		t.Fatalf("cycle before the fault: %v", err)
	}
	// Linux refuses to remount a file system read-only while a file on it
	// is open for writing: close the connections, as a restart would (the
	// last one checkpoints the WAL into the file).
	db.closeIdle()
	before := readFile(t, path)
	run(t, "mount", "-o", "remount,ro", dir)
	t.Cleanup(func() { exec.Command("mount", "-o", "remount,rw", dir).Run() })

	newPath := filepath.Join(dir, "new.db")
	cycle := func(at time.Duration) func() error {
		return func() error {
			_, err := db.Reconcile(ctx, t0.Add(at), synthFlows(100, 1), 0)
			return err
		}
	}
	open := func(path string) func() error {
		return func() error {
			db, err := Open(ctx, path)
			if err == nil {
				db.Close()
			}
			return err
		}
	}
	tests := []struct {
		name string
		try  func() error
		path string // the database the error must name
	}{
		{"cycle", cycle(time.Minute), path},
		{"cycle again", cycle(2 * time.Minute), path},
		{"open", open(path), path},
		{"open a new file", open(newPath), newPath},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.try()
			t.Logf("on a read-only file system: %v", err)
			checkNotWritable(t, err, tt.path, "read-only file system")
		})
	}
	if !bytes.Equal(before, readFile(t, path)) {
		t.Error("the database file changed on the read-only file system")
	}

	run(t, "mount", "-o", "remount,rw", dir)
	res, err := db.Reconcile(ctx, t0.Add(3*time.Minute), synthFlows(100, 1), 0)
	if err != nil {
		t.Fatalf("cycle after remounting read-write: %v", err)
	}
	if diff := cmp.Diff([2]int{100, 100}, [2]int{res.Opened, res.Closed}); diff != "" {
		t.Errorf("cycle after remounting read-write: opened, closed (-want +got):\n%s", diff)
	}
}

// nobody is the unprivileged user the permission tests run as.
const nobody = 65534

// setUser makes uid the real and effective user of every thread of the
// process, keeping root as the saved user so that setUser(0) returns to
// it. None of this package's tests is parallel, so no other test runs
// meanwhile.
func setUser(t *testing.T, uid int) {
	t.Helper()
	if err := syscall.Setresuid(uid, uid, 0); err != nil {
		cannot(t, fmt.Sprintf("setresuid %d: %v", uid, err))
	}
}

// TestNoWritePermission creates a database as root (as `sudo netmon
// ingest-once` would) and runs netmon as nobody on it: the file or its
// directory is not writable, and the error says which. Once the owner is
// fixed the next cycle of the same DB succeeds: the connections opened
// read-only before must not be reused.
func TestNoWritePermission(t *testing.T) {
	needRoot(t)
	tests := []struct {
		name  string
		chown func(dir, path string) []string // made nobody's before the fault
		cause func(dir, path string) string
	}{
		{
			name:  "file owned by root",
			chown: func(dir, path string) []string { return []string{dir} },
			cause: func(dir, path string) string { return "no write permission" },
		},
		{
			name:  "directory owned by root",
			chown: func(dir, path string) []string { return []string{path} },
			cause: func(dir, path string) string { return "no write permission on " + dir },
		},
	}
	ctx := context.Background()
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			// nobody must reach dir: its parent is the test's, mode 0700.
			if err := os.Chmod(filepath.Dir(dir), 0o755); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, "netmon.db")
			db, err := Open(ctx, path)
			if err == nil {
				_, err = db.Reconcile(ctx, t0, synthFlows(100, 0), 0)
				db.Close()
			}
			if err != nil {
				t.Fatalf("as root: %v", err)
			}
			for _, p := range tt.chown(dir, path) {
				if err := os.Chown(p, nobody, nobody); err != nil {
					t.Fatal(err)
				}
			}
			before := readFile(t, path)
			t.Cleanup(func() { setUser(t, 0) }) // before TempDir's removal
			setUser(t, nobody)

			// Depending on what SQLite must create, Open or the first cycle fails.
			db, err = Open(ctx, path)
			if err == nil {
				defer db.Close()
				_, err = db.Reconcile(ctx, t0.Add(time.Minute), synthFlows(100, 1), 0)
			}
			t.Logf("without write permission: %v", err)
			checkNotWritable(t, err, path, tt.cause(dir, path))
			if !bytes.Equal(before, readFile(t, path)) {
				t.Error("the database file changed")
			}

			setUser(t, 0)
			for _, p := range []string{dir, path} {
				if err := os.Chown(p, nobody, nobody); err != nil {
					t.Fatal(err)
				}
			}
			setUser(t, nobody)
			if db == nil {
				if db, err = Open(ctx, path); err != nil {
					t.Fatalf("open after the owner was fixed: %v", err)
				}
				defer db.Close()
			}
			if _, err := db.Reconcile(ctx, t0.Add(2*time.Minute), synthFlows(100, 1), 0); err != nil {
				t.Errorf("cycle after the owner was fixed: %v", err)
			}
		})
	}
}
