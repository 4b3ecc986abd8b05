package store

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

// rawOpen opens path with the same DSN as Open but runs no migration.
func rawOpen(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", dsn(path))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestLoadMigrations(t *testing.T) {
	tests := []struct {
		name     string
		files    fstest.MapFS
		want     []int
		wantFail bool
	}{
		{
			name:  "numbered in order",
			files: fstest.MapFS{"migrations/0002_b.sql": {Data: []byte("B")}, "migrations/0001_a.sql": {Data: []byte("A")}},
			want:  []int{1, 2},
		},
		{name: "none", files: fstest.MapFS{}, want: []int{}},
		{name: "gap", files: fstest.MapFS{"migrations/0001_a.sql": {}, "migrations/0003_c.sql": {}}, wantFail: true},
		{name: "repeat", files: fstest.MapFS{"migrations/0001_a.sql": {}, "migrations/0001_b.sql": {}}, wantFail: true},
		{name: "no number", files: fstest.MapFS{"migrations/init.sql": {}}, wantFail: true},
		{name: "zero", files: fstest.MapFS{"migrations/0000_a.sql": {}}, wantFail: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms, err := loadMigrations(tt.files)
			if tt.wantFail {
				if err == nil {
					t.Fatalf("no error, got %d migrations", len(ms))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := []int{}
			for _, m := range ms {
				got = append(got, m.version)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestEmbeddedMigrations checks the shipped files load and the fresh
// schema has every table netmon uses.
func TestEmbeddedMigrations(t *testing.T) {
	ms, err := loadMigrations(migrationFiles)
	if err != nil {
		t.Fatal(err)
	}
	db := openTemp(t)
	v, err := userVersion(context.Background(), db.sql)
	if err != nil {
		t.Fatal(err)
	}
	if v != len(ms) {
		t.Errorf("user_version = %d, want %d", v, len(ms))
	}
	var names []string
	rows, err := db.sql.Query(`SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	want := []string{"active_by_proto", "connections", "ingest_state", "local_hosts", "remote_hosts"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("tables (-want +got):\n%s", diff)
	}
}

// TestMigrateSteps runs migrate with hand-made migration sets over one file:
// upgrade keeps data, a failing migration rolls back whole, a newer
// database is refused.
func TestMigrateSteps(t *testing.T) {
	m1 := migration{1, "0001_a.sql", "CREATE TABLE a (x INTEGER); INSERT INTO a VALUES (7);"}
	m2 := migration{2, "0002_b.sql", "ALTER TABLE a ADD COLUMN y INTEGER NOT NULL DEFAULT 3;"}
	bad := migration{3, "0003_bad.sql", "CREATE TABLE c (z INTEGER); THIS IS NOT SQL;"}
	ctx := context.Background()
	db := rawOpen(t, t.TempDir()+"/m.db")

	steps := []struct {
		name        string
		ms          []migration
		wantVersion int
		wantErr     error // nil, ErrNewerSchema, or errAny
	}{
		{"fresh to 1", []migration{m1}, 1, nil},
		{"again at 1 is a no-op", []migration{m1}, 1, nil},
		{"upgrade 1 to 2 keeps rows", []migration{m1, m2}, 2, nil},
		{"failing 3 rolls back to 2", []migration{m1, m2, bad}, 2, errAny},
		{"binary that knows only 1 refuses 2", []migration{m1}, 2, ErrNewerSchema},
	}
	for _, st := range steps {
		err := migrate(ctx, db, st.ms)
		switch {
		case st.wantErr == nil && err != nil:
			t.Fatalf("%s: %v", st.name, err)
		case st.wantErr == errAny && err == nil, st.wantErr == ErrNewerSchema && !errors.Is(err, ErrNewerSchema):
			t.Fatalf("%s: err = %v, want %v", st.name, err, st.wantErr)
		}
		v, err := userVersion(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		if v != st.wantVersion {
			t.Errorf("%s: user_version = %d, want %d", st.name, v, st.wantVersion)
		}
	}
	var x, y int
	if err := db.QueryRow(`SELECT x, y FROM a`).Scan(&x, &y); err != nil {
		t.Fatal(err)
	}
	if x != 7 || y != 3 {
		t.Errorf("row after upgrade = (%d, %d), want (7, 3)", x, y)
	}
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM sqlite_schema WHERE name = 'c'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Error("table c of the failed migration exists: the migration was not rolled back")
	}
}

// errAny stands for "some error" in tables of expected errors.
var errAny = errors.New("any error")

func TestNewerSchemaError(t *testing.T) {
	err := error(&NewerSchemaError{Version: 9, Max: 1})
	want := "database schema version 9 is newer than this netmon (max 1): upgrade netmon"
	if err.Error() != want {
		t.Errorf("Error() = %q, want %q", err.Error(), want)
	}
	if !errors.Is(err, ErrNewerSchema) {
		t.Error("errors.Is(err, ErrNewerSchema) = false")
	}
}

// TestUpgradeFromVersion1 builds a database with only the first shipped
// migration, fills it as that version would have, and checks Open upgrades
// it: the per-protocol counts of 0002 start from the existing rows.
func TestUpgradeFromVersion1(t *testing.T) {
	ctx := context.Background()
	ms, err := loadMigrations(migrationFiles)
	if err != nil {
		t.Fatal(err)
	}
	path := t.TempDir() + "/v1.db"
	raw := rawOpen(t, path)
	if err := migrate(ctx, raw, ms[:1]); err != nil {
		t.Fatal(err)
	}
	_, err = raw.Exec(`
		INSERT INTO remote_hosts VALUES ('203.0.113.80', 1, 1, 10, 10);
		INSERT INTO connections (proto, src_ip, src_port, dst_ip, dst_port, first_seen_at, last_seen_at, closed_at) VALUES
			('tcp', '10.0.0.5', 1, '203.0.113.80', 443, 1, 1, NULL),
			('tcp', '10.0.0.5', 2, '203.0.113.80', 443, 1, 1, NULL),
			('udp', '10.0.0.5', 3, '203.0.113.80', 53, 1, 1, NULL),
			('udp', '10.0.0.5', 4, '203.0.113.80', 53, 1, 1, 5);`)
	if err != nil {
		t.Fatal(err)
	}
	raw.Close()

	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if v, err := userVersion(ctx, db.sql); err != nil || v != len(ms) {
		t.Errorf("user_version = %d, %v; want %d", v, err, len(ms))
	}
	got, err := db.ActiveByProto(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]int{"tcp": 2, "udp": 1}, got); diff != "" {
		t.Errorf("ActiveByProto after upgrade (-want +got):\n%s", diff)
	}
}
