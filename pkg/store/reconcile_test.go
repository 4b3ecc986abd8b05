package store

import (
	"github.com/netmon-dev/netmon/pkg/flows"
	"github.com/netmon-dev/netmon/pkg/source"

	"github.com/netmon-dev/netmon/pkg/conntrack"

	"context"
	"database/sql"
	"errors"
	"math"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// addrOpts lets cmp compare structs holding netip values.
var addrOpts = cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{})

// openTemp opens a fresh database file in t.TempDir().
func openTemp(t testing.TB) *Live {
	t.Helper()
	db, err := OpenLive(context.Background(), t.TempDir()+"/netmon.db")
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// connRow is a connections row as the tests compare it (id left out).
type connRow struct {
	Key                    string
	State, Flags           string
	UpP, UpB, DownP, DownB int64
	Total                  int64
	First, Last            time.Time
	Closed                 time.Time // zero while active
}

type hostRow struct {
	IP          string
	First, Last time.Time
	Up, Down    int64
}

type localRow struct {
	IP       string
	Up, Down int64
}

// tables reads every row of the three data tables straight from SQL,
// closed connections included.
func tables(t *testing.T, db *Live) ([]connRow, []hostRow, []localRow) {
	t.Helper()
	ctx := context.Background()
	rows, err := db.sql.QueryContext(ctx, `
		SELECT proto || '|' || src_ip || '|' || src_port || '|' || dst_ip || '|' || dst_port,
		       state, flags, uplink_packets, uplink_bytes, downlink_packets, downlink_bytes,
		       total_bytes, first_seen_at, last_seen_at, closed_at
		FROM connections ORDER BY proto, src_ip, src_port, dst_ip, dst_port`)
	if err != nil {
		t.Fatal(err)
	}
	var conns []connRow
	for rows.Next() {
		var (
			r           connRow
			first, last int64
			closed      sql.NullInt64
		)
		if err := rows.Scan(&r.Key, &r.State, &r.Flags, &r.UpP, &r.UpB, &r.DownP, &r.DownB,
			&r.Total, &first, &last, &closed); err != nil {
			t.Fatal(err)
		}
		r.First, r.Last = fromMillis(first), fromMillis(last)
		if closed.Valid {
			r.Closed = fromMillis(closed.Int64)
		}
		conns = append(conns, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()

	rows, err = db.sql.QueryContext(ctx,
		`SELECT ip, first_seen_at, last_seen_at, uplink_bytes, downlink_bytes FROM remote_hosts ORDER BY ip`)
	if err != nil {
		t.Fatal(err)
	}
	var hosts []hostRow
	for rows.Next() {
		var (
			h           hostRow
			first, last int64
		)
		if err := rows.Scan(&h.IP, &first, &last, &h.Up, &h.Down); err != nil {
			t.Fatal(err)
		}
		h.First, h.Last = fromMillis(first), fromMillis(last)
		hosts = append(hosts, h)
	}
	rows.Close()

	rows, err = db.sql.QueryContext(ctx, `SELECT ip, uplink_bytes, downlink_bytes FROM local_hosts ORDER BY ip`)
	if err != nil {
		t.Fatal(err)
	}
	var locals []localRow
	for rows.Next() {
		var l localRow
		if err := rows.Scan(&l.IP, &l.Up, &l.Down); err != nil {
			t.Fatal(err)
		}
		locals = append(locals, l)
	}
	rows.Close()
	return conns, hosts, locals
}

// flow builds an outbound entry: proto is a name or a number, flags the
// status text ("ASSURED,UNREPLIED"), sport and dport the key's port
// positions (for ICMP the echo id and the type).
func flow(proto, src string, sport uint16, dst string, dport uint16, state, flags string, upP, upB, downP, downB uint64) conntrack.Entry {
	p, err := conntrack.ParseProto(proto)
	if err != nil {
		panic(err)
	}
	e := conntrack.Entry{
		Proto: p, State: state, Status: conntrack.ParseStatus(flags),
		Orig:  conntrack.Tuple{Src: netip.MustParseAddr(src), Dst: netip.MustParseAddr(dst), Packets: upP, Bytes: upB},
		Reply: conntrack.Tuple{Src: netip.MustParseAddr(dst), Dst: netip.MustParseAddr(src), Packets: downP, Bytes: downB},
	}
	if p.IsICMP() {
		e.Orig.ICMPID, e.Orig.ICMPType = sport, uint8(dport)
	} else {
		e.Orig.SrcPort, e.Orig.DstPort, e.Reply.SrcPort, e.Reply.DstPort = sport, dport, dport, sport
	}
	return e
}

// reconcile runs one cycle over es.
func reconcile(db *Live, ctx context.Context, now time.Time, es []conntrack.Entry, retention time.Duration) (CycleResult, error) {
	res, _, err := db.Reconcile(ctx, now, source.Slice(es).List(ctx, nil), retention)
	return res, err
}

// TestReconcileReplay replays a sequence of snapshots into one database and
// checks every row after each cycle: new, updated, unchanged, closed,
// reopened, counters going down, duplicates, pruning and the host totals.
func TestReconcileReplay(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 17, 0, 0, 0, time.UTC)
	t1, t2, t3 := t0.Add(10*time.Second), t0.Add(20*time.Second), t0.Add(30*time.Second)
	t4 := t3.Add(2 * time.Hour)

	tcpA := flow("tcp", "10.0.0.5", 40000, "203.0.113.80", 443, "ESTABLISHED", "ASSURED", 10, 1000, 20, 5000)
	tcpA2 := flow("tcp", "10.0.0.5", 40000, "203.0.113.80", 443, "ESTABLISHED", "ASSURED", 15, 1500, 30, 8000)
	tcpA3 := flow("tcp", "10.0.0.5", 40000, "203.0.113.80", 443, "SYN_SENT", "", 2, 100, 1, 50) // counters down
	udpB := flow("udp", "10.0.0.6", 5353, "203.0.113.81", 53, "", "", 1, 60, 1, 120)
	udpB2 := flow("udp", "10.0.0.6", 5353, "203.0.113.81", 53, "", "ASSURED", 1, 60, 1, 120) // flags only
	icmpC := flow("icmp", "10.0.0.5", 7, "203.0.113.80", 8, "", "", 3, 252, 3, 252)
	udp6D := flow("udp", "fd00::5", 50000, "2001:db8::80", 443, "", "UNREPLIED", 2, 1300, 0, 0)
	udpEz7 := flow("udp", "10.0.0.7", 5353, "203.0.113.81", 5353, "", "", 1, 100, 0, 0)
	udpEz0 := flow("udp", "10.0.0.7", 5353, "203.0.113.81", 5353, "", "ASSURED", 1, 100, 1, 200)

	const (
		keyA = "tcp|10.0.0.5|40000|203.0.113.80|443"
		keyB = "udp|10.0.0.6|5353|203.0.113.81|53"
		keyC = "icmp|10.0.0.5|7|203.0.113.80|8"
		keyD = "udp|fd00::5|50000|2001:db8::80|443"
		keyE = "udp|10.0.0.7|5353|203.0.113.81|5353"
	)
	rowA := connRow{keyA, "ESTABLISHED", "ASSURED", 10, 1000, 20, 5000, 6000, t0, t0, time.Time{}}
	rowA2 := connRow{keyA, "ESTABLISHED", "ASSURED", 15, 1500, 30, 8000, 9500, t0, t1, time.Time{}}
	rowA3 := connRow{keyA, "SYN_SENT", "", 2, 100, 1, 50, 150, t3, t3, time.Time{}}
	rowB := connRow{keyB, "", "", 1, 60, 1, 120, 180, t0, t0, time.Time{}}
	rowB2 := connRow{keyB, "", "ASSURED", 1, 60, 1, 120, 180, t0, t3, time.Time{}}
	rowC := connRow{keyC, "", "", 3, 252, 3, 252, 504, t0, t0, time.Time{}}
	rowCclosed := rowC
	rowCclosed.Closed = t1
	rowC3 := connRow{keyC, "", "", 3, 252, 3, 252, 504, t3, t3, time.Time{}}
	rowD := connRow{keyD, "", "UNREPLIED", 2, 1300, 0, 0, 1300, t1, t1, time.Time{}}
	rowDclosed := rowD
	rowDclosed.Closed = t3
	rowE := connRow{keyE, "", "ASSURED", 2, 200, 1, 200, 400, t3, t3, time.Time{}} // flags of the merged entries: the text that sorts last
	closedAt := func(r connRow, at time.Time) connRow { r.Closed = at; return r }
	hostsB := []hostRow{
		{"2001:db8::80", t1, t1, 1300, 0},
		{"203.0.113.80", t0, t1, 1752, 8252},
		{"203.0.113.81", t0, t0, 60, 120},
	}
	localsB := []localRow{{"10.0.0.5", 1752, 8252}, {"10.0.0.6", 60, 120}, {"fd00::5", 1300, 0}}

	steps := []struct {
		name       string
		now        time.Time
		flows      []conntrack.Entry
		want       CycleResult
		wantConns  []connRow // in tuple order: icmp, tcp, udp (by src text)
		wantHosts  []hostRow
		wantLocals []localRow
	}{
		{
			name:  "A first snapshot inserts everything",
			now:   t0,
			flows: []conntrack.Entry{tcpA, udpB, icmpC},
			// 2 hosts + 3 connections + 2 local hosts + 3 protocol counts + ingest_state
			want:      CycleResult{NewHosts: 2, Opened: 3, RowsWritten: 11},
			wantConns: []connRow{rowC, rowA, rowB},
			wantHosts: []hostRow{
				{"203.0.113.80", t0, t0, 1000 + 252, 5000 + 252},
				{"203.0.113.81", t0, t0, 60, 120},
			},
			wantLocals: []localRow{{"10.0.0.5", 1252, 5252}, {"10.0.0.6", 60, 120}},
		},
		{
			name:  "B growth, unchanged, closed and new IPv6",
			now:   t1,
			flows: []conntrack.Entry{tcpA2, udpB, udp6D},
			// hosts .80 (growth) and 2001:db8::80 (new); open D, update A,
			// close C; locals 10.0.0.5 and fd00::5; udp and icmp counts; ingest_state.
			want:       CycleResult{NewHosts: 1, Opened: 1, Updated: 1, Closed: 1, RowsWritten: 10},
			wantConns:  []connRow{rowCclosed, rowA2, rowB, rowD},
			wantHosts:  hostsB,
			wantLocals: localsB,
		},
		{
			name:       "C the same snapshot writes only the bookkeeping row",
			now:        t2,
			flows:      []conntrack.Entry{udp6D, tcpA2, udpB}, // other order, same flows
			want:       CycleResult{RowsWritten: 1},
			wantConns:  []connRow{rowCclosed, rowA2, rowB, rowD},
			wantHosts:  hostsB,
			wantLocals: localsB,
		},
		{
			name:  "D counters down, flags change, a closed tuple back, duplicates merged",
			now:   t3,
			flows: []conntrack.Entry{tcpA3, udpB2, icmpC, udpEz7, udpEz0},
			// hosts .80 and .81; reopen A and C, insert E, update B, close D;
			// locals 10.0.0.5 (growth) and 10.0.0.7 (new), 10.0.0.6 had no
			// growth; the icmp count (udp +1 -1 is no change); ingest_state.
			want:      CycleResult{Opened: 3, Updated: 1, Closed: 1, Duplicates: 1, RowsWritten: 11},
			wantConns: []connRow{rowC3, rowA3, rowB2, rowE, rowDclosed},
			wantHosts: []hostRow{
				{"2001:db8::80", t1, t1, 1300, 0},
				// A restarted: +100/+50; C came back: +252/+252.
				{"203.0.113.80", t0, t3, 1752 + 100 + 252, 8252 + 50 + 252},
				// B changed flags only (no growth) but moves last_seen; E is new.
				{"203.0.113.81", t0, t3, 60 + 200, 120 + 200},
			},
			wantLocals: []localRow{
				{"10.0.0.5", 1752 + 352, 8252 + 302}, {"10.0.0.6", 60, 120},
				{"10.0.0.7", 200, 200}, {"fd00::5", 1300, 0},
			},
		},
		{
			name:  "E empty snapshot closes everything and prunes old history",
			now:   t4,
			flows: nil,
			// close A, B, C, E; prune D (closed 2h ago); 3 protocol counts; ingest_state.
			want: CycleResult{Closed: 4, Pruned: 1, RowsWritten: 9},
			wantConns: []connRow{
				closedAt(rowC3, t4), closedAt(rowA3, t4), closedAt(rowB2, t4), closedAt(rowE, t4),
			},
			wantHosts: []hostRow{
				{"2001:db8::80", t1, t1, 1300, 0},
				{"203.0.113.80", t0, t3, 2104, 8554},
				{"203.0.113.81", t0, t3, 260, 320},
			},
			wantLocals: []localRow{
				{"10.0.0.5", 2104, 8554}, {"10.0.0.6", 60, 120},
				{"10.0.0.7", 200, 200}, {"fd00::5", 1300, 0},
			},
		},
	}

	db := openTemp(t)
	ctx := context.Background()
	for i, st := range steps {
		got, err := reconcile(db, ctx, st.now, st.flows, time.Hour)
		if err != nil {
			t.Fatalf("%s: Reconcile: %v", st.name, err)
		}
		if diff := cmp.Diff(st.want, got); diff != "" {
			t.Errorf("%s: result (-want +got):\n%s", st.name, diff)
		}
		conns, hosts, locals := tables(t, db)
		if diff := cmp.Diff(st.wantConns, conns); diff != "" {
			t.Errorf("%s: connections (-want +got):\n%s", st.name, diff)
		}
		if diff := cmp.Diff(st.wantHosts, hosts); diff != "" {
			t.Errorf("%s: remote hosts (-want +got):\n%s", st.name, diff)
		}
		if diff := cmp.Diff(st.wantLocals, locals); diff != "" {
			t.Errorf("%s: local hosts (-want +got):\n%s", st.name, diff)
		}
		at, cycles, err := db.LastCycle(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !at.Equal(st.now) || cycles != int64(i+1) {
			t.Errorf("%s: LastCycle = %v, %d; want %v, %d", st.name, at, cycles, st.now, i+1)
		}
	}
}

// TestReconcileDestroys: DESTROY events in the read complete closing
// flows with their final counters, insert flows no read saw as closed
// rows (or into the tuple's closed history row), complete a flow an
// earlier cycle closed, and count every byte in the hosts' totals once.
func TestReconcileDestroys(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 17, 0, 0, 0, time.UTC)
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Second) }
	id := func(e conntrack.Entry, id uint32) conntrack.Entry { e.ID = id; return e }
	end := func(e conntrack.Entry, n uint32) conntrack.Entry { e.ID, e.Event = n, conntrack.EventDestroy; return e }

	a := id(flow("tcp", "10.0.0.5", 40000, "203.0.113.80", 443, "ESTABLISHED", "ASSURED", 10, 1000, 20, 5000), 1)
	aFin := end(flow("tcp", "10.0.0.5", 40000, "203.0.113.80", 443, "TIME_WAIT", "ASSURED", 12, 1200, 25, 7000), 1)
	aAgain := end(flow("tcp", "10.0.0.5", 40000, "203.0.113.80", 443, "CLOSE", "", 3, 300, 3, 300), 2)
	w := end(flow("udp", "10.0.0.6", 5000, "203.0.113.81", 53, "", "", 1, 60, 1, 120), 3)
	b := id(flow("udp", "10.0.0.6", 6000, "203.0.113.81", 53, "", "", 1, 60, 0, 0), 5)
	bFin := end(flow("udp", "10.0.0.6", 6000, "203.0.113.81", 53, "", "", 2, 120, 1, 200), 5)
	c := id(flow("udp", "10.0.0.6", 7000, "203.0.113.81", 53, "", "", 1, 10, 0, 0), 9)
	cOther := end(flow("udp", "10.0.0.6", 7000, "203.0.113.81", 53, "", "", 4, 40, 4, 40), 8)

	const keyA, keyB, keyC, keyW = "tcp|10.0.0.5|40000|203.0.113.80|443", "udp|10.0.0.6|6000|203.0.113.81|53",
		"udp|10.0.0.6|7000|203.0.113.81|53", "udp|10.0.0.6|5000|203.0.113.81|53"
	steps := []struct {
		name      string
		read      []conntrack.Entry
		want      CycleResult
		wantConns []connRow
	}{
		{name: "a read", read: []conntrack.Entry{a},
			want:      CycleResult{NewHosts: 1, Opened: 1, RowsWritten: 5},
			wantConns: []connRow{{keyA, "ESTABLISHED", "ASSURED", 10, 1000, 20, 5000, 6000, at(0), at(0), time.Time{}}}},
		{name: "A ends by its DESTROY, W is recorded whole", read: []conntrack.Entry{aFin, w},
			// hosts .80 (A's growth) and .81 (new); W inserted; A closed;
			// 2 locals; the tcp count; ingest_state.
			want: CycleResult{NewHosts: 1, Closed: 2, RowsWritten: 8},
			wantConns: []connRow{
				{keyA, "TIME_WAIT", "ASSURED", 12, 1200, 25, 7000, 8200, at(0), at(0), at(1)},
				{keyW, "", "", 1, 60, 1, 120, 180, at(1), at(1), at(1)},
			}},
		{name: "a later flow of A's tuple takes its closed row", read: []conntrack.Entry{b, aAgain},
			want: CycleResult{Opened: 1, Closed: 1, RowsWritten: 8},
			wantConns: []connRow{
				{keyA, "CLOSE", "", 3, 300, 3, 300, 600, at(2), at(2), at(2)},
				{keyW, "", "", 1, 60, 1, 120, 180, at(1), at(1), at(1)},
				{keyB, "", "", 1, 60, 0, 0, 60, at(2), at(2), time.Time{}},
			}},
		{name: "B leaves the read before its DESTROY; C opens", read: []conntrack.Entry{c},
			// host .81, C inserted, B closed, a local, ingest_state (udp +1 -1).
			want: CycleResult{Opened: 1, Closed: 1, RowsWritten: 5},
			wantConns: []connRow{
				{keyA, "CLOSE", "", 3, 300, 3, 300, 600, at(2), at(2), at(2)},
				{keyW, "", "", 1, 60, 1, 120, 180, at(1), at(1), at(1)},
				{keyB, "", "", 1, 60, 0, 0, 60, at(2), at(2), at(3)},
				{keyC, "", "", 1, 10, 0, 0, 10, at(3), at(3), time.Time{}},
			}},
		{name: "B's late DESTROY completes its row; another flow of C's tuple counts in the totals only",
			read: []conntrack.Entry{c, bFin, cOther},
			want: CycleResult{Closed: 2, RowsWritten: 4},
			wantConns: []connRow{
				{keyA, "CLOSE", "", 3, 300, 3, 300, 600, at(2), at(2), at(2)},
				{keyW, "", "", 1, 60, 1, 120, 180, at(1), at(1), at(1)},
				{keyB, "", "", 2, 120, 1, 200, 320, at(2), at(2), at(3)},
				{keyC, "", "", 1, 10, 0, 0, 10, at(3), at(3), time.Time{}},
			}},
	}
	db := openTemp(t)
	ctx := context.Background()
	for i, st := range steps {
		got, err := reconcile(db, ctx, at(i), st.read, 0)
		if err != nil {
			t.Fatalf("%s: Reconcile: %v", st.name, err)
		}
		if diff := cmp.Diff(st.want, got); diff != "" {
			t.Errorf("%s: result (-want +got):\n%s", st.name, diff)
		}
		conns, _, _ := tables(t, db)
		if diff := cmp.Diff(st.wantConns, conns); diff != "" {
			t.Errorf("%s: connections (-want +got):\n%s", st.name, diff)
		}
	}
	// Every byte once: A 1200+7000, A's tuple again 300+300, W 60+120,
	// B 120+200, C 10, C's other flow 40+40.
	_, hosts, locals := tables(t, db)
	wantHosts := []hostRow{
		{"203.0.113.80", at(0), at(2), 1200 + 300, 7000 + 300},
		{"203.0.113.81", at(1), at(4), 60 + 120 + 10 + 40, 120 + 200 + 40},
	}
	wantLocals := []localRow{{"10.0.0.5", 1500, 7300}, {"10.0.0.6", 230, 360}}
	if diff := cmp.Diff(wantHosts, hosts); diff != "" {
		t.Errorf("remote hosts (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantLocals, locals); diff != "" {
		t.Errorf("local hosts (-want +got):\n%s", diff)
	}
}

// TestReconcileAnotherWriter checks that a DB notices cycles written by
// another *Live (another process) and reloads its cache instead of writing
// from a stale one.
func TestReconcileAnotherWriter(t *testing.T) {
	ctx := context.Background()
	path := t.TempDir() + "/netmon.db"
	a, err := OpenLive(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := OpenLive(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	t0 := time.Date(2026, 11, 25, 17, 0, 0, 0, time.UTC)
	f1 := flow("tcp", "10.0.0.5", 1, "203.0.113.80", 443, "ESTABLISHED", "", 1, 100, 1, 100)
	f1grown := flow("tcp", "10.0.0.5", 1, "203.0.113.80", 443, "ESTABLISHED", "", 2, 300, 2, 300)
	f2 := flow("udp", "10.0.0.6", 2, "203.0.113.81", 53, "", "", 1, 50, 0, 0)

	steps := []struct {
		name  string
		db    *Live
		flows []conntrack.Entry
		want  CycleResult
	}{
		{"a opens f1", a, []conntrack.Entry{f1}, CycleResult{NewHosts: 1, Opened: 1, RowsWritten: 5}},
		{"b sees f1 as known and grows it", b, []conntrack.Entry{f1grown}, CycleResult{Updated: 1, RowsWritten: 4}},
		// a's cache still holds f1 at 100/100: it must reload, or it would
		// see f1 unchanged at 300/300 as an update and close nothing.
		{"a reloads and closes f1", a, []conntrack.Entry{f2}, CycleResult{NewHosts: 1, Opened: 1, Closed: 1, RowsWritten: 7}},
	}
	for i, st := range steps {
		got, err := reconcile(st.db, ctx, t0.Add(time.Duration(i)*time.Second), st.flows, 0)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if diff := cmp.Diff(st.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", st.name, diff)
		}
	}
	hosts, err := remoteHosts(a, ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []flows.Host{
		{IP: netip.MustParseAddr("203.0.113.80"), FirstSeenAt: t0, LastSeenAt: t0.Add(time.Second), UplinkBytes: 300, DownlinkBytes: 300},
		{IP: netip.MustParseAddr("203.0.113.81"), FirstSeenAt: t0.Add(2 * time.Second), LastSeenAt: t0.Add(2 * time.Second), UplinkBytes: 50},
	}
	if diff := cmp.Diff(want, hosts, addrOpts); diff != "" {
		t.Errorf("remote hosts (-want +got):\n%s", diff)
	}
}

// TestReconcileBadInput checks that a bad flow fails the cycle with an
// error and writes nothing, and that the next good cycle works.
func TestReconcileBadInput(t *testing.T) {
	good := flow("tcp", "10.0.0.5", 1, "203.0.113.80", 443, "", "", 1, 1, 1, 1)
	noDst := good
	noDst.Orig.Dst = netip.Addr{}
	noSrc := good
	noSrc.Orig.Src = netip.Addr{}
	zoned := good
	zoned.Orig.Src = netip.MustParseAddr("fe80::1%eth0")
	tests := []struct {
		name  string
		flows []conntrack.Entry
	}{
		{"invalid destination", []conntrack.Entry{noDst}},
		{"invalid source", []conntrack.Entry{good, noSrc}},
		{"zoned source", []conntrack.Entry{good, zoned}},
	}
	db := openTemp(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 25, 17, 0, 0, 0, time.UTC)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := reconcile(db, ctx, now, tt.flows, 0); !errors.Is(err, flows.ErrInvalid) {
				t.Fatalf("Reconcile = %v, want flows.ErrInvalid", err)
			}
			if _, cycles, err := db.LastCycle(ctx); err != nil || cycles != 0 {
				t.Errorf("LastCycle = %d, %v; want 0 cycles", cycles, err)
			}
		})
	}
	res, err := reconcile(db, ctx, now, []conntrack.Entry{good}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if res.Opened != 1 {
		t.Errorf("after bad cycles, Opened = %d, want 1", res.Opened)
	}
}

// The cycle tests below start from a database whose first cycle, at
// cycleT0, saw some of these flows.
var (
	cycleT0  = time.Date(2026, 11, 25, 17, 0, 0, 0, time.UTC)
	flowTCP  = flow("tcp", "10.0.0.5", 1000, "203.0.113.80", 443, "ESTABLISHED", "ASSURED", 5, 500, 5, 5000)
	flowUDP6 = flow("udp", "10.0.0.6", 53, "2001:db8::53", 53, "", "", 1, 60, 1, 120)
	flowICMP = flow("icmp", "10.0.0.7", 42, "198.51.100.1", 8, "", "", 1, 84, 1, 84)
)

// primed opens a database and reconciles flows into it at cycleT0.
func primed(t *testing.T, flows ...conntrack.Entry) *Live {
	t.Helper()
	db := openTemp(t)
	if _, err := reconcile(db, context.Background(), cycleT0, flows, 0); err != nil {
		t.Fatal(err)
	}
	return db
}

// TestReconcileReadError: a read that fails after handing over flows
// (changed, new, duplicated) gets its own error back unchanged, nothing is
// written, the cache is kept rather than reloaded, and the next cycle
// judges every tuple against the database, not against the failed read.
func TestReconcileReadError(t *testing.T) {
	a, b, c := flowTCP, flowUDP6, flowICMP
	db := primed(t, a, b)
	ctx, t0 := context.Background(), cycleT0
	conns, hosts, locals := tables(t, db)
	cache := db.active

	boom := errors.New("conntrack: exit status 1")
	grown := a
	grown.Orig.Bytes += 1000
	failing := func(yield func(*conntrack.Entry, error) bool) {
		for _, f := range []conntrack.Entry{grown, c, c} {
			if !yield(&f, nil) {
				return
			}
		}
		yield(nil, boom)
	}
	_, _, err := db.Reconcile(ctx, t0.Add(time.Second), failing, 0)
	if err != boom {
		t.Fatalf("Reconcile error = %v, want the read's own error", err)
	}
	conns2, hosts2, locals2 := tables(t, db)
	if diff := cmp.Diff([]any{conns, hosts, locals}, []any{conns2, hosts2, locals2}); diff != "" {
		t.Errorf("a failed read changed the database (-before +after):\n%s", diff)
	}
	if db.active != cache || cache.Len() != 2 {
		t.Errorf("table after a failed read: %p with %d rows, want the same %p with 2", db.active, db.active.Len(), cache)
	}

	// a unchanged, b gone, c new: the failed read's growth of a and its
	// row for c must not count.
	res, err := reconcile(db, ctx, t0.Add(2*time.Second), []conntrack.Entry{a, c}, 0)
	if err != nil {
		t.Fatal(err)
	}
	// c's host, c, b's close, c's local host, the icmp and udp counts, ingest_state.
	want := CycleResult{NewHosts: 1, Opened: 1, Closed: 1, RowsWritten: 7}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Errorf("cycle after the failed read (-want +got):\n%s", diff)
	}
}

// TestReconcileReadPanics: a read that panics mid-snapshot leaves no
// transaction behind (it would hold the write lock and make every later
// cycle fail with "database is locked") and no half-read cache.
func TestReconcileReadPanics(t *testing.T) {
	a, c := flowTCP, flowICMP
	db := primed(t, a)
	ctx, t0 := context.Background(), cycleT0
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("the read's panic did not reach the caller")
			}
		}()
		db.Reconcile(ctx, t0.Add(time.Second), func(yield func(*conntrack.Entry, error) bool) {
			yield(&c, nil)
			panic("source bug")
		}, 0)
	}()
	res, err := reconcile(db, ctx, t0.Add(2*time.Second), []conntrack.Entry{a, c}, 0)
	if err != nil {
		t.Fatalf("cycle after a panicking read: %v", err)
	}
	if diff := cmp.Diff(CycleResult{NewHosts: 1, Opened: 1, RowsWritten: 5}, res); diff != "" {
		t.Errorf("cycle after a panicking read (-want +got):\n%s", diff)
	}
}

// TestReconcileCancelled checks that a cancelled context rolls the cycle
// back: nothing written, and the next cycle starts from the database.
func TestReconcileCancelled(t *testing.T) {
	db := openTemp(t)
	now := time.Date(2026, 11, 25, 17, 0, 0, 0, time.UTC)
	f := flow("tcp", "10.0.0.5", 1, "203.0.113.80", 443, "", "", 1, 1, 1, 1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := reconcile(db, ctx, now, []conntrack.Entry{f}, 0); err == nil {
		t.Fatal("Reconcile with a cancelled context: no error")
	}
	res, err := reconcile(db, context.Background(), now, []conntrack.Entry{f}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(CycleResult{NewHosts: 1, Opened: 1, RowsWritten: 5}, res); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestSaturatingCounters(t *testing.T) {
	tests := []struct {
		name string
		in   uint64
		want int64
	}{
		{"zero", 0, 0},
		{"max int64", math.MaxInt64, math.MaxInt64},
		{"beyond int64", math.MaxUint64, math.MaxInt64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := saturate(tt.in); got != tt.want {
				t.Errorf("saturate(%d) = %d, want %d", tt.in, got, tt.want)
			}
		})
	}
	if got := addSat(math.MaxInt64-1, 5); got != math.MaxInt64 {
		t.Errorf("addSat overflow = %d, want MaxInt64", got)
	}

	// A counter beyond int64 is stored capped, not rejected or wrapped.
	db := openTemp(t)
	f := flow("tcp", "10.0.0.5", 1, "203.0.113.80", 443, "", "", 1, math.MaxUint64, 1, 10)
	if _, err := reconcile(db, context.Background(), time.Unix(0, 0), []conntrack.Entry{f}, 0); err != nil {
		t.Fatal(err)
	}
	conns, _, err := db.ActiveConnections(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(conns) != 1 || conns[0].UplinkBytes != math.MaxInt64 {
		t.Errorf("stored uplink bytes = %+v, want one row with MaxInt64", conns)
	}
}

// TestReconcileDuplicates merges repeated tuples whether the tuple is new
// this cycle (its cache row added by this cycle) or already active, and in
// either order of the two entries. The merge must not write into the
// caller's flows, which the cycle points into instead of copying.
func TestReconcileDuplicates(t *testing.T) {
	zone0 := flow("udp", "10.0.0.7", 5353, "203.0.113.81", 5353, "", "", 1, 100, 0, 0)
	zone7 := flow("udp", "10.0.0.7", 5353, "203.0.113.81", 5353, "", "ASSURED", 2, 300, 1, 50)
	grown0 := flow("udp", "10.0.0.7", 5353, "203.0.113.81", 5353, "", "", 2, 200, 0, 0)
	tests := []struct {
		name      string
		cycles    [][]conntrack.Entry
		want      CycleResult // of the last cycle
		wantBytes [2]uint64   // the row's uplink, downlink bytes
	}{
		{"new tuple", [][]conntrack.Entry{{zone0, zone7}},
			CycleResult{NewHosts: 1, Opened: 1, Duplicates: 1, RowsWritten: 5}, [2]uint64{400, 50}},
		{"new tuple, other order", [][]conntrack.Entry{{zone7, zone0}},
			CycleResult{NewHosts: 1, Opened: 1, Duplicates: 1, RowsWritten: 5}, [2]uint64{400, 50}},
		{"active tuple grows in one zone", [][]conntrack.Entry{{zone0, zone7}, {zone7, grown0}},
			// growth +100 up: the host, the connection, the local host, ingest_state.
			CycleResult{Updated: 1, Duplicates: 1, RowsWritten: 4}, [2]uint64{500, 50}},
		{"active tuple unchanged in the other order", [][]conntrack.Entry{{zone0, zone7}, {zone7, zone0}},
			CycleResult{Duplicates: 1, RowsWritten: 1}, [2]uint64{400, 50}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := openTemp(t)
			ctx := context.Background()
			var got CycleResult
			for i, flows := range tt.cycles {
				before := slices.Clone(flows)
				var err error
				if got, err = reconcile(db, ctx, time.Unix(int64(i), 0), flows, 0); err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(before, flows, addrOpts); diff != "" {
					t.Errorf("cycle %d changed its input (-before +after):\n%s", i, diff)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("last cycle (-want +got):\n%s", diff)
			}
			conns, _, err := db.ActiveConnections(ctx, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(conns) != 1 || [2]uint64{conns[0].UplinkBytes, conns[0].DownlinkBytes} != tt.wantBytes {
				t.Errorf("rows = %+v, want one with bytes %v", conns, tt.wantBytes)
			}
		})
	}
}
