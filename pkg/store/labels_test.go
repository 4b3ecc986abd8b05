package store

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/netmon-dev/netmon/pkg/conntrack"
	"github.com/netmon-dev/netmon/pkg/history"
)

// TestLabels: the live state's labels name a connection's device and
// remote host in the reads; names of remote hosts no connection uses any
// more are dropped; device totals read back.
func TestLabels(t *testing.T) {
	ctx := context.Background()
	db := openTemp(t)
	t0 := time.Date(2026, 11, 25, 17, 0, 0, 0, time.UTC)
	a := flow("tcp", "10.0.0.5", 40000, "203.0.113.80", 443, "ESTABLISHED", "ASSURED", 1, 100, 1, 900)
	b := flow("udp", "10.0.0.6", 5353, "203.0.113.81", 53, "", "", 1, 60, 1, 120)
	if _, err := reconcile(db, ctx, t0, []conntrack.Entry{a, b}, 0); err != nil {
		t.Fatal(err)
	}
	lan5, lan6 := netip.MustParseAddr("10.0.0.5"), netip.MustParseAddr("10.0.0.6")
	r80 := netip.MustParseAddr("203.0.113.80")
	err := db.WriteLabels(ctx, Labels{
		Addrs: []AddrLabel{{lan5, "aa:bb:cc:dd:ee:01", "anna-laptop"}, {lan6, "ip:10.0.0.6", ""}},
		Dsts:  []DstLabel{{lan5, r80, "video.example"}, {lan6, netip.MustParseAddr("203.0.113.99"), "gone.example"}},
		Totals: []history.Total{{Device: "aa:bb:cc:dd:ee:01", Name: "anna-laptop",
			Usage: history.Usage{Counters: conntrack.Counters{UplinkBytes: 7}}}},
		PruneDsts: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	conns, _, err := db.ActiveConnections(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][3]string{}
	for _, c := range conns {
		got[c.Key.String()] = [3]string{c.Device, c.DeviceName, c.DstName}
	}
	want := map[string][3]string{
		conntrack.KeyOf(&a).String(): {"aa:bb:cc:dd:ee:01", "anna-laptop", "video.example"},
		conntrack.KeyOf(&b).String(): {"ip:10.0.0.6", "", ""},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("labels in the reads (-want +got):\n%s", diff)
	}
	var n int
	if err := db.sql.QueryRow(`SELECT count(*) FROM dst_labels`).Scan(&n); err != nil || n != 1 {
		t.Errorf("%d remote names kept, %v; want only the one an active connection uses", n, err)
	}
	if err := db.WriteLabels(ctx, Labels{Gone: []netip.Addr{lan5}}); err != nil {
		t.Fatal(err)
	}
	conns, _, _ = db.ActiveConnections(ctx, 0)
	for _, c := range conns {
		if c.Key.Src == lan5 && c.Device != "" {
			t.Errorf("a forgotten address still names %q", c.Device)
		}
	}
	totals, err := db.DeviceTotals(ctx)
	if err != nil || len(totals) != 1 || totals[0].UplinkBytes != 7 || totals[0].Name != "anna-laptop" {
		t.Errorf("device totals %+v, %v", totals, err)
	}
}

// TestWriteLabelsManyDsts writes remote names across the statement
// chunks (64 rows each, and a short last one) and prunes those no open
// connection uses, in a later write, as the writer asks every few minutes.
func TestWriteLabelsManyDsts(t *testing.T) {
	ctx := context.Background()
	db := openTemp(t)
	t0 := time.Date(2026, 11, 25, 17, 0, 0, 0, time.UTC)
	var open []conntrack.Entry
	var ds []DstLabel
	for i := range 150 {
		dst := fmt.Sprintf("203.0.113.%d", i+1)
		if i%3 == 0 {
			open = append(open, flow("tcp", "10.0.0.5", uint16(40000+i), dst, 443, "ESTABLISHED", "ASSURED", 1, 100, 1, 900))
		}
		ds = append(ds, DstLabel{netip.MustParseAddr("10.0.0.5"), netip.MustParseAddr(dst), fmt.Sprintf("host-%d.example", i)})
	}
	if _, err := reconcile(db, ctx, t0, open, 0); err != nil {
		t.Fatal(err)
	}
	count := func() int {
		var n int
		if err := db.sql.QueryRow(`SELECT count(*) FROM dst_labels`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if err := db.WriteLabels(ctx, Labels{Dsts: ds}); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 150 {
		t.Errorf("%d remote names written, want 150", n)
	}
	ds[6].Name = "renamed.example"
	if err := db.WriteLabels(ctx, Labels{Dsts: ds[:8]}); err != nil {
		t.Fatal(err)
	}
	if err := db.WriteLabels(ctx, Labels{PruneDsts: true}); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != len(open) {
		t.Errorf("%d remote names after the prune, want %d (the open connections')", n, len(open))
	}
	conns, _, err := db.ActiveConnections(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]string{}
	for _, c := range conns {
		names[c.Key.Dst.String()] = c.DstName
	}
	if names["203.0.113.1"] != "host-0.example" || names["203.0.113.64"] != "host-63.example" || names["203.0.113.148"] != "host-147.example" ||
		names["203.0.113.7"] != "renamed.example" {
		t.Errorf("names of open connections after the prune: %v", names)
	}
}
