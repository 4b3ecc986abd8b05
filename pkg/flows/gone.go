package flows

import "github.com/netmon-dev/netmon/pkg/conntrack"

// flowID names one flow: its tuple and its conntrack id (0 if unknown).
type flowID struct {
	key conntrack.PackedKey
	id  uint32
}

// goneFlow is a flow a cycle closed before its DESTROY came.
type goneFlow struct {
	ctr   conntrack.Counters // what was stored when it was last read
	ref   int64
	epoch uint32 // the cycle that closed it
}

// gone remembers flows that ended recently, for the DESTROY events that
// come after a cycle already closed them. That happens: conntrack -L skips
// an expired entry that the kernel has not destroyed yet, whose event comes
// with the garbage collector, cycles later; an event can also come while
// the read is being stored, or be queued behind a burst. Without this, a
// late DESTROY would look like a flow no read saw and be counted whole a
// second time.
type gone struct {
	flows       map[flowID]goneFlow
	lastDestroy uint32 // epoch of the last committed cycle with a DESTROY, 0 if none
}

// How long and how many closed flows wait for their DESTROY. The count is
// kept small while no DESTROY has come for a while (events may be off, and
// every closed flow would wait in vain).
const (
	goneCycles   = 128
	goneMax      = 1 << 16
	goneMaxQuiet = 1 << 12
	// sweepEvery cycles, flows older than goneCycles are forgotten.
	sweepEvery = 32
)

// take finds and removes the flow a late DESTROY of (tk, id) with final
// counters fin completes: one of the same id, or of unknown id, whose
// counters fin does not undercut. The caller puts it back if its cycle
// aborts.
func (g *gone) take(tk conntrack.PackedKey, id uint32, fin conntrack.Counters) (flowID, goneFlow, bool) {
	ids := [2]uint32{id, 0}
	n := 1
	if id != 0 {
		n = 2
	}
	for _, try := range ids[:n] {
		f := flowID{key: tk, id: try}
		gf, ok := g.flows[f]
		if ok && !wentDown(fin, gf.ctr) {
			delete(g.flows, f)
			return f, gf, true
		}
	}
	return flowID{}, goneFlow{}, false
}

// settle records what the committed cycle c leaves waiting: the flows it
// closed without their DESTROY, and the old flows of the tuples it
// restarted without one. Called before the rows change.
func (g *gone) settle(c *Cycle) {
	d := &c.delta
	rows := &c.t.rows
	if d.Destroys > 0 {
		g.lastDestroy = c.epoch
	}
	limit := goneMaxQuiet
	if g.lastDestroy != 0 && c.epoch-g.lastDestroy <= 2*goneCycles {
		limit = goneMax
	}
	for _, i := range d.closed {
		if r := rows.at(int(i)); r.epoch != c.epoch+1 {
			g.add(flowID{key: r.key, id: r.id}, goneFlow{ctr: r.stored, ref: r.ref, epoch: c.epoch}, limit)
		}
	}
	for _, i := range d.opened {
		if int(i) >= c.n0 {
			break // ascending: the rest are new tuples
		}
		if _, ok := d.tails[i]; !ok {
			r := rows.at(int(i))
			g.add(flowID{key: r.key, id: r.id}, goneFlow{ctr: r.stored, ref: r.ref, epoch: c.epoch}, limit)
		}
	}
	if c.epoch%(2*sweepEvery) == 0 {
		for f, gf := range g.flows {
			if c.epoch-gf.epoch > 2*goneCycles {
				delete(g.flows, f)
			}
		}
	}
}

func (g *gone) add(f flowID, gf goneFlow, limit int) {
	if len(g.flows) >= limit {
		return
	}
	if g.flows == nil {
		g.flows = make(map[flowID]goneFlow)
	}
	g.flows[f] = gf
}
