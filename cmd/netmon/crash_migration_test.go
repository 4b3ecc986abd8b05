package main

import (
	"context"
	"database/sql"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/netmon-dev/netmon/pkg/store"
)

// recordVersion is the record's schema version after every migration
// (pkg/store/migrations/record): the upgrade from version 1 applies them
// all in one transaction.
const recordVersion = 4

// v1Rows is the size of the old database TestCrashDuringMigration
// upgrades: big enough that migrations 0002 and 0003, which count and
// read every connection, take a good part of a run, so random kills land
// inside them.
// Under -race the in-process building and checking of the database would
// take minutes at that size, so it shrinks and fewer kills land inside.
func v1Rows() int {
	if raceEnabled {
		return 10_000
	}
	return 100_000
}

// TestCrashDuringMigration SIGKILLs `netmon ingest-once` at random moments
// while it upgrades a version-1 database of v1Rows connections (db_path
// before issue 14) into the record. After every kill the file passes
// integrity_check and is wholly at one version: still 1 with its
// connections, or recordVersion, the record, with the old lifetime totals; and it
// reopens, which finishes the upgrade. TestCrashSafety's "while creating"
// only kills fresh, nearly empty files, whose migration takes about a
// millisecond.
func TestCrashDuringMigration(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and a 100,000-row database")
	}
	bin := buildNetmon(t)
	dir := t.TempDir()
	v1 := filepath.Join(dir, "v1.db")
	makeV1Database(t, v1, v1Rows())
	input := fixture("conntrack", "small_mixed.txt")

	// How long the binary takes to start and commit the upgrade: poll a
	// copy's schema version from outside while a run upgrades it (timed in
	// this process the upgrade would be far slower under -race).
	first := copyFile(t, v1, filepath.Join(dir, "whole.db"))
	upgraded := timeUpgrade(t, bin, input, first)
	if v := schemaCheck(t, first); v != recordVersion {
		t.Fatalf("an uninterrupted run left version %d", v)
	}

	// Kill within one and a half times that, so some kills land before
	// the upgrade, most inside it, some after it committed.
	window := upgraded * 3 / 2
	rng := rand.New(rand.NewPCG(2, uint64(time.Now().UnixNano())))
	const kills = 8
	versions := map[int]int{}
	for i := range kills {
		db := copyFile(t, v1, filepath.Join(dir, "kill"+strconv.Itoa(i)+".db"))
		cmd := netmonCmd(bin, "ingest-once", "--input-file", input, "--db", db, "--state-dir", filepath.Join(dir, "state"+strconv.Itoa(i)))
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(rng.Int64N(int64(window))))
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		versions[schemaCheck(t, db)]++
		os.Remove(db)
	}
	t.Logf("%d kills within %v (start and upgrade take %v): %d left version 1 (killed before the upgrade committed), %d version %d",
		kills, window.Round(time.Millisecond), upgraded.Round(time.Millisecond), versions[1], versions[recordVersion], recordVersion)
}

// timeUpgrade runs `netmon ingest-once` on db, returns how long after the
// start the database reads version recordVersion, and kills the run.
func timeUpgrade(t *testing.T, bin, input, db string) time.Duration {
	t.Helper()
	raw, err := sql.Open("sqlite", db)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	cmd := netmonCmd(bin, "ingest-once", "--input-file", input, "--db", db, "--state-dir", filepath.Join(filepath.Dir(db), "state-timed"))
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
	}()
	for time.Since(start) < time.Minute {
		var v int
		if err := raw.QueryRow("PRAGMA user_version").Scan(&v); err == nil && v == recordVersion {
			return time.Since(start)
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatal("no upgrade within a minute")
	return 0
}

// makeV1Database writes a database at path as netmon version 1 left it:
// the first migration only, user_version 1, and rows active connections.
func makeV1Database(t *testing.T, path string, rows int) {
	t.Helper()
	schema, err := os.ReadFile(filepath.Join("..", "..", "pkg", "store", "migrations", "record", "0001_init.sql"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	stmts := []string{
		"PRAGMA journal_mode = WAL",
		string(schema),
		"PRAGMA user_version = 1",
		`INSERT INTO remote_hosts (ip, first_seen_at, last_seen_at, uplink_bytes, downlink_bytes) VALUES ('203.0.113.80', 1, 1, 7000, 9000)`,
		`INSERT INTO local_hosts (ip, uplink_bytes, downlink_bytes) VALUES ('10.0.0.1', 5000, 6000), ('10.0.0.2', 2000, 3000)`,
		`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ` + strconv.Itoa(rows-1) + `)
		 INSERT INTO connections (proto, src_ip, src_port, dst_ip, dst_port, uplink_bytes, total_bytes, first_seen_at, last_seen_at)
		 SELECT CASE i % 3 WHEN 0 THEN 'udp' ELSE 'tcp' END, '10.0.0.' || (i / 60000 + 1), i % 60000 + 1,
		        '203.0.113.80', 443, i, i, 1, 1 FROM n`,
		`UPDATE ingest_state SET cycles = 1, last_cycle_at = 1, active_connections = ` + strconv.Itoa(rows),
		"PRAGMA wal_checkpoint(TRUNCATE)",
	}
	for _, s := range stmts {
		if _, err := raw.Exec(s); err != nil {
			t.Fatalf("build v1 database: %v", err)
		}
	}
}

// schemaCheck checks that the database at path is intact and wholly at
// one schema version, and returns it: 1 with its connections, or 3 with
// the old lifetime totals as the record's.
func schemaCheck(t *testing.T, path string) int {
	t.Helper()
	integrityCheck(t, path)
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var v, tables int
	if err := raw.QueryRow("PRAGMA user_version").Scan(&v); err != nil {
		t.Fatal(err)
	}
	if err := raw.QueryRow(`SELECT count(*) FROM sqlite_schema WHERE name = 'connections'`).Scan(&tables); err != nil {
		t.Fatal(err)
	}
	switch {
	case v == 1 && tables == 1:
	case v == recordVersion && tables == 0:
		got := map[string]int{}
		if err := scanCounts(raw, `SELECT device, uplink_bytes FROM devices`, got); err != nil {
			t.Fatal(err)
		}
		if err := scanCounts(raw, `SELECT ip, base_downlink_bytes FROM remotes`, got); err != nil {
			t.Fatal(err)
		}
		// The growth of ingest-once's own cycle (a completed run) comes on top.
		for k, want := range map[string]int{"ip:10.0.0.1": 5000, "ip:10.0.0.2": 2000, "203.0.113.80": 9000} {
			if got[k] < want {
				t.Fatalf("after the upgrade %s holds %d, want at least the old %d: %v", k, got[k], want, got)
			}
		}
	default:
		t.Fatalf("half a migration: user_version %d with %d connections tables", v, tables)
	}
	db, err := store.OpenRecord(context.Background(), path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	db.Close()
	return v
}

func scanCounts(db *sql.DB, query string, into map[string]int) error {
	rows, err := db.Query(query)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var p string
		var n int
		if err := rows.Scan(&p, &n); err != nil {
			return err
		}
		into[p] = n
	}
	return rows.Err()
}

// copyFile copies src to dst and returns dst.
func copyFile(t *testing.T, src, dst string) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dst
}
