package flows

import (
	"errors"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/netmon-dev/netmon/pkg/conntrack"
)

// withID returns e with conntrack id id.
func withID(e conntrack.Entry, id uint32) conntrack.Entry {
	e.ID = id
	return e
}

// destroyed returns e as the DESTROY event of flow id.
func destroyed(e conntrack.Entry, id uint32) conntrack.Entry {
	e.ID, e.Event = id, conntrack.EventDestroy
	return e
}

// step is one cycle: a read, then the DESTROY events received since the
// last cycle.
type step struct {
	read, events []conntrack.Entry
}

// run runs one committed cycle of a step and returns its changes.
func run(t *testing.T, tab *Table, s step) ([]Change, *Delta) {
	t.Helper()
	c := tab.Begin()
	for _, e := range append(slices.Clone(s.read), s.events...) {
		if err := c.Add(&e); err != nil {
			t.Fatalf("Add(%v %v): %v", e.Event, conntrack.KeyOf(&e), err)
		}
	}
	d := c.Diff()
	got := slices.Collect(d.All())
	c.Commit()
	return got, d
}

// TestDestroys: DESTROY events complete, replace or add flows so that
// every byte a flow carried is counted once, whatever the reads saw of
// it.
func TestDestroys(t *testing.T) {
	const tcp, udp = conntrack.ProtoTCP, conntrack.ProtoUDP
	est := conntrack.StatusAssured
	// One tuple; a* are its flows' counters over time.
	a1 := ent(tcp, "10.0.0.5", 40000, "203.0.113.80", 443, "ESTABLISHED", est, 10, 1000, 20, 9000)
	a2 := ent(tcp, "10.0.0.5", 40000, "203.0.113.80", 443, "ESTABLISHED", est, 15, 1500, 30, 20000)
	aFin := ent(tcp, "10.0.0.5", 40000, "203.0.113.80", 443, "TIME_WAIT", est, 20, 2000, 40, 30000)
	// A later flow on the same tuple, with counters above a1's: only the
	// id tells it is another flow.
	n1 := ent(tcp, "10.0.0.5", 40000, "203.0.113.80", 443, "ESTABLISHED", est, 12, 1200, 25, 12000)
	nFin := ent(tcp, "10.0.0.5", 40000, "203.0.113.80", 443, "CLOSE", est, 14, 1300, 26, 13000)
	b := ent(udp, "10.0.0.6", 5000, "203.0.113.81", 53, "", 0, 1, 60, 1, 120)
	key := key(a1)

	tests := []struct {
		name  string
		steps []step
		want  []Change // of the last step
		// wantCounts: Destroys, Whole, Late of the last step
		wantCounts [3]int
	}{
		{
			name: "a flow seen by reads then destroyed closes with its final growth",
			steps: []step{
				{read: []conntrack.Entry{withID(a1, 7)}},
				{read: []conntrack.Entry{withID(a2, 7)}},
				{events: []conntrack.Entry{destroyed(aFin, 7)}},
			},
			want:       []Change{{Kind: Closed, Key: key, State: "TIME_WAIT", Status: est, Counters: aFin.Counters(), Growth: ctr(5, 500, 10, 10000), ID: 7}},
			wantCounts: [3]int{1, 0, 0},
		},
		{
			name:       "a flow only destroyed is recorded whole",
			steps:      []step{{read: []conntrack.Entry{withID(b, 3)}}, {read: []conntrack.Entry{withID(b, 3)}, events: []conntrack.Entry{destroyed(aFin, 7)}}},
			want:       []Change{{Kind: Closed, Key: key, State: "TIME_WAIT", Status: est, Counters: aFin.Counters(), Growth: aFin.Counters(), Whole: true, ID: 7}},
			wantCounts: [3]int{1, 1, 0},
		},
		{
			name:       "a flow read for the first time and destroyed in the same cycle is recorded whole, once",
			steps:      []step{{read: []conntrack.Entry{withID(a1, 7)}, events: []conntrack.Entry{destroyed(aFin, 7)}}},
			want:       []Change{{Kind: Closed, Key: key, State: "TIME_WAIT", Status: est, Counters: aFin.Counters(), Growth: aFin.Counters(), Whole: true, ID: 7}},
			wantCounts: [3]int{1, 0, 0},
		},
		{
			name: "a read that still lists a flow its DESTROY ended: the event has the last word",
			steps: []step{
				{read: []conntrack.Entry{withID(a1, 7)}},
				{read: []conntrack.Entry{withID(a2, 7)}, events: []conntrack.Entry{destroyed(aFin, 7)}},
			},
			want:       []Change{{Kind: Closed, Key: key, State: "TIME_WAIT", Status: est, Counters: aFin.Counters(), Growth: ctr(10, 1000, 20, 21000), ID: 7}},
			wantCounts: [3]int{1, 0, 0},
		},
		{
			name: "two DESTROYs alike are two flows: the kernel reuses an id for the next flow of a tuple",
			steps: []step{
				{read: []conntrack.Entry{withID(a1, 7)}},
				{events: []conntrack.Entry{destroyed(aFin, 7), destroyed(aFin, 7)}},
			},
			want: []Change{
				{Kind: Closed, Key: key, State: "TIME_WAIT", Status: est, Counters: aFin.Counters(), Growth: minus(aFin.Counters(), a1.Counters()), ID: 7},
				{Kind: Closed, Key: key, State: "TIME_WAIT", Status: est, Counters: aFin.Counters(), Growth: aFin.Counters(), Whole: true, ID: 7},
			},
			wantCounts: [3]int{2, 1, 0},
		},
		{
			name: "a duplicate of a DESTROY an earlier cycle folded is a flow no read saw",
			steps: []step{
				{read: []conntrack.Entry{withID(a1, 7)}},
				{events: []conntrack.Entry{destroyed(aFin, 7)}},
				{events: []conntrack.Entry{destroyed(aFin, 7)}},
			},
			want:       []Change{{Kind: Closed, Key: key, State: "TIME_WAIT", Status: est, Counters: aFin.Counters(), Growth: aFin.Counters(), Whole: true, ID: 7}},
			wantCounts: [3]int{1, 1, 0},
		},
		{
			name: "the same id with counters that went down is a new flow",
			steps: []step{
				{read: []conntrack.Entry{withID(a2, 7)}},
				{read: []conntrack.Entry{withID(a1, 7)}},
			},
			want: []Change{{Kind: Opened, Key: key, State: "ESTABLISHED", Status: est, Counters: a1.Counters(), Growth: a1.Counters(), Restarted: true, ID: 7}},
		},
		{
			name: "a DESTROY of the stored id with counters below the stored ones is another flow",
			steps: []step{
				{read: []conntrack.Entry{withID(a2, 7)}},
				{events: []conntrack.Entry{destroyed(n1, 7)}},
			},
			want: []Change{
				{Kind: Closed, Key: key, State: "ESTABLISHED", Status: est, Counters: a2.Counters(), ID: 7},
				{Kind: Closed, Key: key, State: "ESTABLISHED", Status: est, Counters: n1.Counters(), Growth: n1.Counters(), Whole: true, ID: 7},
			},
			wantCounts: [3]int{1, 1, 0},
		},
		{
			name: "a new conntrack id is a new flow although its counters went up",
			steps: []step{
				{read: []conntrack.Entry{withID(a1, 7)}},
				{read: []conntrack.Entry{withID(n1, 8)}},
			},
			want: []Change{{Kind: Opened, Key: key, State: "ESTABLISHED", Status: est, Counters: n1.Counters(), Growth: n1.Counters(), Restarted: true, ID: 8}},
		},
		{
			name: "the stored flow's DESTROY rides on its successor's change",
			steps: []step{
				{read: []conntrack.Entry{withID(a1, 7)}},
				{read: []conntrack.Entry{withID(n1, 8)}, events: []conntrack.Entry{destroyed(aFin, 7)}},
			},
			want: []Change{{Kind: Opened, Key: key, State: "ESTABLISHED", Status: est, Counters: n1.Counters(),
				Growth: sum(n1.Counters(), minus(aFin.Counters(), a1.Counters())), Restarted: true, ID: 8}},
			wantCounts: [3]int{1, 0, 0},
		},
		{
			name: "one source port reused back to back: every flow between two reads counts",
			steps: []step{
				{read: []conntrack.Entry{withID(a1, 7)}},
				{
					read:   []conntrack.Entry{withID(n1, 12)},
					events: []conntrack.Entry{destroyed(aFin, 7), destroyed(nFin, 10), destroyed(nFin, 11)},
				},
			},
			want: []Change{
				{Kind: Opened, Key: key, State: "ESTABLISHED", Status: est, Counters: n1.Counters(),
					Growth: sum(n1.Counters(), minus(aFin.Counters(), a1.Counters())), Restarted: true, ID: 12},
				{Kind: Closed, Key: key, State: "CLOSE", Status: est, Counters: nFin.Counters(), Growth: nFin.Counters(), Whole: true, ID: 10},
				{Kind: Closed, Key: key, State: "CLOSE", Status: est, Counters: nFin.Counters(), Growth: nFin.Counters(), Whole: true, ID: 11},
			},
			wantCounts: [3]int{3, 2, 0},
		},
		{
			name: "a listed successor that ended too is recorded whole, and the row closes with its stored flow",
			steps: []step{
				{read: []conntrack.Entry{withID(a1, 7)}},
				{read: []conntrack.Entry{withID(n1, 8)}, events: []conntrack.Entry{destroyed(aFin, 7), destroyed(nFin, 8)}},
			},
			want: []Change{
				{Kind: Closed, Key: key, State: "ESTABLISHED", Status: est, Counters: aFin.Counters(), Growth: minus(aFin.Counters(), a1.Counters()), ID: 7},
				{Kind: Closed, Key: key, State: "CLOSE", Status: est, Counters: nFin.Counters(), Growth: nFin.Counters(), Whole: true, ID: 8},
			},
			wantCounts: [3]int{2, 1, 0},
		},
		{
			name: "a DESTROY of another id than the unlisted stored flow is recorded whole; the stored one just closes",
			steps: []step{
				{read: []conntrack.Entry{withID(a1, 7)}},
				{events: []conntrack.Entry{destroyed(nFin, 9)}},
			},
			want: []Change{
				{Kind: Closed, Key: key, State: "ESTABLISHED", Status: est, Counters: a1.Counters(), ID: 7},
				{Kind: Closed, Key: key, State: "CLOSE", Status: est, Counters: nFin.Counters(), Growth: nFin.Counters(), Whole: true, ID: 9},
			},
			wantCounts: [3]int{1, 1, 0},
		},
		{
			name: "a DESTROY after the read closed its flow completes it late",
			steps: []step{
				{read: []conntrack.Entry{withID(a1, 7)}},
				{},
				{events: []conntrack.Entry{destroyed(aFin, 7)}},
			},
			want:       []Change{{Kind: Closed, Key: key, State: "TIME_WAIT", Status: est, Counters: aFin.Counters(), Growth: minus(aFin.Counters(), a1.Counters()), Late: true, ID: 7}},
			wantCounts: [3]int{1, 0, 1},
		},
		{
			name: "a DESTROY after a successor took the tuple completes the old flow late",
			steps: []step{
				{read: []conntrack.Entry{withID(a1, 7)}},
				{read: []conntrack.Entry{withID(n1, 8)}},
				{read: []conntrack.Entry{withID(n1, 8)}, events: []conntrack.Entry{destroyed(aFin, 7)}},
			},
			want:       []Change{{Kind: Closed, Key: key, State: "TIME_WAIT", Status: est, Counters: aFin.Counters(), Growth: minus(aFin.Counters(), a1.Counters()), Late: true, ID: 7}},
			wantCounts: [3]int{1, 0, 1},
		},
		{
			name: "without ids the counters decide",
			steps: []step{
				{read: []conntrack.Entry{a1}},
				{events: []conntrack.Entry{destroyed(aFin, 0), destroyed(a1, 0)}},
			},
			want: []Change{
				{Kind: Closed, Key: key, State: "TIME_WAIT", Status: est, Counters: aFin.Counters(), Growth: minus(aFin.Counters(), a1.Counters())},
				{Kind: Closed, Key: key, State: "ESTABLISHED", Status: est, Counters: a1.Counters(), Growth: a1.Counters(), Whole: true},
			},
			wantCounts: [3]int{2, 1, 0},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tab := New()
			var got []Change
			var d *Delta
			for _, s := range tc.steps {
				got, d = run(t, tab, s)
			}
			if diff := cmp.Diff(tc.want, got, equateAddrs, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("last cycle (-want +got):\n%s", diff)
			}
			if counts := [3]int{d.Destroys, d.Whole, d.Late}; counts != tc.wantCounts {
				t.Errorf("Destroys, Whole, Late = %v, want %v", counts, tc.wantCounts)
			}
		})
	}
}

// TestDestroyAfterAbort: a cycle that folded events and then aborted (its
// write failed: the database was locked) leaves the table as it was, and
// the same events in the next cycle give the same changes.
func TestDestroyAfterAbort(t *testing.T) {
	a1 := withID(ent(conntrack.ProtoTCP, "10.0.0.5", 1, "203.0.113.80", 443, "ESTABLISHED", 0, 1, 100, 1, 100), 7)
	a2 := withID(ent(conntrack.ProtoTCP, "10.0.0.5", 2, "203.0.113.80", 443, "ESTABLISHED", 0, 1, 100, 1, 100), 8)
	aFin := destroyed(ent(conntrack.ProtoTCP, "10.0.0.5", 1, "203.0.113.80", 443, "CLOSE", 0, 3, 300, 4, 400), 7)
	a2Fin := destroyed(ent(conntrack.ProtoTCP, "10.0.0.5", 2, "203.0.113.80", 443, "CLOSE", 0, 2, 200, 2, 200), 8)
	w := destroyed(ent(conntrack.ProtoUDP, "10.0.0.6", 9, "203.0.113.81", 53, "", 0, 1, 50, 1, 90), 9)

	tab := New()
	run(t, tab, step{read: []conntrack.Entry{a1, a2}})
	run(t, tab, step{read: []conntrack.Entry{a1}}) // a2 closes before its event
	events := []conntrack.Entry{aFin, a2Fin, w}

	c := tab.Begin()
	for _, e := range events {
		if err := c.Add(&e); err != nil {
			t.Fatal(err)
		}
	}
	c.Diff()
	c.Abort()
	got, d := run(t, tab, step{events: events})
	want := []Change{
		{Kind: Closed, Key: key(aFin), State: "CLOSE", Counters: aFin.Counters(), Growth: ctr(2, 200, 3, 300), ID: 7},
		{Kind: Closed, Key: key(w), Counters: w.Counters(), Growth: w.Counters(), Whole: true, ID: 9},
		{Kind: Closed, Key: key(a2Fin), State: "CLOSE", Counters: a2Fin.Counters(), Growth: ctr(1, 100, 1, 100), Late: true, ID: 8},
	}
	if diff := cmp.Diff(want, got, equateAddrs); diff != "" {
		t.Errorf("cycle after the abort (-want +got):\n%s", diff)
	}
	if tab.Len() != 0 || d.Active() != 0 {
		t.Errorf("Len %d, Active %d; want 0, 0", tab.Len(), d.Active())
	}
}

// TestRestoredFlowAdoptsID: a flow restored from the store has no id; the
// read that lists it with unchanged counters gives it one, so a later
// change of id is a new flow.
func TestRestoredFlowAdoptsID(t *testing.T) {
	a := ent(conntrack.ProtoTCP, "10.0.0.5", 1, "203.0.113.80", 443, "ESTABLISHED", 0, 5, 500, 5, 500)
	tab := New()
	if err := tab.Restore(key(a), "ESTABLISHED", 0, a.Counters(), 42); err != nil {
		t.Fatal(err)
	}
	if got, _ := run(t, tab, step{read: []conntrack.Entry{withID(a, 7)}}); len(got) != 0 {
		t.Errorf("restored flow listed with an id: %v, want no change", got)
	}
	got, _ := run(t, tab, step{read: []conntrack.Entry{withID(a, 8)}})
	want := []Change{{Kind: Opened, Key: key(a), State: "ESTABLISHED", Counters: a.Counters(), Growth: a.Counters(), Restarted: true, ID: 8, Ref: 42}}
	if diff := cmp.Diff(want, got, equateAddrs); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestReadAfterDestroy: the read comes first; a read entry after an event
// fails the cycle, which can then only be aborted.
func TestReadAfterDestroy(t *testing.T) {
	a := withID(ent(conntrack.ProtoTCP, "10.0.0.5", 1, "203.0.113.80", 443, "", 0, 1, 1, 1, 1), 1)
	fin := destroyed(a, 1)
	c := New().Begin()
	if err := c.Add(&fin); err != nil {
		t.Fatal(err)
	}
	if err := c.Add(&a); !errors.Is(err, ErrOrder) {
		t.Errorf("read entry after a DESTROY: %v, want ErrOrder", err)
	}
	c.Abort()
}
