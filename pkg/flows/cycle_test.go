package flows

import (
	"errors"
	"net/netip"
	"slices"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/netmon-dev/netmon/pkg/conntrack"
)

var equateAddrs = cmpopts.EquateComparable(netip.Addr{})

// ent builds an outbound entry.
func ent(proto conntrack.Proto, src string, sport uint16, dst string, dport uint16, state string, status conntrack.Status, upP, upB, downP, downB uint64) conntrack.Entry {
	return conntrack.Entry{
		Proto: proto, State: state, Status: status,
		Orig:  conntrack.Tuple{Src: netip.MustParseAddr(src), Dst: netip.MustParseAddr(dst), SrcPort: sport, DstPort: dport, Packets: upP, Bytes: upB},
		Reply: conntrack.Tuple{Src: netip.MustParseAddr(dst), Dst: netip.MustParseAddr("203.0.113.1"), SrcPort: dport, DstPort: sport, Packets: downP, Bytes: downB},
	}
}

// cycle runs one committed cycle of entries and returns its changes.
func cycle(t *testing.T, tab *Table, entries ...conntrack.Entry) []Change {
	t.Helper()
	c := tab.Begin()
	for i := range entries {
		if err := c.Add(&entries[i]); err != nil {
			t.Fatalf("Add(%d): %v", i, err)
		}
	}
	d := c.Diff()
	got := slices.Collect(d.All())
	c.Commit()
	return got
}

func key(e conntrack.Entry) conntrack.FlowKey { return conntrack.KeyOf(&e) }

func ctr(upP, upB, downP, downB uint64) conntrack.Counters {
	return conntrack.Counters{UplinkPackets: upP, UplinkBytes: upB, DownlinkPackets: downP, DownlinkBytes: downB}
}

func TestCycles(t *testing.T) {
	const tcp, udp = conntrack.ProtoTCP, conntrack.ProtoUDP
	a1 := ent(tcp, "10.0.0.5", 40000, "203.0.113.80", 443, "ESTABLISHED", conntrack.StatusAssured, 10, 1000, 20, 9000)
	a2 := ent(tcp, "10.0.0.5", 40000, "203.0.113.80", 443, "ESTABLISHED", conntrack.StatusAssured, 15, 1500, 30, 20000)
	a3 := ent(tcp, "10.0.0.5", 40000, "203.0.113.80", 443, "TIME_WAIT", conntrack.StatusAssured, 15, 1500, 30, 20000)
	aNew := ent(tcp, "10.0.0.5", 40000, "203.0.113.80", 443, "SYN_SENT", 0, 1, 60, 0, 0)
	b := ent(udp, "fd00::5", 5353, "2001:db8::80", 53, "", conntrack.StatusUnreplied, 1, 80, 0, 0)
	icmp := ent(conntrack.ProtoICMP, "10.0.0.6", 0, "203.0.113.81", 0, "", 0, 3, 252, 3, 252)
	icmp.Orig.ICMPID, icmp.Orig.ICMPType = 7, 8

	tests := []struct {
		name  string
		reads [][]conntrack.Entry
		want  [][]Change // per read
	}{
		{
			name:  "new flows open with all their counters as growth",
			reads: [][]conntrack.Entry{{a1, b, icmp}},
			want: [][]Change{{
				{Kind: Opened, Key: key(a1), State: "ESTABLISHED", Status: conntrack.StatusAssured, Counters: ctr(10, 1000, 20, 9000), Growth: ctr(10, 1000, 20, 9000)},
				{Kind: Opened, Key: key(b), Status: conntrack.StatusUnreplied, Counters: ctr(1, 80, 0, 0), Growth: ctr(1, 80, 0, 0)},
				{Kind: Opened, Key: conntrack.FlowKey{Proto: conntrack.ProtoICMP, Src: netip.MustParseAddr("10.0.0.6"), Dst: netip.MustParseAddr("203.0.113.81"), SrcPort: 7, DstPort: 8}, Counters: ctr(3, 252, 3, 252), Growth: ctr(3, 252, 3, 252)},
			}},
		},
		{
			name:  "the same read again changes nothing",
			reads: [][]conntrack.Entry{{a1, b}, {b, a1}},
			want:  [][]Change{nil, {}},
		},
		{
			name:  "growth is the difference, in every counter",
			reads: [][]conntrack.Entry{{a1}, {a2}},
			want: [][]Change{nil, {
				{Kind: Updated, Key: key(a2), State: "ESTABLISHED", Status: conntrack.StatusAssured, Counters: ctr(15, 1500, 30, 20000), Growth: ctr(5, 500, 10, 11000)},
			}},
		},
		{
			name:  "a state change alone is an update without growth",
			reads: [][]conntrack.Entry{{a2}, {a3}},
			want: [][]Change{nil, {
				{Kind: Updated, Key: key(a3), State: "TIME_WAIT", Status: conntrack.StatusAssured, Counters: ctr(15, 1500, 30, 20000)},
			}},
		},
		{
			name:  "counters that go down are a new flow of the tuple",
			reads: [][]conntrack.Entry{{a2}, {aNew}},
			want: [][]Change{nil, {
				{Kind: Opened, Key: key(aNew), State: "SYN_SENT", Counters: ctr(1, 60, 0, 0), Growth: ctr(1, 60, 0, 0), Restarted: true},
			}},
		},
		{
			name:  "a flow the read does not list closes with its last counters and no growth",
			reads: [][]conntrack.Entry{{a1, b}, {a2}},
			want: [][]Change{nil, {
				{Kind: Updated, Key: key(a2), State: "ESTABLISHED", Status: conntrack.StatusAssured, Counters: ctr(15, 1500, 30, 20000), Growth: ctr(5, 500, 10, 11000)},
				{Kind: Closed, Key: key(b), Status: conntrack.StatusUnreplied, Counters: ctr(1, 80, 0, 0)},
			}},
		},
		{
			name:  "an empty read closes everything",
			reads: [][]conntrack.Entry{{a1, b}, {}},
			want: [][]Change{nil, {
				{Kind: Closed, Key: key(a1), State: "ESTABLISHED", Status: conntrack.StatusAssured, Counters: ctr(10, 1000, 20, 9000)},
				{Kind: Closed, Key: key(b), Status: conntrack.StatusUnreplied, Counters: ctr(1, 80, 0, 0)},
			}},
		},
		{
			name:  "a closed tuple that returns opens again",
			reads: [][]conntrack.Entry{{a1}, {}, {a1}},
			want: [][]Change{nil, nil, {
				{Kind: Opened, Key: key(a1), State: "ESTABLISHED", Status: conntrack.StatusAssured, Counters: ctr(10, 1000, 20, 9000), Growth: ctr(10, 1000, 20, 9000)},
			}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tab := New()
			for i, read := range tc.reads {
				got := cycle(t, tab, read...)
				if tc.want[i] == nil {
					continue
				}
				if diff := cmp.Diff(tc.want[i], got, equateAddrs, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("read %d (-want +got):\n%s", i, diff)
				}
			}
		})
	}
}

// TestDuplicates: a tuple listed twice in one read (conntrack zones) is
// one flow with the counters summed and the state and status of the entry
// whose text sorts last, whatever the order, and a later read that lists
// the pair again changes nothing.
func TestDuplicates(t *testing.T) {
	z1 := ent(conntrack.ProtoUDP, "10.0.0.5", 5353, "203.0.113.80", 5353, "", conntrack.StatusUnreplied, 1, 100, 0, 0)
	z2 := ent(conntrack.ProtoUDP, "10.0.0.5", 5353, "203.0.113.80", 5353, "", conntrack.StatusAssured, 2, 300, 2, 400)
	want := Change{Kind: Opened, Key: key(z1), Status: conntrack.StatusUnreplied, Counters: ctr(3, 400, 2, 400), Growth: ctr(3, 400, 2, 400)}
	for _, order := range [][]conntrack.Entry{{z1, z2}, {z2, z1}} {
		tab := New()
		c := tab.Begin()
		for i := range order {
			if err := c.Add(&order[i]); err != nil {
				t.Fatal(err)
			}
		}
		d := c.Diff()
		if diff := cmp.Diff([]Change{want}, slices.Collect(d.All()), equateAddrs); diff != "" {
			t.Errorf("order %v (-want +got):\n%s", order[0].Status, diff)
		}
		if d.Flows != 2 || d.Duplicates != 1 {
			t.Errorf("Flows %d, Duplicates %d; want 2, 1", d.Flows, d.Duplicates)
		}
		c.Commit()
		if got := cycle(t, tab, order[1], order[0]); len(got) != 0 {
			t.Errorf("the pair again, reversed: %v, want no change", got)
		}
	}
}

// TestAbort: a cycle aborted after its read, or after its diff (the write
// failed), leaves the table as before, so the next cycle computes the same
// growth again: nothing is lost and nothing counted twice.
func TestAbort(t *testing.T) {
	a1 := ent(conntrack.ProtoTCP, "10.0.0.5", 1, "203.0.113.80", 443, "ESTABLISHED", 0, 1, 100, 1, 100)
	a2 := a1
	a2.Orig.Bytes, a2.Reply.Bytes = 500, 700
	b := ent(conntrack.ProtoTCP, "10.0.0.5", 2, "203.0.113.80", 443, "ESTABLISHED", 0, 1, 10, 1, 10)
	for _, afterDiff := range []bool{false, true} {
		t.Run("after diff "+strconv.FormatBool(afterDiff), func(t *testing.T) {
			tab := New()
			cycle(t, tab, a1)
			c := tab.Begin()
			c.Add(&a2)
			c.Add(&b)
			if afterDiff {
				c.Diff()
			}
			c.Abort()
			c.Abort() // twice is harmless
			if tab.Len() != 1 {
				t.Fatalf("Len %d after abort, want 1", tab.Len())
			}
			got := cycle(t, tab, a2, b)
			want := []Change{
				{Kind: Opened, Key: key(b), State: "ESTABLISHED", Counters: ctr(1, 10, 1, 10), Growth: ctr(1, 10, 1, 10)},
				{Kind: Updated, Key: key(a2), State: "ESTABLISHED", Counters: ctr(1, 500, 1, 700), Growth: ctr(0, 400, 0, 600)},
			}
			if diff := cmp.Diff(want, got, equateAddrs); diff != "" {
				t.Errorf("cycle after the abort (-want +got):\n%s", diff)
			}
		})
	}
}

func TestInvalidEntry(t *testing.T) {
	good := ent(conntrack.ProtoTCP, "10.0.0.5", 1, "203.0.113.80", 443, "", 0, 1, 1, 1, 1)
	zoned := good
	zoned.Orig.Src = netip.MustParseAddr("fe80::1%eth0")
	var invalid conntrack.Entry
	for name, bad := range map[string]conntrack.Entry{"zoned": zoned, "no address": invalid} {
		t.Run(name, func(t *testing.T) {
			tab := New()
			c := tab.Begin()
			if err := c.Add(&good); err != nil {
				t.Fatal(err)
			}
			err := c.Add(&bad)
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Add = %v, want ErrInvalid", err)
			}
			if again := c.Add(&good); !errors.Is(again, ErrInvalid) {
				t.Errorf("Add after the failure = %v, want the same error", again)
			}
			c.Abort()
			if tab.Len() != 0 {
				t.Errorf("Len %d after aborting the failed cycle, want 0", tab.Len())
			}
		})
	}
}

// TestDeltaAfterCommit: the delta stays readable after Commit until the
// next Begin, Len already counts the closed flows out, and a ref set on an
// opened flow comes back with its later changes.
func TestDeltaAfterCommit(t *testing.T) {
	a := ent(conntrack.ProtoTCP, "10.0.0.5", 1, "203.0.113.80", 443, "", 0, 1, 100, 1, 100)
	b := ent(conntrack.ProtoTCP, "10.0.0.5", 2, "203.0.113.80", 443, "", 0, 1, 100, 1, 100)
	tab := New()
	c := tab.Begin()
	c.Add(&a)
	c.Add(&b)
	d := c.Diff()
	for i := range d.Len(Opened) {
		d.SetRef(Opened, i, int64(100+i))
	}
	c.Commit()
	c = tab.Begin()
	a.Orig.Bytes = 150
	c.Add(&a)
	d = c.Diff()
	c.Commit()
	if tab.Len() != 1 || d.Active() != 1 {
		t.Errorf("Len %d, Active %d after closing one of two; want 1, 1", tab.Len(), d.Active())
	}
	got := []Change{d.At(Updated, 0), d.At(Closed, 0)}
	want := []Change{
		{Kind: Updated, Key: key(a), Counters: ctr(1, 150, 1, 100), Growth: ctr(0, 50, 0, 0), Ref: 100},
		{Kind: Closed, Key: key(b), Counters: ctr(1, 100, 1, 100), Ref: 101},
	}
	if diff := cmp.Diff(want, got, equateAddrs); diff != "" {
		t.Errorf("changes read after Commit (-want +got):\n%s", diff)
	}
}

// TestRestore: a table rebuilt from stored rows continues where they left
// off, and refuses a tuple twice.
func TestRestore(t *testing.T) {
	a := ent(conntrack.ProtoTCP, "10.0.0.5", 1, "203.0.113.80", 443, "ESTABLISHED", conntrack.StatusAssured, 1, 100, 1, 100)
	tab := New()
	if err := tab.Restore(key(a), "ESTABLISHED", conntrack.StatusAssured, a.Counters(), 42); err != nil {
		t.Fatal(err)
	}
	if err := tab.Restore(key(a), "", 0, a.Counters(), 43); err == nil {
		t.Error("Restore of the same tuple twice: no error")
	}
	if got := cycle(t, tab, a); len(got) != 0 {
		t.Errorf("reading the restored flow unchanged: %v, want no change", got)
	}
	a.Reply.Bytes = 300
	got := cycle(t, tab, a)
	want := []Change{{Kind: Updated, Key: key(a), State: "ESTABLISHED", Status: conntrack.StatusAssured, Counters: ctr(1, 100, 1, 300), Growth: ctr(0, 0, 0, 200), Ref: 42}}
	if diff := cmp.Diff(want, got, equateAddrs); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestStatesRestart: hostile state words cannot grow the table's texts
// without bound: past half of MaxStates the next cycle starts again from
// the states its rows hold, and the flows keep their states.
func TestStatesRestart(t *testing.T) {
	tab := New()
	keep := ent(conntrack.ProtoTCP, "10.0.0.5", 1, "203.0.113.80", 443, "ESTABLISHED", 0, 1, 1, 1, 1)
	const n = MaxStates/2 + 10
	c := tab.Begin()
	c.Add(&keep)
	for i := range n {
		e := ent(conntrack.ProtoSCTP, "10.0.0.6", uint16(i), "203.0.113.80", 1, "S"+strconv.Itoa(i), 0, 1, 1, 1, 1)
		if err := c.Add(&e); err != nil {
			t.Fatal(err)
		}
	}
	c.Diff()
	c.Commit()
	cycle(t, tab, keep) // closes the hostile ones; the next Begin restarts the states
	c = tab.Begin()
	if got := len(tab.states.text); got != 1 {
		t.Errorf("%d state words kept, want 1", got)
	}
	keep.Orig.Bytes = 2
	c.Add(&keep)
	if got := c.Diff().At(Updated, 0).State; got != "ESTABLISHED" {
		t.Errorf("state after the restart %q, want ESTABLISHED", got)
	}
}

// TestDestroyBeforeReadSameID: the kernel reuses conntrack ids (a tuple
// reused back to back gets its entry where the last one was freed, with
// the same id), so a DESTROY received before the read began, of an
// earlier flow with the listed flow's id and even its counters, must not
// end the listed flow: that flow is still there, and the next read,
// listing it again, would count it a second time. The earlier flow is
// recorded whole; with the stored flow's id it ends the stored flow and
// the listed one is its successor.
func TestDestroyBeforeReadSameID(t *testing.T) {
	type got struct {
		Kind   Kind
		Whole  bool
		Growth conntrack.Counters
	}
	sum := func(cs []Change) (out []got) {
		for _, c := range cs {
			out = append(out, got{c.Kind, c.Whole, c.Growth})
		}
		return out
	}
	flow := ent(conntrack.ProtoTCP, "10.0.0.21", 43001, "203.0.113.81", 8080, "CLOSE", conntrack.StatusAssured, 11, 591, 10, 100528)
	flow.ID = 1002596213
	earlier := flow
	earlier.Event = conntrack.EventDestroy
	c := ctr(11, 591, 10, 100528)
	for _, tc := range []struct {
		name   string
		stored bool // an earlier cycle committed the tuple's previous flow with the same id
		prior  bool
		want   []got
		next   []got // the next read, listing the flow alone
	}{
		{name: "received before the read, new tuple", prior: true,
			want: []got{{Opened, false, c}, {Closed, true, c}}, next: nil},
		{name: "received before the read, the stored flow's end", stored: true, prior: true,
			want: []got{{Opened, false, c}}, next: nil},
		// Without the mark the event is taken for the listed flow's end
		// (right when the flow ended during the read), so a flow that
		// is in fact still there is listed again next time and counted
		// twice: why the ingest cycle marks what came before the read.
		{name: "received during the read: the listed flow ended", prior: false,
			want: []got{{Closed, true, c}}, next: []got{{Opened, false, c}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tab := New()
			if tc.stored {
				cycle(t, tab, flow)
			}
			ev := earlier
			ev.BeforeRead = tc.prior
			gotNow := sum(cycle(t, tab, flow, ev))
			want := tc.want
			if tc.stored {
				// The stored flow ended with nothing more; the listed one is
				// new, all of its counters growth.
				want = []got{{Opened, false, c}}
			}
			if diff := cmp.Diff(want, gotNow); diff != "" {
				t.Errorf("the cycle (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.next, sum(cycle(t, tab, flow))); diff != "" {
				t.Errorf("the next read (-want +got):\n%s", diff)
			}
		})
	}
}

// TestStoredAndListedEndOneID: the lab's random-ports case (issue 16), as
// the events came. A tuple reused back to back: the stored flow a and its
// successor b have one conntrack id and one set of counters. The read
// lists b; a's DESTROY came before the read began and b's after. Then a
// ended with nothing more, and b is counted once, whole: before the fix
// b's DESTROY was taken for the stored flow going on, and b's bytes were
// never counted.
func TestStoredAndListedEndOneID(t *testing.T) {
	flow := ent(conntrack.ProtoTCP, "10.0.0.20", 42000, "203.0.113.80", 8080, "CLOSE", conntrack.StatusAssured, 7, 382, 5, 20268)
	flow.ID = 347724531
	c := ctr(7, 382, 5, 20268)
	endA, endB := destroyed(flow, flow.ID), destroyed(flow, flow.ID)
	endA.BeforeRead = true
	tab := New()
	var total conntrack.Counters
	add := func(cs []Change) {
		for _, ch := range cs {
			total = sum(total, ch.Growth)
		}
	}
	add(cycle(t, tab, flow)) // a, listed and stored
	add(cycle(t, tab, flow, endA, endB))
	if n := tab.Len(); n != 0 {
		t.Errorf("%d flows active after both ended, want 0", n)
	}
	add(cycle(t, tab)) // an empty read: nothing more
	if want := sum(c, c); total != want {
		t.Errorf("the two flows grew by %+v in all, want %+v (each once)", total, want)
	}
}
