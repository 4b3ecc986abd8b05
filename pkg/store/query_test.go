package store

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestReads fills a database through Reconcile and checks every read.
func TestReads(t *testing.T) {
	ctx := context.Background()
	db := openTemp(t)

	// An empty database reads as empty, not as an error.
	if at, cycles, err := db.LastCycle(ctx); err != nil || !at.IsZero() || cycles != 0 {
		t.Errorf("LastCycle on empty db = %v, %d, %v; want zero, 0, nil", at, cycles, err)
	}
	if conns, total, err := db.ActiveConnections(ctx, 10); err != nil || len(conns) != 0 || total != 0 {
		t.Errorf("ActiveConnections on empty db = %v, %d, %v", conns, total, err)
	}

	t0 := time.Date(2026, 11, 25, 17, 0, 0, 0, time.UTC)
	t1 := t0.Add(time.Minute)
	big := flow("tcp", "10.0.0.5", 1000, "203.0.113.80", 443, "ESTABLISHED", "ASSURED", 5, 500, 9, 9000)
	// tieX and tieY have the same total: the tuple order decides.
	tieX := flow("udp", "10.0.0.6", 53, "203.0.113.81", 53, "", "", 1, 100, 1, 100)
	tieY := flow("tcp", "10.0.0.6", 2000, "203.0.113.81", 80, "TIME_WAIT", "ASSURED", 1, 150, 1, 50)
	small := flow("icmp", "fd00::5", 7, "2001:db8::80", 128, "", "", 1, 64, 0, 0)
	gone := flow("udp", "10.0.0.7", 9, "203.0.113.82", 9999, "", "UNREPLIED", 1, 20000, 0, 0)

	if _, err := db.Reconcile(ctx, t0, []Flow{big, tieX, gone}, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Reconcile(ctx, t1, []Flow{big, tieX, tieY, small}, 0); err != nil {
		t.Fatal(err)
	}

	conn := func(f Flow, first, last, hostFirst time.Time) Connection {
		return Connection{Flow: f, FirstSeenAt: first, LastSeenAt: last, HostFirstSeenAt: hostFirst}
	}
	all := []Connection{
		conn(big, t0, t0, t0),
		conn(tieY, t1, t1, t0), // "tcp" < "udp"
		conn(tieX, t0, t0, t0),
		conn(small, t1, t1, t1),
	}
	limits := []struct {
		name  string
		limit int
		want  []Connection
	}{
		{"all with 0", 0, all},
		{"all with negative", -1, all},
		{"top 2", 2, all[:2]},
		{"more than there are", 50, all},
	}
	for _, tt := range limits {
		t.Run("ActiveConnections "+tt.name, func(t *testing.T) {
			got, total, err := db.ActiveConnections(ctx, tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			if total != 4 {
				t.Errorf("total = %d, want 4 (the closed flow excluded)", total)
			}
			if diff := cmp.Diff(tt.want, got, addrOpts); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}

	hosts, err := db.RemoteHosts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantHosts := []RemoteHost{
		{IP: netip.MustParseAddr("203.0.113.82"), FirstSeenAt: t0, LastSeenAt: t0, UplinkBytes: 20000},
		{IP: netip.MustParseAddr("203.0.113.80"), FirstSeenAt: t0, LastSeenAt: t0, UplinkBytes: 500, DownlinkBytes: 9000},
		{IP: netip.MustParseAddr("203.0.113.81"), FirstSeenAt: t0, LastSeenAt: t1, UplinkBytes: 250, DownlinkBytes: 150},
		{IP: netip.MustParseAddr("2001:db8::80"), FirstSeenAt: t1, LastSeenAt: t1, UplinkBytes: 64},
	}
	if diff := cmp.Diff(wantHosts, hosts, addrOpts); diff != "" {
		t.Errorf("RemoteHosts (-want +got):\n%s", diff)
	}
	if n, err := db.RemoteHostCount(ctx); err != nil || n != 4 {
		t.Errorf("RemoteHostCount = %d, %v; want 4", n, err)
	}

	locals, err := db.LocalHosts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantLocals := []LocalHost{
		{IP: netip.MustParseAddr("10.0.0.5"), UplinkBytes: 500, DownlinkBytes: 9000},
		{IP: netip.MustParseAddr("10.0.0.6"), UplinkBytes: 250, DownlinkBytes: 150},
		{IP: netip.MustParseAddr("10.0.0.7"), UplinkBytes: 20000},
		{IP: netip.MustParseAddr("fd00::5"), UplinkBytes: 64},
	}
	if diff := cmp.Diff(wantLocals, locals, addrOpts); diff != "" {
		t.Errorf("LocalHosts (-want +got):\n%s", diff)
	}

	byProto, err := db.ActiveByProto(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]int{"tcp": 2, "udp": 1, "icmp": 1}, byProto); diff != "" {
		t.Errorf("ActiveByProto (-want +got):\n%s", diff)
	}

	at, cycles, err := db.LastCycle(ctx)
	if err != nil || !at.Equal(t1) || at.Location() != time.UTC || cycles != 2 {
		t.Errorf("LastCycle = %v, %d, %v; want %v UTC, 2", at, cycles, err, t1)
	}
}

// TestActiveConnectionsUsesIndex checks the query plan: the top-N read walks
// the partial index in order and never sorts all active rows.
func TestActiveConnectionsUsesIndex(t *testing.T) {
	db := openTemp(t)
	rows, err := db.sql.Query(`EXPLAIN QUERY PLAN
		SELECT c.proto FROM connections c CROSS JOIN remote_hosts h ON h.ip = c.dst_ip
		WHERE c.closed_at IS NULL
		ORDER BY c.total_bytes DESC, c.proto, c.src_ip, c.src_port, c.dst_ip, c.dst_port
		LIMIT 200`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan += fmt.Sprintln(detail)
	}
	want := "SCAN c USING INDEX connections_active_by_bytes\nSEARCH h USING PRIMARY KEY (ip=?)\n"
	if plan != want {
		t.Errorf("query plan:\n%s\nwant:\n%s", plan, want)
	}
}
