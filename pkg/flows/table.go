// Package flows keeps the active outbound flows between two reads of the
// conntrack table and works out what each read changed: which flows
// opened, changed or closed, and by how many bytes and packets each grew
// in each direction. It is pure: no I/O, no clock, no SQL. The store
// writes the changes a cycle returns; history, rates and metrics consume
// the same changes instead of comparing counters again.
//
// A cycle: Begin, Add every outbound entry of one read and then the
// DESTROY events received since the last cycle, Diff, then Commit once the
// changes are written (or Abort, which leaves the table as it was before
// Begin). The Delta a cycle returns stays readable until the next Begin.
// DESTROY events carry a flow's final counters, so with them a flow's last
// bytes, and flows that began and ended between two reads, are counted
// too: see destroy.go.
package flows

import (
	"fmt"
	"hash/maphash"
	"strings"

	"github.com/netmon-dev/netmon/pkg/conntrack"
)

// The table is the largest thing netmon keeps, so it is laid out for size:
// a row is 128 bytes with no pointers (the garbage collector never scans
// it), rows live in fixed-size chunks (growing never copies them), the
// index from tuple to row is an open-addressing table of 4-byte row
// numbers (about 8 bytes a row against about 60 for a Go map of the key),
// and the few distinct state words are interned as 16-bit ids.

// row is one active flow: the counters, state, status and conntrack id
// of the last committed cycle (stored), and during a cycle what its read
// said (cur). A row whose epoch is the cycle's was listed by its read; one
// whose epoch is the cycle's + 1 ended during the cycle, cur holding what
// its DESTROY said. Fields are ordered so that a row is 128 bytes with
// no padding (TestRowSize).
type row struct {
	key               conntrack.PackedKey // 38 bytes
	state, curState   uint16              // words ids
	status, curStatus conntrack.Status
	epoch             uint32
	ref               int64
	stored, cur       conntrack.Counters
	id, curID         uint32 // conntrack ids, 0 when unknown
}

// chunkShift sets the rows per chunk (1024: 128 KiB).
const chunkShift = 10

// arena holds rows in chunks of 1<<chunkShift. A row's index is stable
// until remove moves the last row into its place.
type arena struct {
	chunks [][]row
	n      int
}

func (a *arena) at(i int) *row {
	return &a.chunks[i>>chunkShift][i&(1<<chunkShift-1)]
}

// push appends a zero row and returns its index.
func (a *arena) push() int {
	if a.n == len(a.chunks)<<chunkShift {
		a.chunks = append(a.chunks, make([]row, 1<<chunkShift))
	}
	a.n++
	*a.at(a.n - 1) = row{}
	return a.n - 1
}

// truncate keeps the first n rows, freeing all chunks but one spare beyond
// them (so a table that hovers at a chunk boundary does not allocate a
// chunk every cycle).
func (a *arena) truncate(n int) {
	a.n = n
	keep := (n+1<<chunkShift-1)>>chunkShift + 1
	if keep < len(a.chunks) {
		clear(a.chunks[keep:])
		a.chunks = a.chunks[:keep]
	}
}

// words interns state texts as 16-bit ids.
type words struct {
	ids  map[string]uint16
	text []string
}

// MaxStates bounds the distinct state words a table holds. Real tables
// have a dozen (TCP, SCTP and DCCP states); a read that would exceed it
// fails its cycle, and a table past half of it starts again from the
// states of its rows when the next cycle begins.
const MaxStates = 1 << 16

func (w *words) id(s string) (uint16, bool) {
	if id, ok := w.ids[s]; ok {
		return id, true
	}
	if len(w.text) >= MaxStates {
		return 0, false
	}
	if w.ids == nil {
		w.ids = make(map[string]uint16)
	}
	s = strings.Clone(s) // never pin a caller's larger buffer
	id := uint16(len(w.text))
	w.ids[s] = id
	w.text = append(w.text, s)
	return id, true
}

// Table is the set of active flows. It is not safe for concurrent use.
type Table struct {
	rows   arena
	states words
	epoch  uint32

	// slots is the index: a linear-probing hash table of row number + 1
	// (0: empty), a power of two long, at most 3/4 full.
	slots []int32
	seed  maphash.Seed

	// last is the most recent cycle; a committed one is applied (its
	// changes folded into the rows) when the next cycle begins, so that
	// its Delta stays readable until then.
	last *Cycle

	// gone remembers flows that ended recently, for their DESTROY events
	// (see gone.go).
	gone gone
}

// minSlots is the smallest index table.
const minSlots = 1024

// New returns an empty table.
func New() *Table {
	return &Table{slots: make([]int32, minSlots), seed: maphash.MakeSeed()}
}

// Len is the number of active flows: after a committed cycle, those it
// left active.
func (t *Table) Len() int {
	if c := t.last; c != nil && c.done == committed {
		return t.rows.n - len(c.delta.closed)
	}
	return t.rows.n
}

func (t *Table) home(k *conntrack.PackedKey) int {
	return int(maphash.Comparable(t.seed, *k) & uint64(len(t.slots)-1))
}

// find returns the slot holding k's row and the row's index, or the empty
// slot where k would go and -1.
func (t *Table) find(k *conntrack.PackedKey) (slot, r int) {
	mask := len(t.slots) - 1
	for i := t.home(k); ; i = (i + 1) & mask {
		s := t.slots[i]
		if s == 0 {
			return i, -1
		}
		if t.rows.at(int(s-1)).key == *k {
			return i, int(s - 1)
		}
	}
}

// lookup returns the index of k's row, or -1.
func (t *Table) lookup(k conntrack.PackedKey) int {
	_, r := t.find(&k)
	return r
}

// insert adds a zero row for k, which must not be in the table, and
// returns its index.
func (t *Table) insert(k conntrack.PackedKey) int {
	i := t.rows.push()
	t.rows.at(i).key = k
	if t.rows.n*4 > len(t.slots)*3 {
		t.resize(len(t.slots) * 2) // indexes the new row too
		return i
	}
	slot, _ := t.find(&k)
	t.slots[slot] = int32(i + 1)
	return i
}

// resize rebuilds the index with n slots.
func (t *Table) resize(n int) {
	t.slots = make([]int32, n)
	for i := range t.rows.n {
		slot, _ := t.find(&t.rows.at(i).key)
		t.slots[slot] = int32(i + 1)
	}
}

// remove drops row i, moving the last row into its place.
func (t *Table) remove(i int) {
	slot, _ := t.find(&t.rows.at(i).key)
	t.unslot(slot)
	last := t.rows.n - 1
	if i != last {
		r := t.rows.at(i)
		*r = *t.rows.at(last)
		moved, _ := t.find(&r.key)
		t.slots[moved] = int32(i + 1)
	}
	t.rows.truncate(last)
	if len(t.slots) > minSlots && t.rows.n*8 < len(t.slots) {
		t.resize(len(t.slots) / 2)
	}
}

// unslot empties slot and moves later entries of its probe run back so
// that every entry stays reachable from its home slot (deletion without
// tombstones, for linear probing).
func (t *Table) unslot(slot int) {
	mask := len(t.slots) - 1
	hole := slot
	for j := (hole + 1) & mask; t.slots[j] != 0; j = (j + 1) & mask {
		home := t.home(&t.rows.at(int(t.slots[j] - 1)).key)
		// The entry at j may fill the hole unless its home lies
		// cyclically in (hole, j]: then it must stay after its home.
		if (j-home)&mask >= (j-hole)&mask {
			t.slots[hole] = t.slots[j]
			hole = j
		}
	}
	t.slots[hole] = 0
}

// Restore adds a flow as a committed cycle left it, with the number ref
// its writer attached to it (the store's row id): how a table is rebuilt
// from stored rows. It must be called before the first Begin or between
// cycles, and fails for a tuple the table already has.
func (t *Table) Restore(k conntrack.FlowKey, state string, status conntrack.Status, c conntrack.Counters, ref int64) error {
	t.settle()
	tk := k.Pack()
	if t.lookup(tk) >= 0 {
		return fmt.Errorf("restore flow %s: it is active twice", k)
	}
	st, ok := t.states.id(state)
	if !ok {
		return fmt.Errorf("restore flow %s: more than %d distinct states", k, MaxStates)
	}
	r := t.rows.at(t.insert(tk))
	r.ref, r.stored, r.cur = ref, c, c
	r.state, r.curState, r.status, r.curStatus = st, st, status, status
	return nil
}

// settle applies the last cycle if it committed, and forgets it.
func (t *Table) settle() {
	c := t.last
	t.last = nil
	if c == nil || c.done != committed {
		return
	}
	d := &c.delta
	t.gone.settle(c)
	for _, kind := range [...][]int32{d.opened, d.updated} {
		for _, i := range kind {
			r := t.rows.at(int(i))
			r.stored, r.state, r.status, r.id = r.cur, r.curState, r.curStatus, r.curID
		}
	}
	// Last first: remove moves the last row into the freed place, and
	// every row after a closed one is kept by then (closed is ascending).
	for j := len(d.closed) - 1; j >= 0; j-- {
		t.remove(int(d.closed[j]))
	}
	if len(t.states.text) > MaxStates/2 {
		t.restartStates()
	}
}

// restartStates re-interns the states of the rows, forgetting the rest:
// texts are never forgotten while the table lives otherwise.
func (t *Table) restartStates() {
	old := t.states.text
	t.states = words{}
	for i := range t.rows.n {
		r := t.rows.at(i)
		r.state, _ = t.states.id(old[r.state])
		r.curState = r.state
	}
}
