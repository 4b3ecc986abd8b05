package rates

import (
	"fmt"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/netmon-dev/netmon/pkg/conntrack"
	"github.com/netmon-dev/netmon/pkg/flows"
)

// BenchmarkAdd is the tracker's share of a cycle at 100,000 active flows
// of 50 LAN hosts, a given share of them growing every cycle (the table's
// own work is not timed). It reports the heap the tracker holds per flow
// it tracks, and per active flow: the heap in steady state with the
// tracker less that with the table alone.
func BenchmarkAdd(b *testing.B) {
	const n = 100_000
	for _, pct := range []int{0, 1, 10, 100} {
		b.Run(fmt.Sprintf("flows=%d/growing=%d%%", n, pct), func(b *testing.B) {
			es := make([]conntrack.Entry, n)
			for i := range es {
				src := netip.AddrFrom4([4]byte{10, 0, 0, byte(2 + i%50)})
				dst := netip.AddrFrom4([4]byte{198, 51, byte(i / 250 % 250), byte(1 + i%250)})
				es[i] = conntrack.Entry{Proto: conntrack.ProtoTCP, State: "ESTABLISHED",
					Orig:  conntrack.Tuple{Src: src, Dst: dst, SrcPort: uint16(1024 + i%60000), DstPort: uint16(443 + i/60000), Bytes: 1000},
					Reply: conntrack.Tuple{Src: dst, Dst: src, Bytes: 1000}}
			}
			grow := n * pct / 100
			tab := flows.New()
			now := time.Unix(1_800_000_000, 0)
			cycle := func(tr *Tracker) { // tr nil: the table only
				for i := range grow {
					es[i].Orig.Bytes += 1500
					es[i].Reply.Bytes += 15000
				}
				cyc := tab.Begin()
				for i := range es {
					if err := cyc.Add(&es[i]); err != nil {
						b.Fatal(err)
					}
				}
				d := cyc.Diff()
				now = now.Add(time.Second)
				if tr != nil {
					b.StartTimer()
					tr.Add(now, d, nil)
					b.StopTimer()
				}
				cyc.Commit()
			}
			b.StopTimer()
			// The heap with the table alone, then with the tracker too,
			// each after a window and more of cycles (steady state).
			heap := func() float64 {
				var m runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&m)
				return float64(m.HeapAlloc)
			}
			for range 12 {
				cycle(nil)
			}
			base := heap()
			tr := New(0)
			for range 12 {
				cycle(tr)
			}
			held := heap() - base
			b.ResetTimer()
			for range b.N {
				cycle(tr)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1e6, "ms/cycle")
			if tracked := len(tr.flowIndex); tracked > 0 {
				b.ReportMetric(held/float64(tracked), "B/tracked-flow")
			}
			b.ReportMetric(held/n, "B/active-flow")
			runtime.KeepAlive(tr)
		})
	}
}
