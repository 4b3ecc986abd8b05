package device

import (
	"cmp"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of Options' zero fields.
const (
	DefaultMaxDevices = 4096
	DefaultMaxAddrs   = 16
	DefaultAddrTTL    = 24 * time.Hour
)

// Options bound and shape a Registry. The zero value is usable.
type Options struct {
	// MaxDevices caps the devices held; past it the least recently seen
	// are forgotten (the store keeps their record). Default 4096.
	MaxDevices int
	// MaxAddrs caps the addresses of one device; past it the least
	// recently seen is dropped. Default 16.
	MaxAddrs int
	// AddrTTL: an address of a MAC device not seen in the neighbour table
	// for this long is dropped from it (IPv6 privacy addresses rotate, a
	// lease moves). Default 24 h.
	AddrTTL time.Duration
	// Local reports whether an address is on the LAN. A neighbour entry
	// whose address is not local only joins a device already known by its
	// MAC (a LAN machine's link-local address), so the upstream router on
	// the WAN side never becomes a device. Nil: every address is local.
	Local func(netip.Addr) bool
	// Vendor names the maker of a MAC (the OUI table), or "". Nil: none.
	Vendor func(MAC) string
}

// Registry is the set of devices, safe for concurrent use: the ingest
// cycle calls Resolve while a refresher calls Observe and SetNames.
type Registry struct {
	opt Options

	mu     sync.RWMutex
	byID   map[ID]*entry
	byMAC  map[MAC]*entry
	byAddr map[netip.Addr]*entry
	names  [numSources]nameTable // SourceVendor's slot unused (Options.Vendor)
}

type entry struct {
	id     ID
	mac    MAC
	addrs  []seenAddr // most recently seen first
	name   string
	src    NameSource
	vendor string
	first  time.Time
	// last is the latest time, in Unix nanoseconds, the device was seen in
	// the neighbour table or behind a flow; atomic so that Resolve, under
	// the read lock, can advance it.
	last atomic.Int64
}

type seenAddr struct {
	addr netip.Addr
	seen time.Time
}

type nameTable struct {
	byMAC  map[MAC]string
	byAddr map[netip.Addr]string
}

// NewRegistry returns an empty registry.
func NewRegistry(opt Options) *Registry {
	if opt.MaxDevices <= 0 {
		opt.MaxDevices = DefaultMaxDevices
	}
	if opt.MaxAddrs <= 0 {
		opt.MaxAddrs = DefaultMaxAddrs
	}
	if opt.AddrTTL <= 0 {
		opt.AddrTTL = DefaultAddrTTL
	}
	return &Registry{
		opt:    opt,
		byID:   make(map[ID]*entry),
		byMAC:  make(map[MAC]*entry),
		byAddr: make(map[netip.Addr]*entry),
	}
}

// Resolve returns the device behind LAN address a: the MAC device the
// neighbour table showed it with, or the "ip:" device of the address,
// created on first use. The caller passes only LAN addresses (the flow's
// original source); an invalid address gives "". now advances the
// device's LastSeen. A known address costs one map lookup under a read
// lock and does not allocate; only the first sight of an address without
// a neighbour entry allocates its ID.
func (r *Registry) Resolve(a netip.Addr, now time.Time) ID {
	if !a.IsValid() {
		return ""
	}
	if a.Is4In6() || a.Zone() != "" {
		a = normAddr(a)
	}
	r.mu.RLock()
	e := r.byAddr[a]
	if e != nil {
		e.touch(now)
		id := e.id
		r.mu.RUnlock()
		return id
	}
	r.mu.RUnlock()

	r.mu.Lock()
	defer r.mu.Unlock()
	if e = r.byAddr[a]; e == nil {
		e = r.add(AddrID(a), MAC{}, now)
		e.addrs = append(e.addrs, seenAddr{a, now})
		r.byAddr[a] = e
		r.nameOf(e)
		r.evict()
	}
	e.touch(now)
	return e.id
}

func (e *entry) touch(now time.Time) {
	n := now.UnixNano()
	if e.last.Load() < n {
		e.last.Store(n)
	}
}

// Observe folds one reading of the neighbour table in at time now. Every
// address seen with a MAC joins that MAC's device (leaving the device it
// belonged to); an "ip:" device whose address now has a MAC is merged into
// the MAC's device and reported, in order, for the caller to merge totals
// and history. Addresses not seen for AddrTTL are dropped from MAC
// devices. Entries with a zero or multicast MAC or an invalid address are
// ignored.
func (r *Registry) Observe(ns []Neighbour, now time.Time) []Merge {
	r.mu.Lock()
	defer r.mu.Unlock()
	var merges []Merge
	// LAN addresses first, so that a MAC first seen in this reading is
	// known when its link-local address comes by.
	for pass := range 2 {
		for _, n := range ns {
			if !n.MAC.Valid() || !n.Addr.IsValid() {
				continue
			}
			a := normAddr(n.Addr)
			local := r.opt.Local == nil || r.opt.Local(a)
			if local != (pass == 0) {
				continue
			}
			e := r.byMAC[n.MAC]
			if e == nil {
				if !local {
					continue
				}
				e = r.add(MACID(n.MAC), n.MAC, now)
			}
			merges = r.attach(e, a, now, merges)
			e.touch(now)
		}
	}
	r.expire(now)
	r.renameAll()
	r.evict()
	return merges
}

// add creates a device; the caller holds the write lock.
func (r *Registry) add(id ID, m MAC, now time.Time) *entry {
	e := &entry{id: id, mac: m, first: now}
	e.last.Store(now.UnixNano())
	if !m.IsZero() {
		r.byMAC[m] = e
		if r.opt.Vendor != nil {
			e.vendor = r.opt.Vendor(m)
		}
	}
	r.byID[id] = e
	return e
}

// attach makes a one of e's addresses, seen at now.
func (r *Registry) attach(e *entry, a netip.Addr, now time.Time, merges []Merge) []Merge {
	if old := r.byAddr[a]; old != nil && old != e {
		if old.mac.IsZero() {
			merges = append(merges, Merge{From: old.id, To: e.id})
			r.absorb(e, old)
		} else {
			old.dropAddr(a)
		}
	}
	r.byAddr[a] = e
	for i := range e.addrs {
		if e.addrs[i].addr == a {
			e.addrs[i].seen = now
			// Keep most recently seen first.
			slices.SortStableFunc(e.addrs, byRecent)
			return merges
		}
	}
	if len(e.addrs) >= r.opt.MaxAddrs {
		last := e.addrs[len(e.addrs)-1]
		if r.byAddr[last.addr] == e {
			delete(r.byAddr, last.addr)
		}
		e.addrs = e.addrs[:len(e.addrs)-1]
	}
	e.addrs = slices.Insert(e.addrs, 0, seenAddr{a, now})
	return merges
}

func byRecent(x, y seenAddr) int { return y.seen.Compare(x.seen) }

// absorb merges the "ip:" device old into e and forgets old.
func (r *Registry) absorb(e, old *entry) {
	if old.first.Before(e.first) {
		e.first = old.first
	}
	e.touch(time.Unix(0, old.last.Load()))
	// A remembered name of the old device is kept if e has none better.
	if old.name != "" && (e.name == "" || old.src < e.src) {
		e.name, e.src = old.name, old.src
	}
	delete(r.byID, old.id)
}

func (e *entry) dropAddr(a netip.Addr) {
	e.addrs = slices.DeleteFunc(e.addrs, func(s seenAddr) bool { return s.addr == a })
}

// expire drops the addresses of MAC devices not seen for AddrTTL. An
// "ip:" device keeps its one address: it is the device.
func (r *Registry) expire(now time.Time) {
	cut := now.Add(-r.opt.AddrTTL)
	for _, e := range r.byID {
		if e.mac.IsZero() {
			continue
		}
		e.addrs = slices.DeleteFunc(e.addrs, func(s seenAddr) bool {
			if !s.seen.Before(cut) {
				return false
			}
			if r.byAddr[s.addr] == e {
				delete(r.byAddr, s.addr)
			}
			return true
		})
	}
}

// evict forgets the least recently seen devices past MaxDevices, an
// eighth of the cap at a time so that a flood of new addresses costs one
// sort per batch, not one scan per address.
func (r *Registry) evict() {
	if len(r.byID) <= r.opt.MaxDevices {
		return
	}
	all := make([]*entry, 0, len(r.byID))
	for _, e := range r.byID {
		all = append(all, e)
	}
	slices.SortFunc(all, func(x, y *entry) int {
		return cmp.Or(cmp.Compare(x.last.Load(), y.last.Load()), cmp.Compare(x.id, y.id))
	})
	n := len(all) - r.opt.MaxDevices + r.opt.MaxDevices/8
	for _, e := range all[:min(n, len(all)-1)] {
		r.forget(e)
	}
}

func (r *Registry) forget(e *entry) {
	for _, s := range e.addrs {
		if r.byAddr[s.addr] == e {
			delete(r.byAddr, s.addr)
		}
	}
	if !e.mac.IsZero() && r.byMAC[e.mac] == e {
		delete(r.byMAC, e.mac)
	}
	delete(r.byID, e.id)
}

// SetNames replaces everything source src says about names (each refresh
// of the lease files hands over the whole current set). A name keyed by
// MAC names that MAC's device; one keyed by address names the device
// holding the address. Empty names are ignored. SourceVendor comes from
// Options.Vendor, not from here.
func (r *Registry) SetNames(src NameSource, names []Name) {
	if src == SourceNone || src >= SourceVendor {
		return
	}
	t := nameTable{byMAC: make(map[MAC]string), byAddr: make(map[netip.Addr]string)}
	for _, n := range names {
		if n.Name == "" {
			continue
		}
		if n.MAC.Valid() {
			if _, dup := t.byMAC[n.MAC]; !dup {
				t.byMAC[n.MAC] = n.Name
			}
		} else if n.Addr.IsValid() {
			a := normAddr(n.Addr)
			if _, dup := t.byAddr[a]; !dup {
				t.byAddr[a] = n.Name
			}
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.names[src] = t
	r.renameAll()
}

func (r *Registry) renameAll() {
	for _, e := range r.byID {
		r.nameOf(e)
	}
}

// nameOf sets e's name from the first source that knows it, in priority
// order. When none does, the name last learned stays (a device that went
// offline, its lease gone, keeps its name), unless it was only the
// vendor's, which the vendor then replaces.
func (r *Registry) nameOf(e *entry) {
	for src := SourceConfig; src < SourceVendor; src++ {
		t := &r.names[src]
		if !e.mac.IsZero() {
			if n, ok := t.byMAC[e.mac]; ok {
				e.name, e.src = n, src
				return
			}
		}
		for _, s := range e.addrs {
			if n, ok := t.byAddr[s.addr]; ok {
				e.name, e.src = n, src
				return
			}
		}
	}
	if e.name != "" && e.src != SourceVendor {
		return
	}
	if e.vendor != "" {
		e.name, e.src = e.vendor, SourceVendor
	}
}

// Name returns the current name of device id and its source ("" and
// SourceNone for an unknown or unnamed device). It does not allocate.
func (r *Registry) Name(id ID) (string, NameSource) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if e := r.byID[id]; e != nil {
		return e.name, e.src
	}
	return "", SourceNone
}

// Device returns a copy of device id.
func (r *Registry) Device(id ID) (Device, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	e := r.byID[id]
	if e == nil {
		return Device{}, false
	}
	return e.device(), true
}

// Len is the number of devices held.
func (r *Registry) Len() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.byID)
}

func (e *entry) device() Device {
	d := Device{
		ID:         e.id,
		MAC:        e.mac,
		Name:       e.name,
		NameSource: e.src,
		Vendor:     e.vendor,
		Randomized: !e.mac.IsZero() && e.mac.Randomized(),
		FirstSeen:  e.first,
		LastSeen:   time.Unix(0, e.last.Load()).UTC(),
	}
	if len(e.addrs) > 0 {
		d.Addrs = make([]netip.Addr, len(e.addrs))
		for i, s := range e.addrs {
			d.Addrs[i] = s.addr
		}
	}
	return d
}

// Snapshot returns every device as plain values, sorted by ID: what the
// store persists and `netmon devices` lists.
func (r *Registry) Snapshot() []Device {
	r.mu.RLock()
	out := make([]Device, 0, len(r.byID))
	for _, e := range r.byID {
		out = append(out, e.device())
	}
	r.mu.RUnlock()
	slices.SortFunc(out, func(x, y Device) int { return cmp.Compare(x.ID, y.ID) })
	return out
}

// Restore loads devices a Snapshot returned (from the store, at start-up)
// into the registry, names and name sources included, so that a device
// offline since keeps its name. A device already held is overwritten. An
// address two devices claim goes to the one seen last; an "ip:" device
// whose address a MAC device holds is merged into it and reported, as
// Observe does. Devices with an unusable ID are skipped.
func (r *Registry) Restore(ds []Device) []Merge {
	r.mu.Lock()
	defer r.mu.Unlock()
	ds = slices.Clone(ds)
	// MAC devices first, then oldest first: the last seen claims an address.
	slices.SortStableFunc(ds, func(x, y Device) int {
		return cmp.Or(cmp.Compare(boolInt(x.ID.IsAddr()), boolInt(y.ID.IsAddr())), x.LastSeen.Compare(y.LastSeen))
	})
	var merges []Merge
	for _, d := range ds {
		id, err := ParseID(string(d.ID))
		if err != nil {
			continue
		}
		if old := r.byID[id]; old != nil {
			r.forget(old)
		}
		m, _ := id.MAC()
		last := d.LastSeen
		if last.IsZero() {
			last = d.FirstSeen
		}
		e := r.add(id, m, d.FirstSeen)
		e.last.Store(last.UnixNano())
		e.name, e.src = d.Name, d.NameSource
		if e.vendor == "" {
			e.vendor = d.Vendor
		}
		if a, ok := id.Addr(); ok {
			if owner := r.byAddr[a]; owner != nil && !owner.mac.IsZero() {
				merges = append(merges, Merge{From: id, To: owner.id})
				r.absorb(owner, e)
				continue
			}
			if owner := r.byAddr[a]; owner != nil {
				r.forget(owner)
			}
			e.addrs = []seenAddr{{a, last}}
			r.byAddr[a] = e
			continue
		}
		for i := len(d.Addrs) - 1; i >= 0; i-- {
			if a := d.Addrs[i]; a.IsValid() {
				merges = r.attach(e, normAddr(a), last, merges)
			}
		}
	}
	r.renameAll()
	r.evict()
	return merges
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
