package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

// migrationFiles holds two numbered sets: migrations/live for the live
// state, migrations/record for the durable record.
//
//go:embed migrations/live/*.sql migrations/record/*.sql
var migrationFiles embed.FS

// ErrNewerSchema is matched (errors.Is) by the error Open returns for a
// database written by a newer netmon: its schema version is beyond the last
// migration this binary knows, so it is refused rather than misread.
var ErrNewerSchema = errors.New("database schema is newer than this netmon")

// NewerSchemaError reports a database whose PRAGMA user_version is beyond
// the last migration this binary embeds. It matches ErrNewerSchema.
type NewerSchemaError struct {
	Version int // the database's user_version
	Max     int // the last migration this binary knows
}

func (e *NewerSchemaError) Error() string {
	return fmt.Sprintf("database schema version %d is newer than this netmon (max %d): upgrade netmon", e.Version, e.Max)
}

// Is lets errors.Is(err, ErrNewerSchema) match.
func (e *NewerSchemaError) Is(target error) bool { return target == ErrNewerSchema }

// migration is one embedded numbered .sql file.
type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations reads the files of set named NNNN_what.sql and checks
// that they are numbered 1, 2, 3, ... without gaps or repeats.
func loadMigrations(fsys fs.FS, set string) ([]migration, error) {
	names, err := fs.Glob(fsys, "migrations/"+set+"/*.sql")
	if err != nil {
		return nil, fmt.Errorf("list migrations: %w", err)
	}
	ms := make([]migration, 0, len(names))
	for _, name := range names {
		base := path.Base(name)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must start with a positive number and '_'", base)
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", base, err)
		}
		ms = append(ms, migration{version: v, name: base, sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %s: expected number %d", m.name, i+1)
		}
	}
	return ms, nil
}

// migrate brings the schema up to the last of ms in one write transaction
// (BEGIN IMMEDIATE, from the DSN's _txlock), so two processes opening the
// same fresh file cannot both apply it, and a crash leaves the old version.
// A database newer than ms is refused with a *NewerSchemaError.
func migrate(ctx context.Context, db *sql.DB, ms []migration) error {
	last := len(ms)
	// A cheap read first: the common case (up to date) takes no write lock.
	v, err := userVersion(ctx, db)
	if err != nil {
		return err
	}
	if v > last {
		return &NewerSchemaError{Version: v, Max: last}
	}
	if v == last {
		return nil
	}

	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin migration: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	// Read again under the write lock: another process may have migrated.
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if v > last {
		return &NewerSchemaError{Version: v, Max: last}
	}
	for _, m := range ms[v:] {
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			return fmt.Errorf("apply migration %s: %w", m.name, err)
		}
	}
	// PRAGMA takes no bound parameters; max is an int we computed.
	if _, err := tx.ExecContext(ctx, "PRAGMA user_version = "+strconv.Itoa(last)); err != nil {
		return fmt.Errorf("set schema version: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit migration: %w", err)
	}
	return nil
}

// userVersion reads PRAGMA user_version: the number of the last migration
// applied.
func userVersion(ctx context.Context, db *sql.DB) (int, error) {
	var v int
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}
