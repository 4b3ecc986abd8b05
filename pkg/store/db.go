package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// ErrNotDatabase is matched (errors.Is) by the error Open returns when the
// file exists but is not an SQLite database.
var ErrNotDatabase = errors.New("not an sqlite database")

// ErrReadOnly is matched (errors.Is) by the error Open, a cycle or a read
// returns when the database cannot be written: its file system is
// read-only (a router's kernel remounts flash read-only after errors) or
// this user may not write the file, its -wal or -shm, or its directory.
// The error says which when the file system tells, and wraps SQLite's
// error. A read returns it when a new connection cannot open the
// database (see readFailed).
var ErrReadOnly = errors.New("not writable")

// DB is netmon's database. Its read methods are safe for concurrent use
// and may run in any number of processes at once. Reconcile is serialised
// inside the process; across processes SQLite's write lock serialises it,
// and a DB notices another process's cycles and reloads its cache.
type DB struct {
	sql  *sql.DB
	path string

	// mu serialises Reconcile and guards active, the in-memory copy of the
	// active connections that lets a cycle write only what changed.
	mu     sync.Mutex
	active *activeCache
}

// idleConns is how many idle connections the pool keeps (database/sql's
// default, set explicitly because closeIdle changes it and back).
const idleConns = 2

// Option changes how Open opens the database: Open(ctx, path) takes the
// defaults, Open(ctx, path, WithBusyTimeout(d)) changes one.
type Option func(*options)

type options struct {
	busyTimeout time.Duration
}

// WithBusyTimeout sets how long a statement waits for another connection's
// or process's lock before failing with "database is locked" (SQLITE_BUSY);
// a cycle waits for it at BEGIN. The default is 5 s. It counts in whole
// milliseconds; zero or less fails at once.
func WithBusyTimeout(d time.Duration) Option {
	return func(o *options) { o.busyTimeout = max(d, 0) }
}

// pragmas are set on every pooled connection through the DSN (a plain
// db.Exec("PRAGMA ...") would reach only one connection), after
// busy_timeout (see dsn), so they wait for locks instead of failing.
//   - WAL: readers (the web server, another process) never block the writer
//     and always see the last committed cycle, never half of one;
//   - synchronous NORMAL: in WAL mode a power cut may lose the last cycles
//     but never corrupts the file, and commits do not fsync every time;
//   - foreign_keys: connections.dst_ip must name a remote host;
//   - cache_size 8 MiB (a ceiling, allocated only as pages are read): with
//     the 2 MiB default a cold 100,000-row cycle spills dirty index pages to
//     the WAL again and again (the synthetic BenchmarkReconcile: 194 MB
//     written instead of 33 MB, churn 93 MB instead of 18 MB). 8 MiB writes
//     no more than 32 MiB did, in the benchmark and on the real capture,
//     and takes about 24 MB less of a router's memory.
var pragmas = []string{
	"journal_mode(WAL)",
	"synchronous(NORMAL)",
	"foreign_keys(ON)",
	"cache_size(-8192)",
}

// dsn builds the modernc.org/sqlite data source name for path: busy_timeout
// first (5 s unless opts say otherwise), then pragmas. _txlock makes every
// read-write transaction BEGIN IMMEDIATE, so a cycle takes the write lock
// up front (waiting up to busy_timeout) instead of failing when it
// upgrades from reading; read-only transactions stay plain BEGIN.
func dsn(path string, opts ...Option) string {
	o := options{busyTimeout: 5 * time.Second}
	for _, opt := range opts {
		opt(&o)
	}
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", o.busyTimeout.Milliseconds()))
	for _, p := range pragmas {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	return path + "?" + q.Encode()
}

// Open opens (creating it if needed) the database file at path and brings
// its schema up to date. Its directory must exist: a missing directory is an
// error naming it, not created, so a typo in the configuration is noticed.
// A file that is not SQLite gives an error matching ErrNotDatabase; a schema
// newer than this binary one matching ErrNewerSchema. Options apply in order.
func Open(ctx context.Context, path string, opts ...Option) (*DB, error) {
	if path == "" {
		return nil, errors.New("open database: empty path")
	}
	if strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("open database %s: path must not contain '?' or '#'", path)
	}
	dir := filepath.Dir(path)
	if fi, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("open database %s: directory %s: %w", path, dir, err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("open database %s: %s is not a directory", path, dir)
	}
	ms, err := loadMigrations(migrationFiles)
	if err != nil {
		return nil, err
	}
	sdb, err := sql.Open("sqlite", dsn(path, opts...))
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	sdb.SetMaxIdleConns(idleConns)
	if err := migrate(ctx, sdb, ms); err != nil {
		sdb.Close()
		return nil, fmt.Errorf("open database %s: %w", path, classify(path, err))
	}
	return &DB{sql: sdb, path: path}, nil
}

// classify makes an SQLite error about the database at path match a
// sentinel where netmon can name the cause: "file is not a database"
// ErrNotDatabase, a refused write ErrReadOnly (see notWritable).
func classify(path string, err error) error {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return err
	}
	if se.Code()&0xff == sqlite3.SQLITE_NOTADB {
		return fmt.Errorf("%w: %w", ErrNotDatabase, err)
	}
	if cause, ok := notWritable(se.Code(), path, func() access { return checkAccess(path, procMountinfo) }); ok {
		return fmt.Errorf("%w (%s): %w", ErrReadOnly, cause, err)
	}
	return err
}

// writeFailed is classify for the error of a cycle that has rolled back.
// A database that is not writable is named (a cycle's errors do not name
// it otherwise) and the idle connections are closed: SQLite opens a file it
// may not write read-only and the connection stays so, which would fail
// every cycle after the file system is remounted read-write or the
// permission fixed. Connections in use are left alone; one of them that
// comes back read-only fails one more cycle and is closed then.
func (db *DB) writeFailed(err error) error {
	err = classify(db.path, err)
	if !errors.Is(err, ErrReadOnly) {
		return err
	}
	db.closeIdle()
	return fmt.Errorf("database %s: %w", db.path, err)
}

// readFailed is classify for the error of a read: a database that is not
// writable is named, as writeFailed does, but no connection is closed (a
// pooled connection may still read; one that opened read-only is closed
// by the first cycle it fails). Any other error is returned unchanged.
//
// In WAL mode a reader needs the -wal and -shm too: SQLite (3.22 and
// later) reads a database it may not write only if both exist and are
// readable, or it may create them, or the database is opened immutable.
// The last connection to close checkpoints the WAL and removes both, so
// after a restart on a file system remounted read-only (or with the
// directory not writable) a new connection cannot open the database:
// "unable to open database file (14)", here ErrReadOnly. netmon does not
// fall back to a read-only (mode=ro) or immutable connection: immutable
// promises SQLite the file never changes, untrue as soon as the file
// system is writable again and a cycle commits, and mode=ro does not help
// when the -shm is missing.
func (db *DB) readFailed(err error) error {
	if c := classify(db.path, err); errors.Is(c, ErrReadOnly) {
		return fmt.Errorf("database %s: %w", db.path, c)
	}
	return err
}

// closeIdle closes the pool's idle connections.
func (db *DB) closeIdle() {
	db.sql.SetMaxIdleConns(0)
	db.sql.SetMaxIdleConns(idleConns)
}

// access is what the file system says, at the moment of an error, about
// writing the database: whether it is read-only (and why, when mountinfo
// tells: note), or else the first of the file, its -wal, its -shm and its
// directory this process may not write ("" when it may write them all).
type access struct {
	readOnlyFS bool
	note       string
	denied     string
}

// checkAccess asks access(2) for write permission on the database's files
// and directory, which writes nothing and fails with EROFS on a file system
// or mount that is read-only (what statfs reports as ST_RDONLY) and with
// EACCES without permission. It checks the real user, which is netmon's
// user: netmon is not setuid. Unless access(2) found a read-only file
// system it then looks for the directory's file system in the mountinfo
// file (procMountinfo in production; see readOnlyMount), which alone tells
// that ext4 refuses writes after an error on Linux 6.18.
func checkAccess(path, mountinfo string) access {
	dir := filepath.Dir(path)
	var a access
	for _, p := range []string{path, path + "-wal", path + "-shm", dir} {
		err := unix.Access(p, unix.W_OK)
		if errors.Is(err, unix.EROFS) {
			return access{readOnlyFS: true}
		}
		if errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM) { // EPERM: immutable
			a.denied = p
			break
		}
	}
	if note, ro := mountReadOnly(mountinfo, dir); ro {
		return access{readOnlyFS: true, note: note}
	}
	return a
}

// notWritable tells whether SQLite's (extended) result code means the
// database at path could not be written, and why; check says what the file
// system allows and is called only for the codes a refused write can give:
//   - SQLITE_READONLY*: the connection opened the file read-only (SQLite
//     falls back to that on EROFS or EACCES) or cannot write its -shm;
//     without a finding the cause is one of the two. Not READONLY_DBMOVED:
//     the file was deleted or renamed under the connection;
//   - SQLITE_CANTOPEN: a new connection could not create the -wal or -shm,
//     or the file; but also too many open files, a missing directory:
//     only with a finding;
//   - SQLITE_IOERR: a write through a connection opened before the file
//     system turned read-only fails with EROFS, which SQLite reports as
//     SQLITE_IOERR_WRITE, _FSYNC, ... like a failing disk (EIO): only when
//     the file system is read-only. On Linux 6.18 ext4 after an error
//     (errors=remount-ro) refuses writes without reporting itself read-only
//     to statfs or access(2); checkAccess finds emergency_ro in mountinfo.
func notWritable(code int, path string, check func() access) (cause string, ok bool) {
	primary := code & 0xff
	if code == sqlite3.SQLITE_READONLY_DBMOVED ||
		(primary != sqlite3.SQLITE_READONLY && primary != sqlite3.SQLITE_CANTOPEN && primary != sqlite3.SQLITE_IOERR) {
		return "", false
	}
	a := check()
	switch {
	case a.readOnlyFS && a.note != "":
		return "read-only file system (" + a.note + ")", true
	case a.readOnlyFS:
		return "read-only file system", true
	case primary == sqlite3.SQLITE_IOERR:
		return "", false // permission is checked at open, not at write
	case a.denied == path:
		return "no write permission", true
	case a.denied != "":
		return "no write permission on " + a.denied, true
	case primary == sqlite3.SQLITE_READONLY:
		return "read-only file system or no write permission", true
	}
	return "", false
}

// Path is the file the DB was opened from.
func (db *DB) Path() string { return db.path }

// Close closes the database. A cycle in progress finishes first.
func (db *DB) Close() error {
	db.mu.Lock()
	defer db.mu.Unlock()
	db.active = nil
	if err := db.sql.Close(); err != nil {
		return fmt.Errorf("close database %s: %w", db.path, err)
	}
	return nil
}
