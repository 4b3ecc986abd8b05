package store

import (
	"errors"
	"fmt"
	"path/filepath"

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
// The error says which when access(2) tells, and wraps SQLite's error.
var ErrReadOnly = errors.New("not writable")

// readOnlyFS is the cause access(2) gives with EROFS.
const readOnlyFS = "read-only file system"

// classify makes an SQLite error about the database at path match
// ErrNotDatabase ("file is not a database") or ErrReadOnly (see notWritable).
func classify(path string, err error) error {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return err
	}
	switch code := se.Code(); code & 0xff {
	case sqlite3.SQLITE_NOTADB:
		return fmt.Errorf("%w: %w", ErrNotDatabase, err)
	case sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_IOERR:
		if cause := notWritable(code, writeAccess(path)); cause != "" {
			return fmt.Errorf("%w (%s): %w", ErrReadOnly, cause, err)
		}
	}
	return err
}

// notWritable returns why the database could not be written, given
// SQLite's (extended) result code and what writeAccess found, or "":
//   - SQLITE_READONLY*: the connection opened the file read-only (SQLite
//     does on EROFS or EACCES) or cannot write its -shm; not DBMOVED (the
//     file was deleted or renamed under it);
//   - SQLITE_CANTOPEN: the file, -wal or -shm cannot be created, but also
//     too many open files: only when access(2) refuses;
//   - SQLITE_IOERR: a connection opened before the file system turned
//     read-only gets EROFS, reported like a failing disk: only on EROFS.
//     ext4 after an error (Linux 6.18) refuses writes without telling
//     access(2): that stays SQLite's "disk I/O error".
func notWritable(code int, found string) string {
	primary := code & 0xff
	switch {
	case code == sqlite3.SQLITE_READONLY_DBMOVED,
		primary == sqlite3.SQLITE_IOERR && found != readOnlyFS: // permission is checked at open
		return ""
	case found != "":
		return found
	case primary == sqlite3.SQLITE_READONLY:
		return readOnlyFS + " or no write permission"
	}
	return ""
}

// writeAccess asks access(2), which writes nothing, whether this process
// may write the database, its -wal and -shm (when they exist) and its
// directory: EROFS on a read-only file system or mount, EACCES (EPERM:
// immutable) without permission, for the real user (netmon is not
// setuid). It returns the first refusal as a cause, "" when there is none.
func writeAccess(path string) string {
	for _, p := range []string{path, path + "-wal", path + "-shm", filepath.Dir(path)} {
		switch err := unix.Access(p, unix.W_OK); {
		case errors.Is(err, unix.EROFS):
			return readOnlyFS
		case !errors.Is(err, unix.EACCES) && !errors.Is(err, unix.EPERM): // writable, or no -wal yet
		case p == path:
			return "no write permission"
		default:
			return "no write permission on " + p
		}
	}
	return ""
}

// writeFailed is classify for the error of a cycle that has rolled back,
// naming the database (a cycle's errors do not otherwise). When it cannot
// be written the idle connections are closed: SQLite opens a file it may
// not write read-only and the connection stays so, which would fail every
// cycle after a remount read-write or a chown. A connection in use that
// comes back read-only fails one more cycle and is closed then.
func (db *handle) writeFailed(err error) error {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return err
	}
	if err = classify(db.path, err); errors.Is(err, ErrReadOnly) {
		db.closeIdle()
	}
	return fmt.Errorf("database %s: %w", db.path, err)
}

// readFailed is classify for the error of a read: a database that cannot
// be written is named, as by writeFailed, but no connection is closed (a
// pooled one may still read); any other error is returned unchanged. In
// WAL mode a new reader needs the -wal and -shm, which the last connection
// removes on close: after a restart on a read-only file system reads fail
// too. netmon has no fallback: immutable would promise SQLite the file
// never changes, and mode=ro needs the -shm too.
func (db *handle) readFailed(err error) error {
	if c := classify(db.path, err); errors.Is(c, ErrReadOnly) {
		return fmt.Errorf("database %s: %w", db.path, c)
	}
	return err
}

// closeIdle closes the pool's idle connections.
func (db *handle) closeIdle() {
	db.sql.SetMaxIdleConns(0)
	db.sql.SetMaxIdleConns(idleConns)
}
