package flows

import (
	"iter"

	"github.com/netmon-dev/netmon/pkg/conntrack"
)

// Kind is what a cycle did to a flow.
type Kind uint8

// Kinds of Change.
const (
	Opened  Kind = iota + 1 // new this cycle, or a new flow of an active tuple (Restarted)
	Updated                 // counters, state or status changed
	Closed                  // no longer in the table
)

// Change is one flow that a cycle opened, updated or closed.
type Change struct {
	Kind   Kind
	Key    conntrack.FlowKey
	State  string
	Status conntrack.Status
	// Counters are what this cycle's read said; for a Closed flow, what
	// the last committed cycle stored.
	Counters conntrack.Counters
	// Growth is what the counters grew by since the last committed cycle:
	// all of Counters for an Opened flow (the flow is new, or the
	// tuple's counters restarted), Counters minus the previous ones for an
	// Updated flow, and zero for a Closed one (its last bytes were seen
	// when it was last read).
	Growth conntrack.Counters
	// Restarted is set on an Opened flow whose tuple was active with
	// higher counters: the same row, a new flow.
	Restarted bool
	// Ref is the number the writer attached to the flow (SetRef or
	// Restore): the store's row id. 0 for a flow new to this cycle until
	// SetRef.
	Ref int64
}

// Delta is what one cycle changed. It is valid until the table's next
// Begin.
type Delta struct {
	t                       *Table
	n0                      int     // rows before the cycle: an opened row below it was restarted
	opened, updated, closed []int32 // row indexes, ascending

	// Flows is how many entries the read added; Duplicates how many of
	// them repeated a tuple an earlier entry of the same read had
	// (conntrack zones), merged into it by summing counters; Restarted how
	// many Opened flows are new flows of active tuples.
	Flows, Duplicates, Restarted int
}

func (d *Delta) list(k Kind) []int32 {
	switch k {
	case Opened:
		return d.opened
	case Updated:
		return d.updated
	case Closed:
		return d.closed
	}
	return nil
}

// Len is the number of changes of kind k.
func (d *Delta) Len(k Kind) int { return len(d.list(k)) }

// Active is the number of flows active after the cycle.
func (d *Delta) Active() int { return d.t.rows.n - len(d.closed) }

// At returns the i-th change of kind k (0 <= i < Len(k)), in table order.
func (d *Delta) At(k Kind, i int) Change {
	ri := int(d.list(k)[i])
	r := d.t.rows.at(ri)
	c := Change{Kind: k, Key: r.key.flowKey(), Ref: r.ref}
	words := d.t.states.text
	switch k {
	case Closed:
		c.State, c.Status, c.Counters = words[r.state], r.status, r.stored
	case Opened:
		c.State, c.Status, c.Counters, c.Growth = words[r.curState], r.curStatus, r.cur, r.cur
		c.Restarted = ri < d.n0
	case Updated:
		c.State, c.Status, c.Counters, c.Growth = words[r.curState], r.curStatus, r.cur, minus(r.cur, r.stored)
	}
	return c
}

// SetRef attaches ref to the flow of the i-th change of kind k, for the
// changes of later cycles (the store records an inserted row's id).
func (d *Delta) SetRef(k Kind, i int, ref int64) {
	d.t.rows.at(int(d.list(k)[i])).ref = ref
}

// Each yields the changes of kind k in table order.
func (d *Delta) Each(k Kind) iter.Seq[Change] {
	return func(yield func(Change) bool) {
		for i := range d.list(k) {
			if !yield(d.At(k, i)) {
				return
			}
		}
	}
}

// All yields every change: the Opened, then the Updated, then the Closed.
func (d *Delta) All() iter.Seq[Change] {
	return func(yield func(Change) bool) {
		for _, k := range [...]Kind{Opened, Updated, Closed} {
			for c := range d.Each(k) {
				if !yield(c) {
					return
				}
			}
		}
	}
}
