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
	// Counters are what this cycle's read said; for a Closed flow, its
	// final counters when its DESTROY came, else what the last committed
	// cycle stored.
	Counters conntrack.Counters
	// Growth is what the flow grew by since the last committed cycle, the
	// one figure every consumer adds up: all of Counters for an Opened
	// flow (the flow is new, or the tuple's counters restarted; a
	// Restarted one also carries what its predecessor on the tuple grew
	// before its DESTROY, since one tuple has one row), Counters minus the
	// previous ones for an Updated flow, and for a Closed one its final
	// counters minus the stored ones when its DESTROY came, zero when it
	// just left the read (its last bytes were seen when it was last read,
	// or are lost).
	Growth conntrack.Counters
	// Restarted is set on an Opened flow whose tuple was active with
	// another flow (another conntrack id, or higher counters): the same
	// row, a new flow.
	Restarted bool
	// Whole is set on a Closed flow no committed cycle held: it started
	// and ended between two reads (or after the last read and before its
	// DESTROY), so its DESTROY recorded it whole: Growth is all of its
	// counters. Count it as opened and closed. It has no row in the table
	// and may share its tuple with an active flow.
	Whole bool
	// Late is set on a Closed flow that an earlier cycle already closed
	// (the read stopped listing it, or a new flow took its tuple) before
	// its DESTROY came: Growth is what it grew after it was last read, Ref
	// the row that cycle closed. Count it neither as opened nor as closed.
	Late bool
	// ID is the flow's conntrack id, 0 when unknown (a listing without
	// -o id, a flow restored from the store and not listed since).
	ID uint32
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
	epoch                   uint32  // the cycle's: rows at epoch+1 ended by their DESTROY
	opened, updated, closed []int32 // row indexes, ascending
	// tails holds, for a restarted row whose old flow's DESTROY came,
	// what the old flow grew after the last cycle.
	tails map[int32]conntrack.Counters
	// whole and late are Closed changes without a row of this cycle,
	// listed after the rows' in Closed order.
	whole, late []ended

	// Flows is how many read entries the cycle added; Duplicates how many
	// of them repeated a tuple an earlier entry of the same read had
	// (conntrack zones), merged into it by summing counters; Restarted how
	// many Opened flows are new flows of active tuples.
	Flows, Duplicates, Restarted int
	// Destroys is how many DESTROY entries the cycle added; Whole and Late
	// how many Closed changes they made with those flags.
	Destroys, Whole, Late int
}

// ended is a Closed change without a row: a flow recorded whole, or the
// late end of one an earlier cycle closed.
type ended struct {
	key         conntrack.PackedKey
	id          uint32
	state       uint16
	status      conntrack.Status
	ctr, growth conntrack.Counters
	ref         int64
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
func (d *Delta) Len(k Kind) int {
	n := len(d.list(k))
	if k == Closed {
		n += len(d.whole) + len(d.late)
	}
	return n
}

// Active is the number of flows active after the cycle.
func (d *Delta) Active() int { return d.t.rows.n - len(d.closed) }

// At returns the i-th change of kind k (0 <= i < Len(k)), in table order;
// the Closed changes of flows without a row (Whole, then Late) come last.
func (d *Delta) At(k Kind, i int) Change {
	if e := d.rowless(k, i); e != nil {
		c := Change{Kind: Closed, Key: e.key.Unpack(), State: d.t.states.text[e.state], Status: e.status,
			Counters: e.ctr, Growth: e.growth, ID: e.id, Ref: e.ref}
		c.Whole, c.Late = i < len(d.closed)+len(d.whole), i >= len(d.closed)+len(d.whole)
		return c
	}
	ri := int(d.list(k)[i])
	r := d.t.rows.at(ri)
	c := Change{Kind: k, Key: r.key.Unpack(), Ref: r.ref}
	words := d.t.states.text
	switch k {
	case Closed:
		if r.epoch == d.epoch+1 { // its DESTROY came
			c.State, c.Status, c.Counters, c.ID = words[r.curState], r.curStatus, r.cur, r.curID
			c.Growth, c.Whole = minusSat(r.cur, r.stored), ri >= d.n0
			break
		}
		c.State, c.Status, c.Counters, c.ID = words[r.state], r.status, r.stored, r.id
	case Opened:
		c.State, c.Status, c.Counters, c.Growth, c.ID = words[r.curState], r.curStatus, r.cur, r.cur, r.curID
		c.Restarted = ri < d.n0
		if tail, ok := d.tails[int32(ri)]; ok {
			c.Growth = sum(c.Growth, tail)
		}
	case Updated:
		c.State, c.Status, c.Counters, c.Growth, c.ID = words[r.curState], r.curStatus, r.cur, minus(r.cur, r.stored), r.curID
	}
	return c
}

// rowless returns the i-th change of kind k when it is one without a row,
// else nil.
func (d *Delta) rowless(k Kind, i int) *ended {
	if k != Closed || i < len(d.closed) {
		return nil
	}
	if i -= len(d.closed); i < len(d.whole) {
		return &d.whole[i]
	}
	return &d.late[i-len(d.whole)]
}

// SetRef attaches ref to the flow of the i-th change of kind k, for the
// changes of later cycles (the store records an inserted row's id).
func (d *Delta) SetRef(k Kind, i int, ref int64) {
	if e := d.rowless(k, i); e != nil {
		e.ref = ref
		return
	}
	d.t.rows.at(int(d.list(k)[i])).ref = ref
}

// Each yields the changes of kind k in table order.
func (d *Delta) Each(k Kind) iter.Seq[Change] {
	return func(yield func(Change) bool) {
		for i := range d.Len(k) {
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
