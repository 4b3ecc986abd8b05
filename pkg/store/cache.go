package store

import (
	"context"
	"database/sql"
	"fmt"
	"hash/maphash"
	"net/netip"
	"strings"
)

// The writer's in-memory copy of the active connections is the largest
// thing netmon keeps, so it is laid out for size: a row is 128 bytes with
// no pointers (the garbage collector never scans it), rows live in
// fixed-size chunks (growing never copies them), the index from tuple to
// row is an open-addressing table of 4-byte row numbers (about 8 bytes a
// row against about 60 for a Go map of the 40-byte key), and the few
// distinct protocol, state and flags texts are interned as 16-bit ids.
// At 100,000 active connections that is 13 MB where the first version,
// a map of string-and-netip.Addr keys to row pointers, took 20 MB plus
// a second copy of the snapshot.

// tupleKey identifies a connection row: the columns of the UNIQUE index,
// addresses as 16 bytes (IPv4 mapped, with a bit saying it was IPv4) and
// the protocol as a words id.
type tupleKey struct {
	src, dst     [16]byte
	sport, dport uint16
	proto        uint16
	v4           uint8 // bit 0: src is IPv4; bit 1: dst is IPv4
}

func addrKey(a netip.Addr) [16]byte { return a.As16() }

func keyAddr(b [16]byte, v4 bool) netip.Addr {
	a := netip.AddrFrom16(b)
	if v4 {
		return a.Unmap()
	}
	return a
}

func (k *tupleKey) srcAddr() netip.Addr { return keyAddr(k.src, k.v4&1 != 0) }
func (k *tupleKey) dstAddr() netip.Addr { return keyAddr(k.dst, k.v4&2 != 0) }

// counters are a flow's four counters as stored: int64, saturated.
type counters struct {
	upPackets, upBytes, downPackets, downBytes int64
}

func countersOf(f *Flow) counters {
	return counters{
		upPackets:   saturate(f.UplinkPackets),
		upBytes:     saturate(f.UplinkBytes),
		downPackets: saturate(f.DownlinkPackets),
		downBytes:   saturate(f.DownlinkBytes),
	}
}

// wentDown reports whether any counter of c is below old's: conntrack
// forgot the old flow and a new one of the same tuple took its place.
func (c counters) wentDown(old counters) bool {
	return c.upPackets < old.upPackets || c.upBytes < old.upBytes ||
		c.downPackets < old.downPackets || c.downBytes < old.downBytes
}

// add sums two counter sets, saturating.
func (c counters) add(d counters) counters {
	return counters{
		upPackets:   addSat(c.upPackets, d.upPackets),
		upBytes:     addSat(c.upBytes, d.upBytes),
		downPackets: addSat(c.downPackets, d.downPackets),
		downBytes:   addSat(c.downBytes, d.downBytes),
	}
}

// activeRow is the cached copy of one active connections row (id, stored
// counters, state, flags) and, during a cycle, what the snapshot said of
// its tuple (cur*). A row whose epoch is the cycle's was seen by it.
type activeRow struct {
	key                tupleKey
	id                 int64 // 0 until a cycle inserts a row new to it
	stored             counters
	cur                counters
	state, flags       uint16 // words ids, as stored
	curState, curFlags uint16 // words ids, as this cycle saw them
	epoch              uint64
}

// chunkShift sets the rows per chunk (1024: 128 KiB).
const chunkShift = 10

// arena holds rows in chunks of 1<<chunkShift. A row's index is stable
// until remove moves the last row into its place.
type arena struct {
	chunks [][]activeRow
	n      int
}

func (a *arena) at(i int) *activeRow {
	return &a.chunks[i>>chunkShift][i&(1<<chunkShift-1)]
}

// push appends a zero row and returns its index.
func (a *arena) push() int {
	if a.n == len(a.chunks)<<chunkShift {
		a.chunks = append(a.chunks, make([]activeRow, 1<<chunkShift))
	}
	a.n++
	*a.at(a.n - 1) = activeRow{}
	return a.n - 1
}

// truncate keeps the first n rows, freeing all chunks but one spare
// beyond them (so a table that hovers at a chunk boundary does not
// allocate a chunk every cycle).
func (a *arena) truncate(n int) {
	a.n = n
	keep := (n+1<<chunkShift-1)>>chunkShift + 1
	if keep < len(a.chunks) {
		clear(a.chunks[keep:])
		a.chunks = a.chunks[:keep]
	}
}

// words interns protocol, state and flags texts as 16-bit ids.
type words struct {
	ids  map[string]uint16
	text []string
}

// maxWords bounds the distinct texts one cache holds. Real tables have a
// few dozen (protocols, TCP states, flag sets); a cycle that would exceed
// it fails and the next one starts from a fresh table (see Reconcile).
const maxWords = 1 << 16

func (w *words) id(s string) (uint16, bool) {
	if id, ok := w.ids[s]; ok {
		return id, true
	}
	if len(w.text) >= maxWords {
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

// activeCache mirrors the rows with closed_at IS NULL. It is in step with
// the database when cycles equals ingest_state.cycles; otherwise (another
// process reconciled, or a cycle of ours failed while writing) it is
// reloaded.
type activeCache struct {
	cycles int64
	epoch  uint64 // the last cycle attempt; rows seen by it carry it
	rows   arena
	words  words

	// slots is the index: a linear-probing hash table of row number + 1
	// (0: empty), a power of two long, at most 3/4 full.
	slots []int32
	seed  maphash.Seed
}

// minSlots is the smallest index table.
const minSlots = 1024

func newActiveCache(cycles int64) *activeCache {
	return &activeCache{cycles: cycles, slots: make([]int32, minSlots), seed: maphash.MakeSeed()}
}

// len is the number of cached rows.
func (c *activeCache) len() int { return c.rows.n }

func (c *activeCache) home(k *tupleKey) int {
	return int(maphash.Comparable(c.seed, *k) & uint64(len(c.slots)-1))
}

// find returns the slot holding k's row and the row's index, or the empty
// slot where k would go and -1.
func (c *activeCache) find(k *tupleKey) (slot, row int) {
	mask := len(c.slots) - 1
	for i := c.home(k); ; i = (i + 1) & mask {
		s := c.slots[i]
		if s == 0 {
			return i, -1
		}
		if c.rows.at(int(s-1)).key == *k {
			return i, int(s - 1)
		}
	}
}

// lookup returns the index of k's row, or -1.
func (c *activeCache) lookup(k tupleKey) int {
	_, row := c.find(&k)
	return row
}

// insert adds a zero row for k, which must not be cached, and returns its
// index.
func (c *activeCache) insert(k tupleKey) int {
	i := c.rows.push()
	c.rows.at(i).key = k
	if c.rows.n*4 > len(c.slots)*3 {
		c.resize(len(c.slots) * 2) // indexes the new row too
		return i
	}
	slot, _ := c.find(&k)
	c.slots[slot] = int32(i + 1)
	return i
}

// resize rebuilds the index with n slots.
func (c *activeCache) resize(n int) {
	c.slots = make([]int32, n)
	for i := range c.rows.n {
		slot, _ := c.find(&c.rows.at(i).key)
		c.slots[slot] = int32(i + 1)
	}
}

// remove drops row i, moving the last row into its place.
func (c *activeCache) remove(i int) {
	slot, _ := c.find(&c.rows.at(i).key)
	c.unslot(slot)
	last := c.rows.n - 1
	if i != last {
		r := c.rows.at(i)
		*r = *c.rows.at(last)
		moved, _ := c.find(&r.key)
		c.slots[moved] = int32(i + 1)
	}
	c.rows.truncate(last)
	if len(c.slots) > minSlots && c.rows.n*8 < len(c.slots) {
		c.resize(len(c.slots) / 2)
	}
}

// unslot empties slot and moves later entries of its probe run back so
// that every entry stays reachable from its home slot (deletion without
// tombstones, for linear probing).
func (c *activeCache) unslot(slot int) {
	mask := len(c.slots) - 1
	hole := slot
	for j := (hole + 1) & mask; c.slots[j] != 0; j = (j + 1) & mask {
		home := c.home(&c.rows.at(int(c.slots[j] - 1)).key)
		// The entry at j may fill the hole unless its home lies
		// cyclically in (hole, j]: then it must stay after its home.
		if (j-home)&mask >= (j-hole)&mask {
			c.slots[hole] = c.slots[j]
			hole = j
		}
	}
	c.slots[hole] = 0
}

// loadActive reads every active connection into a fresh cache.
func loadActive(ctx context.Context, tx *sql.Tx, cycles int64) (*activeCache, error) {
	rows, err := tx.QueryContext(ctx, `
		SELECT id, proto, src_ip, src_port, dst_ip, dst_port, state, flags,
		       uplink_packets, uplink_bytes, downlink_packets, downlink_bytes
		FROM connections WHERE closed_at IS NULL`)
	if err != nil {
		return nil, fmt.Errorf("load active connections: %w", err)
	}
	defer rows.Close()
	c := newActiveCache(cycles)
	for rows.Next() {
		var (
			r                          activeRow
			proto, src, dst, st, flags string
		)
		if err := rows.Scan(&r.id, &proto, &src, &r.key.sport, &dst, &r.key.dport, &st, &flags,
			&r.stored.upPackets, &r.stored.upBytes, &r.stored.downPackets, &r.stored.downBytes); err != nil {
			return nil, fmt.Errorf("load active connections: %w", err)
		}
		srcIP, err := netip.ParseAddr(src)
		if err != nil {
			return nil, fmt.Errorf("load connection %d: src_ip: %w", r.id, err)
		}
		dstIP, err := netip.ParseAddr(dst)
		if err != nil {
			return nil, fmt.Errorf("load connection %d: dst_ip: %w", r.id, err)
		}
		r.key.src, r.key.dst = addrKey(srcIP), addrKey(dstIP)
		if srcIP.Is4() {
			r.key.v4 |= 1
		}
		if dstIP.Is4() {
			r.key.v4 |= 2
		}
		var ok [3]bool
		r.key.proto, ok[0] = c.words.id(proto)
		r.state, ok[1] = c.words.id(st)
		r.flags, ok[2] = c.words.id(flags)
		if ok != [3]bool{true, true, true} {
			return nil, fmt.Errorf("load active connections: more than %d distinct protocol, state and flags texts", maxWords)
		}
		r.curState, r.curFlags, r.cur = r.state, r.flags, r.stored
		if c.lookup(r.key) >= 0 {
			return nil, fmt.Errorf("load connection %d: tuple %s is active twice", r.id, c.keyString(&r.key))
		}
		*c.rows.at(c.insert(r.key)) = r
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load active connections: %w", err)
	}
	return c, nil
}

// keyString is the text form of a tuple, for error messages.
func (c *activeCache) keyString(k *tupleKey) string {
	return fmt.Sprintf("%s|%s|%d|%s|%d", c.words.text[k.proto], k.srcAddr(), k.sport, k.dstAddr(), k.dport)
}
