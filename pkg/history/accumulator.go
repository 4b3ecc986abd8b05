package history

import (
	"net/netip"
	"time"

	"github.com/netmon-dev/netmon/pkg/conntrack"
	"github.com/netmon-dev/netmon/pkg/flows"
)

// Usage is the traffic of a bucket: the growth of the counters seen in it
// and the connections opened in it.
type Usage struct {
	conntrack.Counters
	Connections uint64
}

// Add adds u's figures to v's.
func (v *Usage) Add(u Usage) {
	v.UplinkBytes += u.UplinkBytes
	v.DownlinkBytes += u.DownlinkBytes
	v.UplinkPackets += u.UplinkPackets
	v.DownlinkPackets += u.DownlinkPackets
	v.Connections += u.Connections
}

// TotalBytes is uplink plus downlink bytes.
func (v Usage) TotalBytes() uint64 { return v.UplinkBytes + v.DownlinkBytes }

// The keys of a Batch. Start is a bucket's start in Unix seconds; a
// device is its id ("aa:bb:cc:dd:ee:ff", "ip:10.0.0.9").
type (
	// DeviceKey is a device's bucket of one resolution.
	DeviceKey struct {
		Device string
		Res    Res
		Start  int64
	}
	// RemoteKey is a remote host's day.
	RemoteKey struct {
		Remote netip.Addr
		Start  int64
	}
	// PairKey is a device's day with one remote host.
	PairKey struct {
		Device string
		Start  int64
		Remote netip.Addr
	}
	// ServiceKey is a device's day of one service class.
	ServiceKey struct {
		Device  string
		Start   int64
		Service Service
	}
	// AddrKey is one address a device used.
	AddrKey struct {
		Device string
		Addr   netip.Addr
	}
)

// Batch is the growth a commit writes: every bucket it touches with what
// to add to it, each device's lifetime totals to add, and when devices,
// their addresses and remote hosts were seen.
type Batch struct {
	Devices  map[DeviceKey]Usage
	Remotes  map[RemoteKey]Usage
	Pairs    map[PairKey]Usage
	Services map[ServiceKey]Usage
	Totals   map[string]Usage // lifetime, per device
	// Seen is the first and last time each device was seen in the batch;
	// Addrs the last time each of its addresses was; RemoteSeen the first
	// time each remote host was.
	Seen       map[string]Seen
	Addrs      map[AddrKey]time.Time
	RemoteSeen map[netip.Addr]time.Time
}

// Seen is a first and a last time.
type Seen struct{ First, Last time.Time }

func newBatch() *Batch {
	return &Batch{
		Devices: map[DeviceKey]Usage{}, Remotes: map[RemoteKey]Usage{}, Pairs: map[PairKey]Usage{},
		Services: map[ServiceKey]Usage{}, Totals: map[string]Usage{}, Seen: map[string]Seen{},
		Addrs: map[AddrKey]time.Time{}, RemoteSeen: map[netip.Addr]time.Time{},
	}
}

// Empty reports whether b holds nothing to write.
func (b *Batch) Empty() bool {
	return len(b.Devices) == 0 && len(b.Seen) == 0 && len(b.RemoteSeen) == 0
}

// merge adds o into b.
func (b *Batch) merge(o *Batch) {
	addAll(b.Devices, o.Devices)
	addAll(b.Remotes, o.Remotes)
	addAll(b.Pairs, o.Pairs)
	addAll(b.Services, o.Services)
	addAll(b.Totals, o.Totals)
	for d, s := range o.Seen {
		b.see(d, s.First)
		b.see(d, s.Last)
	}
	for k, t := range o.Addrs {
		if t.After(b.Addrs[k]) {
			b.Addrs[k] = t
		}
	}
	for a, t := range o.RemoteSeen {
		if old, ok := b.RemoteSeen[a]; !ok || t.Before(old) {
			b.RemoteSeen[a] = t
		}
	}
}

func addAll[K comparable](dst, src map[K]Usage) {
	for k, u := range src {
		v := dst[k]
		v.Add(u)
		dst[k] = v
	}
}

func (b *Batch) see(device string, t time.Time) {
	s, ok := b.Seen[device]
	if !ok || t.Before(s.First) {
		s.First = t
	}
	if t.After(s.Last) {
		s.Last = t
	}
	b.Seen[device] = s
}

// MaxBackStep is how far back the clock may step before the Accumulator
// trusts it again: a smaller step (an NTP correction) keeps attributing
// growth to the latest bucket seen, so no bucket already closed is
// written again; a larger one means the clock was wrong before, and the
// new time is used.
const MaxBackStep = 24 * time.Hour

// Accumulator folds each cycle's delta into the growth the next commit
// writes. It is not safe for concurrent use.
type Accumulator struct {
	Cal Calendar
	// Floor is the earliest sane time (the build date, say): growth seen
	// while the clock reads earlier (a router without a battery, before
	// NTP) is held and attributed to the first sane bucket.
	Floor time.Time
	// Services, when set, keeps the per-service split of daily buckets.
	Services bool

	pending *Batch
	held    *Batch    // growth seen before the clock was sane, Start 0
	high    time.Time // the latest time growth was attributed to
	groups  map[group]Usage
}

// group is one cycle's growth of a device with a remote host for one
// service: the flows that land in the same buckets.
type group struct {
	device  string
	remote  netip.Addr
	service Service
	addr    netip.Addr // the device's address the flows came from
}

// Add folds the growth of every change of d, read at now, into the
// pending batch; device names the LAN address's device. Opened flows
// count as connections; Closed ones carry no growth of their own.
func (a *Accumulator) Add(now time.Time, d *flows.Delta, device func(netip.Addr) string) {
	// The groups are a cycle's scratch space: kept for the next cycle,
	// unless a cold start made them big (a map keeps its buckets).
	if a.groups == nil || len(a.groups) > 4096 {
		a.groups = map[group]Usage{}
	}
	clear(a.groups)
	for c := range d.All() {
		if c.Kind == flows.Closed && c.Growth == (conntrack.Counters{}) {
			continue
		}
		g := group{device: device(c.Key.Src), remote: c.Key.Dst, addr: c.Key.Src}
		if a.Services {
			g.service = ServiceOf(c.Key)
		}
		u := a.groups[g]
		u.Add(Usage{Counters: c.Growth})
		// A connection is counted when it starts: Opened (a Restarted
		// flow is one), or recorded Whole from its DESTROY event (it came
		// and went between two reads). A Late flow was counted already.
		if c.Kind == flows.Opened || c.Whole {
			u.Connections++
		}
		a.groups[g] = u
	}
	if len(a.groups) == 0 {
		return
	}
	t, sane := a.when(now)
	if !sane {
		if a.held == nil {
			a.held = newBatch()
		}
		a.fold(a.held, time.Time{}, false)
		return
	}
	if a.pending == nil {
		a.pending = newBatch()
	}
	if a.held != nil {
		a.pending.merge(a.rebucket(a.held, t))
		a.held = nil
	}
	a.fold(a.pending, t, true)
}

// when returns the time to attribute growth read at now to, and false
// while the clock is not sane yet.
func (a *Accumulator) when(now time.Time) (time.Time, bool) {
	if now.Before(a.Floor) {
		return time.Time{}, false
	}
	if now.Before(a.high) && a.high.Sub(now) <= MaxBackStep {
		return a.high, true
	}
	a.high = now
	return now, true
}

// fold adds the cycle's groups into b at time t (sane: in t's buckets;
// else at Start 0, to be rebucketed).
func (a *Accumulator) fold(b *Batch, t time.Time, sane bool) {
	var starts [len(Resolutions)]int64
	day := int64(0)
	if sane {
		for i, r := range Resolutions {
			starts[i] = a.Cal.Start(r, t).Unix()
		}
		day = starts[2]
	}
	for g, u := range a.groups {
		for i, r := range Resolutions {
			add(b.Devices, DeviceKey{g.device, r, starts[i]}, u)
		}
		add(b.Remotes, RemoteKey{g.remote, day}, u)
		add(b.Pairs, PairKey{g.device, day, g.remote}, u)
		if a.Services {
			add(b.Services, ServiceKey{g.device, day, g.service}, u)
		}
		add(b.Totals, g.device, u)
		if sane {
			b.see(g.device, t)
			if t.After(b.Addrs[AddrKey{g.device, g.addr}]) {
				b.Addrs[AddrKey{g.device, g.addr}] = t
			}
			if _, ok := b.RemoteSeen[g.remote]; !ok {
				b.RemoteSeen[g.remote] = t
			}
		} else {
			b.Addrs[AddrKey{g.device, g.addr}] = time.Time{}
			b.RemoteSeen[g.remote] = time.Time{}
			b.Seen[g.device] = Seen{}
		}
	}
}

func add[K comparable](m map[K]Usage, k K, u Usage) {
	v := m[k]
	v.Add(u)
	m[k] = v
}

// rebucket moves held growth (Start 0, times zero) into the buckets of t.
func (a *Accumulator) rebucket(h *Batch, t time.Time) *Batch {
	b := newBatch()
	day := a.Cal.Start(Day, t).Unix()
	for k, u := range h.Devices {
		k.Start = a.Cal.Start(k.Res, t).Unix()
		add(b.Devices, k, u)
	}
	for k, u := range h.Remotes {
		k.Start = day
		add(b.Remotes, k, u)
	}
	for k, u := range h.Pairs {
		k.Start = day
		add(b.Pairs, k, u)
	}
	for k, u := range h.Services {
		k.Start = day
		add(b.Services, k, u)
	}
	addAll(b.Totals, h.Totals)
	for d := range h.Seen {
		b.see(d, t)
	}
	for k := range h.Addrs {
		b.Addrs[k] = t
	}
	for r := range h.RemoteSeen {
		b.RemoteSeen[r] = t
	}
	return b
}

// Take returns the pending batch (nil when nothing is pending) and starts
// a new one. Growth held for an insane clock stays held.
func (a *Accumulator) Take() *Batch {
	b := a.pending
	a.pending = nil
	if b != nil && b.Empty() {
		return nil
	}
	return b
}

// Return puts back a batch whose commit failed, to be committed with the
// next one: nothing is lost and, since the commit wrote nothing, nothing
// is counted twice.
func (a *Accumulator) Return(b *Batch) {
	if b == nil {
		return
	}
	if a.pending == nil {
		a.pending = b
		return
	}
	b.merge(a.pending)
	a.pending = b
}

// Total is a device's or a remote host's traffic over a span, as reports
// list it: Device for a device (Remote zero), Remote for a remote host.
type Total struct {
	Device string
	Remote netip.Addr
	Name   string
	Usage
}

// Remote is what the record knows of a remote host beside its traffic:
// its name, where the name came from ("dns": a client's own lookup,
// "ptr": reverse DNS; "" with no name) and when it was first seen.
type Remote struct {
	Addr       netip.Addr
	Name       string
	NameSource string
	FirstSeen  time.Time
}

// Point is one bucket of a history: its start and its traffic.
type Point struct {
	Start time.Time
	Usage
}

// Pending returns the growth pending for the next commit, nil when there
// is none. It is the Accumulator's own: read it, do not change it.
func (a *Accumulator) Pending() *Batch { return a.pending }
