package rates

import (
	"net/netip"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/netmon-dev/netmon/pkg/conntrack"
	"github.com/netmon-dev/netmon/pkg/flows"
)

var (
	addr = netip.MustParseAddr
	t0   = time.Date(2026, 12, 1, 20, 0, 0, 0, time.UTC)
	// cmpOpts compares readings to a thousandth of a byte per second.
	cmpOpts = cmp.Options{
		cmpopts.EquateComparable(netip.Addr{}),
		cmpopts.EquateApprox(0, 0.001),
	}
)

// flow is one entry of a read: a TCP flow from src:sport to dst:443 with
// its counters so far.
type flowAt struct {
	src      string
	sport    uint16
	dst      string
	up, down uint64
}

func (f flowAt) entry() conntrack.Entry {
	return conntrack.Entry{
		Proto: conntrack.ProtoTCP, State: "ESTABLISHED",
		Orig:  conntrack.Tuple{Src: addr(f.src), Dst: addr(f.dst), SrcPort: f.sport, DstPort: 443, Packets: 1, Bytes: f.up},
		Reply: conntrack.Tuple{Src: addr(f.dst), Dst: addr("203.0.113.1"), SrcPort: 443, DstPort: f.sport, Packets: 1, Bytes: f.down},
	}
}

func (f flowAt) key() conntrack.FlowKey {
	e := f.entry()
	return conntrack.KeyOf(&e)
}

// read is one cycle: the time since the previous one and the flows the
// table lists.
type read struct {
	after time.Duration
	flows []flowAt
}

// feeder runs reads through a real flows.Table into a tracker.
type feeder struct {
	tab *flows.Table
	tr  *Tracker
	now time.Time
	dev func(netip.Addr) string
}

func newFeeder(window time.Duration) *feeder {
	return &feeder{tab: flows.New(), tr: New(window), now: t0}
}

func (f *feeder) read(t *testing.T, r read) {
	t.Helper()
	f.now = f.now.Add(r.after)
	cyc := f.tab.Begin()
	for _, fl := range r.flows {
		e := fl.entry()
		if err := cyc.Add(&e); err != nil {
			t.Fatal(err)
		}
	}
	d := cyc.Diff()
	f.tr.Add(f.now, d, f.dev)
	cyc.Commit()
}

func (f *feeder) reads(t *testing.T, rs ...read) {
	t.Helper()
	for _, r := range rs {
		f.read(t, r)
	}
}

func known(wu, wd, lu, ld float64) Reading {
	return Reading{Known: true, Window: Rate{Up: wu, Down: wd}, Last: Rate{Up: lu, Down: ld}}
}

// steady returns n reads one second apart in which flow a grows by up and
// down bytes each time, starting from its counters in a.
func steady(n int, a flowAt, up, down uint64, after time.Duration) []read {
	var out []read
	for range n {
		a.up += up
		a.down += down
		out = append(out, read{after: after, flows: []flowAt{a}})
	}
	return out
}

var dl = flowAt{src: "10.0.0.5", sport: 40000, dst: "198.51.100.7"}

// TestConnectionRules is the rate rules for one connection.
func TestConnectionRules(t *testing.T) {
	grown := func(f flowAt, up, down uint64) flowAt { f.up += up; f.down += down; return f }
	tests := []struct {
		name   string
		window time.Duration
		reads  []read
		want   Reading
	}{
		{
			name:  "the tracker's first cycle has no rate",
			reads: []read{{flows: []flowAt{dl}}},
			want:  Reading{},
		},
		{
			name:  "a flow's first reading has no rate, not zero",
			reads: []read{{}, {after: time.Second, flows: []flowAt{grown(dl, 500, 9000)}}},
			want:  Reading{},
		},
		{
			name: "second reading: growth over the real time between the reads",
			reads: []read{{}, {after: time.Second, flows: []flowAt{dl}},
				{after: time.Second, flows: []flowAt{grown(dl, 1000, 20000)}}},
			want: known(1000, 20000, 1000, 20000),
		},
		{
			name: "the elapsed time is the clock's, not the nominal interval",
			reads: []read{{}, {after: time.Second, flows: []flowAt{dl}},
				{after: 2500 * time.Millisecond, flows: []flowAt{grown(dl, 5000, 50000)}}},
			want: known(2000, 20000, 2000, 20000),
		},
		{
			name: "a flow that was there before the tracker started has a rate at the second cycle",
			reads: []read{{flows: []flowAt{dl}},
				{after: time.Second, flows: []flowAt{grown(dl, 100, 200)}}},
			want: known(100, 200, 100, 200),
		},
		{
			name: "unchanged at its second reading: a known zero",
			reads: []read{{}, {after: time.Second, flows: []flowAt{dl}},
				{after: time.Second, flows: []flowAt{dl}}},
			want: known(0, 0, 0, 0),
		},
		{
			name:  "window mean over the last 10 s against the last cycle",
			reads: append(append([]read{{flows: []flowAt{dl}}}, steady(10, dl, 1000, 10000, time.Second)...), read{after: time.Second, flows: []flowAt{grown(dl, 10000, 100000)}}),
			// Cycles at 0..11 s; the window at 11 s is (1 s, 11 s]: nine
			// seconds of 1000 up (the first second left it) and the last
			// one still at 1000 (counters did not move).
			want: known(900, 9000, 0, 0),
		},
		{
			name:  "a new flow's mean is over the time since its first reading, not the whole window",
			reads: append([]read{{}, {after: time.Second}, {after: time.Second, flows: []flowAt{dl}}}, steady(3, dl, 2000, 0, time.Second)...),
			want:  known(2000, 0, 2000, 0),
		},
		{
			name:   "a window shorter than the interval is the last cycle",
			window: 100 * time.Millisecond,
			reads: append([]read{{flows: []flowAt{dl}}}, append(steady(3, dl, 1000, 0, time.Second),
				read{after: time.Second, flows: []flowAt{grown(dl, 3000+500, 0)}})...),
			want: known(500, 0, 500, 0),
		},
		{
			name: "counters that went down are a new flow: no rate, and no huge one",
			reads: []read{{flows: []flowAt{grown(dl, 5000, 90000)}},
				{after: time.Second, flows: []flowAt{grown(dl, 6000, 100000)}},
				{after: time.Second, flows: []flowAt{grown(dl, 10, 20)}}},
			want: Reading{},
		},
		{
			name: "after a reset the new flow has a rate from its second reading",
			reads: []read{{flows: []flowAt{grown(dl, 5000, 90000)}},
				{after: time.Second, flows: []flowAt{grown(dl, 10, 20)}},
				{after: time.Second, flows: []flowAt{grown(dl, 110, 420)}}},
			want: known(100, 400, 100, 400),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFeeder(tt.window)
			f.reads(t, tt.reads...)
			if diff := cmp.Diff(tt.want, f.tr.Lookup(dl.key()), cmpOpts); diff != "" {
				t.Errorf("reading (-want +got):\n%s", diff)
			}
		})
	}
}

// TestAggregateRules is the rules for devices, remote hosts and the
// router.
func TestAggregateRules(t *testing.T) {
	other := flowAt{src: "10.0.0.5", sport: 40001, dst: "198.51.100.8"}
	idle := flowAt{src: "10.0.0.6", sport: 50000, dst: "198.51.100.7", up: 1 << 20, down: 200 << 20}
	tests := []struct {
		name    string
		reads   []read
		dev     func(netip.Addr) string
		devices []Device
		remotes []Remote
		total   Reading
	}{
		{
			name: "a device is the sum of its flows; an idle device shows zero",
			reads: []read{{flows: []flowAt{dl, other, idle}},
				{after: time.Second, flows: []flowAt{{dl.src, dl.sport, dl.dst, 100, 1000}, {other.src, other.sport, other.dst, 50, 500}, idle}}},
			devices: []Device{
				{ID: "ip:10.0.0.5", Addrs: []netip.Addr{addr("10.0.0.5")}, Reading: known(150, 1500, 150, 1500)},
				{ID: "ip:10.0.0.6", Addrs: []netip.Addr{addr("10.0.0.6")}, Reading: known(0, 0, 0, 0)},
			},
			remotes: []Remote{
				{Addr: addr("198.51.100.7"), Reading: known(100, 1000, 100, 1000)},
				{Addr: addr("198.51.100.8"), Reading: known(50, 500, 50, 500)},
			},
			total: known(150, 1500, 150, 1500),
		},
		{
			name: "the device function joins addresses into one device",
			dev:  func(netip.Addr) string { return "aa:bb:cc:dd:ee:ff" },
			reads: []read{{flows: []flowAt{dl, idle}},
				{after: time.Second, flows: []flowAt{{dl.src, dl.sport, dl.dst, 100, 1000}, {idle.src, idle.sport, idle.dst, idle.up + 10, idle.down + 10}}}},
			devices: []Device{
				{ID: "aa:bb:cc:dd:ee:ff", Addrs: []netip.Addr{addr("10.0.0.6"), addr("10.0.0.5")}, Reading: known(110, 1010, 110, 1010)},
			},
			remotes: []Remote{{Addr: addr("198.51.100.7"), Reading: known(110, 1010, 110, 1010)}},
			total:   known(110, 1010, 110, 1010),
		},
		{
			name: "a flow that closed keeps counting in its device's window",
			reads: []read{{flows: []flowAt{dl}},
				{after: time.Second, flows: []flowAt{{dl.src, dl.sport, dl.dst, 1000, 4000}}},
				{after: time.Second}},
			devices: []Device{{ID: "ip:10.0.0.5", Addrs: []netip.Addr{addr("10.0.0.5")}, Reading: known(500, 2000, 0, 0)}},
			remotes: []Remote{{Addr: addr("198.51.100.7"), Reading: known(500, 2000, 0, 0)}},
			total:   known(500, 2000, 0, 0),
		},
		{
			name: "a first reading's counters count for nobody; a new device has no rate yet",
			reads: []read{{},
				{after: time.Second, flows: []flowAt{{dl.src, dl.sport, dl.dst, 1 << 30, 1 << 30}}}},
			devices: []Device{{ID: "ip:10.0.0.5", Addrs: []netip.Addr{addr("10.0.0.5")}}},
			total:   known(0, 0, 0, 0),
		},
		{
			name: "a reset's counters count for nobody",
			reads: []read{{flows: []flowAt{{dl.src, dl.sport, dl.dst, 1 << 30, 1 << 30}}},
				{after: time.Second, flows: []flowAt{{dl.src, dl.sport, dl.dst, 1 << 20, 1 << 20}}}},
			devices: []Device{{ID: "ip:10.0.0.5", Addrs: []netip.Addr{addr("10.0.0.5")}, Reading: known(0, 0, 0, 0)}},
			total:   known(0, 0, 0, 0),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFeeder(0)
			f.dev = tt.dev
			f.reads(t, tt.reads...)
			now := f.tr.Now(Query{})
			for i := range now.Devices {
				now.Devices[i].Spark = nil
			}
			if diff := cmp.Diff(tt.devices, now.Devices, cmpOpts); diff != "" {
				t.Errorf("devices (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.remotes, now.Remotes, cmpOpts); diff != "" {
				t.Errorf("remotes (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.total, now.Total, cmpOpts); diff != "" {
				t.Errorf("total (-want +got):\n%s", diff)
			}
		})
	}
}

// TestClosedGrowth: a Closed change that carries growth (its DESTROY told
// its final bytes) counts for its device, remote host and the router,
// and ends the flow.
func TestClosedGrowth(t *testing.T) {
	f := newFeeder(0)
	f.reads(t, read{flows: []flowAt{dl}}, read{after: time.Second, flows: []flowAt{{dl.src, dl.sport, dl.dst, 100, 100}}})
	f.tr.add(t0.Add(2*time.Second), slices.Values([]flows.Change{
		{Kind: flows.Closed, Key: dl.key(), Growth: conntrack.Counters{UplinkBytes: 300, DownlinkBytes: 700}},
	}), nil)
	now := f.tr.Now(Query{})
	if diff := cmp.Diff(known(200, 400, 300, 700), now.Total, cmpOpts); diff != "" {
		t.Errorf("total (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(known(200, 400, 300, 700), now.Devices[0].Reading, cmpOpts); diff != "" {
		t.Errorf("device (-want +got):\n%s", diff)
	}
	if len(f.tr.flowIndex) != 0 {
		t.Errorf("the closed flow is still indexed")
	}
}

// TestChanges: a writer gets a connection's rate when it changes, one
// clearing write when it decays to zero or ends, and then nothing.
func TestChanges(t *testing.T) {
	f := newFeeder(3 * time.Second)
	conns := func() []string {
		var out []string
		for _, c := range f.tr.Changes().Conns {
			up, down := c.Window.Bps()
			out = append(out, c.Key.String()+" "+rateText(c.Known, up, down))
		}
		return out
	}
	k := dl.key().String()
	steps := []struct {
		read read
		want []string
	}{
		{read{flows: []flowAt{dl}}, nil},
		{read{after: time.Second, flows: []flowAt{{dl.src, dl.sport, dl.dst, 1000, 1000}}}, []string{k + " 8000/8000"}},
		{read{after: time.Second, flows: []flowAt{{dl.src, dl.sport, dl.dst, 2000, 2000}}}, nil}, // the same mean
		{read{after: time.Second, flows: []flowAt{{dl.src, dl.sport, dl.dst, 2000, 2000}}}, []string{k + " 5333/5333"}},
		{read{after: time.Second, flows: []flowAt{{dl.src, dl.sport, dl.dst, 2000, 2000}}}, []string{k + " 2667/2667"}},
		{read{after: time.Second, flows: []flowAt{{dl.src, dl.sport, dl.dst, 2000, 2000}}}, []string{k + " 0/0"}}, // the last write
		{read{after: time.Second, flows: []flowAt{{dl.src, dl.sport, dl.dst, 2000, 2000}}}, nil},
		{read{after: time.Second, flows: []flowAt{{dl.src, dl.sport, dl.dst, 3000, 3000}}}, []string{k + " 2667/2667"}},
		{read{after: time.Second}, []string{k + " -"}}, // closed: its row cleared
		{read{after: time.Second}, nil},
	}
	for i, s := range steps {
		f.read(t, s.read)
		if diff := cmp.Diff(s.want, conns()); diff != "" {
			t.Errorf("step %d: conns (-want +got):\n%s", i, diff)
		}
	}
	if n := len(f.tr.flowIndex); n != 0 {
		t.Errorf("%d flows still tracked", n)
	}
}

func rateText(known bool, up, down int64) string {
	if !known {
		return "-"
	}
	return strconv.FormatInt(up, 10) + "/" + strconv.FormatInt(down, 10)
}

// TestRewrite: the first Add, and the one after Rewrite, hand a writer
// everything it needs to start again.
func TestRewrite(t *testing.T) {
	f := newFeeder(0)
	idle := flowAt{src: "10.0.0.6", sport: 50000, dst: "198.51.100.9"}
	f.read(t, read{flows: []flowAt{dl, idle}})
	if !f.tr.Changes().Reset {
		t.Error("the first Add does not say Reset")
	}
	for i := range 3 {
		f.read(t, read{after: time.Second, flows: []flowAt{{dl.src, dl.sport, dl.dst, uint64(i+1) * 100, 0}, idle}})
	}
	if c := f.tr.Changes(); c.Reset || len(c.Ticks) != 1 {
		t.Errorf("a plain Add: Reset %v, %d ticks", c.Reset, len(c.Ticks))
	}
	f.tr.Rewrite()
	f.read(t, read{after: time.Second, flows: []flowAt{{dl.src, dl.sport, dl.dst, 400, 0}, idle}})
	c := f.tr.Changes()
	if !c.Reset {
		t.Error("the Add after Rewrite does not say Reset")
	}
	var conns, devices, remotes []string
	for _, x := range c.Conns {
		conns = append(conns, x.Key.String())
	}
	for _, x := range c.Devices {
		devices = append(devices, x.ID)
	}
	for _, x := range c.Remotes {
		remotes = append(remotes, x.Addr.String())
	}
	if diff := cmp.Diff([]string{dl.key().String()}, conns); diff != "" {
		t.Errorf("conns (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"ip:10.0.0.5", "ip:10.0.0.6"}, devices); diff != "" {
		t.Errorf("devices (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"198.51.100.7"}, remotes); diff != "" {
		t.Errorf("remotes (-want +got):\n%s", diff)
	}
	if len(c.Ticks) != 4 {
		t.Errorf("%d ticks, want the 4 kept", len(c.Ticks))
	}
	for i, tk := range c.Ticks {
		if want := (Tick{At: t0.Add(time.Duration(i+1) * time.Second), Total: Rate{Up: 100},
			Devices: []DeviceSample{{ID: "ip:10.0.0.5", Rate: Rate{Up: 100}}}}); !cmp.Equal(want, tk, cmpOpts) {
			t.Errorf("tick %d: %s", i, cmp.Diff(want, tk, cmpOpts))
		}
	}
}

// TestBurstForgotten: flows opened in a burst are held for a window and
// then forgotten, their memory given back.
func TestBurstForgotten(t *testing.T) {
	f := newFeeder(0)
	f.read(t, read{})
	var burst []flowAt
	for i := range 20000 {
		burst = append(burst, flowAt{src: "10.0.0.5", sport: uint16(1000 + i), dst: "198.51.100.7"})
	}
	f.read(t, read{after: time.Second, flows: burst})
	if n := len(f.tr.flowIndex); n != len(burst) {
		t.Fatalf("%d flows tracked after the burst, want %d", n, len(burst))
	}
	for range 12 {
		f.read(t, read{after: time.Second, flows: burst})
	}
	if n, slots := len(f.tr.flowIndex), len(f.tr.flows); n != 0 || slots != 0 {
		t.Errorf("%d flows tracked in %d slots after the window, want none", n, slots)
	}
	// They are still active and known to be idle.
	if diff := cmp.Diff(known(0, 0, 0, 0), f.tr.Lookup(burst[7].key()), cmpOpts); diff != "" {
		t.Errorf("an idle flow (-want +got):\n%s", diff)
	}
}

// TestConns lists the tracked flows.
func TestConns(t *testing.T) {
	f := newFeeder(0)
	f.reads(t, read{flows: []flowAt{dl}}, read{after: 2 * time.Second, flows: []flowAt{{dl.src, dl.sport, dl.dst, 10, 20}}})
	var got []Conn
	for c := range f.tr.Conns {
		got = append(got, c)
	}
	want := []Conn{{Key: dl.key(), UplinkBytes: 10, DownlinkBytes: 20, Reading: known(5, 10, 5, 10)}}
	if diff := cmp.Diff(want, got, cmpOpts); diff != "" {
		t.Errorf("conns (-want +got):\n%s", diff)
	}
}

func TestMoved(t *testing.T) {
	tests := []struct {
		now, wrote flowRate
		want       bool
	}{
		{flowRate{}, flowRate{}, false},
		{flowRate{1, 0}, flowRate{}, true},
		{flowRate{}, flowRate{1, 0}, true},
		{flowRate{1600, 16000}, flowRate{1600, 16000}, false},
		{flowRate{1600, 17000}, flowRate{1600, 16000}, false}, // 1000 of a 17,600 total: under a sixteenth
		{flowRate{1600, 17200}, flowRate{1600, 16000}, true},
		{flowRate{2800, 16000}, flowRate{1600, 16000}, true}, // a small direction moving by a sixteenth of the total
		{flowRate{1700, 16000}, flowRate{1600, 16000}, false},
	}
	for _, tt := range tests {
		if got := tt.now.moved(tt.wrote); got != tt.want {
			t.Errorf("%v.moved(%v) = %v, want %v", tt.now, tt.wrote, got, tt.want)
		}
	}
}
