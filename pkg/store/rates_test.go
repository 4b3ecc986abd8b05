package store

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/netmon-dev/netmon/pkg/conntrack"
	"github.com/netmon-dev/netmon/pkg/flows"
	"github.com/netmon-dev/netmon/pkg/rates"
	"github.com/netmon-dev/netmon/pkg/source"
)

var rateOpts = cmp.Options{cmpopts.EquateComparable(netip.Addr{}), cmpopts.EquateApprox(0, 0.2)}

// rated is a live state written the way the ingest process writes it:
// a reconcile, then the tracker's changes.
type rated struct {
	db  *Live
	tr  *rates.Tracker
	now time.Time
}

func newRated(t *testing.T) *rated {
	return &rated{db: openTemp(t), tr: rates.New(10 * time.Second), now: time.Date(2026, 12, 1, 20, 0, 0, 0, time.UTC)}
}

func (r *rated) cycle(t *testing.T, after time.Duration, es ...conntrack.Entry) {
	t.Helper()
	ctx := context.Background()
	r.now = r.now.Add(after)
	_, d, err := r.db.Reconcile(ctx, r.now, source.Slice(es).List(ctx, nil), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	r.tr.Add(r.now, d, nil)
	if err := r.db.WriteRates(ctx, r.tr.Changes()); err != nil {
		t.Fatal(err)
	}
}

// connRate is a connection as the rate reads compare it.
type connRate struct {
	Key string
	rates.Reading
}

func (r *rated) conns(t *testing.T, limit int, order rates.Order) []connRate {
	t.Helper()
	var out []connRate
	err := r.db.EachActiveConnectionRate(context.Background(), limit, order, nil, func(c *flows.Connection, rd rates.Reading) error {
		out = append(out, connRate{Key: c.Key.String(), Reading: rd})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func bps(wu, wd, lu, ld int64) rates.Reading {
	return rates.Reading{Known: true, Window: rates.FromBps(wu, wd), Last: rates.FromBps(lu, ld)}
}

// TestConnectionRates: what a reader of the live state sees of the rates
// through a download's life.
func TestConnectionRates(t *testing.T) {
	r := newRated(t)
	down := func(n uint64) conntrack.Entry {
		return flow("tcp", "10.0.0.5", 40000, "203.0.113.80", 443, "ESTABLISHED", "ASSURED", 1, n/10, 1, n)
	}
	idle := flow("udp", "10.0.0.6", 5353, "203.0.113.81", 53, "", "", 1, 80, 1, 200)
	k, ki := "tcp|10.0.0.5|40000|203.0.113.80|443", "udp|10.0.0.6|5353|203.0.113.81|53"
	steps := []struct {
		name  string
		after time.Duration
		es    []conntrack.Entry
		want  []connRate
	}{
		{"the tracker's first cycle: no rates", 0, []conntrack.Entry{idle}, []connRate{{Key: ki}}},
		{"a first reading: no rate; the idle one a zero", time.Second, []conntrack.Entry{down(1000), idle},
			[]connRate{{Key: k}, {Key: ki, Reading: bps(0, 0, 0, 0)}}},
		{"the second reading", time.Second, []conntrack.Entry{down(11000), idle},
			[]connRate{{Key: k, Reading: bps(8000, 80000, 0, 0)}, {Key: ki, Reading: bps(0, 0, 0, 0)}}},
		{"over 2 s", 2 * time.Second, []conntrack.Entry{down(11000), idle},
			[]connRate{{Key: k, Reading: bps(2667, 26667, 0, 0)}, {Key: ki, Reading: bps(0, 0, 0, 0)}}},
	}
	for _, s := range steps {
		r.cycle(t, s.after, s.es...)
		if diff := cmp.Diff(s.want, r.conns(t, 0, rates.ByBytes), rateOpts); diff != "" {
			t.Errorf("%s (-want +got):\n%s", s.name, diff)
		}
	}
	// Restarted: the same row, a new flow: no rate (not the old one), and
	// at its second reading a zero, not the old flow's rate.
	zero := []connRate{{Key: ki, Reading: bps(0, 0, 0, 0)}, {Key: k, Reading: bps(0, 0, 0, 0)}}
	r.cycle(t, time.Second, down(100), idle)
	if diff := cmp.Diff([]connRate{{Key: ki, Reading: bps(0, 0, 0, 0)}, {Key: k}}, r.conns(t, 0, rates.ByRate), rateOpts); diff != "" {
		t.Errorf("restarted (-want +got):\n%s", diff)
	}
	r.cycle(t, time.Second, down(100), idle)
	if diff := cmp.Diff(zero, r.conns(t, 0, rates.ByRate), rateOpts); diff != "" {
		t.Errorf("restarted, second reading (-want +got):\n%s", diff)
	}
	// Closed and back: the row reopens without the old flow's rate.
	r.cycle(t, time.Second, down(11100), idle)
	r.cycle(t, time.Second, idle)
	r.cycle(t, time.Second, down(100), idle)
	if diff := cmp.Diff([]connRate{{Key: ki, Reading: bps(0, 0, 0, 0)}, {Key: k}}, r.conns(t, 0, rates.ByRate), rateOpts); diff != "" {
		t.Errorf("reopened (-want +got):\n%s", diff)
	}
	r.cycle(t, time.Second, down(100), idle)
	if diff := cmp.Diff(zero, r.conns(t, 0, rates.ByRate), rateOpts); diff != "" {
		t.Errorf("reopened, second reading (-want +got):\n%s", diff)
	}
}

// TestRateOrder: ?sort=rate lists the connections with a rate first, by
// rate, then the others by bytes, limits counting both.
func TestRateOrder(t *testing.T) {
	r := newRated(t)
	mk := func(port uint16, up uint64) conntrack.Entry {
		return flow("tcp", "10.0.0.5", port, "203.0.113.80", 443, "ESTABLISHED", "", 1, up, 1, 0)
	}
	// Bytes: 1 > 2 > 3 > 4; growth: 3 > 4, none for 1 and 2. (The last
	// cycle's rate of a connection is not stored.)
	base := []conntrack.Entry{mk(1, 9000), mk(2, 8000), mk(3, 100), mk(4, 50)}
	r.cycle(t, 0, base...)
	r.cycle(t, time.Second, mk(1, 9000), mk(2, 8000), mk(3, 5100), mk(4, 1050))
	keys := func(cs []connRate) []string {
		var out []string
		for _, c := range cs {
			out = append(out, strings.Split(c.Key, "|")[2])
		}
		return out
	}
	for _, tt := range []struct {
		order rates.Order
		limit int
		want  []string
	}{
		{rates.ByBytes, 0, []string{"1", "2", "3", "4"}},
		{rates.ByRate, 0, []string{"3", "4", "1", "2"}},
		{rates.ByRate, 1, []string{"3"}},
		{rates.ByRate, 3, []string{"3", "4", "1"}},
	} {
		if diff := cmp.Diff(tt.want, keys(r.conns(t, tt.limit, tt.order))); diff != "" {
			t.Errorf("%s limit %d (-want +got):\n%s", tt.order, tt.limit, diff)
		}
	}
	var plan []string
	rows, err := r.db.sql.Query(`EXPLAIN QUERY PLAN SELECT c.id FROM connection_rates r CROSS JOIN connections c ON c.id = r.id
		WHERE c.closed_at IS NULL ORDER BY r.total_bps DESC, r.id LIMIT 5`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if p := strings.Join(plan, "; "); !strings.Contains(p, "connection_rates_by_rate") || strings.Contains(p, "TEMP B-TREE") {
		t.Errorf("sort by rate does not walk its index: %s", p)
	}
}

// TestRatesNow: devices, sparklines, remote hosts and the router as a
// reader sees them, and a new tracker clears the old one's rates.
func TestRatesNow(t *testing.T) {
	r := newRated(t)
	a := func(n uint64) conntrack.Entry {
		return flow("tcp", "10.0.0.5", 40000, "203.0.113.80", 443, "ESTABLISHED", "", 1, n, 1, 10*n)
	}
	b := flow("tcp", "10.0.0.6", 40001, "203.0.113.81", 443, "ESTABLISHED", "", 1, 5, 1, 5)
	r.cycle(t, 0, a(0), b)
	r.cycle(t, time.Second, a(1000), b)
	r.cycle(t, time.Second, a(2000), b)
	ctx := context.Background()
	// Names come from the addresses' labels; 10.0.0.6's device has none.
	if err := r.db.WriteLabels(ctx, Labels{Addrs: []AddrLabel{
		{netip.MustParseAddr("10.0.0.5"), "ip:10.0.0.5", "anna-laptop"}, {netip.MustParseAddr("10.0.0.6"), "ip:10.0.0.6", ""}}}); err != nil {
		t.Fatal(err)
	}
	now, err := r.db.RatesNow(ctx, rates.Query{})
	if err != nil {
		t.Fatal(err)
	}
	t1, t2 := r.now.Add(-time.Second), r.now
	want := &rates.Now{
		At: r.now, Cycles: 3, Window: 10 * time.Second,
		Total:      bps(8000, 80000, 8000, 80000),
		Ticks:      []time.Time{t1, t2},
		TotalSpark: []rates.Rate{rates.FromBps(8000, 80000), rates.FromBps(8000, 80000)},
		Devices: []rates.Device{
			{ID: "ip:10.0.0.5", Name: "anna-laptop", Addrs: []netip.Addr{netip.MustParseAddr("10.0.0.5")}, Reading: bps(8000, 80000, 8000, 80000),
				Spark: []rates.Rate{rates.FromBps(8000, 80000), rates.FromBps(8000, 80000)}},
			{ID: "ip:10.0.0.6", Addrs: []netip.Addr{netip.MustParseAddr("10.0.0.6")}, Reading: bps(0, 0, 0, 0),
				Spark: []rates.Rate{{}, {}}},
		},
		Remotes: []rates.Remote{{Addr: netip.MustParseAddr("203.0.113.80"), Reading: bps(8000, 80000, 0, 0)}},
	}
	if diff := cmp.Diff(want, now, rateOpts); diff != "" {
		t.Errorf("RatesNow (-want +got):\n%s", diff)
	}
	since, err := r.db.RatesNow(ctx, rates.Query{Since: t1})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]time.Time{t2}, since.Ticks); diff != "" {
		t.Errorf("ticks since the first (-want +got):\n%s", diff)
	}
	if n := len(since.Devices[0].Spark); n != 1 {
		t.Errorf("device sparkline since the first tick: %d points", n)
	}
	if tr, _ := r.db.RatesNow(ctx, rates.Query{Remotes: 1}); len(tr.Remotes) != 1 {
		t.Errorf("Remotes: 1 gave %d", len(tr.Remotes))
	}

	// A new ingest process: its first cycle clears everything.
	r.tr = rates.New(10 * time.Second)
	r.cycle(t, time.Second, a(3000), b)
	now, err = r.db.RatesNow(ctx, rates.Query{})
	if err != nil {
		t.Fatal(err)
	}
	if now.Total.Known || len(now.Ticks) != 0 || len(now.Remotes) != 0 || now.Cycles != 1 {
		t.Errorf("after a new tracker's first cycle: %+v", now)
	}
	for _, c := range r.conns(t, 0, rates.ByRate) {
		if c.Known {
			t.Errorf("%s has a rate after a new tracker's first cycle", c.Key)
		}
	}
	var left int
	if err := r.db.sql.QueryRow(`SELECT count(*) FROM connection_rates`).Scan(&left); err != nil || left != 0 {
		t.Errorf("%d rows keep a rate (%v)", left, err)
	}
}

// TestRatesNowEmpty: a live state no tracker wrote reads as no rates.
func TestRatesNowEmpty(t *testing.T) {
	db := openTemp(t)
	now, err := db.RatesNow(context.Background(), rates.Query{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(&rates.Now{}, now); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestTicksPruned: sparkline rows older than rates.SparkSpan go.
func TestTicksPruned(t *testing.T) {
	r := newRated(t)
	a := flow("tcp", "10.0.0.5", 40000, "203.0.113.80", 443, "ESTABLISHED", "", 1, 0, 1, 0)
	r.cycle(t, 0, a)
	for i := range 400 {
		a.Orig.Bytes = uint64(i+1) * 100
		r.cycle(t, time.Second, a)
	}
	var ticks, samples int
	if err := r.db.sql.QueryRow(`SELECT (SELECT count(*) FROM rate_ticks), (SELECT count(*) FROM device_rate_samples)`).Scan(&ticks, &samples); err != nil {
		t.Fatal(err)
	}
	if ticks != 301 || samples != 301 {
		t.Errorf("%d ticks and %d samples kept, want 301 (five minutes)", ticks, samples)
	}
}

// TestDeviceConnectionRate: one device's active connections, by its
// label or, unlabelled, by "ip:" and the address, in either order, with
// their rates and their count; a closed connection is not listed.
func TestDeviceConnectionRate(t *testing.T) {
	ctx := context.Background()
	r := newRated(t)
	lan5, lan6 := netip.MustParseAddr("10.0.0.5"), netip.MustParseAddr("fd00::6")
	big := func(k uint64) conntrack.Entry {
		return flow("tcp", "10.0.0.5", 40000, "203.0.113.80", 443, "ESTABLISHED", "ASSURED", k, 100*k, k, 900*k)
	}
	fast := func(k uint64) conntrack.Entry {
		return flow("udp", "10.0.0.5", 40001, "203.0.113.81", 443, "", "ASSURED", k, 10*k*k, k, 100*k*k)
	}
	v6 := flow("tcp", "fd00::6", 40002, "2001:db8::80", 443, "ESTABLISHED", "ASSURED", 1, 50, 1, 60)
	other := flow("tcp", "10.0.0.7", 40003, "203.0.113.82", 80, "ESTABLISHED", "ASSURED", 1, 5000, 1, 5000)
	closing := flow("tcp", "10.0.0.5", 40004, "203.0.113.83", 80, "ESTABLISHED", "ASSURED", 1, 1, 1, 1)
	r.cycle(t, 0, big(100), fast(1), v6, other, closing)
	r.cycle(t, time.Second, big(101), fast(10), v6, other)
	if err := r.db.WriteLabels(ctx, Labels{Addrs: []AddrLabel{{lan5, "aa:bb:cc:dd:ee:05", "laptop"}, {lan6, "", ""}}}); err != nil {
		t.Fatal(err)
	}
	key := func(e conntrack.Entry) string { return conntrack.KeyOf(&e).String() }
	tests := []struct {
		name   string
		device string
		limit  int
		order  rates.Order
		want   []string
		total  int
	}{
		{"by label, by bytes", "aa:bb:cc:dd:ee:05", 0, rates.ByBytes, []string{key(big(0)), key(fast(0))}, 2},
		{"by label, by rate", "aa:bb:cc:dd:ee:05", 0, rates.ByRate, []string{key(fast(0)), key(big(0))}, 2},
		{"by label, limited", "aa:bb:cc:dd:ee:05", 1, rates.ByBytes, []string{key(big(0))}, 2},
		{"an empty label is by address", "ip:fd00::6", 0, rates.ByBytes, []string{key(v6)}, 1},
		{"unlabelled", "ip:10.0.0.7", 0, rates.ByRate, []string{key(other)}, 1},
		{"a labelled address is not its ip: device", "ip:10.0.0.5", 0, rates.ByBytes, nil, 0},
		{"nobody", "aa:bb:cc:dd:ee:99", 0, rates.ByBytes, nil, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var (
				got   []string
				total = -1
			)
			err := r.db.EachDeviceConnectionRate(ctx, tc.device, tc.limit, tc.order, func(n int) error { total = n; return nil },
				func(c *flows.Connection, rd rates.Reading) error {
					got = append(got, c.Key.String())
					if c.Key.Proto == conntrack.ProtoUDP && !rd.Known {
						t.Errorf("%s: no rate", c.Key)
					}
					return nil
				})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("connections (-want +got):\n%s", diff)
			}
			if total != tc.total {
				t.Errorf("total %d, want %d", total, tc.total)
			}
		})
	}
	if err := r.db.EachDeviceConnectionRate(ctx, "", 0, rates.ByBytes, nil, nil); err == nil {
		t.Error("no device gave no error")
	}
}
