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
	"golang.org/x/sys/unix"
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
		{"write error, ext4 after an error", sqlite3.SQLITE_IOERR_WRITE, access{readOnlyFS: true, note: "ext4 remounted it read-only after errors: see dmesg"},
			result{"read-only file system (ext4 remounted it read-only after errors: see dmesg)", true, true}},
		{"cantopen, ext4 after an error", sqlite3.SQLITE_CANTOPEN, access{readOnlyFS: true, note: "ext4 remounted it read-only after errors: see dmesg"},
			result{"read-only file system (ext4 remounted it read-only after errors: see dmesg)", true, true}},
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

// refusedWrite returns SQLite's error for a write to db through a
// connection opened read-only (mode=ro): SQLITE_READONLY on a file system
// and a file that are writable.
func refusedWrite(t *testing.T, db *DB) error {
	t.Helper()
	ro, err := sql.Open("sqlite", "file:"+db.Path()+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if _, err = ro.Exec(`DELETE FROM connections`); err == nil {
		t.Fatal("write through a read-only connection: no error")
	}
	return err
}

// TestClassifyKeepsSQLiteError classifies a real SQLite error: a write
// through a connection opened read-only (mode=ro), so the file system is
// writable and the cause is unknown.
func TestClassifyKeepsSQLiteError(t *testing.T) {
	db := openTemp(t)
	err := classify(db.Path(), refusedWrite(t, db))
	var se *sqlite.Error
	got := []any{errors.Is(err, ErrReadOnly), errors.As(err, &se) && se.Code() == sqlite3.SQLITE_READONLY,
		strings.HasPrefix(err.Error(), "not writable (read-only file system or no write permission): ")}
	if diff := cmp.Diff([]any{true, true, true}, got); diff != "" {
		t.Errorf("classify(%v): errors.Is ErrReadOnly, As *sqlite.Error READONLY, cause first (-want +got):\n%s", err, diff)
	}
}

// TestReadFailed checks that a read names the database in an error
// matching ErrReadOnly, and leaves every other error as it was: a file
// that is not a database (a read does not say ErrNotDatabase, as Open
// does), and what EachActiveConnection's callbacks return, even an SQLite
// error of a refused write.
func TestReadFailed(t *testing.T) {
	db := openTemp(t)
	refused := refusedWrite(t, db)
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
		ReadOnly, Same bool
		Prefix         string // the message before SQLite's
	}
	tests := []struct {
		name string
		read func() error
		in   error
		want result
	}{
		{"refused write", func() error { return db.readFailed(refused) }, refused,
			result{ReadOnly: true, Prefix: "database " + db.Path() + ": not writable (read-only file system or no write permission): "}},
		{"not a database", func() error { return db.readFailed(notDB) }, notDB, result{Same: true}},
		{"not an SQLite error", func() error { return db.readFailed(plain) }, plain, result{Same: true}},
		{"callback's refused write", func() error {
			return db.EachActiveConnection(context.Background(), 0, func(int) error { return refused }, nil)
		}, refused, result{Same: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.in == nil {
				t.Fatal("no error to classify")
			}
			err := tt.read()
			got := result{ReadOnly: errors.Is(err, ErrReadOnly), Same: err == tt.in}
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

// faultT0 is when the first cycle of a fault test runs.
var faultT0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// openCycled opens the database at path and runs a cycle of 100 flows at
// faultT0, as netmon has when a fault comes; the DB is closed when the
// test ends.
func openCycled(t *testing.T, path string) *DB {
	t.Helper()
	ctx := context.Background()
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := reconcile(db, ctx, faultT0, synthFlows(100, 0), 0); err != nil {
		t.Fatalf("cycle before the fault: %v", err)
	}
	return db
}

// cycleAt returns a fault test's step: a cycle of db, d after faultT0, in
// which the 100 flows of openCycled have closed and 100 others opened.
func cycleAt(db *DB, d time.Duration) func() error {
	return func() error {
		_, err := reconcile(db, context.Background(), faultT0.Add(d), synthFlows(100, 1), 0)
		return err
	}
}

// openClose returns a fault test's step: open the database at path (and
// close it).
func openClose(path string) func() error {
	return func() error {
		db, err := Open(context.Background(), path)
		if err == nil {
			db.Close()
		}
		return err
	}
}

// faultStep is one step of a fault test, which must fail.
type faultStep struct {
	name string
	try  func() error
	path string // the database the error must name
}

// checkSteps runs the steps in order, each a subtest, and checks that each
// fails saying that its database is not writable, for cause.
func checkSteps(t *testing.T, cause string, steps []faultStep) {
	t.Helper()
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			err := st.try()
			t.Logf("%s: %v", cause, err)
			checkNotWritable(t, err, st.path, cause)
		})
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
	db := openCycled(t, path)
	// Linux refuses to remount a file system read-only while a file on it
	// is open for writing: close the connections, as a restart would (the
	// last one checkpoints the WAL into the file).
	db.closeIdle()
	before := readFile(t, path)
	run(t, "mount", "-o", "remount,ro", dir)
	t.Cleanup(func() { exec.Command("mount", "-o", "remount,rw", dir).Run() })

	newPath := filepath.Join(dir, "new.db")
	checkSteps(t, "read-only file system", []faultStep{
		{"cycle", cycleAt(db, time.Minute), path},
		{"cycle again", cycleAt(db, 2*time.Minute), path},
		{"open", openClose(path), path},
		{"open a new file", openClose(newPath), newPath},
		// A new connection cannot create the -wal and -shm the last
		// one removed: reads fail too (see readFailed).
		{"read in a transaction", func() error {
			return db.EachActiveConnection(ctx, 0, nil, func(*flows.Connection) error { return nil })
		}, path},
		{"read", func() error { _, err := db.RemoteHostCount(ctx); return err }, path},
	})
	if !bytes.Equal(before, readFile(t, path)) {
		t.Error("the database file changed on the read-only file system")
	}

	run(t, "mount", "-o", "remount,rw", dir)
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
				_, err = reconcile(db, ctx, t0, synthFlows(100, 0), 0)
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
				_, err = reconcile(db, ctx, t0.Add(time.Minute), synthFlows(100, 1), 0)
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
			if _, err := reconcile(db, ctx, t0.Add(2*time.Minute), synthFlows(100, 1), 0); err != nil {
				t.Errorf("cycle after the owner was fixed: %v", err)
			}
		})
	}
}

// mountExt4 makes a small ext4 image, attaches it to a loop device and
// mounts it with errors=remount-ro in a temporary directory; it returns
// the mount point and the loop device's name (loop0). All of it is undone
// when the test ends. It skips when this machine has no loop devices or
// mkfs.ext4: the fixture tests of mountinfo are the main proof.
func mountExt4(t *testing.T) (dir, dev string) {
	t.Helper()
	needRoot(t)
	if _, err := exec.LookPath("mkfs.ext4"); err != nil {
		t.Skip("no mkfs.ext4 (e2fsprogs) to make an ext4 image")
	}
	img := filepath.Join(t.TempDir(), "ext4.img")
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 32<<20); err != nil {
		t.Fatal(err)
	}
	run(t, "mkfs.ext4", "-q", "-F", img)
	out, err := exec.Command("losetup", "--find", "--show", img).CombinedOutput()
	if err != nil {
		t.Skip("no loop device: losetup: " + err.Error() + ": " + strings.TrimSpace(string(out)))
	}
	loop := strings.TrimSpace(string(out))
	t.Cleanup(func() { exec.Command("losetup", "--detach", loop).Run() })
	dir = t.TempDir()
	if out, err := exec.Command("mount", "-t", "ext4", "-o", "errors=remount-ro", loop, dir).CombinedOutput(); err != nil {
		t.Skip("mount ext4 on a loop device: " + err.Error() + ": " + strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() }) // runs before the detach
	return dir, filepath.Base(loop)
}

// TestExt4ErrorReadOnly is the case mountinfo is read for: ext4 mounted
// errors=remount-ro hits an error (trigger_fs_error stands in for a bad
// block) while netmon runs. On Linux 6.18 writes then fail with EROFS but
// statfs and access(2) still say read-write; cycles, opens and new
// readers must still say that the file system is read-only and why.
// Where the kernel marks such a file system read-only the way statfs
// sees (older kernels), the cause is the plain one.
func TestExt4ErrorReadOnly(t *testing.T) {
	dir, dev := mountExt4(t)
	trigger := filepath.Join("/sys/fs/ext4", dev, "trigger_fs_error")
	if _, err := os.Stat(trigger); err != nil {
		t.Skip("this kernel cannot trigger an ext4 error: " + err.Error())
	}
	path := filepath.Join(dir, "netmon.db")
	ctx := context.Background()
	db := openCycled(t, path)
	hosts, err := db.RemoteHostCount(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(trigger, []byte("1"), 0o200); err != nil {
		t.Fatalf("trigger an ext4 error: %v", err)
	}
	cause := "read-only file system (ext4 remounted it read-only after errors: see dmesg)"
	var fs unix.Statfs_t
	if err := unix.Statfs(dir, &fs); err != nil {
		t.Fatal(err)
	}
	if fs.Flags&unix.ST_RDONLY != 0 {
		cause = "read-only file system"
	}
	t.Logf("statfs flags %#x, mountinfo: %s", fs.Flags, mountLine(t, dir))

	newPath := filepath.Join(dir, "new.db")
	checkSteps(t, cause, []faultStep{
		{"cycle", cycleAt(db, time.Minute), path},
		{"cycle again", cycleAt(db, 2*time.Minute), path},
		{"open a new file", openClose(newPath), newPath},
	})

	// The -wal and -shm exist (the pool's connections keep them), so a
	// new connection still reads, as in SQLite's read-only WAL mode.
	db.closeIdle()
	got, err := db.RemoteHostCount(ctx)
	if err != nil {
		t.Fatalf("read after an ext4 error: %v", err)
	}
	if diff := cmp.Diff(hosts, got); diff != "" {
		t.Errorf("remote hosts after an ext4 error (-want +got):\n%s", diff)
	}
}

// mountLine returns the mountinfo line of the file system holding dir.
func mountLine(t *testing.T, dir string) string {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		t.Fatal(err)
	}
	dev := fmt.Sprintf(" %d:%d ", unix.Major(uint64(st.Dev)), unix.Minor(uint64(st.Dev)))
	for line := range strings.Lines(string(readFile(t, procMountinfo))) {
		if strings.Contains(line, dev) {
			return strings.TrimSpace(line)
		}
	}
	return "(none)"
}
