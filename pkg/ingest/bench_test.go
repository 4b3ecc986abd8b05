package ingest

import (
	"context"
	"fmt"
	"github.com/netmon-dev/netmon/pkg/source"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/netmon-dev/netmon/pkg/filter"
	"github.com/netmon-dev/netmon/pkg/store"
)

// BenchmarkCycle runs whole cycles (read the gzipped real capture, parse,
// filter, reconcile into a real database) over big_10000 and big_100000:
// cold into an empty database, and steady (the same table again). It
// reports entries/s and rows written per cycle.
func BenchmarkCycle(b *testing.B) {
	ctx := context.Background()
	f, err := filter.New([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/24"), netip.MustParsePrefix("fd00::/64")})
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{10_000, 100_000} {
		path := filepath.Join("..", "..", "fixtures", "conntrack", fmt.Sprintf("big_%d.txt.gz", n))
		for _, mode := range []string{"cold", "steady"} {
			b.Run(fmt.Sprintf("%s/%d", mode, n), func(b *testing.B) {
				newIngester := func() (*Ingester, *store.Live) {
					db, err := store.OpenLive(ctx, filepath.Join(b.TempDir(), "bench.db"))
					if err != nil {
						b.Fatal(err)
					}
					return &Ingester{Source: &source.File{Path: path}, Filter: f, Store: db, Retention: time.Hour}, db
				}
				in, db := newIngester()
				if mode == "steady" {
					if _, err := in.ReconcileSnapshot(ctx); err != nil {
						b.Fatal(err)
					}
				}
				var entries, rows, cycles int
				for b.Loop() {
					if mode == "cold" && cycles > 0 {
						b.StopTimer()
						db.Close()
						in, db = newIngester()
						b.StartTimer()
					}
					sum, err := in.ReconcileSnapshot(ctx)
					if err != nil {
						b.Fatal(err)
					}
					if sum.Entries != n {
						b.Fatalf("read %d entries, want %d", sum.Entries, n)
					}
					entries += sum.Entries
					rows += sum.RowsWritten
					cycles++
				}
				db.Close()
				b.ReportMetric(float64(entries)/b.Elapsed().Seconds(), "entries/s")
				b.ReportMetric(float64(rows)/float64(cycles), "rows/cycle")
			})
		}
	}
}
