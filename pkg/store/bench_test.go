package store

import (
	"github.com/netmon-dev/netmon/pkg/conntrack"

	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// synthFlows makes n distinct outbound flows deterministically, shaped like
// the lab captures (fixtures/conntrack/big_*): 50 LAN hosts, 20 IPv4 and 10
// IPv6 remote hosts, mostly UDP with some TCP and ICMP, log-spread sizes.
// gen shifts the source ports so that gen g and g+1 share no tuple.
func synthFlows(n, gen int) []conntrack.Entry {
	flows := make([]conntrack.Entry, n)
	for i := range flows {
		h := uint64(i+1) * 2654435761 % 1000003
		src := netip.AddrFrom4([4]byte{10, 0, 0, byte(5 + i%50)})
		dst := netip.AddrFrom4([4]byte{203, 0, 113, byte(80 + i%20)})
		proto, state, status := conntrack.ProtoUDP, "", conntrack.StatusUnreplied
		dport := uint16(10000 + h%10000)
		switch {
		case i%20 == 0:
			proto, state, status, dport = conntrack.ProtoTCP, "TIME_WAIT", conntrack.StatusAssured, 443
		case i%20 == 1:
			src = netip.MustParseAddr("fd00::" + strconv.FormatInt(int64(5+i%10), 16))
			dst = netip.MustParseAddr("2001:db8::" + strconv.FormatInt(int64(0x80+i%10), 16))
		case i%200 == 2:
			proto, status = conntrack.ProtoICMP, 0
		}
		f := conntrack.Entry{Proto: proto, State: state, Status: status,
			Orig: conntrack.Tuple{Src: src, Dst: dst, SrcPort: uint16(1024 + (i/50+gen*2003)%64000), DstPort: dport,
				Packets: 1 + h%10, Bytes: 60 + h%1400},
			Reply: conntrack.Tuple{Src: dst, Dst: src},
		}
		if proto == conntrack.ProtoICMP {
			f.Orig.ICMPID, f.Orig.ICMPType = f.Orig.SrcPort, 8
		}
		if status != conntrack.StatusUnreplied {
			f.Reply.Packets, f.Reply.Bytes = 1+h%40, 200+h*h%60000
		}
		flows[i] = f
	}
	return flows
}

// writtenBytes reads wchar from /proc/self/io: bytes this process handed to
// write(2), i.e. what SQLite wrote to the database and its WAL (the
// benchmark writes nothing else). -1 where /proc is not available.
func writtenBytes() int64 {
	f, err := os.Open("/proc/self/io")
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := bytes.CutPrefix(sc.Bytes(), []byte("wchar: ")); ok {
			n, err := strconv.ParseInt(string(v), 10, 64)
			if err != nil {
				return -1
			}
			return n
		}
	}
	return -1
}

// cpuTime is the CPU time (user + system) this process has used so far.
// On these shared machines wall time swings with other people's load; CPU
// time per cycle swings much less.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkReconcile measures one cycle for 10k and 100k flows: cold (into
// an empty database), steady (the same snapshot again) and churn (10% of
// the flows replaced by new tuples). Besides ns/op it reports flows/s,
// rows written, bytes written (database + WAL) and CPU time per cycle.
func BenchmarkReconcile(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		base := synthFlows(n, 0)
		b.Run(fmt.Sprintf("cold/%d", n), func(b *testing.B) {
			benchCycles(b, n, func(b *testing.B, db *Live) {}, func(int) []conntrack.Entry { return base }, true)
		})
		b.Run(fmt.Sprintf("steady/%d", n), func(b *testing.B) {
			prime := func(b *testing.B, db *Live) { reconcileOrFail(b, db, time.Unix(0, 0), base) }
			benchCycles(b, n, prime, func(int) []conntrack.Entry { return base }, false)
		})
		b.Run(fmt.Sprintf("churn10/%d", n), func(b *testing.B) {
			prime := func(b *testing.B, db *Live) { reconcileOrFail(b, db, time.Unix(0, 0), base) }
			tenth := n / 10
			// Iteration i replaces a different tenth with new tuples: a
			// tenth of the flows closes and a tenth opens every cycle.
			flows := append([]conntrack.Entry(nil), base...)
			next := func(i int) []conntrack.Entry {
				lo := (i % 10) * tenth
				fresh := synthFlows(n, i+1)
				copy(flows[lo:lo+tenth], fresh[lo:lo+tenth])
				return flows
			}
			benchCycles(b, n, prime, next, false)
		})
	}
}

func reconcileOrFail(b *testing.B, db *Live, now time.Time, flows []conntrack.Entry) CycleResult {
	res, err := reconcile(db, context.Background(), now, flows, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	return res
}

// benchCycles times one Reconcile per iteration. fresh opens a new
// database for every iteration (cold inserts); otherwise one database,
// primed once, serves all iterations.
func benchCycles(b *testing.B, n int, prime func(*testing.B, *Live), flowsFor func(i int) []conntrack.Entry, fresh bool) {
	var (
		db      *Live
		rows    int
		written int64
		cpu     time.Duration
	)
	open := func() {
		var err error
		db, err = OpenLive(context.Background(), b.TempDir()+"/bench.db")
		if err != nil {
			b.Fatal(err)
		}
		prime(b, db)
	}
	open()
	i := 0
	for b.Loop() {
		b.StopTimer()
		if fresh && i > 0 {
			db.Close()
			open()
		}
		flows := flowsFor(i)
		now := time.Unix(int64(i+1)*10, 0)
		w0, c0 := writtenBytes(), cpuTime()
		b.StartTimer()
		res := reconcileOrFail(b, db, now, flows)
		b.StopTimer()
		written += writtenBytes() - w0
		cpu += cpuTime() - c0
		rows += res.RowsWritten
		i++
		b.StartTimer()
	}
	db.Close()
	b.ReportMetric(float64(n)*float64(i)/b.Elapsed().Seconds(), "flows/s")
	b.ReportMetric(float64(rows)/float64(i), "rows/cycle")
	b.ReportMetric(float64(cpu.Milliseconds())/float64(i), "cpu-ms/cycle")
	if written >= 0 {
		b.ReportMetric(float64(written)/float64(i), "B-written/cycle")
	}
}

// BenchmarkActiveConnections reads the top 200 of 100,000 active
// connections, as the dashboard does on every refresh.
func BenchmarkActiveConnections(b *testing.B) {
	ctx := context.Background()
	db, err := OpenLive(ctx, b.TempDir()+"/bench.db")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	reconcileOrFail(b, db, time.Unix(0, 0), synthFlows(100_000, 0))
	b.Run("top200", func(b *testing.B) {
		for b.Loop() {
			conns, total, err := db.ActiveConnections(ctx, 200)
			if err != nil || len(conns) != 200 || total != 100_000 {
				b.Fatalf("%d rows, total %d, err %v", len(conns), total, err)
			}
		}
	})
	b.Run("by-proto", func(b *testing.B) {
		for b.Loop() {
			if _, err := db.ActiveByProto(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("remote-host-count", func(b *testing.B) {
		for b.Loop() {
			if _, err := db.RemoteHostCount(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestSynthFlowsDistinct guards the benchmark input: every tuple distinct,
// and consecutive generations disjoint (so churn really churns).
func TestSynthFlowsDistinct(t *testing.T) {
	seen := map[conntrack.FlowKey]bool{}
	for gen := range 2 {
		for _, f := range synthFlows(100_000, gen) {
			k := conntrack.KeyOf(&f)
			if seen[k] {
				t.Fatalf("gen %d: tuple %+v repeats", gen, k)
			}
			seen[k] = true
		}
	}
}
