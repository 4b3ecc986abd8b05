package ingest

import (
	"bytes"
	"compress/gzip"
	"context"
	"database/sql"
	"errors"
	"github.com/netmon-dev/netmon/pkg/source"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/netmon-dev/netmon/pkg/store"
)

// The storage fault tests run the real Loop over a real store and a real
// FileSource and break the storage under it: a full disk, a file system
// remounted read-only, and another process holding the write lock. Each
// failed cycle must log one error and leave every row as it was, the loop
// must go on, and once the fault is gone the next cycle must succeed by
// itself, with PRAGMA integrity_check "ok" throughout.

// tmpfs mounts a tmpfs of size (like "16m") in a temporary directory and
// unmounts it when the test ends. Mounting needs root: without it the test
// is skipped, and so it is when the mount fails (a container without
// CAP_SYS_ADMIN), except in CI (CI=true, or NETMON_REQUIRE_E2E=1 as
// .ci/run sets) running as root, where a failed mount fails the test so the
// fault tests cannot silently vanish.
func tmpfs(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root (CI runs this as root)")
	}
	dir := filepath.Join(t.TempDir(), "tmpfs")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size+",mode=0755", "netmon-test", dir).CombinedOutput()
	if err != nil {
		msg := "mount tmpfs: " + err.Error() + ": " + strings.TrimSpace(string(out))
		if os.Getenv("CI") == "true" || os.Getenv("NETMON_REQUIRE_E2E") == "1" {
			t.Fatal(msg + " (in CI this test must run)")
		}
		t.Skip(msg + " (a container without CAP_SYS_ADMIN?)")
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// fill writes a file in dir until the file system has no space left.
func fill(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := bytes.Repeat([]byte{0xA5}, 64<<10)
	for {
		_, err := f.Write(chunk)
		if errors.Is(err, syscall.ENOSPC) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	// Then in 4 KiB steps, so not even a page is left.
	for {
		if _, err := f.Write(chunk[:4096]); err != nil {
			break
		}
	}
	return path
}

// logRecorder is a slog.Handler keeping every record's level and message.
type logRecorder struct {
	mu   sync.Mutex
	recs []logRecord
}

type logRecord struct {
	Level slog.Level
	Msg   string
	Err   string
}

func (h *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (h *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *logRecorder) WithGroup(string) slog.Handler            { return h }
func (h *logRecorder) Handle(_ context.Context, r slog.Record) error {
	rec := logRecord{Level: r.Level, Msg: r.Message}
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "err" {
			rec.Err = a.Value.String()
		}
		return true
	})
	h.mu.Lock()
	h.recs = append(h.recs, rec)
	h.mu.Unlock()
	return nil
}

func (h *logRecorder) records() []logRecord {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]logRecord(nil), h.recs...)
}

// faultRig is a real Loop over a real store, driven tick by tick.
type faultRig struct {
	t        *testing.T
	db       *store.Live
	in       *Ingester
	log      *logRecorder
	snapshot string // the file the FileSource replays, rewritten by use
	ticks    chan time.Time
	done     chan error
	cancel   context.CancelFunc
	ran      int64 // cycles ended so far (successful or not)
	failures int   // consecutive failed cycles, for the ticks Loop waits
}

// newFaultRig opens a real database at dbPath with opts, seeds it with one
// cycle of the small_mixed capture and starts Loop, whose first cycle
// replays the same capture again.
func newFaultRig(t *testing.T, dbPath string, opts ...store.Option) *faultRig {
	t.Helper()
	ctx := context.Background()
	db, err := store.OpenLive(ctx, dbPath, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	r := &faultRig{
		t: t, db: db, log: &logRecorder{},
		snapshot: filepath.Join(t.TempDir(), "snapshot.txt"),
		ticks:    make(chan time.Time),
		done:     make(chan error, 1),
	}
	r.use(readCapture(t, "small_mixed.txt"))
	clock := &stepClock{t: t0, step: time.Second}
	r.in = &Ingester{
		Source: &source.File{Path: r.snapshot},
		Filter: lanFilter(t), Store: db, Now: clock.Now, Retention: time.Hour,
		Logger: slog.New(r.log),
	}
	if _, err := r.in.ReconcileSnapshot(ctx); err != nil {
		t.Fatalf("seed cycle: %v", err)
	}
	r.ran = 1
	loopCtx, cancel := context.WithCancel(ctx)
	r.cancel = cancel
	tick := func(time.Duration) (<-chan time.Time, func()) { return r.ticks, func() {} }
	go func() { r.done <- r.in.Loop(loopCtx, time.Second, tick) }()
	t.Cleanup(r.stop)
	r.wait() // Loop's first cycle runs at once
	return r
}

// use makes data the snapshot of the following cycles.
func (r *faultRig) use(data []byte) {
	r.t.Helper()
	writeFile(r.t, r.snapshot, data)
}

// cycle lets Loop run one more cycle and returns the status after it:
// one tick, or after failures as many as Loop's backoff waits.
func (r *faultRig) cycle() Status {
	r.t.Helper()
	for range backoffTicks(r.failures, time.Second) {
		select {
		case r.ticks <- time.Now():
		case err := <-r.done:
			r.t.Fatalf("Loop returned early: %v", err)
		case <-time.After(time.Minute):
			r.t.Fatal("Loop did not take the tick within a minute")
		}
	}
	return r.wait()
}

// wait returns the status once one more cycle than before has ended.
func (r *faultRig) wait() Status {
	r.t.Helper()
	r.ran++
	deadline := time.Now().Add(time.Minute)
	for {
		st := r.in.Status()
		if st.Cycles+st.Errors >= r.ran {
			if st.LastErr != nil {
				r.failures++
			} else {
				r.failures = 0
			}
			return st
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("cycle %d did not end within a minute", r.ran)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (r *faultRig) stop() {
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	if err := <-r.done; err != nil {
		r.t.Errorf("Loop: %v", err)
	}
}

// rows is the store's Dump: every row of every table.
func (r *faultRig) rows() string {
	r.t.Helper()
	var b bytes.Buffer
	if err := r.db.Dump(context.Background(), &b); err != nil {
		r.t.Fatalf("dump: %v", err)
	}
	return b.String()
}

// integrity runs PRAGMA integrity_check on a connection of its own.
func integrity(t *testing.T, path string) {
	t.Helper()
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var res string
	if err := raw.QueryRow("PRAGMA integrity_check").Scan(&res); err != nil || res != "ok" {
		t.Fatalf("integrity_check = %q, %v", res, err)
	}
}

// readGz returns a fixtures/conntrack file, gunzipped when named .gz.
func readCapture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "fixtures", "conntrack", name))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(name, ".gz") {
		return b
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// bigSnapshot is the first 3,000 lines of the real 10,000-entry capture:
// about 2,500 outbound flows, megabytes of pages to write where the
// small_mixed seed wrote a few.
func bigSnapshot(t *testing.T) []byte {
	t.Helper()
	b := readCapture(t, "big_10000.txt.gz")
	end := 0
	for range 3000 {
		end += bytes.IndexByte(b[end:], '\n') + 1
	}
	return b[:end]
}

// sqliteCode returns the primary SQLite result code err wraps, or -1.
func sqliteCode(err error) int {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() & 0xff
	}
	return -1
}

// checkFailedCycles checks that the last n cycles failed with an SQLite
// error of one of the codes, logged once per change of error, and that
// the rows are still before.
func (r *faultRig) checkFailedCycles(sts []Status, before string, codes ...int) {
	r.t.Helper()
	for i, st := range sts {
		if st.LastErr == nil {
			r.t.Fatalf("cycle %d under the fault succeeded", i+1)
		}
		code := sqliteCode(st.LastErr)
		if !slices.Contains(codes, code) {
			r.t.Errorf("cycle %d: error %v has SQLite code %d, want one of %v", i+1, st.LastErr, code, codes)
		}
	}
	// One error line when the failing starts and one per change of
	// error, not one per cycle (reporter).
	changes := 0
	for i, st := range sts {
		if i == 0 || st.LastErr.Error() != sts[i-1].LastErr.Error() {
			changes++
		}
	}
	var failed []string
	for _, rec := range r.log.records() {
		if rec.Level == slog.LevelError {
			failed = append(failed, rec.Msg)
		}
	}
	if len(failed) != changes {
		r.t.Errorf("%d error lines logged for %d failed cycles with %d distinct errors in a row: %q", len(failed), len(sts), changes, failed)
	}
	if diff := cmp.Diff(before, r.rows()); diff != "" {
		r.t.Errorf("failed cycles changed the rows (-before +after):\n%s", diff)
	}
	integrity(r.t, r.db.Path())
}

// TestDiskFull puts the database on a 16 MiB tmpfs, fills it, and offers
// 3,000 entries of the big capture: every cycle fails with SQLITE_FULL, the loop
// goes on, the small table stays intact; once the filler is deleted the
// next cycle stores them without help.
func TestDiskFull(t *testing.T) {
	dir := tmpfs(t, "16m")
	r := newFaultRig(t, filepath.Join(dir, "netmon.db"))
	before := r.rows()
	filler := fill(t, dir)

	r.use(bigSnapshot(t))
	const faulty = 3
	var sts []Status
	for range faulty {
		sts = append(sts, r.cycle())
	}
	r.checkFailedCycles(sts, before, sqlite3.SQLITE_FULL)
	t.Logf("under a full disk: %v", sts[len(sts)-1].LastErr)

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	st := r.cycle()
	if st.LastErr != nil {
		t.Fatalf("after freeing space: %v", st.LastErr)
	}
	if st.LastSummary.Opened < 1000 || st.Errors != faulty {
		t.Errorf("recovery cycle: %+v, %d errors; want the big table stored after %d failures", st.LastSummary, st.Errors, faulty)
	}
	integrity(t, r.db.Path())
	r.stop()
}

// TestReadOnlyFilesystem starts netmon on a database whose file system is
// mounted read-only (a router that booted with its data partition
// read-only). Linux refuses to remount a file system read-only while a
// file on it is open for writing, so the fault is at start: the ingest
// either cannot open the database or cannot write a cycle, each time with
// one clear error, and after the remount read-write the same database
// opens with its rows intact and ingests again.
func TestReadOnlyFilesystem(t *testing.T) {
	dir := tmpfs(t, "16m")
	path := filepath.Join(dir, "netmon.db")
	r := newFaultRig(t, path)
	before := r.rows()
	r.stop()
	if err := r.db.Close(); err != nil {
		t.Fatal(err)
	}
	remount := func(mode string) {
		t.Helper()
		if out, err := exec.Command("mount", "-o", "remount,"+mode, dir).CombinedOutput(); err != nil {
			t.Fatalf("remount %s: %v: %s", mode, err, out)
		}
	}
	remount("ro")
	t.Cleanup(func() { exec.Command("mount", "-o", "remount,rw", dir).Run() })

	ctx := context.Background()
	readOnly := []int{sqlite3.SQLITE_READONLY, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN}
	for i := range 3 {
		db, err := store.OpenLive(ctx, path)
		if err == nil {
			in := &Ingester{Source: &source.File{Path: r.snapshot}, Filter: r.in.Filter, Store: db,
				Now: func() time.Time { return t0.Add(time.Hour) }}
			_, err = in.ReconcileSnapshot(ctx)
			db.Close()
		}
		if err == nil {
			t.Fatalf("attempt %d on a read-only file system succeeded", i+1)
		}
		if code := sqliteCode(err); !slices.Contains(readOnly, code) {
			t.Errorf("attempt %d: error %v has SQLite code %d, want one of %v", i+1, err, code, readOnly)
		}
		if i == 0 {
			t.Logf("on a read-only file system: %v", err)
		}
	}

	remount("rw")
	integrity(t, path)
	db, err := store.OpenLive(ctx, path)
	if err != nil {
		t.Fatalf("open after remounting read-write: %v", err)
	}
	defer db.Close()
	var after bytes.Buffer
	if err := db.Dump(ctx, &after); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, after.String()); diff != "" {
		t.Errorf("rows changed across the read-only episode (-before +after):\n%s", diff)
	}
	r.use(bigSnapshot(t))
	in := &Ingester{Source: &source.File{Path: r.snapshot}, Filter: r.in.Filter, Store: db,
		Now: func() time.Time { return t0.Add(time.Hour) }}
	if sum, err := in.ReconcileSnapshot(ctx); err != nil || sum.Opened < 1000 {
		t.Fatalf("cycle after remounting read-write: %v, %+v", err, sum)
	}
	integrity(t, path)
}

// TestLockedByAnotherWriter holds the write lock from another connection
// (another process, as far as SQLite can tell) for longer than the store's
// busy timeout, shortened from the default 5 s: the cycle fails with
// SQLITE_BUSY once the timeout has passed instead of hanging, and the next
// one after the lock is released succeeds.
func TestLockedByAnotherWriter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "netmon.db")
	const busy = 200 * time.Millisecond
	r := newFaultRig(t, path, store.WithBusyTimeout(busy))
	before := r.rows()

	other, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	conn, err := other.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(context.Background(), "BEGIN EXCLUSIVE"); err != nil {
		t.Fatal(err)
	}
	r.use(bigSnapshot(t))
	start := time.Now()
	st := r.cycle()
	took := time.Since(start)
	t.Logf("cycle against a held write lock ended after %v: %v", took.Round(time.Millisecond), st.LastErr)
	if took < busy {
		t.Errorf("cycle gave up after %v, before the busy timeout of %v", took, busy)
	}
	if _, err := conn.ExecContext(context.Background(), "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	r.checkFailedCycles([]Status{st}, before, sqlite3.SQLITE_BUSY)

	if st := r.cycle(); st.LastErr != nil || st.LastSummary.Opened < 1000 {
		t.Fatalf("after the lock was released: %v, %+v", st.LastErr, st.LastSummary)
	}
	integrity(t, path)
	r.stop()
}

// TestNotADatabaseIsLeftAlone: pointing netmon at a file that is not
// SQLite (a typo in db_path naming someone's notes) fails with
// store.ErrNotDatabase and does not change a byte of the file.
func TestNotADatabaseIsLeftAlone(t *testing.T) {
	tests := []struct {
		name string
		data []byte
	}{
		{"text notes", bytes.Repeat([]byte("these are notes, not a database\n"), 300)},
		{"binary of a page's size", bytes.Repeat([]byte{0x00, 0xFF, 0x13, 0x37}, 1024)},
		{"sqlite magic then garbage", append([]byte("SQLite format 3\x00"), bytes.Repeat([]byte{0xEE}, 8192)...)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "netmon.db")
			writeFile(t, path, tc.data)
			db, err := store.OpenLive(context.Background(), path)
			if err == nil {
				db.Close()
				t.Fatal("Open of a non-database: no error")
			}
			if !errors.Is(err, store.ErrNotDatabase) || !strings.Contains(err.Error(), path) {
				t.Errorf("error %v does not wrap ErrNotDatabase or name %s", err, path)
			}
			got, rerr := os.ReadFile(path)
			if rerr != nil {
				t.Fatal(rerr)
			}
			if !bytes.Equal(got, tc.data) {
				t.Error("Open changed the file")
			}
			for _, suffix := range []string{"-wal", "-shm", "-journal"} {
				if _, err := os.Stat(path + suffix); err == nil {
					t.Errorf("Open left %s behind", filepath.Base(path+suffix))
				}
			}
		})
	}
}
