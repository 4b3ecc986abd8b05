package store

import (
	"github.com/netmon-dev/netmon/pkg/conntrack"
	"github.com/netmon-dev/netmon/pkg/flows"

	"context"
	"errors"
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

	fillActive(t, db)
	t0, t1 := fillT0, fillT1
	big, tieX, tieY, small := fillBig, fillTieX, fillTieY, fillSmall

	conn := func(f conntrack.Entry, first, last, hostFirst time.Time) flows.Connection {
		return flows.Connection{Key: conntrack.KeyOf(&f), State: f.State, Status: f.Status, Counters: f.Counters(),
			FirstSeenAt: first, LastSeenAt: last, HostFirstSeenAt: hostFirst}
	}
	all := []flows.Connection{
		conn(big, t0, t0, t0),
		conn(tieY, t1, t1, t0), // "tcp" < "udp"
		conn(tieX, t0, t0, t0),
		conn(small, t1, t1, t1),
	}
	limits := []struct {
		name  string
		limit int
		want  []flows.Connection
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

	hosts, err := remoteHosts(db, ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantHosts := []flows.Host{
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
	wantLocals := []flows.Host{
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

// The read tests' database: fillActive reconciles two cycles, at fillT0
// and fillT1, that leave four active connections, two of them with the
// same total (fillTieX and fillTieY: the tuple order decides), and one
// closed (fillGone).
var (
	fillT0    = time.Date(2026, 11, 25, 17, 0, 0, 0, time.UTC)
	fillT1    = fillT0.Add(time.Minute)
	fillBig   = flow("tcp", "10.0.0.5", 1000, "203.0.113.80", 443, "ESTABLISHED", "ASSURED", 5, 500, 9, 9000)
	fillTieX  = flow("udp", "10.0.0.6", 53, "203.0.113.81", 53, "", "", 1, 100, 1, 100)
	fillTieY  = flow("tcp", "10.0.0.6", 2000, "203.0.113.81", 80, "TIME_WAIT", "ASSURED", 1, 150, 1, 50)
	fillSmall = flow("icmp", "fd00::5", 7, "2001:db8::80", 128, "", "", 1, 64, 0, 0)
	fillGone  = flow("udp", "10.0.0.7", 9, "203.0.113.82", 9999, "", "UNREPLIED", 1, 20000, 0, 0)
)

func fillActive(t *testing.T, db *Live) {
	t.Helper()
	ctx := context.Background()
	if _, err := reconcile(db, ctx, fillT0, []conntrack.Entry{fillBig, fillTieX, fillGone}, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := reconcile(db, ctx, fillT1, []conntrack.Entry{fillBig, fillTieX, fillTieY, fillSmall}, 0); err != nil {
		t.Fatal(err)
	}
}

// TestEachActiveConnection checks that the walk hands over what
// ActiveConnections returns, in its order, with the total before the
// first row.
func TestEachActiveConnection(t *testing.T) {
	ctx := context.Background()
	db := openTemp(t)
	fillActive(t, db)
	tests := []struct {
		name     string
		limit    int
		wantRows int
	}{
		{"all with 0", 0, 4},
		{"all with negative", -1, 4},
		{"top 1", 1, 1},
		{"top 3", 3, 3},
		{"more than there are", 50, 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want, wantTotal, err := db.ActiveConnections(ctx, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			var (
				got    []flows.Connection
				events []string
			)
			err = db.EachActiveConnection(ctx, tc.limit, func(total int) error {
				events = append(events, fmt.Sprint("start ", total))
				return nil
			}, func(c *flows.Connection) error {
				events = append(events, "row")
				got = append(got, *c)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			wantEvents := []string{fmt.Sprint("start ", wantTotal)}
			for range tc.wantRows {
				wantEvents = append(wantEvents, "row")
			}
			if diff := cmp.Diff(wantEvents, events); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(want, got, addrOpts); diff != "" {
				t.Errorf("rows against ActiveConnections (-want +got):\n%s", diff)
			}
		})
	}
}

// TestEachActiveConnectionEmpty: an empty table still reports its total,
// and hands over no row.
func TestEachActiveConnectionEmpty(t *testing.T) {
	db := openTemp(t)
	total, rows := -1, 0
	err := db.EachActiveConnection(context.Background(), 0,
		func(n int) error { total = n; return nil },
		func(*flows.Connection) error { rows++; return nil })
	if err != nil || total != 0 || rows != 0 {
		t.Errorf("EachActiveConnection on empty db: total %d, %d rows, %v; want 0, 0, nil", total, rows, err)
	}
}

// TestEachActiveConnectionStops checks that an error from start or fn, or
// a cancelled ctx, ends the walk at once, and that the read transaction's
// connection is back in the pool afterwards.
func TestEachActiveConnectionStops(t *testing.T) {
	errStop := errors.New("stop")
	tests := []struct {
		name      string
		startErr  error // returned by start
		stopAfter int   // fn fails (or cancels) on this row; 0: never
		cancel    bool  // cancel ctx on row stopAfter instead of failing
		cancelled bool  // ctx cancelled before the call
		wantRows  int
		wantErr   error
		exact     bool // the error must be wantErr itself, not wrapped
	}{
		{name: "start fails", startErr: errStop, wantRows: 0, wantErr: errStop, exact: true},
		{name: "first row fails", stopAfter: 1, wantRows: 1, wantErr: errStop, exact: true},
		{name: "third row fails", stopAfter: 3, wantRows: 3, wantErr: errStop, exact: true},
		{name: "last row fails", stopAfter: 4, wantRows: 4, wantErr: errStop, exact: true},
		{name: "ctx cancelled before", cancelled: true, wantRows: 0, wantErr: context.Canceled},
		{name: "ctx cancelled on the first row", stopAfter: 1, cancel: true, wantRows: 1, wantErr: context.Canceled},
		{name: "ctx cancelled on the second row", stopAfter: 2, cancel: true, wantRows: 2, wantErr: context.Canceled},
	}
	db := openTemp(t)
	fillActive(t, db)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.cancelled {
				cancel()
			}
			rows := 0
			err := db.EachActiveConnection(ctx, 0, func(int) error { return tc.startErr }, func(*flows.Connection) error {
				rows++
				if rows == tc.stopAfter {
					if tc.cancel {
						cancel()
						return nil
					}
					return errStop
				}
				return nil
			})
			if !errors.Is(err, tc.wantErr) || (tc.exact && err != tc.wantErr) {
				t.Errorf("error = %v, want %v", err, tc.wantErr)
			}
			if rows != tc.wantRows {
				t.Errorf("fn called %d times, want %d", rows, tc.wantRows)
			}
			waitReleased(t, db)
		})
	}
}

// waitReleased fails t unless every pooled connection is back in the pool
// within a second. A transaction whose ctx was cancelled is rolled back by
// database/sql's own goroutine, a moment after the walk returned.
func waitReleased(t *testing.T, db *Live) {
	t.Helper()
	for deadline := time.Now().Add(time.Second); db.sql.Stats().InUse != 0; {
		if time.Now().After(deadline) {
			t.Errorf("%d connections still in use: the read transaction was not released", db.sql.Stats().InUse)
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// TestEachActiveConnectionSnapshot commits a cycle in the middle of a walk:
// the walk still lists the cycle it started in, total and rows.
func TestEachActiveConnectionSnapshot(t *testing.T) {
	ctx := context.Background()
	db := openTemp(t)
	fillActive(t, db)
	want, wantTotal, err := db.ActiveConnections(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	var (
		got   []flows.Connection
		total int
	)
	err = db.EachActiveConnection(ctx, 0, func(n int) error { total = n; return nil }, func(c *flows.Connection) error {
		if len(got) == 0 {
			// Every connection closes and a new one opens.
			next := []conntrack.Entry{flow("udp", "10.0.0.9", 5353, "203.0.113.99", 53, "", "", 1, 1, 0, 0)}
			if _, err := reconcile(db, ctx, time.Date(2026, 11, 25, 17, 2, 0, 0, time.UTC), next, 0); err != nil {
				return err
			}
		}
		got = append(got, *c)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if total != wantTotal {
		t.Errorf("total = %d, want %d", total, wantTotal)
	}
	if diff := cmp.Diff(want, got, addrOpts); diff != "" {
		t.Errorf("rows of the walk (-before the new cycle +got):\n%s", diff)
	}
	if after, n, err := db.ActiveConnections(ctx, 0); err != nil || n != 1 || len(after) != 1 {
		t.Errorf("after the walk: %d rows, total %d, %v; want the new cycle's 1", len(after), n, err)
	}
}

// remoteHosts returns every remote host ever seen, most bytes (both
// directions) first, ties by address text.
func remoteHosts(db *Live, ctx context.Context) ([]flows.Host, error) {
	rows, err := db.sql.QueryContext(ctx, `
		SELECT ip, first_seen_at, last_seen_at, uplink_bytes, downlink_bytes
		FROM remote_hosts
		ORDER BY uplink_bytes + downlink_bytes DESC, ip`)
	if err != nil {
		return nil, (fmt.Errorf("query remote hosts: %w", err))
	}
	defer rows.Close()
	var out []flows.Host
	for rows.Next() {
		var (
			h           flows.Host
			ip          string
			first, last int64
			up, down    int64
		)
		if err := rows.Scan(&ip, &first, &last, &up, &down); err != nil {
			return nil, fmt.Errorf("scan remote host: %w", err)
		}
		if h.IP, err = parseAddr("remote_hosts.ip", ip); err != nil {
			return nil, err
		}
		h.FirstSeenAt, h.LastSeenAt = fromMillis(first), fromMillis(last)
		h.UplinkBytes, h.DownlinkBytes = unsigned(up), unsigned(down)
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, (fmt.Errorf("query remote hosts: %w", err))
	}
	return out, nil
}
