package device

import (
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var (
	t0    = time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)
	macA  = MAC{0x00, 0x1b, 0x21, 0, 0, 0xa}
	macB  = MAC{0xda, 0xa1, 0x19, 0, 0, 0xb} // randomised
	macGW = MAC{0x00, 0x0c, 0x42, 0, 0, 0x1}
)

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

func lan(a netip.Addr) bool {
	return netip.MustParsePrefix("10.0.0.0/24").Contains(a) || netip.MustParsePrefix("fd00::/64").Contains(a)
}

// view is what the tests compare: a device without its times.
type view struct {
	ID     ID
	Addrs  string
	Name   string
	Source NameSource
	Random bool
}

func views(r *Registry) []view {
	var out []view
	for _, d := range r.Snapshot() {
		var as []string
		for _, a := range d.Addrs {
			as = append(as, a.String())
		}
		out = append(out, view{d.ID, strings.Join(as, " "), d.Name, d.NameSource, d.Randomized})
	}
	return out
}

func TestObserveResolve(t *testing.T) {
	r := NewRegistry(Options{Local: lan})
	merges := r.Observe([]Neighbour{
		{Addr: addr("fe80::21b:21ff:fe00:a"), MAC: macA}, // link-local before its LAN address: still joins
		{Addr: addr("10.0.0.5"), MAC: macA},
		{Addr: addr("fd00::5"), MAC: macA},
		{Addr: addr("fd00::1234:5678"), MAC: macA}, // privacy address
		{Addr: addr("10.0.0.6"), MAC: macB},
		{Addr: addr("203.0.113.1"), MAC: macGW}, // the WAN side: never a device
		{Addr: addr("fe80::1"), MAC: macGW},
		{Addr: addr("10.0.0.7"), MAC: MAC{}},                                   // zero MAC
		{Addr: addr("10.0.0.8"), MAC: MAC{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}, // broadcast
		{Addr: netip.Addr{}, MAC: macB},
	}, t0)
	if merges != nil {
		t.Errorf("merges = %v, want none", merges)
	}
	want := []view{
		{ID: "00:1b:21:00:00:0a", Addrs: "10.0.0.5 fd00::5 fd00::1234:5678 fe80::21b:21ff:fe00:a"},
		{ID: "da:a1:19:00:00:0b", Addrs: "10.0.0.6", Random: true},
	}
	got := views(r)
	// Same time for all: the order among them is the order of sight.
	if diff := cmp.Diff(want, got, cmp.Comparer(sameAddrs)); diff != "" {
		t.Errorf("devices (-want +got):\n%s", diff)
	}
	for _, tc := range []struct {
		a    string
		want ID
	}{
		{"10.0.0.5", "00:1b:21:00:00:0a"},
		{"fd00::1234:5678", "00:1b:21:00:00:0a"},
		{"::ffff:10.0.0.6", "da:a1:19:00:00:0b"},
		{"10.0.0.7", "ip:10.0.0.7"},
		{"10.0.0.9", "ip:10.0.0.9"},
	} {
		if got := r.Resolve(addr(tc.a), t0); got != tc.want {
			t.Errorf("Resolve(%s) = %q, want %q", tc.a, got, tc.want)
		}
	}
	if got := r.Resolve(netip.Addr{}, t0); got != "" {
		t.Errorf("Resolve(invalid) = %q", got)
	}
	if r.Len() != 4 {
		t.Errorf("Len = %d, want 4 (two MAC devices, two ip: devices)", r.Len())
	}
}

// sameAddrs compares address lists as sets: addresses seen at one time
// have no order among them.
func sameAddrs(x, y string) bool {
	xs, ys := strings.Fields(x), strings.Fields(y)
	if len(xs) != len(ys) {
		return false
	}
	seen := map[string]int{}
	for _, s := range xs {
		seen[s]++
	}
	for _, s := range ys {
		seen[s]--
	}
	for _, n := range seen {
		if n != 0 {
			return false
		}
	}
	return true
}

func TestMergeIPDevice(t *testing.T) {
	r := NewRegistry(Options{Local: lan})
	if id := r.Resolve(addr("10.0.0.9"), t0); id != "ip:10.0.0.9" {
		t.Fatalf("Resolve = %q", id)
	}
	r.SetNames(SourcePTR, []Name{{Addr: addr("10.0.0.9"), Name: "nine.lan"}})
	merges := r.Observe([]Neighbour{{Addr: addr("10.0.0.9"), MAC: macA}}, t0.Add(time.Minute))
	if diff := cmp.Diff([]Merge{{From: "ip:10.0.0.9", To: "00:1b:21:00:00:0a"}}, merges); diff != "" {
		t.Errorf("merges (-want +got):\n%s", diff)
	}
	if got := r.Resolve(addr("10.0.0.9"), t0.Add(time.Minute)); got != "00:1b:21:00:00:0a" {
		t.Errorf("after merge Resolve = %q", got)
	}
	d, ok := r.Device("00:1b:21:00:00:0a")
	if !ok {
		t.Fatal("merged device missing")
	}
	if !d.FirstSeen.Equal(t0) || d.Name != "nine.lan" || d.NameSource != SourcePTR {
		t.Errorf("merged device = %+v, want first seen %v (the ip: device's), name nine.lan from ptr", d, t0)
	}
	if _, ok := r.Device("ip:10.0.0.9"); ok {
		t.Error("ip: device still there after the merge")
	}
	// Seen again: no second merge.
	if m := r.Observe([]Neighbour{{Addr: addr("10.0.0.9"), MAC: macA}}, t0.Add(2*time.Minute)); m != nil {
		t.Errorf("second reading merges %v", m)
	}
}

func TestAddressMovesBetweenMACs(t *testing.T) {
	r := NewRegistry(Options{})
	r.Observe([]Neighbour{{Addr: addr("10.0.0.23"), MAC: macA}}, t0)
	// The lease went to another machine.
	if m := r.Observe([]Neighbour{{Addr: addr("10.0.0.23"), MAC: macB}}, t0.Add(time.Hour)); m != nil {
		t.Errorf("a moved address is no merge: %v", m)
	}
	want := []view{
		{ID: "00:1b:21:00:00:0a"},
		{ID: "da:a1:19:00:00:0b", Addrs: "10.0.0.23", Random: true},
	}
	if diff := cmp.Diff(want, views(r)); diff != "" {
		t.Errorf("devices (-want +got):\n%s", diff)
	}
}

func TestAddressBounds(t *testing.T) {
	r := NewRegistry(Options{MaxAddrs: 3, AddrTTL: time.Hour})
	for i := range 5 {
		r.Observe([]Neighbour{{Addr: addr(fmt.Sprintf("fd00::%d", i+1)), MAC: macA}}, t0.Add(time.Duration(i)*time.Minute))
	}
	want := []view{{ID: "00:1b:21:00:00:0a", Addrs: "fd00::5 fd00::4 fd00::3"}}
	if diff := cmp.Diff(want, views(r)); diff != "" {
		t.Errorf("capped addresses (-want +got):\n%s", diff)
	}
	if got := r.Resolve(addr("fd00::1"), t0); got != "ip:fd00::1" {
		t.Errorf("a dropped address resolves to %q, want its own ip: device", got)
	}
	// An hour later only what is seen again stays; the ip: device keeps its address.
	r.Observe([]Neighbour{{Addr: addr("fd00::5"), MAC: macA}}, t0.Add(4*time.Minute+time.Hour))
	want = []view{
		{ID: "00:1b:21:00:00:0a", Addrs: "fd00::5"},
		{ID: "ip:fd00::1", Addrs: "fd00::1"},
	}
	if diff := cmp.Diff(want, views(r)); diff != "" {
		t.Errorf("expired addresses (-want +got):\n%s", diff)
	}
}

func TestDeviceBound(t *testing.T) {
	r := NewRegistry(Options{MaxDevices: 16})
	for i := range 100 {
		r.Resolve(addr(fmt.Sprintf("10.0.1.%d", i)), t0.Add(time.Duration(i)*time.Second))
	}
	if n := r.Len(); n > 16 || n < 14 {
		t.Errorf("Len = %d, want at most 16 (evicted an eighth at a time)", n)
	}
	// The most recent are kept.
	if _, ok := r.Device("ip:10.0.1.99"); !ok {
		t.Error("the newest device was evicted")
	}
	if _, ok := r.Device("ip:10.0.1.0"); ok {
		t.Error("the oldest device was kept")
	}
}

func TestNamePriority(t *testing.T) {
	vendor := func(m MAC) string {
		if m == macA {
			return "Intel"
		}
		return ""
	}
	a, a6 := addr("10.0.0.5"), addr("fd00::5")
	steps := []struct {
		name   string
		src    NameSource
		names  []Name
		want   string
		wantSr NameSource
	}{
		{"vendor only", SourceNone, nil, "Intel", SourceVendor},
		{"ptr by address", SourcePTR, []Name{{Addr: a6, Name: "host5.lan"}}, "host5.lan", SourcePTR},
		{"ethers", SourceEthers, []Name{{MAC: macA, Name: "ethers-name"}}, "ethers-name", SourceEthers},
		{"lease by MAC", SourceLease, []Name{{MAC: macA, Addr: a, Name: "laptop"}}, "laptop", SourceLease},
		{"static host by address", SourceStatic, []Name{{Addr: a, Name: "static-laptop"}}, "static-laptop", SourceStatic},
		{"config by MAC", SourceConfig, []Name{{MAC: macA, Name: "Anna's laptop"}}, "Anna's laptop", SourceConfig},
		{"config gone: the static host", SourceConfig, nil, "static-laptop", SourceStatic},
		{"empty names ignored", SourceStatic, []Name{{Addr: a, Name: ""}}, "laptop", SourceLease},
		{"lease gone: ethers", SourceLease, nil, "ethers-name", SourceEthers},
		{"ethers and ptr gone: the name stays", SourceEthers, nil, "host5.lan", SourcePTR},
		{"all gone, still named", SourcePTR, nil, "host5.lan", SourcePTR},
		{"vendor slot is not settable", SourceVendor, []Name{{MAC: macA, Name: "x"}}, "host5.lan", SourcePTR},
	}
	r := NewRegistry(Options{Vendor: vendor})
	r.Observe([]Neighbour{{Addr: a, MAC: macA}, {Addr: a6, MAC: macA}}, t0)
	for _, s := range steps {
		if s.src != SourceNone {
			r.SetNames(s.src, s.names)
		}
		name, src := r.Name(MACID(macA))
		if name != s.want || src != s.wantSr {
			t.Errorf("%s: name = %q from %v, want %q from %v", s.name, name, src, s.want, s.wantSr)
		}
	}
	if d, _ := r.Device(MACID(macA)); d.Vendor != "Intel" {
		t.Errorf("Vendor = %q", d.Vendor)
	}
	if name, src := r.Name("ip:10.9.9.9"); name != "" || src != SourceNone {
		t.Errorf("unknown device named %q from %v", name, src)
	}
}

func TestNameByAddressForIPDevice(t *testing.T) {
	r := NewRegistry(Options{})
	id := r.Resolve(addr("10.0.0.9"), t0)
	r.SetNames(SourceConfig, []Name{{Addr: addr("::ffff:10.0.0.9"), Name: "vpn-peer"}})
	if name, src := r.Name(id); name != "vpn-peer" || src != SourceConfig {
		t.Errorf("name = %q from %v", name, src)
	}
	hostile := strings.Repeat("<x>\x00\xff", 2048)
	r.SetNames(SourceConfig, []Name{{Addr: addr("10.0.0.9"), Name: hostile}})
	if name, _ := r.Name(id); name != hostile {
		t.Errorf("a hostile name is not stored as given (len %d, want %d)", len(name), len(hostile))
	}
}

func TestSnapshotRestore(t *testing.T) {
	r := NewRegistry(Options{Local: lan})
	r.Observe([]Neighbour{{Addr: addr("10.0.0.5"), MAC: macA}, {Addr: addr("fd00::5"), MAC: macA}}, t0)
	r.SetNames(SourceLease, []Name{{MAC: macA, Name: "laptop"}})
	r.Resolve(addr("10.0.0.9"), t0.Add(time.Minute))
	snap := r.Snapshot()

	// A new process: the lease is gone (the laptop is offline) but the
	// name survives.
	r2 := NewRegistry(Options{Local: lan})
	if m := r2.Restore(snap); m != nil {
		t.Errorf("Restore merges %v", m)
	}
	if diff := cmp.Diff(snap, r2.Snapshot(), cmpAddr); diff != "" {
		t.Errorf("restored snapshot (-want +got):\n%s", diff)
	}
	if got := r2.Resolve(addr("fd00::5"), t0); got != MACID(macA) {
		t.Errorf("restored address resolves to %q", got)
	}

	// A stored ip: device whose address a stored MAC device holds is merged.
	r3 := NewRegistry(Options{})
	m := r3.Restore([]Device{
		{ID: "ip:10.0.0.5", FirstSeen: t0.Add(-time.Hour), LastSeen: t0},
		{ID: MACID(macA), MAC: macA, Addrs: []netip.Addr{addr("10.0.0.5")}, FirstSeen: t0, LastSeen: t0},
		{ID: "bogus"},
	})
	if diff := cmp.Diff([]Merge{{From: "ip:10.0.0.5", To: MACID(macA)}}, m); diff != "" {
		t.Errorf("restore merges (-want +got):\n%s", diff)
	}
	d, _ := r3.Device(MACID(macA))
	if r3.Len() != 1 || !d.FirstSeen.Equal(t0.Add(-time.Hour)) {
		t.Errorf("after restore: %d devices, first seen %v", r3.Len(), d.FirstSeen)
	}
}

func TestResolveTouches(t *testing.T) {
	r := NewRegistry(Options{})
	r.Observe([]Neighbour{{Addr: addr("10.0.0.5"), MAC: macA}}, t0)
	r.Resolve(addr("10.0.0.5"), t0.Add(time.Hour))
	r.Resolve(addr("10.0.0.5"), t0.Add(time.Minute)) // never goes back
	if d, _ := r.Device(MACID(macA)); !d.LastSeen.Equal(t0.Add(time.Hour)) {
		t.Errorf("LastSeen = %v, want %v", d.LastSeen, t0.Add(time.Hour))
	}
}

func TestConcurrent(t *testing.T) {
	r := NewRegistry(Options{MaxDevices: 64})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range 200 {
			r.Observe([]Neighbour{{Addr: addr(fmt.Sprintf("10.0.0.%d", i%50)), MAC: MAC{0, 1, 2, 3, 4, byte(i % 7)}}}, t0.Add(time.Duration(i)*time.Second))
			r.SetNames(SourceLease, []Name{{MAC: MAC{0, 1, 2, 3, 4, byte(i % 7)}, Name: "x"}})
		}
	})
	for range 2 {
		wg.Go(func() {
			for i := range 2000 {
				id := r.Resolve(addr(fmt.Sprintf("10.0.0.%d", i%80)), t0)
				r.Name(id)
			}
		})
	}
	wg.Go(func() {
		for range 50 {
			r.Snapshot()
		}
	})
	wg.Wait()
}

func TestResolveNoAlloc(t *testing.T) {
	r, addrs := benchRegistry(500)
	if n := testing.AllocsPerRun(1000, func() { r.Resolve(addrs[7], t0) }); n != 0 {
		t.Errorf("Resolve allocates %v times", n)
	}
	if n := testing.AllocsPerRun(1000, func() { r.Name("ip:10.1.0.7") }); n != 0 {
		t.Errorf("Name allocates %v times", n)
	}
}

// benchRegistry holds n MAC devices with an IPv4 and two IPv6 addresses
// each, named by lease.
func benchRegistry(n int) (*Registry, []netip.Addr) {
	r := NewRegistry(Options{})
	var ns []Neighbour
	var names []Name
	var addrs []netip.Addr
	for i := range n {
		m := MAC{0x02, 0, 0, 0, byte(i >> 8), byte(i)}
		a4 := netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)})
		a6 := netip.AddrFrom16([16]byte{0xfd, 0, 15: byte(i), 14: byte(i >> 8)})
		p6 := netip.AddrFrom16([16]byte{0xfd, 0, 8: 0xab, 15: byte(i), 14: byte(i >> 8)})
		ns = append(ns, Neighbour{Addr: a4, MAC: m}, Neighbour{Addr: a6, MAC: m}, Neighbour{Addr: p6, MAC: m})
		names = append(names, Name{MAC: m, Name: fmt.Sprintf("host-%d", i)})
		addrs = append(addrs, a4, a6, p6)
	}
	r.Observe(ns, t0)
	r.SetNames(SourceLease, names)
	return r, addrs
}

// BenchmarkResolve is the per-flow cost the ingest cycle pays: one lookup
// per changed flow at 500 devices.
func BenchmarkResolve(b *testing.B) {
	r, addrs := benchRegistry(500)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		r.Resolve(addrs[i%len(addrs)], t0)
		i++
	}
}

// BenchmarkObserve is one neighbour refresh at 500 devices (off the
// ingest path, on the refresher's ticker).
func BenchmarkObserve(b *testing.B) {
	r, _ := benchRegistry(500)
	var ns []Neighbour
	for _, d := range r.Snapshot() {
		for _, a := range d.Addrs {
			ns = append(ns, Neighbour{Addr: a, MAC: d.MAC})
		}
	}
	b.ReportAllocs()
	now := t0
	for b.Loop() {
		now = now.Add(time.Second)
		r.Observe(ns, now)
	}
}

// BenchmarkRegistryMemory reports the heap a registry of 500 devices
// holds, per device.
func BenchmarkRegistryMemory(b *testing.B) {
	for b.Loop() {
		before := heapInUse()
		r, _ := benchRegistry(500)
		after := heapInUse()
		b.ReportMetric(float64(after-before)/500, "B/device")
		_ = r.Len()
	}
}

// BenchmarkResolveDuringObserve is Resolve while a refresher folds the
// 500-device table in back to back (far more often than its 30 s
// ticker): the worst the read lock can wait.
func BenchmarkResolveDuringObserve(b *testing.B) {
	r, addrs := benchRegistry(500)
	var ns []Neighbour
	for _, d := range r.Snapshot() {
		for _, a := range d.Addrs {
			ns = append(ns, Neighbour{Addr: a, MAC: d.MAC})
		}
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		now := t0
		for {
			select {
			case <-stop:
				return
			default:
			}
			now = now.Add(time.Second)
			r.Observe(ns, now)
		}
	})
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		r.Resolve(addrs[i%len(addrs)], t0)
		i++
	}
	close(stop)
	wg.Wait()
}
