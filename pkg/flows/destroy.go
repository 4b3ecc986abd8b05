package flows

import "github.com/netmon-dev/netmon/pkg/conntrack"

// A DESTROY event gives a flow's final counters. The read that comes
// before it in the cycle may or may not have listed the flow (the event
// may have come while conntrack was listing), and the tuple may already
// hold a newer flow. Each event is matched, by its conntrack id and its
// counters (see sameFlow), against the flows the cycle knows of its tuple,
// in this order:
//
//   - the flow the row stored, not listed again: it ended. Closed, Growth
//     its final counters minus the stored ones;
//   - the flow the read listed, when it is the stored one (whose DESTROY
//     has not come) or new to the table: it ended after it was listed,
//     and the event has the last word (Closed; a flow new to the table is
//     Whole);
//   - the stored flow, when the read lists a successor on its tuple: what
//     it grew since the last cycle rides on the successor's (Restarted)
//     change;
//   - the successor the read listed, never committed: recorded whole,
//     and the row closes with what its stored flow left;
//   - a flow an earlier cycle closed before its event came (Table.gone):
//     its late end, Growth what it grew after it was last read;
//   - anything else never met a read: recorded whole.
//
// Two events alike (tuple, id and counters) are two flows: the kernel
// sends one event per flow, and reuses ids (see sameFlow).

// destroy folds one DESTROY entry into the cycle.
func (c *Cycle) destroy(e *conntrack.Entry) error {
	c.destroying = true
	tk, state, err := c.entryKey(e, c.delta.Destroys)
	if err != nil {
		return err
	}
	c.delta.Destroys++
	fin := e.Counters()
	if i := c.t.lookup(tk); i >= 0 && c.endRow(i, e.ID, fin, state, e.Status, e.BeforeRead) {
		return nil
	}
	if f, g, ok := c.t.gone.take(tk, e.ID, fin); ok {
		if c.taken == nil {
			c.taken = make(map[flowID]goneFlow)
		}
		c.taken[f] = g
		c.delta.late = append(c.delta.late, ended{key: tk, id: e.ID, state: state, status: e.Status,
			ctr: fin, growth: minusSat(fin, g.ctr), ref: g.ref})
		c.delta.Late++
		return nil
	}
	c.whole(tk, e.ID, fin, state, e.Status)
	return nil
}

// whole records a flow that ended before any committed cycle held it.
func (c *Cycle) whole(tk conntrack.PackedKey, id uint32, fin conntrack.Counters, state uint16, status conntrack.Status) {
	c.delta.whole = append(c.delta.whole, ended{key: tk, id: id, state: state, status: status, ctr: fin, growth: fin})
	c.delta.Whole++
}

// endRow matches a DESTROY of flow id with final counters fin against the
// flows row i knows of its tuple, and applies it if one is the flow. It
// reports whether it did. A DESTROY received before the read began
// (prior) is never of the flow the read listed.
func (c *Cycle) endRow(i int, id uint32, fin conntrack.Counters, state uint16, status conntrack.Status, prior bool) bool {
	r := c.t.rows.at(i)
	old := i < c.n0 // committed by an earlier cycle: r.stored, r.id hold its flow
	switch r.epoch {
	case c.epoch + 1:
		// The row's flow already ended this cycle: this is a later flow
		// of the tuple, which no read saw.
		return false
	case c.epoch:
		listed := !prior && sameFlow(r.curID, id, !wentDown(fin, r.cur))
		// Once the stored flow's DESTROY came (a tail), what the read
		// lists is its successor, even with the same id and counters.
		continued := old && continues(r) && !hasTail(&c.delta, i)
		if prior && old && sameFlow(r.id, id, !wentDown(fin, r.stored)) {
			// The stored flow ended before the read began: the same.
			continued = false
		}
		switch {
		case listed && (!old || continued):
			c.end(r, id, fin, state, status)
			return true
		case listed:
			// The successor the read listed ended too, before any cycle
			// committed it: it is recorded whole, and the row closes with
			// its stored flow, completed if that one's DESTROY came.
			c.whole(r.key, id, fin, state, status)
			if tail, ok := c.delta.tails[int32(i)]; ok {
				delete(c.delta.tails, int32(i))
				r.cur, r.curState, r.curStatus, r.curID = sum(r.stored, tail), r.state, r.status, r.id
				r.epoch = c.epoch + 1
			} else {
				r.epoch = c.epoch - 2 // as if the read had not listed it
			}
			return true
		case old && !continued && sameFlow(r.id, id, !wentDown(fin, r.stored)):
			if _, done := c.delta.tails[int32(i)]; done {
				return false
			}
			if c.delta.tails == nil {
				c.delta.tails = make(map[int32]conntrack.Counters)
			}
			c.delta.tails[int32(i)] = minusSat(fin, r.stored)
			return true
		}
		return false
	}
	// Not listed by the read.
	if old && sameFlow(r.id, id, !wentDown(fin, r.stored)) {
		c.end(r, id, fin, state, status)
		return true
	}
	return false
}

// end marks r's flow as ended this cycle with its final counters.
func (c *Cycle) end(r *row, id uint32, fin conntrack.Counters, state uint16, status conntrack.Status) {
	r.cur, r.curState, r.curStatus, r.curID = fin, state, status, id
	r.epoch = c.epoch + 1
}
