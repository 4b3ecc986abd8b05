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

	"github.com/netmon-dev/netmon/pkg/flows"
)

// handle is an open SQLite file: what the live state and the record
// share (the pool, the path, the writer's lock, the error classification).
type handle struct {
	sql  *sql.DB
	path string
	lock *os.File // the writer's lock on the file (see WithWriterLock), or nil
}

// Live is the live state, live.db in the state directory: the active and
// recently closed connections and the per-cycle bookkeeping, written every
// cycle (on tmpfs, where writing is free). Its read methods are safe for
// concurrent use and may run in any number of processes at once.
// Reconcile is serialised inside the process; across processes SQLite's
// write lock serialises it, and a Live notices another process's cycles
// and reloads its table.
type Live struct {
	handle

	// mu serialises Reconcile and guards active, the table of active
	// flows that lets a cycle write only what changed, and cycles, the
	// ingest_state.cycles it is in step with.
	mu     sync.Mutex
	active *flows.Table
	cycles int64
	// status, when set (RecordStatus), gives the ingest counters each
	// cycle writes in its transaction; guarded by mu.
	status func() IngestStatus
}

// idleConns is how many idle connections the pool keeps (database/sql's
// default, set explicitly because closeIdle changes it and back).
const idleConns = 2

// Option changes how Open opens the database: Open(ctx, path) takes the
// defaults, Open(ctx, path, WithBusyTimeout(d)) changes one.
type Option func(*options)

type options struct {
	busyTimeout time.Duration
	writer      bool
	cacheKiB    int // page cache per connection, in KiB (0: SQLite's, 2 MiB)
}

func withCache(kib int) Option { return func(o *options) { o.cacheKiB = kib } }

// The page cache of each connection (a ceiling, allocated as pages are
// read; modernc.org/sqlite serves a 4 KiB page from an 8 KiB size class,
// so a full cache costs twice its size in RSS):
//   - the record's 8 MiB: with the 2 MiB default a cold 100,000-row
//     write spilled dirty index pages to the WAL again and again (the
//     synthetic BenchmarkReconcile: 194 MB written instead of 33 MB), and
//     the record is on flash;
//   - the live state's 2 MiB: it is on a tmpfs, where a spill costs a
//     memory copy, not flash. BenchmarkCycle cold/100000 took 1.17 s with
//     2 MiB and 1.41 s with 8 MiB in the same run (no slower), and
//     ingest-loop over 200,000 flows keeps 10 MB less resident.
const (
	liveCacheKiB   = 2048
	recordCacheKiB = 8192
)

// WithBusyTimeout sets how long a statement waits for another connection's
// or process's lock before failing with "database is locked" (SQLITE_BUSY);
// a cycle waits for it at BEGIN. The default is 5 s. It counts in whole
// milliseconds; zero or less fails at once.
func WithBusyTimeout(d time.Duration) Option {
	return func(o *options) { o.busyTimeout = max(d, 0) }
}

// WithWriterLock makes Open take the writer's lock on the file: one
// writer per database. A second writer is refused with ErrLocked naming
// the process that holds it; readers never take it.
func WithWriterLock() Option {
	return func(o *options) { o.writer = true }
}

// settings applies opts to the defaults.
func settings(opts []Option) options {
	o := options{busyTimeout: 5 * time.Second}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// pragmas are set on every pooled connection through the DSN (a plain
// db.Exec("PRAGMA ...") would reach only one connection), after
// busy_timeout (see dsn), so they wait for locks instead of failing.
//   - WAL: readers (the web server, another process) never block the writer
//     and always see the last committed cycle, never half of one;
//   - synchronous NORMAL: in WAL mode a power cut may lose the last cycles
//     but never corrupts the file, and commits do not fsync every time;
//   - foreign_keys: connections.dst_ip must name a remote host;
//   - cache_size: per database, see liveCacheKiB.
var pragmas = []string{
	"journal_mode(WAL)",
	"synchronous(NORMAL)",
	"foreign_keys(ON)",
}

// dsn builds the modernc.org/sqlite data source name for path: busy_timeout
// first (5 s unless opts say otherwise), then pragmas. _txlock makes every
// read-write transaction BEGIN IMMEDIATE, so a cycle takes the write lock
// up front (waiting up to busy_timeout) instead of failing when it
// upgrades from reading; read-only transactions stay plain BEGIN.
func dsn(path string, opts ...Option) string {
	o := settings(opts)
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", o.busyTimeout.Milliseconds()))
	for _, p := range pragmas {
		q.Add("_pragma", p)
	}
	if o.cacheKiB > 0 {
		q.Add("_pragma", fmt.Sprintf("cache_size(-%d)", o.cacheKiB))
	}
	q.Set("_txlock", "immediate")
	return path + "?" + q.Encode()
}

// OpenLive opens (creating it if needed) the live state at path and
// brings its schema up to date. See open for the rules and errors.
func OpenLive(ctx context.Context, path string, opts ...Option) (*Live, error) {
	h, err := open(ctx, path, "live", append([]Option{withCache(liveCacheKiB)}, opts...)...)
	if err != nil {
		return nil, err
	}
	return &Live{handle: *h}, nil
}

// open opens (creating it if needed) the database file at path and brings
// its schema up to date with the migrations of set ("live" or "record").
// Its directory must exist: a missing directory is an error naming it, not
// created, so a typo in the configuration is noticed. A file that is not
// SQLite gives an error matching ErrNotDatabase; a schema newer than this
// binary one matching ErrNewerSchema; a file another process writes, with
// WithWriterLock, one matching ErrLocked. Options apply in order.
func open(ctx context.Context, path, set string, opts ...Option) (*handle, error) {
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
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return nil, fmt.Errorf("open database %s: it is a directory, not a file", path)
	}
	ms, err := loadMigrations(migrationFiles, set)
	if err != nil {
		return nil, err
	}
	o := settings(opts)
	h := &handle{path: path}
	if o.writer {
		if h.lock, err = lockWriter(path); err != nil {
			return nil, err
		}
	}
	sdb, err := sql.Open("sqlite", dsn(path, opts...))
	if err != nil {
		h.unlock()
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	sdb.SetMaxIdleConns(idleConns)
	if err := migrate(ctx, sdb, ms); err != nil {
		sdb.Close()
		h.unlock()
		return nil, fmt.Errorf("open database %s: %w", path, classify(path, err))
	}
	h.sql = sdb
	return h, nil
}

// Path is the file the database was opened from.
func (h *handle) Path() string { return h.path }

// unlock releases the writer's lock, if taken.
func (h *handle) unlock() {
	if h.lock != nil {
		h.lock.Close()
		h.lock = nil
	}
}

// close closes the pool and releases the writer's lock.
func (h *handle) close() error {
	defer h.unlock()
	if err := h.sql.Close(); err != nil {
		return fmt.Errorf("close database %s: %w", h.path, err)
	}
	return nil
}

// Close closes the live state. A cycle in progress finishes first.
func (db *Live) Close() error {
	db.mu.Lock()
	defer db.mu.Unlock()
	db.active = nil
	return db.close()
}
