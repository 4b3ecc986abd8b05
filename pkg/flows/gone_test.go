package flows

import (
	"testing"

	"github.com/netmon-dev/netmon/pkg/conntrack"
)

// TestGoneForgets: a closed flow waits goneCycles cycles for its DESTROY;
// one that comes later is a flow no read saw (there is no telling), so
// the wait must outlast the kernel's garbage collection, which is what
// delays such events.
func TestGoneForgets(t *testing.T) {
	a := withID(ent(conntrack.ProtoTCP, "10.0.0.5", 1, "203.0.113.80", 443, "", 0, 1, 100, 1, 100), 7)
	fin := destroyed(a, 7)
	fin.Orig.Bytes = 150
	for _, tc := range []struct {
		name      string
		idle      int // empty cycles between the close and the event
		wantLate  bool
		wantWhole bool
	}{
		{"within the wait", goneCycles - 1, true, false},
		{"after the wait", goneCycles + 2*sweepEvery, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tab := New()
			run(t, tab, step{read: []conntrack.Entry{a}})
			for range tc.idle {
				run(t, tab, step{})
			}
			_, d := run(t, tab, step{events: []conntrack.Entry{fin}})
			if (d.Late == 1) != tc.wantLate || (d.Whole == 1) != tc.wantWhole {
				t.Errorf("Late %d, Whole %d; want late %v, whole %v", d.Late, d.Whole, tc.wantLate, tc.wantWhole)
			}
		})
	}
}

// TestGoneBounded: without events (no DESTROY ever came) only a few
// closed flows wait, with events more, never without bound.
func TestGoneBounded(t *testing.T) {
	for _, tc := range []struct {
		name   string
		events bool
		want   int
	}{
		{"no events", false, goneMaxQuiet},
		{"events", true, goneMax},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tab := New()
			var read []conntrack.Entry
			for i := range goneMax + 100 {
				read = append(read, withID(ent(conntrack.ProtoUDP, "10.0.0.5", uint16(i), "203.0.113.80", uint16(i>>16+1), "", 0, 1, 1, 0, 0), uint32(i+1)))
			}
			var ev []conntrack.Entry
			if tc.events {
				ev = []conntrack.Entry{destroyed(ent(conntrack.ProtoUDP, "10.0.0.6", 1, "203.0.113.80", 1, "", 0, 1, 1, 0, 0), 1)}
			}
			run(t, tab, step{read: read, events: ev})
			run(t, tab, step{})
			tab.Begin() // settles the closes
			if got := len(tab.gone.flows); got != tc.want {
				t.Errorf("%d closed flows wait, want %d", got, tc.want)
			}
		})
	}
}
