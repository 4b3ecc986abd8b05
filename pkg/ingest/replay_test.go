package ingest

import (
	"context"
	"github.com/google/go-cmp/cmp"
	"github.com/netmon-dev/netmon/pkg/conntrack"
	"github.com/netmon-dev/netmon/pkg/flows"
	"github.com/netmon-dev/netmon/pkg/source"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/netmon-dev/netmon/pkg/filter"
	"github.com/netmon-dev/netmon/pkg/store"
)

// labLAN is the lab's LAN (see fixtures/conntrack/README.md), IPv6 included.
var labLAN = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/24"), netip.MustParsePrefix("fd00::/64")}

// realPipeline returns the real filter for labLAN and a fresh database in
// t.TempDir(), closed when the test ends.
func realPipeline(t *testing.T) (*filter.Filter, *store.Live) {
	t.Helper()
	f, err := filter.New(labLAN)
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.OpenLive(context.Background(), filepath.Join(t.TempDir(), "netmon.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return f, db
}

// TestReplayRealCapture runs the real parser, filter and store over the
// small_mixed capture twice: the first cycle stores exactly the outbound
// flows, all from the LAN, and the second (same table) writes only the
// bookkeeping row. Observe sees each cycle's delta: the growth of the
// opened flows is the bytes stored, then nothing.
func TestReplayRealCapture(t *testing.T) {
	ctx := context.Background()
	f, db := realPipeline(t)
	clock := &stepClock{t: t0, step: time.Second}
	var observed []conntrack.Counters // per cycle, the sum of the growth
	in := &Ingester{
		Source: &source.File{Path: filepath.Join("..", "..", "fixtures", "conntrack", "small_mixed.txt")},
		Filter: f, Store: db, Now: clock.Now, Retention: time.Hour,
		Observe: func(_ time.Time, d *flows.Delta) {
			var sum conntrack.Counters
			for c := range d.All() {
				sum.UplinkBytes += c.Growth.UplinkBytes
				sum.DownlinkBytes += c.Growth.DownlinkBytes
			}
			observed = append(observed, sum)
		},
	}

	first, err := in.ReconcileSnapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if first.Entries != 29 || first.Skipped != 0 {
		t.Errorf("first cycle: %d entries, %d skipped; want the capture's 29, 0", first.Entries, first.Skipped)
	}
	if first.Outbound == 0 || first.Outbound >= first.Entries {
		t.Errorf("first cycle kept %d of %d entries: the filter should drop LAN-to-LAN and router flows", first.Outbound, first.Entries)
	}
	conns, total, err := db.ActiveConnections(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if total != first.Outbound-first.Duplicates || len(conns) != total || first.Opened != total {
		t.Errorf("stored %d rows (total %d, opened %d) for %d outbound flows with %d duplicates",
			len(conns), total, first.Opened, first.Outbound, first.Duplicates)
	}
	var stored conntrack.Counters
	for _, c := range conns {
		stored.UplinkBytes += c.UplinkBytes
		stored.DownlinkBytes += c.DownlinkBytes
		if !labLAN[0].Contains(c.Key.Src) && !labLAN[1].Contains(c.Key.Src) {
			t.Errorf("stored a flow from outside the LAN: %v", c.Key)
		}
	}

	second, err := in.ReconcileSnapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if second.CycleResult != (store.CycleResult{Duplicates: first.Duplicates, RowsWritten: 1}) {
		t.Errorf("unchanged table: %+v; want only the bookkeeping row written", second.CycleResult)
	}
	if diff := cmp.Diff([]conntrack.Counters{stored, {}}, observed); diff != "" || stored.DownlinkBytes == 0 {
		t.Errorf("growth observed per cycle (-want +got):\n%s", diff)
	}
}
