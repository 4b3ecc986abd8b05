package alert

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Sighting is the input "a device was seen": the integrator calls
// DeviceSeen with it whenever the device registry sees a device (every
// cycle it talks is fine: a known device costs a map lookup).
type Sighting struct {
	Device
	At time.Time
}

// MaxDestinations is how many first destinations a new device's alert
// lists.
const MaxDestinations = 5

// maxSeen bounds the descriptions kept for quota alerts' names (a LAN of
// rotating MACs must not grow it for ever).
const maxSeen = 4096

// held is a new device's alert waiting for its delay, gathering the name
// and the first destinations.
type held struct {
	dev   Device
	first time.Time // its first sighting
}

// DeviceSeen is the input "a device was seen". A device never seen
// before is learned silently during the learning period (or with the rule
// off); otherwise its alert is held for the rule's delay, during which
// later sightings fill in its name, vendor and address and Contacted its
// first destinations. Then it is raised, unless the device has a
// randomised MAC: such a device is learned silently, or, when the rule
// opts in, alerts only as the first of its group (its name). It never
// blocks.
func (e *Engine) DeviceSeen(s Sighting) {
	if s.ID == "" {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.seen) >= maxSeen {
		clear(e.seen)
	}
	prev := e.seen[s.ID]
	e.seen[s.ID] = merge(prev, s.Device)
	if h, ok := e.held[s.ID]; ok {
		h.dev = merge(h.dev, s.Device)
		return
	}
	if e.known[memKey(MemDevice, s.ID)] || !e.room(2) {
		return
	}
	// With the rule off devices are learned too, so that turning it on
	// later does not report every device at once.
	if !e.rules.NewDevice.Enabled || e.learning(s.At) {
		e.known[memKey(MemDevice, s.ID)] = true
		e.remember(Memory{Kind: MemDevice, Key: s.ID, At: s.At})
		return
	}
	d := s.Device
	d.Destinations = nil
	d = merge(d, s.Device)
	e.held[s.ID] = &held{dev: d, first: s.At}
	if e.rules.NewDevice.Delay <= 0 {
		e.releaseHeld(s.At, false)
	}
}

// Merged is the input "device from is part of device to" (to.ID; to
// says what the registry knows of it, its MAC first of all): the
// registry learned the MAC of an address first met on its own (an "ip:"
// device), usually within seconds, so within the new-device delay. A held
// alert of from moves to into, with what it gathered and its first
// sighting, unless into is known already (then it is dropped: the device
// is not new). from is remembered either way, so its id never alerts
// later; when from was known already (its alert went out, or it was
// learned), into is too, so the machine is not announced twice. It never
// blocks.
func (e *Engine) Merged(from string, to Device, at time.Time) {
	into := to.ID
	if from == "" || into == "" || from == into {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	h, wasHeld := e.held[from]
	delete(e.held, from)
	learn := func(id string) {
		if k := memKey(MemDevice, id); !e.known[k] && e.room(1) {
			e.known[k] = true
			e.remember(Memory{Kind: MemDevice, Key: id, At: at})
		}
	}
	fromKnown := e.known[memKey(MemDevice, from)]
	learn(from)
	if fromKnown {
		// Announced (or learned) by its address: the machine is not new
		// under its MAC either.
		learn(into)
		return
	}
	if !wasHeld || e.known[memKey(MemDevice, into)] {
		return
	}
	if hi, ok := e.held[into]; ok {
		hi.dev = merge(hi.dev, h.dev)
		if h.first.Before(hi.first) {
			hi.first = h.first
		}
		return
	}
	e.seen[into] = merge(e.seen[into], to)
	// What the registry says of the merged device (its MAC) wins over
	// what the address alone told.
	d := merge(h.dev, e.seen[into])
	d.ID = into
	e.held[into] = &held{dev: d, first: h.first}
}

// merge returns d updated with what n knows: non-empty fields win, and
// destinations are added up to MaxDestinations.
func merge(d, n Device) Device {
	if d.ID == "" {
		d.ID = n.ID
	}
	if n.MAC != "" {
		d.MAC = n.MAC
	}
	if n.Name != "" {
		d.Name = n.Name
	}
	if n.Vendor != "" {
		d.Vendor = n.Vendor
	}
	if n.Addr.IsValid() {
		d.Addr = n.Addr
	}
	d.Randomized = d.Randomized || n.Randomized
	for _, a := range n.Destinations {
		d = addDestination(d, a)
	}
	return d
}

func addDestination(d Device, a netip.Addr) Device {
	if a.IsValid() && len(d.Destinations) < MaxDestinations && !slices.Contains(d.Destinations, a) {
		d.Destinations = append(slices.Clip(d.Destinations), a)
	}
	return d
}

// releaseHeld raises (or learns) the held devices whose delay is over at
// now, or all of them. Call with mu held.
func (e *Engine) releaseHeld(now time.Time, all bool) {
	for id, h := range e.held {
		if !all && now.Sub(h.first) < e.rules.NewDevice.Delay {
			continue
		}
		delete(e.held, id)
		e.decide(h)
	}
}

// decide raises a held device's alert, or learns it silently when it has
// a randomised MAC (rule off, or its group already known). Call with mu
// held.
func (e *Engine) decide(h *held) {
	d := h.dev
	e.known[memKey(MemDevice, d.ID)] = true
	remember := []Memory{{Kind: MemDevice, Key: d.ID, At: h.first}}
	if d.Randomized {
		group := strings.ToLower(strings.TrimSpace(d.Name))
		gk := memKey(MemGroup, group)
		if !e.rules.NewDevice.Randomized || e.known[gk] {
			e.remember(remember...)
			return
		}
		e.known[gk] = true
		remember = append(remember, Memory{Kind: MemGroup, Key: group, At: h.first})
	}
	a := Alert{
		ID:       idOf(NewDevice, d.ID),
		Kind:     NewDevice,
		Severity: Warning,
		At:       h.first,
		Title:    "New device on the LAN: " + d.Label(),
		Message:  deviceMessage(d),
		Device:   &d,
	}
	e.raise(a, e.rules.sinksOr(e.rules.NewDevice.Sinks), remember...)
}

// deviceMessage says what is known of a new device, one fact a line.
func deviceMessage(d Device) string {
	var b strings.Builder
	line := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "%s: %s\n", k, v)
		}
	}
	line("Name", d.Name)
	line("MAC", d.MAC)
	line("Vendor", d.Vendor)
	if d.Addr.IsValid() {
		line("Address", d.Addr.String())
	}
	if d.Randomized {
		line("MAC kind", "randomised (private address)")
	}
	if len(d.Destinations) > 0 {
		ds := make([]string, len(d.Destinations))
		for i, a := range d.Destinations {
			ds[i] = a.String()
		}
		line("First destinations", strings.Join(ds, ", "))
	}
	line("Device", d.ID)
	return strings.TrimSuffix(b.String(), "\n")
}
