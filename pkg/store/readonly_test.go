package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"github.com/netmon-dev/netmon/pkg/flows"
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
	const dir = "/var/lib/netmon"
	const unknown = "read-only file system or no write permission"
	tests := []struct {
		name  string
		code  int
		found string // what writeAccess found
		want  string
	}{
		{"readonly, read-only file system", sqlite3.SQLITE_READONLY, readOnlyFS, readOnlyFS},
		{"readonly, no permission", sqlite3.SQLITE_READONLY, "no write permission", "no write permission"},
		{"readonly directory", sqlite3.SQLITE_READONLY_DIRECTORY, "no write permission on " + dir, "no write permission on " + dir},
		{"readonly, nothing found", sqlite3.SQLITE_READONLY, "", unknown},
		{"readonly -shm, nothing found", sqlite3.SQLITE_READONLY_CANTINIT, "", unknown},
		{"file moved is another matter", sqlite3.SQLITE_READONLY_DBMOVED, readOnlyFS, ""},
		{"cantopen, read-only file system", sqlite3.SQLITE_CANTOPEN, readOnlyFS, readOnlyFS},
		{"cantopen, no permission", sqlite3.SQLITE_CANTOPEN, "no write permission on " + dir, "no write permission on " + dir},
		{"cantopen, nothing found", sqlite3.SQLITE_CANTOPEN, "", ""},
		{"write error, read-only file system", sqlite3.SQLITE_IOERR_WRITE, readOnlyFS, readOnlyFS},
		{"fsync error, read-only file system", sqlite3.SQLITE_IOERR_FSYNC, readOnlyFS, readOnlyFS},
		{"write error, no permission: a disk error", sqlite3.SQLITE_IOERR_WRITE, "no write permission", ""},
		{"write error, nothing found: a disk error", sqlite3.SQLITE_IOERR_WRITE, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, notWritable(tt.code, tt.found)); diff != "" {
				t.Errorf("notWritable(%d, %q) (-want +got):\n%s", tt.code, tt.found, diff)
			}
		})
	}
}

// TestClassify classifies real SQLite errors: a write through a connection
// opened read-only (mode=ro), on a file system and a file that are
// writable, so the cause is unknown; a file that is not a database; and a
// plain error. A cycle names the database for every SQLite error, a read
// only when it cannot be written; what EachActiveConnection's callbacks
// return comes back unchanged, even an SQLite error of a refused write.
func TestClassify(t *testing.T) {
	db := openTemp(t)
	ro, err := sql.Open("sqlite", "file:"+db.Path()+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	_, refused := ro.Exec(`DELETE FROM connections`)
	garbage := filepath.Join(t.TempDir(), "garbage.db")
	if err := os.WriteFile(garbage, bytes.Repeat([]byte("not sqlite "), 512), 0o600); err != nil {
		t.Fatal(err)
	}
	g, err := sql.Open("sqlite", garbage)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	_, notDB := g.Exec(`SELECT 1 FROM sqlite_master`)
	plain := errors.New("plain")

	type result struct {
		ReadOnly, NotDB, SQLite, Same bool
		Prefix                        string // the message before the error's own
	}
	const cause = "not writable (read-only file system or no write permission): "
	named := "database " + db.Path() + ": "
	classifyIt := func(err error) error { return classify(db.Path(), err) }
	tests := []struct {
		name string
		fn   func(error) error
		in   error
		want result
	}{
		{"refused write", classifyIt, refused, result{ReadOnly: true, SQLite: true, Prefix: cause}},
		{"not a database", classifyIt, notDB, result{NotDB: true, SQLite: true, Prefix: "not an sqlite database: "}},
		{"plain", classifyIt, plain, result{Same: true}},
		{"cycle's refused write", db.writeFailed, refused, result{ReadOnly: true, SQLite: true, Prefix: named + cause}},
		{"cycle's SQLite error", db.writeFailed, notDB, result{NotDB: true, SQLite: true, Prefix: named + "not an sqlite database: "}},
		{"cycle's plain error", db.writeFailed, plain, result{Same: true}},
		{"read's refused write", db.readFailed, refused, result{ReadOnly: true, SQLite: true, Prefix: named + cause}},
		{"read's SQLite error", db.readFailed, notDB, result{SQLite: true, Same: true}},
		{"read's plain error", db.readFailed, plain, result{Same: true}},
		{"callback's refused write", func(in error) error {
			return db.EachActiveConnection(context.Background(), 0, func(int) error { return in }, nil)
		}, refused, result{SQLite: true, Same: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.in == nil {
				t.Fatal("no error to classify")
			}
			err := tt.fn(tt.in)
			var se *sqlite.Error
			got := result{ReadOnly: errors.Is(err, ErrReadOnly), NotDB: errors.Is(err, ErrNotDatabase),
				SQLite: errors.As(err, &se), Same: err == tt.in}
			got.Prefix, _ = strings.CutSuffix(err.Error(), tt.in.Error())
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("%v: (-want +got):\n%s", err, diff)
			}
		})
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

// remount remounts the file system at dir with mode (ro or rw).
func remount(t *testing.T, dir, mode string) {
	t.Helper()
	if out, err := exec.Command("mount", "-o", "remount,"+mode, dir).CombinedOutput(); err != nil {
		t.Fatalf("remount %s %s: %v: %s", mode, dir, err, out)
	}
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

// faultT0 is when the first cycle of a fault test runs.
var faultT0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// TestReadOnlyFilesystem runs a cycle on a tmpfs, remounts it read-only
// and checks that cycles, opens and reads fail with ErrReadOnly naming the
// database and the read-only file system, that the file is unchanged, and
// that once the file system is read-write again the next cycle of the same
// DB succeeds.
func TestReadOnlyFilesystem(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=16m,mode=0755", "netmon-test", dir).CombinedOutput(); err != nil {
		cannot(t, "mount tmpfs: "+err.Error()+": "+strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() }) // lazily: a DB left open cannot keep it
	path, newPath := filepath.Join(dir, "netmon.db"), filepath.Join(dir, "new.db")
	ctx := context.Background()
	db, err := OpenLive(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := reconcile(db, ctx, faultT0, synthFlows(100, 0), 0); err != nil {
		t.Fatalf("cycle before the fault: %v", err)
	}
	// Linux refuses to remount a file system read-only while a file on it
	// is open for writing: close the connections, as a restart would (the
	// last one checkpoints the WAL into the file and removes it).
	db.closeIdle()
	before := readFile(t, path)
	remount(t, dir, "ro")
	t.Cleanup(func() { exec.Command("mount", "-o", "remount,rw", dir).Run() })

	cycle := func(d time.Duration) func() error {
		return func() error { _, err := reconcile(db, ctx, faultT0.Add(d), synthFlows(100, 1), 0); return err }
	}
	open := func(path string) func() error {
		return func() error {
			db, err := OpenLive(ctx, path)
			if err == nil {
				db.Close()
			}
			return err
		}
	}
	steps := []struct {
		name string
		try  func() error
		path string // the database the error must name
	}{
		{"cycle", cycle(time.Minute), path},
		{"cycle again", cycle(2 * time.Minute), path},
		{"open", open(path), path},
		{"open a new file", open(newPath), newPath},
		// A new connection cannot create the -wal and -shm the last one
		// removed: reads fail too (see readFailed).
		{"read in a transaction", func() error {
			return db.EachActiveConnection(ctx, 0, nil, func(*flows.Connection) error { return nil })
		}, path},
		{"read", func() error { _, err := db.RemoteHostCount(ctx); return err }, path},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			err := st.try()
			t.Logf("read-only: %v", err)
			checkNotWritable(t, err, st.path, readOnlyFS)
		})
	}
	if !bytes.Equal(before, readFile(t, path)) {
		t.Error("the database file changed on the read-only file system")
	}

	remount(t, dir, "rw")
	res, err := reconcile(db, ctx, faultT0.Add(3*time.Minute), synthFlows(100, 1), 0)
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
		fault func(dir, path string) (nobodys, cause string) // nobodys: made nobody's, the other stays root's
	}{
		{"file owned by root", func(dir, path string) (string, string) { return dir, "no write permission" }},
		{"directory owned by root", func(dir, path string) (string, string) { return path, "no write permission on " + dir }},
	}
	ctx := context.Background()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			// nobody must reach dir: its parent is the test's, mode 0700.
			if err := os.Chmod(filepath.Dir(dir), 0o755); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, "netmon.db")
			db, err := OpenLive(ctx, path)
			if err == nil {
				_, err = reconcile(db, ctx, faultT0, synthFlows(100, 0), 0)
				db.Close()
			}
			if err != nil {
				t.Fatalf("as root: %v", err)
			}
			nobodys, cause := tt.fault(dir, path)
			if err := os.Chown(nobodys, nobody, nobody); err != nil {
				t.Fatal(err)
			}
			before := readFile(t, path)
			t.Cleanup(func() { setUser(t, 0) }) // before TempDir's removal
			setUser(t, nobody)

			// Depending on what SQLite must create, Open or the first cycle fails.
			db, err = OpenLive(ctx, path)
			if err == nil {
				defer db.Close()
				_, err = reconcile(db, ctx, faultT0.Add(time.Minute), synthFlows(100, 1), 0)
			}
			t.Logf("without write permission: %v", err)
			checkNotWritable(t, err, path, cause)
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
				if db, err = OpenLive(ctx, path); err != nil {
					t.Fatalf("open after the owner was fixed: %v", err)
				}
				defer db.Close()
			}
			if _, err := reconcile(db, ctx, faultT0.Add(2*time.Minute), synthFlows(100, 1), 0); err != nil {
				t.Errorf("cycle after the owner was fixed: %v", err)
			}
		})
	}
}
