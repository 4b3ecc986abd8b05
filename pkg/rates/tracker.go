package rates

import (
	"iter"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/netmon-dev/netmon/pkg/conntrack"
	"github.com/netmon-dev/netmon/pkg/flows"
)

// DefaultWindow is the window of a Tracker whose window is not set.
const DefaultWindow = 10 * time.Second

// MaxAddrs bounds the addresses kept per device.
const MaxAddrs = 8

// written is what a writer last got of a thing: whether its rate is
// known and its rates in whole bits per second (window up, down, last up,
// down), so that only a change a reader can see is written again.
type written struct {
	known bool
	bps   [4]int64
}

func writtenOf(r Reading) written {
	if !r.Known {
		return written{}
	}
	wu, wd := r.Window.Bps()
	lu, ld := r.Last.Bps()
	return written{known: true, bps: [4]int64{wu, wd, lu, ld}}
}

// flowRate is what a writer stores of a connection: its window mean in
// whole bits per second, up and down. Zero is stored as none (a reader
// tells them apart by the row's first reading), so that a flow's second
// reading without growth, the common case, writes nothing; the last
// cycle's rate is not stored at all (Lookup and Conns have it), since it
// changes every cycle a flow's traffic does.
type flowRate [2]int64

func flowRateOf(r Reading) flowRate {
	if !r.Known {
		return flowRate{}
	}
	up, down := r.Window.Bps()
	return flowRate{up, down}
}

// FlowStep is how far a connection's window mean may move before a
// writer gets it again: 1/FlowStep of its total, in either direction.
// Writing every flow whose mean moved at all would cost as much as the
// reconcile itself at 100,000 flows with traffic; a stored mean is
// within this of the tracker's, and a rate that falls to zero or rises
// from it is always written.
const FlowStep = 16

// moved reports whether a writer must get r again, having w.
func (r flowRate) moved(w flowRate) bool {
	if (r == flowRate{}) != (w == flowRate{}) {
		return true
	}
	step := (r[0] + r[1] + w[0] + w[1]) / (2 * FlowStep)
	return abs(r[0]-w[0]) > step || abs(r[1]-w[1]) > step
}

func abs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

// flow is a tracked flow. A flow that ended (closed, or restarted as a
// new flow of its tuple) is dead: out of the index, its slot kept until
// its samples leave the window.
type flow struct {
	series
	key                        conntrack.PackedKey
	ref                        int64
	uplinkBytes, downlinkBytes uint64
	wrote                      flowRate
	seen                       uint32 // the last cycle that listed it in the delta
	rem                        int32  // its remote host's slot + 1 when last looked up (0: none)
	live, dead                 bool
}

// device is a tracked device.
type device struct {
	series
	spark
	id     string
	addrs  []addrSeen // most recent first
	active time.Time  // the last cycle one of its flows changed
	wrote  written
	wroteA string // the addresses last written
	row    bool   // a writer has its row
	live   bool
}

type addrSeen struct {
	addr netip.Addr
	at   time.Time
}

// remote is a tracked remote host.
type remote struct {
	series
	addr  netip.Addr
	wrote flowRate
	row   bool
	live  bool
}

// acc is one cycle's growth of a device or remote host, summed over its
// flows before it becomes a sample.
type acc struct{ up, down uint64 }

// Tracker computes rates from the deltas of successive cycles. Feed it
// every successful cycle with Add; read it between Adds. It is not safe
// for concurrent use.
type Tracker struct {
	window time.Duration
	cy     cycles
	cols   [kinds]columns

	flows     []flow
	flowFree  []int32
	flowIndex map[conntrack.PackedKey]int32
	flowLive  int // entries of flowIndex
	flowPeak  int // flowIndex's largest size since it was last rebuilt

	devices   []device
	devFree   []int32
	devIndex  map[string]int32
	devOfAddr map[addrKey]int32 // this cycle's answers of the device function
	devAcc    []acc
	devSeen   []int32 // devices with growth this cycle

	remotes  []remote
	remFree  []int32
	remIndex map[addrKey]int32
	remAcc   []acc
	remSeen  []int32
	total    series
	totalAcc acc
	sparkT   spark // the router's sparkline
	tk       ticks
	changes  Changes
	rewrite  bool
}

// New returns a tracker with a window of window (<= 0: DefaultWindow).
func New(window time.Duration) *Tracker {
	if window <= 0 {
		window = DefaultWindow
	}
	return &Tracker{
		window:    window,
		flowIndex: make(map[conntrack.PackedKey]int32),
		devIndex:  make(map[string]int32),
		devOfAddr: make(map[addrKey]int32),
		remIndex:  make(map[addrKey]int32),
		total:     series{first: 1},
		rewrite:   true,
	}
}

// Window is the tracker's window.
func (t *Tracker) Window() time.Duration { return t.window }

// Cycles is how many cycles Add has seen.
func (t *Tracker) Cycles() int64 { return int64(t.cy.seq) }

// At is the time of the last Add (zero before the first).
func (t *Tracker) At() time.Time {
	if t.cy.seq == 0 {
		return time.Time{}
	}
	return t.cy.at(t.cy.seq)
}

// Add folds one cycle into the rates: d is what the cycle read at now
// changed, device names the device of a LAN address (nil: "ip:ADDR").
//
//   - An Opened flow is its first reading: it gets no rate now and its
//     growth (counters of unknown age) counts nowhere; from the next cycle
//     its rate is over the time since now. A Restarted one is the same:
//     the new flow of a tuple starts again, it does not make a rate.
//   - An Updated flow's growth counts for it, its device, its remote host
//     and the router, over the time since the previous Add.
//   - A Closed flow's growth (its final bytes, when its DESTROY told them)
//     counts for its device, remote host and the router; the flow itself
//     is gone.
//
// On its first call there is no previous read: nothing has a rate yet.
// now must not be before the previous Add's.
func (t *Tracker) Add(now time.Time, d *flows.Delta, deviceOf func(netip.Addr) string) {
	var changes iter.Seq[flows.Change]
	if d != nil {
		changes = d.All()
	}
	t.add(now, changes, deviceOf)
}

// add is Add of a delta's changes, the Opened, then the Updated, then the
// Closed (flows.Delta.All).
func (t *Tracker) add(now time.Time, changes iter.Seq[flows.Change], deviceOf func(netip.Addr) string) {
	if deviceOf == nil {
		deviceOf = func(a netip.Addr) string { return "ip:" + a.String() }
	}
	t.changes = Changes{Reset: t.rewrite, Conns: t.changes.Conns[:0], Devices: t.changes.Devices[:0],
		GoneDevices: t.changes.GoneDevices[:0], Remotes: t.changes.Remotes[:0], GoneRemotes: t.changes.GoneRemotes[:0]}
	if t.rewrite {
		t.forgetWritten()
		t.rewrite = false
	}
	t.cy.push(now, &t.cols)
	t.cy.advance(t.window, t.expire)
	clear(t.devOfAddr)
	n := t.cy.seq
	if changes != nil {
		for c := range changes {
			switch c.Kind {
			case flows.Opened:
				t.open(now, &c, deviceOf)
			case flows.Updated:
				t.update(now, &c, deviceOf)
			case flows.Closed:
				t.close(now, &c, deviceOf)
			}
		}
	}
	t.flush()
	if took := t.tick(now); t.changes.Reset {
		t.changes.Ticks = t.tickRange(1, t.tk.n)
	} else if took {
		t.changes.Ticks = t.tickRange(t.tk.n, t.tk.n)
	}
	t.scanFlows()
	t.scanDevices(now)
	t.scanRemotes()
	t.changes.At, t.changes.Cycles, t.changes.Window = now, int64(n), t.window
	t.changes.Total = t.cy.reading(&t.total)
}

// Rewrite makes the next Add's Changes hold everything (with Reset set),
// for a writer whose copy is lost or stale (a failed write).
func (t *Tracker) Rewrite() { t.rewrite = true }

// forgetWritten marks every thing as never written.
func (t *Tracker) forgetWritten() {
	for i := range t.flows {
		t.flows[i].wrote = flowRate{}
	}
	for i := range t.devices {
		t.devices[i].row, t.devices[i].wroteA = false, ""
	}
	for i := range t.remotes {
		t.remotes[i].row = false
	}
}

// expire takes cycle s's samples out of the sums: s left the window.
func (t *Tracker) expire(s uint32) {
	for k := range t.cols {
		col := &t.cols[k][int(s)%len(t.cols[k])]
		for _, x := range *col {
			ser := t.seriesOf(k, x.slot)
			ser.sumUp -= uint64(x.up)
			ser.sumDown -= uint64(x.down)
		}
		shrinkColumn(col, len(*col))
	}
}

func (t *Tracker) seriesOf(kind int, slot int32) *series {
	switch kind {
	case kindFlow:
		return &t.flows[slot].series
	case kindDevice:
		return &t.devices[slot].series
	case kindRemote:
		return &t.remotes[slot].series
	}
	return &t.total
}

// open handles an Opened change: a first reading.
func (t *Tracker) open(now time.Time, c *flows.Change, deviceOf func(netip.Addr) string) {
	n := t.cy.seq
	k := c.Key.Pack()
	if i, ok := t.flowIndex[k]; ok {
		t.end(i) // a new flow of a tuple the tracker still holds
	}
	t.device(now, c.Key.Src, deviceOf, n)
	if n == 1 {
		return // every flow's first reading: none needs a record of it
	}
	t.remote(c.Key.Dst, n)
	i := t.newFlow(k)
	f := &t.flows[i]
	f.first, f.ref, f.seen = n, c.Ref, n
	f.uplinkBytes, f.downlinkBytes = c.Counters.UplinkBytes, c.Counters.DownlinkBytes
}

// update handles an Updated change: growth since the previous read.
func (t *Tracker) update(now time.Time, c *flows.Change, deviceOf func(netip.Addr) string) {
	n := t.cy.seq
	di := t.device(now, c.Key.Src, deviceOf, 0)
	up, down := c.Growth.UplinkBytes, c.Growth.DownlinkBytes
	k := c.Key.Pack()
	i, ok := t.flowIndex[k]
	if n == 1 || (!ok && up == 0 && down == 0) {
		return
	}
	if !ok {
		i = t.newFlow(k) // first: 0, read before the window
	}
	f := &t.flows[i]
	f.ref, f.seen = c.Ref, n
	f.uplinkBytes, f.downlinkBytes = c.Counters.UplinkBytes, c.Counters.DownlinkBytes
	if up == 0 && down == 0 {
		return
	}
	t.cy.add(t.cols[kindFlow], i, &f.series, up, down)
	// The remote host's slot, looked up once while it stays the flow's.
	ri := f.rem - 1
	if ri < 0 || !t.remotes[ri].live || t.remotes[ri].addr != c.Key.Dst {
		ri = t.remote(c.Key.Dst, 0)
		f.rem = ri + 1
	}
	t.grew(di, ri, up, down)
}

// close handles a Closed change: the flow is gone; its final growth, if
// any, counts for its device, remote host and the router.
func (t *Tracker) close(now time.Time, c *flows.Change, deviceOf func(netip.Addr) string) {
	n := t.cy.seq
	di := t.device(now, c.Key.Src, deviceOf, 0)
	// A Closed change of a tuple whose flow this cycle also listed is
	// another flow's end (a DESTROY of a flow that lived between two
	// reads): the listed one goes on. A Whole flow was never tracked and
	// a Late one ended before: neither ends a tracked flow.
	if i, ok := t.flowIndex[c.Key.Pack()]; ok && t.flows[i].seen != n && !c.Whole && !c.Late {
		t.end(i)
	}
	if n > 1 {
		if c.Growth.UplinkBytes|c.Growth.DownlinkBytes != 0 {
			t.grew(di, t.remote(c.Key.Dst, 0), c.Growth.UplinkBytes, c.Growth.DownlinkBytes)
		}
	}
}

// grew adds a flow's growth to its device's, remote host's and the
// router's for this cycle.
func (t *Tracker) grew(di, ri int32, up, down uint64) {
	if up == 0 && down == 0 {
		return
	}
	a := &t.devAcc[di]
	if *a == (acc{}) {
		t.devSeen = append(t.devSeen, di)
	}
	a.up, a.down = a.up+up, a.down+down
	r := &t.remAcc[ri]
	if *r == (acc{}) {
		t.remSeen = append(t.remSeen, ri)
	}
	r.up, r.down = r.up+up, r.down+down
	t.totalAcc.up, t.totalAcc.down = t.totalAcc.up+up, t.totalAcc.down+down
}

// flush turns the cycle's sums into samples of the devices, remote hosts
// and the router.
func (t *Tracker) flush() {
	for _, di := range t.devSeen {
		a, dv := t.devAcc[di], &t.devices[di]
		t.cy.add(t.cols[kindDevice], di, &dv.series, a.up, a.down)
		dv.pendUp, dv.pendDown = dv.pendUp+a.up, dv.pendDown+a.down
		t.devAcc[di] = acc{}
	}
	for _, ri := range t.remSeen {
		a := t.remAcc[ri]
		t.cy.add(t.cols[kindRemote], ri, &t.remotes[ri].series, a.up, a.down)
		t.remAcc[ri] = acc{}
	}
	t.devSeen, t.remSeen = t.devSeen[:0], t.remSeen[:0]
	t.cy.add(t.cols[kindTotal], 0, &t.total, t.totalAcc.up, t.totalAcc.down)
	t.sparkT.pendUp, t.sparkT.pendDown = t.sparkT.pendUp+t.totalAcc.up, t.sparkT.pendDown+t.totalAcc.down
	t.totalAcc = acc{}
}

// tick takes a sparkline sample of every device and the router when one
// is due, and reports whether it did.
func (t *Tracker) tick(now time.Time) bool {
	span, ok := t.tk.next(now)
	if !ok {
		return false
	}
	t.sparkT.take(t.tk.n, span)
	for i := range t.devices {
		if dv := &t.devices[i]; dv.live {
			dv.take(t.tk.n, span)
		}
	}
	return true
}

// tickRange returns the kept ticks from first to last, with the devices
// that were not zero at each.
func (t *Tracker) tickRange(first, last uint64) []Tick {
	if kept, _ := t.tk.since(t.At(), time.Time{}); first < kept {
		first = kept
	}
	var out []Tick
	for i := first; i <= last; i++ {
		tick := Tick{At: t.tk.times[i%sparkCap], Total: t.sparkT.at(i).rate()}
		for j := range t.devices {
			if dv := &t.devices[j]; dv.live {
				if p := dv.at(i); p != (point{}) {
					tick.Devices = append(tick.Devices, DeviceSample{ID: dv.id, Rate: p.rate()})
				}
			}
		}
		out = append(out, tick)
	}
	return out
}

// device returns the slot of the device of LAN address a, tracking it
// (first reading at cycle first) if it is not, and marks a as in use.
func (t *Tracker) device(now time.Time, a netip.Addr, deviceOf func(netip.Addr) string, first uint32) int32 {
	ak := addrKeyOf(a)
	if i, ok := t.devOfAddr[ak]; ok {
		return i
	}
	id := deviceOf(a)
	i, ok := t.devIndex[id]
	if !ok {
		if n := len(t.devFree); n > 0 {
			i, t.devFree = t.devFree[n-1], t.devFree[:n-1]
		} else {
			i = int32(len(t.devices))
			t.devices = append(t.devices, device{})
			t.devAcc = append(t.devAcc, acc{})
		}
		t.devices[i] = device{series: series{first: first}, id: id, live: true}
		t.devIndex[id] = i
	}
	dv := &t.devices[i]
	dv.active = now
	if j := slices.IndexFunc(dv.addrs, func(s addrSeen) bool { return s.addr == a }); j >= 0 {
		dv.addrs = slices.Delete(dv.addrs, j, j+1)
	} else if len(dv.addrs) == MaxAddrs {
		dv.addrs = dv.addrs[:MaxAddrs-1]
	}
	dv.addrs = slices.Insert(dv.addrs, 0, addrSeen{addr: a, at: now})
	t.devOfAddr[ak] = i
	return i
}

// remote returns the slot of remote host a, tracking it (first reading at
// cycle first) if it is not.
func (t *Tracker) remote(a netip.Addr, first uint32) int32 {
	ak := addrKeyOf(a)
	if i, ok := t.remIndex[ak]; ok {
		return i
	}
	var i int32
	if n := len(t.remFree); n > 0 {
		i, t.remFree = t.remFree[n-1], t.remFree[:n-1]
	} else {
		i = int32(len(t.remotes))
		t.remotes = append(t.remotes, remote{})
		t.remAcc = append(t.remAcc, acc{})
	}
	t.remotes[i] = remote{series: series{first: first}, addr: a, live: true}
	t.remIndex[ak] = i
	return i
}

// newFlow tracks a flow of key k, read before the window.
func (t *Tracker) newFlow(k conntrack.PackedKey) int32 {
	var i int32
	if n := len(t.flowFree); n > 0 {
		i, t.flowFree = t.flowFree[n-1], t.flowFree[:n-1]
	} else {
		i = int32(len(t.flows))
		t.flows = append(t.flows, flow{})
	}
	t.flows[i] = flow{key: k, live: true}
	t.flowIndex[k] = i
	t.flowLive++
	t.flowPeak = max(t.flowPeak, t.flowLive)
	return i
}

// end makes a tracked flow dead: out of the index, its row cleared if a
// writer has a rate of it.
func (t *Tracker) end(i int32) {
	f := &t.flows[i]
	delete(t.flowIndex, f.key)
	t.flowLive--
	f.dead = true
	if f.wrote != (flowRate{}) {
		t.changes.Conns = append(t.changes.Conns, Conn{Key: f.key.Unpack(), Ref: f.ref,
			UplinkBytes: f.uplinkBytes, DownlinkBytes: f.downlinkBytes})
		f.wrote = flowRate{}
	}
}

// scanFlows reports the flows whose rates changed and forgets those with
// nothing left in the window.
func (t *Tracker) scanFlows() {
	for i := range t.flows {
		f := &t.flows[i]
		if !f.live {
			continue
		}
		if f.dead {
			if f.last <= t.cy.base {
				t.freeFlow(int32(i))
			}
			continue
		}
		r := t.cy.reading(&f.series)
		if w := flowRateOf(r); w.moved(f.wrote) {
			f.wrote = w
			t.changes.Conns = append(t.changes.Conns, Conn{Key: f.key.Unpack(), Ref: f.ref,
				UplinkBytes: f.uplinkBytes, DownlinkBytes: f.downlinkBytes, Reading: r})
		}
		if f.wrote == (flowRate{}) && t.cy.idle(&f.series) {
			delete(t.flowIndex, f.key)
			t.flowLive--
			t.freeFlow(int32(i))
		}
	}
	t.compactFlows()
}

func (t *Tracker) freeFlow(i int32) {
	t.flows[i] = flow{}
	t.flowFree = append(t.flowFree, i)
}

// compactFlows gives back the memory of a burst (a cold start, a scan)
// once it has passed: the index map is rebuilt when it holds an eighth of
// its peak, and the slots are renumbered when a quarter are in use.
func (t *Tracker) compactFlows() {
	if t.flowPeak > 1024 && t.flowLive*8 < t.flowPeak {
		m := make(map[conntrack.PackedKey]int32, t.flowLive)
		for k, v := range t.flowIndex {
			m[k] = v
		}
		t.flowIndex, t.flowPeak = m, t.flowLive
	}
	used := len(t.flows) - len(t.flowFree)
	if len(t.flows) <= 4096 || used*4 >= len(t.flows) {
		return
	}
	remap := make([]int32, len(t.flows))
	kept := make([]flow, 0, used*2)
	for i := range t.flows {
		if f := &t.flows[i]; f.live {
			remap[i] = int32(len(kept))
			kept = append(kept, *f)
			if !f.dead {
				t.flowIndex[f.key] = remap[i]
			}
		}
	}
	cols := t.cols[kindFlow]
	for s := t.cy.base + 1; s <= t.cy.seq; s++ {
		col := cols[int(s)%len(cols)]
		for j := range col {
			col[j].slot = remap[col[j].slot]
		}
	}
	t.flows, t.flowFree = kept, nil
}

// scanDevices reports the devices whose row changed and forgets those
// with nothing in the window and no change for SparkSpan.
func (t *Tracker) scanDevices(now time.Time) {
	for i := range t.devices {
		dv := &t.devices[i]
		if !dv.live {
			continue
		}
		for len(dv.addrs) > 1 && now.Sub(dv.addrs[len(dv.addrs)-1].at) > SparkSpan {
			dv.addrs = dv.addrs[:len(dv.addrs)-1]
		}
		if t.cy.idle(&dv.series) && now.Sub(dv.active) > SparkSpan && dv.spark.pendUp == 0 && dv.spark.pendDown == 0 {
			if dv.row {
				t.changes.GoneDevices = append(t.changes.GoneDevices, dv.id)
			}
			delete(t.devIndex, dv.id)
			t.devices[i] = device{}
			t.devFree = append(t.devFree, int32(i))
			continue
		}
		r := t.cy.reading(&dv.series)
		w, a := writtenOf(r), addrsText(dv.addrs)
		if !dv.row || w != dv.wrote || a != dv.wroteA {
			dv.row, dv.wrote, dv.wroteA = true, w, a
			t.changes.Devices = append(t.changes.Devices, Device{ID: dv.id, Addrs: dv.addrList(), Reading: r})
		}
	}
}

func (dv *device) addrList() []netip.Addr {
	out := make([]netip.Addr, len(dv.addrs))
	for i, a := range dv.addrs {
		out[i] = a.addr
	}
	return out
}

func addrsText(as []addrSeen) string {
	var b strings.Builder
	for i, a := range as {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(a.addr.String())
	}
	return b.String()
}

// scanRemotes reports the remote hosts whose window mean moved by more
// than 1/FlowStep, like connections (a remote host has a row while its
// window mean is not zero), and forgets those with nothing in the window.
func (t *Tracker) scanRemotes() {
	for i := range t.remotes {
		rm := &t.remotes[i]
		if !rm.live {
			continue
		}
		r := t.cy.reading(&rm.series)
		w := flowRateOf(r)
		switch {
		case w == flowRate{}:
			if rm.row {
				t.changes.GoneRemotes = append(t.changes.GoneRemotes, rm.addr)
				rm.row = false
			}
		case !rm.row || w.moved(rm.wrote):
			rm.row, rm.wrote = true, w
			t.changes.Remotes = append(t.changes.Remotes, Remote{Addr: rm.addr, Reading: r})
		}
		if !rm.row && t.cy.idle(&rm.series) {
			delete(t.remIndex, addrKeyOf(rm.addr))
			t.remotes[i] = remote{}
			t.remFree = append(t.remFree, int32(i))
		}
	}
}

// Lookup returns the rate of a flow active at the last Add: a flow the
// tracker does not hold was read before and grew nothing in the window.
func (t *Tracker) Lookup(k conntrack.FlowKey) Reading {
	if i, ok := t.flowIndex[k.Pack()]; ok {
		return t.cy.reading(&t.flows[i].series)
	}
	return Reading{Known: t.cy.seq >= 2}
}

// Conns yields every flow the tracker holds (those with growth or a
// first reading in the window) with its rate, in no order.
func (t *Tracker) Conns(yield func(Conn) bool) {
	for i := range t.flows {
		f := &t.flows[i]
		if !f.live || f.dead {
			continue
		}
		c := Conn{Key: f.key.Unpack(), Ref: f.ref, UplinkBytes: f.uplinkBytes, DownlinkBytes: f.downlinkBytes,
			Reading: t.cy.reading(&f.series)}
		if !yield(c) {
			return
		}
	}
}

// Now returns the state of the rates after the last Add.
func (t *Tracker) Now(q Query) *Now {
	at := t.At()
	now := &Now{At: at, Cycles: int64(t.cy.seq), Window: t.window, Total: t.cy.reading(&t.total)}
	first, last := t.tk.since(at, q.Since)
	if q.NoSpark {
		first = last + 1
	}
	for i := first; i <= last; i++ {
		now.Ticks = append(now.Ticks, t.tk.times[i%sparkCap])
	}
	now.TotalSpark = t.sparkT.rates(first, last)
	for i := range t.devices {
		if dv := &t.devices[i]; dv.live {
			now.Devices = append(now.Devices, Device{ID: dv.id, Addrs: dv.addrList(),
				Reading: t.cy.reading(&dv.series), Spark: dv.rates(first, last)})
		}
	}
	SortDevices(now.Devices)
	for i := range t.remotes {
		if rm := &t.remotes[i]; rm.live {
			if r := t.cy.reading(&rm.series); r.Window.Total() > 0 {
				now.Remotes = append(now.Remotes, Remote{Addr: rm.addr, Reading: r})
			}
		}
	}
	SortRemotes(now.Remotes)
	if q.Remotes > 0 && len(now.Remotes) > q.Remotes {
		now.Remotes = now.Remotes[:q.Remotes]
	}
	return now
}

// Changes is what the last Add changed, for a writer that keeps a copy
// of the rates (the live state). It is valid until the next Add.
type Changes struct {
	// Reset: the writer's copy is stale (a new tracker, or Rewrite was
	// called): clear it, then apply the rest, which holds everything.
	Reset  bool
	At     time.Time
	Cycles int64
	Window time.Duration
	Total  Reading
	// Conns are the connections whose window mean moved by more than
	// 1/FlowStep, by Ref. A Conn whose reading is unknown or zero clears
	// the row's rates (a flow that ended, decayed to zero, or began
	// again); a reader tells "no rate yet" from "zero" by whether the
	// row's first reading is the last cycle's.
	Conns []Conn
	// Devices are the devices whose row changed (Spark is not set);
	// GoneDevices those to delete.
	Devices     []Device
	GoneDevices []string
	// Remotes are the remote hosts whose window mean moved by more than
	// 1/FlowStep (their last cycle's rate is not kept up to date); a
	// remote host has a row while its window mean is not zero,
	// GoneRemotes are those to delete.
	Remotes     []Remote
	GoneRemotes []netip.Addr
	// Ticks are the sparkline samples taken: this cycle's, if one was
	// due; with Reset, every kept one.
	Ticks []Tick
}

// Tick is one sparkline sample: the router's rate and each device's
// that was not zero.
type Tick struct {
	At      time.Time
	Total   Rate
	Devices []DeviceSample
}

// DeviceSample is a device's rate at a tick.
type DeviceSample struct {
	ID string
	Rate
}

// Changes returns what the last Add changed.
func (t *Tracker) Changes() *Changes { return &t.changes }
