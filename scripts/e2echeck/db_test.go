package main

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/netmon-dev/netmon/pkg/conntrack"
	"github.com/netmon-dev/netmon/pkg/source"
	"github.com/netmon-dev/netmon/pkg/store"
	"github.com/netmon-dev/netmon/scripts/internal/manifest"
)

// storeFlow is the entry conntrack lists for f, with the counters of
// listed.
func storeFlow(f manifest.Flow) conntrack.Entry {
	g := listed(f)
	p, err := conntrack.ParseProto(f.Proto)
	if err != nil {
		panic(err)
	}
	e := conntrack.Entry{Proto: p, State: g.State, Status: conntrack.ParseStatus(strings.Join(g.Flags, ",")),
		Orig:  conntrack.Tuple{Src: f.SrcIP, Dst: f.DstIP, Packets: g.UplinkPackets, Bytes: g.UplinkBytes},
		Reply: conntrack.Tuple{Src: f.DstIP, Dst: f.SrcIP, Packets: g.DownlinkPackets, Bytes: g.DownlinkBytes}}
	if p.IsICMP() {
		e.Orig.ICMPID, e.Orig.ICMPType = f.SrcPort, uint8(f.DstPort)
	} else {
		e.Orig.SrcPort, e.Orig.DstPort = f.SrcPort, f.DstPort
	}
	return e
}

// ingestCycles builds a database with netmon's own store: one cycle with
// every outbound flow, and if closed a second without the long-lived ones.
func ingestCycles(t *testing.T, m *manifest.Manifest, closed bool) string {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "netmon.db")
	db, err := store.OpenLive(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)
	cycle := func(closed bool) {
		var flows source.Slice
		for _, f := range expectedActive(m, closed) {
			flows = append(flows, storeFlow(f))
		}
		if _, _, err := db.Reconcile(ctx, now, flows.List(ctx, nil), 24*time.Hour); err != nil {
			t.Fatal(err)
		}
		now = now.Add(2 * time.Second)
	}
	cycle(false)
	if closed {
		cycle(true)
	}
	return path
}

// exec runs SQL statements on the database file.
func exec(t *testing.T, path string, stmts ...string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func TestCheckDB(t *testing.T) {
	m := testManifest()
	tests := []struct {
		name   string
		closed bool
		sql    []string
		want   []string // substrings, one per expected problem, in order
	}{
		{"after first ingest", false, nil, nil},
		{"after closing", true, nil, nil},
		{"closed row still open", true, []string{`UPDATE connections SET closed_at = NULL`}, []string{"held: closed_at is NULL"}},
		{"active row closed", false, []string{`UPDATE connections SET closed_at = last_seen_at WHERE dst_port = 9999`}, []string{"unreplied: closed_at"}},
		{"closed before first seen", true, []string{`UPDATE connections SET closed_at = 1 WHERE closed_at IS NOT NULL`}, []string{"closed_at 1 before first_seen_at"}},
		{"missing row", false, []string{`DELETE FROM connections WHERE proto = 'icmp'`}, []string{"no row for ping"}},
		{"times in seconds", false, []string{`UPDATE connections SET first_seen_at = first_seen_at / 1000 WHERE proto = 'icmp'`}, []string{"ping: first_seen_at"}},
		{"bytes below payload", false, []string{`UPDATE connections SET downlink_bytes = 5 WHERE dst_ip = '203.0.113.80' AND proto = 'tcp'`}, []string{"download: stored bytes"}},
		{"non-outbound row", false, []string{
			`INSERT INTO remote_hosts (ip, first_seen_at, last_seen_at) VALUES ('192.168.50.10', 1764100000000, 1764100000000)`,
			`INSERT INTO connections (proto, src_ip, src_port, dst_ip, dst_port, first_seen_at, last_seen_at) VALUES ('udp', '10.0.0.5', 40003, '192.168.50.10', 5300, 1764100000000, 1764100000000)`,
		}, []string{"connections holds lan", "remote_hosts holds 192.168.50.10"}},
		{"unknown row", false, []string{
			`INSERT INTO connections (proto, src_ip, src_port, dst_ip, dst_port, first_seen_at, last_seen_at) VALUES ('tcp', '10.0.0.9', 1, '203.0.113.80', 80, 1764100000000, 1764100000000)`,
		}, []string{"did not generate"}},
		{"host bytes short", false, []string{`UPDATE remote_hosts SET downlink_bytes = 10 WHERE ip = '203.0.113.80'`}, []string{"remote host 203.0.113.80: bytes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := ingestCycles(t, m, tt.closed)
			exec(t, path, tt.sql...)
			st, err := readDB(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			got := checkDB(m, st, tt.closed)
			wantProblems(t, got, tt.want)
		})
	}
}

func TestCheckDBHistory(t *testing.T) {
	m := testManifest()
	ctx := context.Background()
	first := ingestCycles(t, m, false)
	before, err := readDB(ctx, first)
	if err != nil {
		t.Fatal(err)
	}
	// Save and load, as e2e.sh does between the two ingests.
	saved := filepath.Join(t.TempDir(), "state.json")
	if err := saveState(saved, before); err != nil {
		t.Fatal(err)
	}
	if before, err = loadState(saved); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		sql  []string
		want []string
	}{
		{"closing keeps history", nil, nil},
		{"host first seen moved", []string{`UPDATE remote_hosts SET first_seen_at = first_seen_at + 1 WHERE ip = '2001:db8::82'`}, []string{"2001:db8::82: first_seen_at changed"}},
		{"host bytes went back", []string{`UPDATE remote_hosts SET uplink_bytes = 0 WHERE ip = '203.0.113.84'`}, []string{"203.0.113.84: bytes went backwards"}},
		{"host last seen went back", []string{`UPDATE remote_hosts SET last_seen_at = 0 WHERE ip = '203.0.113.84'`}, []string{"last_seen_at went backwards"}},
		{"host deleted", []string{`DELETE FROM connections WHERE dst_ip = '203.0.113.84'`, `DELETE FROM remote_hosts WHERE ip = '203.0.113.84'`}, []string{"203.0.113.84 disappeared"}},
		{"connection first seen moved", []string{`UPDATE connections SET first_seen_at = first_seen_at + 5 WHERE proto = 'icmp'`}, []string{"connection icmp|10.0.0.5|77|203.0.113.80|8: first_seen_at changed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := ingestCycles(t, m, true)
			exec(t, path, tt.sql...)
			after, err := readDB(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			got := checkDBHistory(before, after)
			wantProblems(t, got, tt.want)
		})
	}
}

func TestReadDBErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := readDB(context.Background(), filepath.Join(dir, "absent.db")); err == nil {
		t.Error("readDB on a missing file succeeded")
	}
	empty := filepath.Join(dir, "empty.db")
	exec(t, empty, `CREATE TABLE other (x)`)
	if _, err := readDB(context.Background(), empty); err == nil || !strings.Contains(err.Error(), "query remote_hosts") {
		t.Errorf("readDB on a database without netmon's tables = %v, want a query error", err)
	}
	if _, err := loadState(filepath.Join(dir, "absent.json")); err == nil {
		t.Error("loadState on a missing file succeeded")
	}
}
