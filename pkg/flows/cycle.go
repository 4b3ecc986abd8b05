package flows

import (
	"errors"
	"fmt"
	"iter"

	"github.com/netmon-dev/netmon/pkg/conntrack"
)

// Cycle is one read of the table being folded into a Table.
type Cycle struct {
	t     *Table
	epoch uint32
	n0    int // rows before the cycle; rows from n0 on are new to it
	err   error
	delta Delta
	done  cycleState
}

type cycleState uint8

const (
	open cycleState = iota
	diffed
	committed
	aborted
)

// ErrInvalid is wrapped by the error Add returns for an entry the table
// cannot key (an invalid or zoned address; the parser never yields one).
var ErrInvalid = errors.New("invalid flow")

// Begin starts a cycle. The previous cycle's Delta is no longer readable
// once it is called.
func (t *Table) Begin() *Cycle {
	t.settle()
	t.epoch++
	c := &Cycle{t: t, epoch: t.epoch, n0: t.rows.n}
	c.delta.t, c.delta.n0 = t, c.n0
	t.last = c
	return c
}

// Add folds one outbound entry of the read into the table: a tuple not
// active gets a row at the end, an active one records what the read says
// beside its stored counters, and a tuple already read this cycle is
// merged into what the read said before.
//
// conntrack can list the same original tuple twice (in different zones):
// such entries are merged by SUMMING their counters; state and status are
// those of the entry whose (state, status) text sorts last. Both choices
// are independent of the order conntrack prints them in (hash order), so a
// merged tuple cannot flip between two entries from one cycle to the next
// and fake a counter drop or a state change.
//
// The first invalid entry fails the cycle: Add returns its error, then
// and for every later call, and the cycle can only be aborted.
func (c *Cycle) Add(e *conntrack.Entry) error {
	if c.err != nil {
		return c.err
	}
	n := c.delta.Flows
	c.delta.Flows++
	k := conntrack.KeyOf(e)
	switch {
	case !k.Src.IsValid() || !k.Dst.IsValid():
		c.err = fmt.Errorf("flow %d (%s): %w: invalid address", n, k.Proto, ErrInvalid)
	case k.Src.Zone() != "" || k.Dst.Zone() != "":
		c.err = fmt.Errorf("flow %d (%s %s -> %s): %w: zoned address", n, k.Proto, k.Src, k.Dst, ErrInvalid)
	}
	if c.err != nil {
		return c.err
	}
	t := c.t
	state, ok := t.states.id(e.State)
	if !ok {
		c.err = fmt.Errorf("flow %d: more than %d distinct states", n, MaxStates)
		return c.err
	}
	tk := keyOf(k)
	i := t.lookup(tk)
	if i < 0 {
		i = t.insert(tk)
	} else if r := t.rows.at(i); r.epoch == c.epoch {
		r.cur = sum(r.cur, e.Counters())
		if s := t.states.text[r.curState]; e.State > s || (e.State == s && e.Status.String() > r.curStatus.String()) {
			r.curState, r.curStatus = state, e.Status
		}
		c.delta.Duplicates++
		return nil
	}
	r := t.rows.at(i)
	r.epoch, r.cur, r.curState, r.curStatus = c.epoch, e.Counters(), state, e.Status
	return nil
}

// AddAll adds every entry of seq, stopping at the first error: one the
// sequence yields (returned unchanged) or Add's.
func (c *Cycle) AddAll(seq iter.Seq2[*conntrack.Entry, error]) error {
	for e, err := range seq {
		if err != nil {
			return err
		}
		if err := c.Add(e); err != nil {
			return err
		}
	}
	return nil
}

// Diff compares what the read said of each flow with what the table held
// and returns the changes:
//   - a tuple not active before is Opened, Growth all of its counters;
//   - an active tuple whose counters went down is a new flow of the tuple
//     (conntrack replaced the old one between two reads): Opened and
//     Restarted, Growth all of its counters;
//   - an active tuple whose counters, state or status changed is Updated,
//     Growth the difference;
//   - an active tuple the read did not list is Closed: an empty read
//     closes every flow.
//
// Nothing in the table changes until Commit.
//
// Diff must be called once, on a cycle whose Adds succeeded.
func (c *Cycle) Diff() *Delta {
	c.done = diffed
	d := &c.delta
	rows := &c.t.rows
	for i := range rows.n {
		r := rows.at(i)
		switch {
		case r.epoch != c.epoch:
			d.closed = append(d.closed, int32(i))
		case i >= c.n0:
			d.opened = append(d.opened, int32(i))
		case wentDown(r.cur, r.stored):
			d.opened = append(d.opened, int32(i))
			d.Restarted++
		case r.cur != r.stored || r.curState != r.state || r.curStatus != r.status:
			d.updated = append(d.updated, int32(i))
		}
	}
	return d
}

// Commit makes the cycle's changes the table's: once its writer has
// stored them. They are applied when the next cycle begins, so the Delta
// stays readable until then.
func (c *Cycle) Commit() { c.done = committed }

// Abort leaves the table as it was before Begin: the rows the cycle added
// are dropped and what its read said of the others is forgotten. It may
// be called at any point before Commit, and more than once.
func (c *Cycle) Abort() {
	if c.done == committed || c.done == aborted {
		return
	}
	c.done = aborted
	for i := c.t.rows.n - 1; i >= c.n0; i-- {
		c.t.remove(i)
	}
	c.delta = Delta{t: c.t, n0: c.n0}
}

// wentDown reports whether any counter of c is below old's.
func wentDown(c, old conntrack.Counters) bool {
	return c.UplinkPackets < old.UplinkPackets || c.UplinkBytes < old.UplinkBytes ||
		c.DownlinkPackets < old.DownlinkPackets || c.DownlinkBytes < old.DownlinkBytes
}

// sum adds two counter sets, saturating at the largest uint64.
func sum(a, b conntrack.Counters) conntrack.Counters {
	return conntrack.Counters{
		UplinkPackets: addSat(a.UplinkPackets, b.UplinkPackets), UplinkBytes: addSat(a.UplinkBytes, b.UplinkBytes),
		DownlinkPackets: addSat(a.DownlinkPackets, b.DownlinkPackets), DownlinkBytes: addSat(a.DownlinkBytes, b.DownlinkBytes),
	}
}

// minus is a - b for counters that did not go down.
func minus(a, b conntrack.Counters) conntrack.Counters {
	return conntrack.Counters{
		UplinkPackets: a.UplinkPackets - b.UplinkPackets, UplinkBytes: a.UplinkBytes - b.UplinkBytes,
		DownlinkPackets: a.DownlinkPackets - b.DownlinkPackets, DownlinkBytes: a.DownlinkBytes - b.DownlinkBytes,
	}
}

func addSat(a, b uint64) uint64 {
	if s := a + b; s >= a {
		return s
	}
	return 1<<64 - 1
}
