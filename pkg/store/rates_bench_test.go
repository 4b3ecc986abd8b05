package store

import (
	"context"
	"iter"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/netmon-dev/netmon/pkg/conntrack"
	"github.com/netmon-dev/netmon/pkg/filter"
	"github.com/netmon-dev/netmon/pkg/rates"
	"github.com/netmon-dev/netmon/pkg/source"
)

// BenchmarkCycleRates is what the rates add to a steady cycle at 100,000
// active flows, measured in the same loop: each cycle is a Reconcile
// (timed as "cycle") and then the tracker's Add and WriteRates (timed as
// "rates"); rates-% is the second over the first. "capture" is
// BenchmarkCycle's steady cycle (pkg/ingest): the real big_100000 capture
// read and parsed again, nothing changed. The others hold 100,000
// synthetic flows of 50 LAN hosts in memory (no parse: the cycle's
// share is the larger for it) of which a share grows every cycle, by a
// different amount each time, so that every growing flow's rate changes
// and is written.
func BenchmarkCycleRates(b *testing.B) {
	ctx := context.Background()
	f, err := filter.New([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/24"), netip.MustParsePrefix("fd00::/64")})
	if err != nil {
		b.Fatal(err)
	}
	capture := &source.File{Path: filepath.Join("..", "..", "fixtures", "conntrack", "big_100000.txt.gz")}
	outbound := func(ctx context.Context, st *conntrack.Stats) iter.Seq2[*conntrack.Entry, error] {
		return func(yield func(*conntrack.Entry, error) bool) {
			for e, err := range capture.List(ctx, st) {
				if err == nil && !f.Outbound(e) {
					continue
				}
				if !yield(e, err) {
					return
				}
			}
		}
	}
	const n = 100_000
	synth := make([]conntrack.Entry, n)
	for i := range synth {
		src := netip.AddrFrom4([4]byte{10, 0, 0, byte(2 + i%50)})
		dst := netip.AddrFrom4([4]byte{198, 51, byte(i / 250 % 250), byte(1 + i%250)})
		synth[i] = conntrack.Entry{Proto: conntrack.ProtoTCP, State: "ESTABLISHED",
			Orig:  conntrack.Tuple{Src: src, Dst: dst, SrcPort: uint16(1024 + i%60000), DstPort: uint16(443 + i/60000), Packets: 1, Bytes: 1000},
			Reply: conntrack.Tuple{Src: dst, Dst: src, Packets: 1, Bytes: 1000}}
	}
	for _, sc := range []struct {
		name string
		grow int // percent of the synthetic flows; -1: the capture
	}{{"capture/steady", -1}, {"synthetic/growing=0%", 0}, {"synthetic/growing=1%", 1}, {"synthetic/growing=10%", 10}, {"synthetic/growing=100%", 100}} {
		b.Run(sc.name, func(b *testing.B) {
			db, err := OpenLive(ctx, filepath.Join(b.TempDir(), "live.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			tr := rates.New(0)
			now := time.Unix(1_800_000_000, 0)
			var cycleTime, rateTime time.Duration
			cycles := 0
			cycle := func() {
				cycles++
				if sc.grow > 0 {
					// Growth that varies from cycle to cycle, as traffic
					// does, so window means change and are written.
					for i := range n * sc.grow / 100 {
						j := uint64(i*7 + cycles*13)
						synth[i].Orig.Bytes += 1000 + j%997
						synth[i].Reply.Bytes += 10000 + j%9973
					}
				}
				read := outbound
				if sc.grow >= 0 {
					read = source.Slice(synth).List
				}
				now = now.Add(time.Second)
				start := time.Now()
				_, d, err := db.Reconcile(ctx, now, read(ctx, nil), time.Hour)
				if err != nil {
					b.Fatal(err)
				}
				mid := time.Now()
				tr.Add(now, d, nil)
				if err := db.WriteRates(ctx, tr.Changes()); err != nil {
					b.Fatal(err)
				}
				cycleTime += mid.Sub(start)
				rateTime += time.Since(mid)
			}
			for range 12 { // cold, then a window of steady cycles
				cycle()
			}
			cycleTime, rateTime = 0, 0
			for b.Loop() {
				cycle()
			}
			b.ReportMetric(float64(cycleTime.Microseconds())/1000/float64(b.N), "cycle-ms")
			b.ReportMetric(float64(rateTime.Microseconds())/1000/float64(b.N), "rates-ms")
			b.ReportMetric(100*rateTime.Seconds()/cycleTime.Seconds(), "rates-%")
		})
	}
}
