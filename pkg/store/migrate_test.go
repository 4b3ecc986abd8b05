package store

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"slices"
	"strings"
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
			files: fstest.MapFS{"migrations/x/0002_b.sql": {Data: []byte("B")}, "migrations/x/0001_a.sql": {Data: []byte("A")}},
			want:  []int{1, 2},
		},
		{name: "none", files: fstest.MapFS{}, want: []int{}},
		{name: "gap", files: fstest.MapFS{"migrations/x/0001_a.sql": {}, "migrations/x/0003_c.sql": {}}, wantFail: true},
		{name: "repeat", files: fstest.MapFS{"migrations/x/0001_a.sql": {}, "migrations/x/0001_b.sql": {}}, wantFail: true},
		{name: "no number", files: fstest.MapFS{"migrations/x/init.sql": {}}, wantFail: true},
		{name: "zero", files: fstest.MapFS{"migrations/x/0000_a.sql": {}}, wantFail: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms, err := loadMigrations(tt.files, "x")
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

// TestEmbeddedMigrations checks the shipped sets load and a fresh file of
// each has every table netmon uses.
func TestEmbeddedMigrations(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		set  string
		open func(path string) (*handle, error)
		want []string
	}{
		{"live", func(p string) (*handle, error) {
			db, err := OpenLive(ctx, p)
			if err != nil {
				return nil, err
			}
			return &db.handle, nil
		}, []string{"active_by_proto", "addr_labels", "connection_rates", "connections", "device_rate_samples", "device_rates", "device_totals", "dst_labels",
			"ingest_state", "ingest_status", "local_hosts", "rate_state", "rate_ticks", "remote_hosts", "remote_rates"}},
		{"record", func(p string) (*handle, error) {
			r, err := OpenRecord(ctx, p)
			if err != nil {
				return nil, err
			}
			return &r.handle, nil
		}, []string{"alert_counts", "alert_deliveries", "alert_memory", "alerts", "device_addrs", "device_usage", "devices", "pair_usage", "record_state", "remote_usage", "remotes", "service_usage"}},
	}
	for _, tc := range tests {
		t.Run(tc.set, func(t *testing.T) {
			ms, err := loadMigrations(migrationFiles, tc.set)
			if err != nil {
				t.Fatal(err)
			}
			h, err := tc.open(filepath.Join(t.TempDir(), tc.set+".db"))
			if err != nil {
				t.Fatal(err)
			}
			defer h.close()
			if v, err := userVersion(ctx, h.sql); err != nil || v != len(ms) {
				t.Errorf("user_version = %d, %v; want %d", v, err, len(ms))
			}
			if diff := cmp.Diff(tc.want, tableNames(t, h.sql)); diff != "" {
				t.Errorf("tables (-want +got):\n%s", diff)
			}
		})
	}
}

// tableNames lists the tables of db in name order.
func tableNames(t *testing.T, db *sql.DB) []string {
	t.Helper()
	var names []string
	rows, err := db.Query(`SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name`)
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
	return names
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

// TestUpgradeToRecord builds a file of netmon's first schema (version 1,
// db_path before issue 14), fills it as that version would have, and
// checks OpenRecord upgrades it to the record in place: the remote hosts
// and the LAN addresses keep their lifetime totals, the addresses become
// "ip:" devices seen from their first to their last connection, and the
// per-connection tables are gone.
func TestUpgradeToRecord(t *testing.T) {
	ctx := context.Background()
	ms, err := loadMigrations(migrationFiles, "record")
	if err != nil {
		t.Fatal(err)
	}
	path := t.TempDir() + "/v1.db"
	raw := rawOpen(t, path)
	if err := migrate(ctx, raw, ms[:1]); err != nil {
		t.Fatal(err)
	}
	_, err = raw.Exec(`
		INSERT INTO remote_hosts VALUES ('203.0.113.80', 1000, 9000, 10, 20), ('2001:db8::80', 2000, 3000, 5, 7);
		INSERT INTO local_hosts VALUES ('10.0.0.5', 15, 27);
		INSERT INTO connections (proto, src_ip, src_port, dst_ip, dst_port, first_seen_at, last_seen_at, closed_at) VALUES
			('tcp', '10.0.0.5', 1, '203.0.113.80', 443, 1000, 5000, NULL),
			('udp', '10.0.0.5', 4, '2001:db8::80', 53, 2000, 8000, 9000);`)
	if err != nil {
		t.Fatal(err)
	}
	raw.Close()

	r, err := OpenRecord(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if v, err := userVersion(ctx, r.sql); err != nil || v != len(ms) {
		t.Errorf("user_version = %d, %v; want %d", v, err, len(ms))
	}
	var dump strings.Builder
	if err := r.Dump(ctx, &dump); err != nil {
		t.Fatal(err)
	}
	want := `== alert_counts (kind, sink, outcome, n)
== alert_deliveries (alert_id, sink, state, attempts, next_at, last_at, sent_at, last_error, folded_into)
== alert_memory (kind, key, at)
device	ip:10.0.0.5	1000
start		1000
== alerts (id, kind, created_at, payload)
== device_addrs (device_id, addr, last_seen_at)
1	10.0.0.5	8000
== device_usage (res, start, device_id, uplink_bytes, downlink_bytes, uplink_packets, downlink_packets, connections)
== devices (id, device, name, name_source, vendor, first_seen_at, last_seen_at, uplink_bytes, downlink_bytes, uplink_packets, downlink_packets, connections)
1	ip:10.0.0.5				1000	8000	15	27	0	0	0
== pair_usage (start, device_id, remote_id, uplink_bytes, downlink_bytes, uplink_packets, downlink_packets, connections)
== record_state (id, commits, last_commit_at, boot_id, pruned_at)
1	0	NULL		0
== remote_usage (start, remote_id, uplink_bytes, downlink_bytes, uplink_packets, downlink_packets, connections)
== remotes (id, ip, first_seen_at, base_uplink_bytes, base_downlink_bytes, name, name_source, name_learned_at)
1	203.0.113.80	1000	10	20			NULL
2	2001:db8::80	2000	5	7			NULL
== service_usage (start, device_id, service, uplink_bytes, downlink_bytes, uplink_packets, downlink_packets, connections)
`
	if diff := cmp.Diff(want, dump.String()); diff != "" {
		t.Errorf("record after the upgrade (-want +got):\n%s", diff)
	}
	for _, gone := range []string{"connections", "remote_hosts", "local_hosts", "ingest_state", "active_by_proto"} {
		if slices.Contains(tableNames(t, r.sql), gone) {
			t.Errorf("table %s survived the upgrade", gone)
		}
	}
}
