package main

import (
	"bufio"
	"context"
	"fmt"
	"iter"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/netmon-dev/netmon/pkg/config"
	"github.com/netmon-dev/netmon/pkg/conntrack"
	"github.com/netmon-dev/netmon/pkg/ingest"
	"github.com/netmon-dev/netmon/pkg/source"
	"github.com/netmon-dev/netmon/pkg/store"
)

// namesBench sizes: issue 13's 500 devices and 10,000 remote names,
// over a table of 10,000 connections.
const (
	benchDevices = 500
	benchRemotes = 10_000
	benchConns   = 10_000
)

// benchLAN is device i's IPv4 address in 10.0.0.0/16.
func benchLAN(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{10, 0, byte(1 + i/250), byte(1 + i%250)})
}

// benchRemote is remote host i's address in 198.18.0.0/15 (RFC 2544).
func benchRemote(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{198, 18 + byte(i>>16), byte(i >> 8), byte(i)})
}

// writeBenchTable writes a conntrack -L table of benchConns connections
// from the devices to the remotes; gen shifts the source ports, so two
// generations share no connection.
func writeBenchTable(t testing.TB, path string, gen int) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	for i := range benchConns {
		src, dst := benchLAN(i%benchDevices), benchRemote(i%benchRemotes)
		sport := 20000 + gen*benchConns/benchDevices + i/benchDevices
		fmt.Fprintf(w, "ipv4     2 tcp      6 431999 ESTABLISHED src=%s dst=%s sport=%d dport=443 packets=%d bytes=%d src=%s dst=192.0.2.1 sport=443 dport=%d packets=%d bytes=%d [ASSURED] mark=0 use=1\n",
			src, dst, sport, 10+i%7, 1000+i, dst, sport, 12+i%5, 9000+3*i)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// writeBenchNames writes a neighbour table naming every device by a MAC
// and a dnsmasq query log in which each device looked up 20 of the
// remotes (10,000 names in all).
func writeBenchNames(t testing.TB, dir string) (neighbours, leases, dnsLog string) {
	t.Helper()
	neighbours, leases, dnsLog = filepath.Join(dir, "neigh.txt"), filepath.Join(dir, "dhcp.leases"), filepath.Join(dir, "dnsmasq.log")
	var nb, ls, dl []byte
	for i := range benchDevices {
		mac := fmt.Sprintf("02:00:00:00:%02x:%02x", i>>8, i&0xff)
		nb = fmt.Appendf(nb, "%s dev br-lan lladdr %s REACHABLE\n", benchLAN(i), mac)
		ls = fmt.Appendf(ls, "1900000000 %s %s device-%d *\n", mac, benchLAN(i), i)
	}
	for i := range benchRemotes {
		c := benchLAN(i % benchDevices)
		dl = fmt.Appendf(dl, "Dec  1 09:00:01 dnsmasq[812]: query[A] host-%d.example from %s\n", i, c)
		dl = fmt.Appendf(dl, "Dec  1 09:00:01 dnsmasq[812]: reply host-%d.example is %s\n", i, benchRemote(i))
	}
	for p, b := range map[string][]byte{neighbours: nb, leases: ls, dnsLog: dl} {
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return neighbours, leases, dnsLog
}

// switchable replays the file *path names at each List.
type switchable struct{ path *string }

func (s switchable) List(ctx context.Context, st *conntrack.Stats) iter.Seq2[*conntrack.Entry, error] {
	return (&source.File{Path: *s.path}).List(ctx, st)
}

// BenchmarkCycleNames measures what naming adds to an ingest cycle: the
// production ingester of openIngester without name sources ("plain"),
// and with 500 devices from a neighbour table and leases and 10,000
// remote names from a query log ("named"), cycles interleaved in the
// same run so the ratio holds on a noisy machine, after two cycles that
// wrote the labels once. steady re-reads the
// same table; churn alternates two tables that share no connection, so
// every cycle opens 10,000 connections whose remotes are named. It
// reports ns per cycle of each, named/plain, the heap the named
// ingester's caches hold beyond the plain one's, and the time of one
// prune of the live state's remote names (every 5 minutes).
func BenchmarkCycleNames(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	tables := [2]string{filepath.Join(dir, "a.txt"), filepath.Join(dir, "b.txt")}
	for g, p := range tables {
		writeBenchTable(b, p, g)
	}
	nbFile, leaseFile, logFile := writeBenchNames(b, dir)
	open := func(name string, named bool, table *string) (*ingest.Ingester, *stores) {
		cfg := config.Default()
		cfg.LocalSubnets = []string{"10.0.0.0/16"}
		cfg.DBPath = filepath.Join(dir, name, "netmon.db")
		cfg.StateDir = filepath.Join(dir, name, "state")
		cfg.ResolveRemoteNames = false // no resolver here: the query log names them
		cfg.NeighboursFile = filepath.Join(dir, "none.txt")
		if err := os.WriteFile(cfg.NeighboursFile, nil, 0o644); err != nil {
			b.Fatal(err)
		}
		cfg.Leases = []string{filepath.Join(dir, "none.leases")}
		if named {
			cfg.NeighboursFile, cfg.Leases, cfg.DNSLog = nbFile, []string{leaseFile}, logFile
		}
		if err := os.MkdirAll(filepath.Dir(cfg.DBPath), 0o755); err != nil {
			b.Fatal(err)
		}
		st, in, err := openIngester(ctx, cfg, switchable{table}, discardLogger())
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { st.Close() })
		return in, st
	}
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	for _, mode := range []string{"steady", "churn"} {
		b.Run(mode, func(b *testing.B) {
			table := tables[0]
			h0 := heap()
			plain, _ := open(mode+"-plain", false, &table)
			h1 := heap()
			named, st := open(mode+"-named", true, &table)
			h2 := heap()
			var took [2]time.Duration
			cycles := 0
			cycle := func() {
				if mode == "churn" {
					table = tables[cycles%2]
				}
				for i, in := range []*ingest.Ingester{plain, named} {
					t0 := time.Now()
					sum, err := in.ReconcileSnapshot(ctx)
					took[i] += time.Since(t0)
					if err != nil {
						b.Fatal(err)
					}
					if sum.Outbound != benchConns {
						b.Fatalf("cycle kept %d connections, want %d", sum.Outbound, benchConns)
					}
				}
				cycles++
			}
			// The first cycles write every label once; what is measured
			// is the cycle after, of a router that has been up a while.
			for range 2 {
				cycle()
			}
			took, cycles = [2]time.Duration{}, 0
			b.ResetTimer()
			for b.Loop() {
				cycle()
			}
			b.ReportMetric(float64(took[0].Nanoseconds())/float64(cycles), "plain-ns/cycle")
			b.ReportMetric(float64(took[1].Nanoseconds())/float64(cycles), "named-ns/cycle")
			b.ReportMetric(float64(took[1])/float64(took[0]), "named/plain")
			b.ReportMetric(float64(int64(h2-h1)-int64(h1-h0))/(1<<20), "names-MiB")
			// The prune of the remote names, every 5 minutes, over the
			// 10,000 labels and connections.
			b.StopTimer()
			t0 := time.Now()
			if err := st.live.WriteLabels(ctx, store.Labels{PruneDsts: true}); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(time.Since(t0).Microseconds())/1000, "prune-ms")
		})
	}
}
