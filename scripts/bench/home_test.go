package main

import (
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/netmon-dev/netmon/pkg/conntrack"
	"github.com/netmon-dev/netmon/pkg/filter"
)

// homeTable parses a rendered table with netmon's parser and filter.
type homeTable struct {
	st                   conntrack.Stats
	outbound, v6         int
	protos               map[conntrack.Proto]int
	keys                 map[conntrack.FlowKey]conntrack.Counters
	devices, remoteHosts map[netip.Addr]bool
}

func parseHome(t *testing.T, b []byte) homeTable {
	t.Helper()
	ps, err := filter.ParsePrefixes(homeLAN)
	if err != nil {
		t.Fatal(err)
	}
	f, err := filter.New(ps)
	if err != nil {
		t.Fatal(err)
	}
	ht := homeTable{protos: map[conntrack.Proto]int{}, keys: map[conntrack.FlowKey]conntrack.Counters{},
		devices: map[netip.Addr]bool{}, remoteHosts: map[netip.Addr]bool{}}
	ht.st, err = conntrack.Parse(bytes.NewReader(b), func(e *conntrack.Entry) bool {
		if f.Outbound(e) {
			ht.outbound++
		}
		if e.Orig.Src.Is6() {
			ht.v6++
		}
		ht.protos[e.Proto]++
		ht.keys[conntrack.KeyOf(e)] = e.Counters()
		ht.devices[e.Orig.Src], ht.remoteHosts[e.Orig.Dst] = true, true
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	return ht
}

// TestHomeParses renders the table at the start and after some seconds:
// netmon's parser must take every line (Skipped 0), every flow must be
// outbound with a key of its own, and the mix must hold IPv6, UDP and
// ICMP beside TCP.
func TestHomeParses(t *testing.T) {
	h := newHome(1)
	for step := range 4 {
		ht := parseHome(t, h.Render(nil))
		n := len(h.flows)
		if ht.st.Skipped != 0 || ht.st.Entries != n || ht.outbound != n || len(ht.keys) != n {
			t.Fatalf("second %d: %d flows rendered as %d entries, %d skipped (%v), %d outbound, %d distinct keys",
				step, n, ht.st.Entries, ht.st.Skipped, ht.st.Errors, ht.outbound, len(ht.keys))
		}
		p := ht.protos
		if ht.v6 < n/20 || p[conntrack.ProtoUDP] < n/10 || p[conntrack.ProtoICMP] == 0 || p[conntrack.ProtoICMPv6] == 0 {
			t.Errorf("second %d: %d IPv6 flows, protocols %v: want at least 5%% IPv6, 10%% UDP, some ICMP and ICMPv6", step, ht.v6, p)
		}
		if len(ht.devices) != homeDevices+len(homeV6) {
			t.Errorf("second %d: %d LAN addresses, want %d", step, len(ht.devices), homeDevices+len(homeV6))
		}
		h.Step()
	}
}

// TestHomeStep checks one second of the profile through the parser: the
// table keeps its size, homeNew flows open and about as many close, 10%
// of the flows grow and no counter goes down.
func TestHomeStep(t *testing.T) {
	h := newHome(1)
	for range 100 {
		h.Step()
	}
	before := parseHome(t, h.Render(nil))
	st0, _, _ := h.Stats(0)
	h.Step()
	after := parseHome(t, h.Render(nil))
	st1, _, _ := h.Stats(0)
	var opened, closed, grown int
	for k, c := range after.keys {
		old, ok := before.keys[k]
		switch {
		case !ok:
			opened++
		case c != old:
			grown++
			if c.UplinkBytes < old.UplinkBytes || c.DownlinkBytes < old.DownlinkBytes || c.UplinkPackets < old.UplinkPackets || c.DownlinkPackets < old.DownlinkPackets {
				t.Errorf("%v: counters went down: %+v -> %+v", k, old, c)
			}
		}
	}
	for k := range before.keys {
		if _, ok := after.keys[k]; !ok {
			closed++
		}
	}
	want := int(homeChange * float64(len(before.keys)))
	if opened != homeNew || closed < homeNew-5 || closed > homeNew+20 || grown < want*95/100 || grown > want {
		t.Errorf("one second: %d opened, %d closed, %d grew; want %d, about %d, about %d", opened, closed, grown, homeNew, homeNew, want)
	}
	if d := st1.Grown - st0.Grown; d != int64(grown) || st1.Opened-st0.Opened != int64(opened) || st1.Closed-st0.Closed != int64(closed) {
		t.Errorf("stats counted %+v, the table shows %d opened, %d closed, %d grew", st1, opened, closed, grown)
	}
	if n := len(after.keys); n < homeFlows-50 || n > homeFlows {
		t.Errorf("%d flows, want about %d", n, homeFlows)
	}
	hot := 0
	for _, f := range h.flows {
		if f.hot {
			hot++
		}
	}
	if hot != homeHot {
		t.Errorf("%d hot flows, want %d", hot, homeHot)
	}
}

// TestHomeRemoteHosts runs two hours: a transient host is born every
// homeBirth and gets a flow at once (or soon, for a host of the other
// family), and the table's remote hosts are everyday ones or transients.
func TestHomeRemoteHosts(t *testing.T) {
	h := newHome(1)
	var seconds int64 = 7200
	for range seconds {
		h.Step()
	}
	if want := int32(float64(seconds) / homeBirth); h.born != want {
		t.Errorf("%d transient hosts born in %d s, want %d", h.born, seconds, want)
	}
	used := 0
	for r := homeCore; r < homeCore+int(h.born); r++ {
		if h.touched[r] >= 0 {
			used++
		}
	}
	if used < int(h.born)*8/10 {
		t.Errorf("%d of %d transient hosts moved traffic", used, h.born)
	}
	_, now, last := h.Stats(seconds - 300)
	_, _, all := h.Stats(0)
	if now != seconds || last < 500 || last > all || all > homeCore+int(h.born) {
		t.Errorf("second %d: %d remote hosts in the last 5 minutes, %d in all (at most %d)", now, last, all, homeCore+h.born)
	}
}

// TestHomeDeterministic: one seed, one sequence of tables.
func TestHomeDeterministic(t *testing.T) {
	a, b := newHome(7), newHome(7)
	for range 5 {
		a.Step()
		b.Step()
	}
	if !bytes.Equal(a.Render(nil), b.Render(nil)) {
		t.Error("two tables from one seed differ")
	}
	if c := newHome(8); bytes.Equal(a.Render(nil), c.Render(nil)) {
		t.Error("two seeds made the same table")
	}
}

func TestHomeAddrs(t *testing.T) {
	got := []string{
		devAddr(0, false).String(), devAddr(49, false).String(), devAddr(5, true).String(),
		remoteAddr(0).String(), remoteAddr(299).String(), remoteAddr(3).String(), remoteAddr(homeCore + 3).String(),
	}
	want := []string{"10.0.0.10", "10.0.0.59", "2001:db8:0:1::f", "198.18.0.1", "198.18.1.44", "2001:db8:f000::4", "2001:db8:f000::5e0"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestWriteHome: the file is the rendered table, written through a
// temporary file that does not stay.
func TestWriteHome(t *testing.T) {
	h := newHome(1)
	path := filepath.Join(t.TempDir(), "home.txt")
	buf, err := writeHome(h, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(b, buf) || !bytes.Equal(b, h.Render(nil)) {
		t.Errorf("file (%v) is not the rendered table", err)
	}
	if _, err := os.Stat(path + ".tmp"); !os.IsNotExist(err) {
		t.Errorf("temporary file left behind: %v", err)
	}
	if _, err := writeHome(h, filepath.Join(t.TempDir(), "missing", "home.txt"), nil); err == nil {
		t.Error("no error for a directory that does not exist")
	}
}

// TestHomeRenderDay: the day's table holds the flows of now and one flow
// for every other pair that moved traffic since, all parsing, keys apart.
func TestHomeRenderDay(t *testing.T) {
	h := newHome(1)
	for range 600 {
		h.Step()
	}
	ht := parseHome(t, h.RenderDay(nil, 0))
	if ht.st.Skipped != 0 || len(ht.keys) != ht.st.Entries || ht.outbound != ht.st.Entries {
		t.Fatalf("%d entries, %d skipped, %d distinct keys, %d outbound", ht.st.Entries, ht.st.Skipped, len(ht.keys), ht.outbound)
	}
	pairs := map[[2]netip.Addr]bool{}
	for k := range ht.keys {
		pairs[[2]netip.Addr{k.Src, k.Dst}] = true
	}
	if len(pairs) != len(h.pairs) || ht.st.Entries != len(h.flows)+len(h.pairs)-countPairs(h.flows) {
		t.Errorf("%d entries over %d pairs; the profile has %d flows, %d pairs", ht.st.Entries, len(pairs), len(h.flows), len(h.pairs))
	}
	// A pair that moved traffic this second has a flow now: no extra line.
	_, now, _ := h.Stats(0)
	if recent := parseHome(t, h.RenderDay(nil, now)); recent.st.Entries != len(h.flows) {
		t.Errorf("since now: %d entries, want the %d flows", recent.st.Entries, len(h.flows))
	}
}

// countPairs is the number of distinct device and remote host pairs of fs.
func countPairs(fs []homeFlow) int {
	m := map[[2]int32]bool{}
	for _, f := range fs {
		m[[2]int32{f.dev, f.remote}] = true
	}
	return len(m)
}
