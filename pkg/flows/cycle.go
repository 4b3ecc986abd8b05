package flows

import (
	"errors"
	"fmt"
	"iter"

	"github.com/netmon-dev/netmon/pkg/conntrack"
)

// Cycle is one read of the table being folded into a Table, with the
// DESTROY events received since the last cycle.
type Cycle struct {
	t     *Table
	epoch uint32
	n0    int // rows before the cycle; rows from n0 on are new to it
	err   error
	delta Delta
	done  cycleState

	destroying bool // a DESTROY was added: the read is over
	// taken holds the remembered flows (Table.gone) late DESTROYs of this
	// cycle completed, to give back if it aborts.
	taken map[flowID]goneFlow
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

// ErrOrder is wrapped by the error Add returns for a read entry added
// after a DESTROY: the read comes first, then the events.
var ErrOrder = errors.New("read entry after a DESTROY")

// Begin starts a cycle. The previous cycle's Delta is no longer readable
// once it is called.
func (t *Table) Begin() *Cycle {
	t.settle()
	// Two epochs a cycle: listed rows take the first, ended ones the
	// second.
	t.epoch += 2
	c := &Cycle{t: t, epoch: t.epoch, n0: t.rows.n}
	c.delta.t, c.delta.n0, c.delta.epoch = t, c.n0, c.epoch
	t.last = c
	return c
}

// Add folds one outbound entry into the table. First come the entries of
// the read: a tuple not active gets a row at the end, an active one
// records what the read says beside its stored counters, and a tuple
// already read this cycle is merged into what the read said before. Then
// come the DESTROY entries (Event == conntrack.EventDestroy) received
// since the last cycle, in the order they were received: each ends one
// flow with its final counters (see Diff). A read entry after a DESTROY
// fails the cycle with ErrOrder. NEW and UPDATE event entries are read
// entries.
//
// conntrack can list the same original tuple twice (in different zones):
// such entries are merged by SUMMING their counters; state and status are
// those of the entry whose (state, status) text sorts last. Both choices
// are independent of the order conntrack prints them in (hash order), so a
// merged tuple cannot flip between two entries from one cycle to the next
// and fake a counter drop or a state change. Their conntrack ids differ,
// so the merged flow has none (0) and is told apart by its counters.
//
// The first invalid entry fails the cycle: Add returns its error, then
// and for every later call, and the cycle can only be aborted.
func (c *Cycle) Add(e *conntrack.Entry) error {
	if c.err != nil {
		return c.err
	}
	if e.Event == conntrack.EventDestroy {
		return c.destroy(e)
	}
	n := c.delta.Flows
	c.delta.Flows++
	if c.destroying {
		c.err = fmt.Errorf("flow %d: %w", n, ErrOrder)
		return c.err
	}
	tk, state, err := c.entryKey(e, n)
	if err != nil {
		return err
	}
	t := c.t
	i := t.lookup(tk)
	if i < 0 {
		i = t.insert(tk)
	} else if r := t.rows.at(i); r.epoch == c.epoch {
		r.cur = sum(r.cur, e.Counters())
		if s := t.states.text[r.curState]; e.State > s || (e.State == s && e.Status.String() > r.curStatus.String()) {
			r.curState, r.curStatus = state, e.Status
		}
		if r.curID != e.ID {
			r.curID = 0
		}
		c.delta.Duplicates++
		return nil
	}
	r := t.rows.at(i)
	r.epoch, r.cur, r.curState, r.curStatus, r.curID = c.epoch, e.Counters(), state, e.Status, e.ID
	if i < c.n0 && r.id == 0 && !wentDown(r.cur, r.stored) {
		// A flow restored without its id (the store keeps none) adopts
		// the one it is listed with; Abort need not undo this.
		r.id = e.ID
	}
	return nil
}

// entryKey checks that e can be keyed and returns its key and its state's
// id; n numbers the entry in errors. A failure fails the cycle.
func (c *Cycle) entryKey(e *conntrack.Entry, n int) (conntrack.PackedKey, uint16, error) {
	k := conntrack.KeyOf(e)
	switch {
	case !k.Src.IsValid() || !k.Dst.IsValid():
		c.err = fmt.Errorf("flow %d (%s): %w: invalid address", n, k.Proto, ErrInvalid)
	case k.Src.Zone() != "" || k.Dst.Zone() != "":
		c.err = fmt.Errorf("flow %d (%s %s -> %s): %w: zoned address", n, k.Proto, k.Src, k.Dst, ErrInvalid)
	}
	if c.err != nil {
		return conntrack.PackedKey{}, 0, c.err
	}
	state, ok := c.t.states.id(e.State)
	if !ok {
		c.err = fmt.Errorf("flow %d: more than %d distinct states", n, MaxStates)
		return conntrack.PackedKey{}, 0, c.err
	}
	return k.Pack(), state, nil
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

// Diff compares what the read and the DESTROY events said of each flow
// with what the table held and returns the changes:
//   - a tuple not active before is Opened, Growth all of its counters;
//   - an active tuple listed with another conntrack id, or with counters
//     that went down, is a new flow of the tuple (conntrack replaced the
//     old one between two reads): Opened and Restarted, Growth all of its
//     counters plus, when the old flow's DESTROY came, what the old flow
//     grew after the last cycle;
//   - an active tuple whose counters, state or status changed is Updated,
//     Growth the difference;
//   - an active flow the read did not list is Closed: with Growth its
//     final counters minus the stored ones when its DESTROY came, none
//     otherwise (an empty read closes every flow);
//   - a DESTROY of a flow no committed cycle held is a Closed change with
//     Whole set, Growth all of its counters; one of a flow an earlier
//     cycle closed before its DESTROY came is a Closed change with Late
//     set, Growth what it grew after it was last read (see Change).
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
		case r.epoch != c.epoch: // not listed, or ended (epoch+1)
			d.closed = append(d.closed, int32(i))
		case i >= c.n0:
			d.opened = append(d.opened, int32(i))
		case !continues(r) || hasTail(d, i):
			d.opened = append(d.opened, int32(i))
			d.Restarted++
		case r.cur != r.stored || r.curState != r.state || r.curStatus != r.status:
			d.updated = append(d.updated, int32(i))
		}
	}
	return d
}

// hasTail reports whether row i's stored flow ended this cycle (its
// DESTROY came: Delta.tails), so the flow the read lists is a new one.
func hasTail(d *Delta, i int) bool {
	_, ok := d.tails[int32(i)]
	return ok
}

// continues reports whether the flow the read lists for r's tuple is the
// one r stored: no other conntrack id, and counters that did not go down.
func continues(r *row) bool { return sameFlow(r.id, r.curID, !wentDown(r.cur, r.stored)) }

// sameFlow tells whether two flows of one tuple can be one: their
// conntrack ids do not differ (0 is unknown) and their counters agree (the
// later ones did not go down). An id can prove two flows different, never
// the same: the kernel derives it from the entry's address and tuple, so
// a flow that takes the freed entry of the last one on its tuple gets its
// id again (the lab shows it for back-to-back transfers on one port).
func sameFlow(a, b uint32, countersAgree bool) bool {
	return (a == 0 || b == 0 || a == b) && countersAgree
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
	c.delta = Delta{t: c.t, n0: c.n0, epoch: c.epoch}
	for f, g := range c.taken {
		c.t.gone.add(f, g, goneMax)
	}
	c.taken = nil
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

// minusSat is a - b, each counter at least 0: a DESTROY's final counters
// less what was stored.
func minusSat(a, b conntrack.Counters) conntrack.Counters {
	sub := func(x, y uint64) uint64 {
		if x < y {
			return 0
		}
		return x - y
	}
	return conntrack.Counters{
		UplinkPackets: sub(a.UplinkPackets, b.UplinkPackets), UplinkBytes: sub(a.UplinkBytes, b.UplinkBytes),
		DownlinkPackets: sub(a.DownlinkPackets, b.DownlinkPackets), DownlinkBytes: sub(a.DownlinkBytes, b.DownlinkBytes),
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
