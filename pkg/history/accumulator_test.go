package history

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/netmon-dev/netmon/pkg/conntrack"
	"github.com/netmon-dev/netmon/pkg/flows"
)

var (
	lan1   = netip.MustParseAddr("10.0.0.5")
	lan2   = netip.MustParseAddr("fd00::6")
	remote = netip.MustParseAddr("203.0.113.80")
	t0     = time.Date(2026, 11, 25, 17, 2, 0, 0, time.UTC)
)

func entry(src netip.Addr, sport, dport uint16, up, down uint64) conntrack.Entry {
	return conntrack.Entry{Proto: conntrack.ProtoTCP, State: "ESTABLISHED",
		Orig:  conntrack.Tuple{Src: src, Dst: remote, SrcPort: sport, DstPort: dport, Packets: 1, Bytes: up},
		Reply: conntrack.Tuple{Src: remote, Dst: src, Packets: 2, Bytes: down}}
}

// feed runs one flows cycle of entries and adds its delta at now.
func feed(t *testing.T, a *Accumulator, tab *flows.Table, now time.Time, es ...conntrack.Entry) {
	t.Helper()
	c := tab.Begin()
	for i := range es {
		if err := c.Add(&es[i]); err != nil {
			t.Fatal(err)
		}
	}
	a.Add(now, c.Diff(), byAddr)
	c.Commit()
}

func byAddr(a netip.Addr) string { return "ip:" + a.String() }

func usage(up, down, upP, downP, conns uint64) Usage {
	return Usage{Counters: conntrack.Counters{UplinkBytes: up, DownlinkBytes: down, UplinkPackets: upP, DownlinkPackets: downP}, Connections: conns}
}

var cmpOpts = []cmp.Option{cmpopts.EquateComparable(netip.Addr{}), cmpopts.EquateEmpty()}

func TestAccumulate(t *testing.T) {
	a := &Accumulator{Services: true}
	tab := flows.New()
	feed(t, a, tab, t0, entry(lan1, 40000, 443, 1000, 2000), entry(lan2, 5353, 53, 60, 120))
	feed(t, a, tab, t0.Add(4*time.Minute), entry(lan1, 40000, 443, 1500, 3000), entry(lan2, 5353, 53, 60, 120)) // lan2's flow unchanged
	b := a.Take()
	if b == nil {
		t.Fatal("nothing pending")
	}
	d1, d2 := "ip:10.0.0.5", "ip:fd00::6"
	five, next5 := t0.Truncate(5*time.Minute).Unix(), t0.Truncate(5*time.Minute).Add(5*time.Minute).Unix()
	hour := t0.Truncate(time.Hour).Unix()
	day := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC).Unix()
	month := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC).Unix()
	wantDevices := map[DeviceKey]Usage{
		{d1, FiveMin, five}: usage(1000, 2000, 1, 2, 1), {d1, FiveMin, next5}: usage(500, 1000, 0, 0, 0),
		{d1, Hour, hour}: usage(1500, 3000, 1, 2, 1), {d1, Day, day}: usage(1500, 3000, 1, 2, 1), {d1, Month, month}: usage(1500, 3000, 1, 2, 1),
		{d2, FiveMin, five}: usage(60, 120, 1, 2, 1), {d2, Hour, hour}: usage(60, 120, 1, 2, 1),
		{d2, Day, day}: usage(60, 120, 1, 2, 1), {d2, Month, month}: usage(60, 120, 1, 2, 1),
	}
	if diff := cmp.Diff(wantDevices, b.Devices, cmpOpts...); diff != "" {
		t.Errorf("device buckets (-want +got):\n%s", diff)
	}
	wantPairs := map[PairKey]Usage{{d1, day, remote}: usage(1500, 3000, 1, 2, 1), {d2, day, remote}: usage(60, 120, 1, 2, 1)}
	if diff := cmp.Diff(wantPairs, b.Pairs, cmpOpts...); diff != "" {
		t.Errorf("device and remote days (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[RemoteKey]Usage{{remote, day}: usage(1560, 3120, 2, 4, 2)}, b.Remotes, cmpOpts...); diff != "" {
		t.Errorf("remote days (-want +got):\n%s", diff)
	}
	wantServices := map[ServiceKey]Usage{{d1, day, HTTPS}: usage(1500, 3000, 1, 2, 1), {d2, day, DNS}: usage(60, 120, 1, 2, 1)}
	if diff := cmp.Diff(wantServices, b.Services, cmpOpts...); diff != "" {
		t.Errorf("services (-want +got):\n%s", diff)
	}
	wantSeen := map[string]Seen{d1: {t0, t0.Add(4 * time.Minute)}, d2: {t0, t0}}
	if diff := cmp.Diff(wantSeen, b.Seen); diff != "" {
		t.Errorf("seen (-want +got):\n%s", diff)
	}
	if got := b.RemoteSeen[remote]; !got.Equal(t0) {
		t.Errorf("remote first seen %v, want %v", got, t0)
	}
	if a.Take() != nil {
		t.Error("Take twice: the second batch is not empty")
	}
}

// TestInsaneClock: a router that boots in 1970 holds the growth it sees
// until NTP makes the clock sane, then attributes it to the first sane
// bucket; nothing is lost or written to 1970.
func TestInsaneClock(t *testing.T) {
	floor := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a := &Accumulator{Floor: floor}
	tab := flows.New()
	feed(t, a, tab, time.Unix(60, 0), entry(lan1, 1, 443, 100, 200))
	if b := a.Take(); b != nil {
		t.Fatalf("a batch before the clock was sane: %+v", b.Devices)
	}
	feed(t, a, tab, t0, entry(lan1, 1, 443, 150, 300))
	b := a.Take()
	got := b.Devices[DeviceKey{"ip:10.0.0.5", FiveMin, t0.Truncate(5 * time.Minute).Unix()}]
	if diff := cmp.Diff(usage(150, 300, 1, 2, 1), got); diff != "" {
		t.Errorf("first sane bucket (-want +got):\n%s", diff)
	}
	for k := range b.Devices {
		if k.Start < floor.Unix() {
			t.Errorf("a bucket before the floor: %+v", k)
		}
	}
	if s := b.Seen["ip:10.0.0.5"]; !s.First.Equal(t0) {
		t.Errorf("first seen %v, want %v", s.First, t0)
	}
}

// TestClockSteps: a small step back keeps the latest bucket (a closed
// bucket is never written again); a step back of more than MaxBackStep
// means the clock was wrong, and the new time counts.
func TestClockSteps(t *testing.T) {
	tests := []struct {
		name string
		back time.Duration
		want time.Time // the 5-minute bucket of the second growth
	}{
		{"ten minutes back", 10 * time.Minute, t0.Truncate(5 * time.Minute)},
		{"two days back", 48 * time.Hour, t0.Add(-48 * time.Hour).Truncate(5 * time.Minute)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := &Accumulator{}
			tab := flows.New()
			feed(t, a, tab, t0, entry(lan1, 1, 443, 100, 100))
			a.Take()
			feed(t, a, tab, t0.Add(-tc.back), entry(lan1, 1, 443, 150, 100))
			b := a.Take()
			got := b.Devices[DeviceKey{"ip:10.0.0.5", FiveMin, tc.want.Unix()}]
			if got.UplinkBytes != 50 || len(b.Devices) != 4 {
				t.Errorf("buckets %+v; want the growth of 50 in the one starting %v", b.Devices, tc.want)
			}
		})
	}
}

// TestReturn: a batch whose commit failed goes back and is committed with
// the growth seen since, once.
func TestReturn(t *testing.T) {
	a := &Accumulator{}
	tab := flows.New()
	feed(t, a, tab, t0, entry(lan1, 1, 443, 100, 100))
	failed := a.Take()
	feed(t, a, tab, t0.Add(time.Second), entry(lan1, 1, 443, 130, 100))
	a.Return(failed)
	b := a.Take()
	if got := b.Totals["ip:10.0.0.5"]; got != usage(130, 100, 1, 2, 1) {
		t.Errorf("totals after a failed commit %+v, want 130/100 once", got)
	}
}

// TestAccumulateDestroys: with DESTROY events, a flow that came and went
// between two reads counts as a connection with all its bytes, and a
// flow's bytes after its last read count when it ends, without counting
// it a second time.
func TestAccumulateDestroys(t *testing.T) {
	a := &Accumulator{}
	tab := flows.New()
	destroyed := func(e conntrack.Entry, id uint32) conntrack.Entry {
		e.Event, e.ID, e.State = conntrack.EventDestroy, id, ""
		return e
	}
	long := entry(lan1, 40000, 443, 1000, 2000)
	long.ID = 7
	feed(t, a, tab, t0, long)
	// Next cycle: the long flow is gone, its DESTROY says 1500/3500; a
	// short flow (id 8) was never read.
	feed(t, a, tab, t0.Add(time.Second),
		destroyed(entry(lan1, 40000, 443, 1500, 3500), 7),
		destroyed(entry(lan1, 40001, 443, 100, 200), 8))
	b := a.Take()
	if b == nil {
		t.Fatal("nothing pending")
	}
	dev := "ip:10.0.0.5"
	day := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC).Unix()
	want := usage(1600, 3700, 2, 4, 2)
	if diff := cmp.Diff(want, b.Devices[DeviceKey{dev, Day, day}], cmpOpts...); diff != "" {
		t.Errorf("the day of %s (-want +got):\n%s", dev, diff)
	}
}
