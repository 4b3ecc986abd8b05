package alert

import (
	"fmt"
	"net/netip"
	"time"
)

// Contact is the input "a device talked to a remote address": the
// integrator calls Contacted for every flow a cycle opened, with its
// device and remote address (public: the outbound filter kept it).
type Contact struct {
	Device string
	Remote netip.Addr
	At     time.Time
}

// refreshDest is how stale a remembered network may get before a use
// writes its time again: uses are frequent, writes should not be.
const refreshDest = 30 * 24 * time.Hour

// dayCount is a device's new destination alerts on one local day.
type dayCount struct {
	day string // YYYY-MM-DD, local
	n   int
}

// Contacted is the input "a device talked to a remote address". It adds
// the address to a held new device's first destinations, and, when the
// new destination rule is on, raises an alert for a network (/24, /48)
// the device never used, unless the network is allowed, the device is in
// its learning period, or it reached its cap for the day (then the
// network is learned silently). It never blocks.
func (e *Engine) Contacted(c Contact) {
	if c.Device == "" || !c.Remote.IsValid() {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if h, ok := e.held[c.Device]; ok {
		h.dev = addDestination(h.dev, c.Remote.Unmap())
	}
	r := &e.rules.NewDestination
	if !r.Enabled {
		return
	}
	remote := c.Remote.Unmap()
	for _, p := range r.Allow {
		if p.Contains(remote) {
			return
		}
	}
	nw := networkOf(remote)
	key := c.Device + "|" + nw.String()
	if at, ok := e.dests[key]; ok {
		if c.At.Sub(at) > refreshDest && e.room(1) {
			e.dests[key] = c.At
			e.remember(Memory{Kind: MemDest, Key: key, At: c.At})
		}
		return
	}
	if !e.room(3) {
		return
	}
	e.dests[key] = c.At
	learn := []Memory{{Kind: MemDest, Key: key, At: c.At}}
	first, ok := e.destDevs[c.Device]
	if !ok {
		first = c.At
		e.destDevs[c.Device] = first
		learn = append(learn, Memory{Kind: MemDestDevice, Key: c.Device, At: first})
	}
	day := c.At.Local().Format(time.DateOnly)
	count := e.destDay[c.Device]
	if count.day != day {
		count = dayCount{day: day}
	}
	if e.learning(c.At) || c.At.Sub(first) < r.LearningPeriod || count.n >= r.PerDevicePerDay {
		e.remember(learn...)
		return
	}
	count.n++
	e.destDay[c.Device] = count
	d := e.seen[c.Device]
	d.ID, d.Destinations = c.Device, nil
	capped := count.n == r.PerDevicePerDay
	msg := fmt.Sprintf("%s talked to %s, in %s, a network it never used before.", d.Label(), remote, nw)
	if capped {
		msg += fmt.Sprintf(" That is its %d. new destination today: further ones are learned silently until tomorrow.", count.n)
	}
	e.raise(Alert{
		// The day too: a network forgotten after half a year and used
		// again is a new event.
		ID:          idOf(NewDestination, key+"|"+day),
		Kind:        NewDestination,
		Severity:    Info,
		At:          c.At,
		Title:       fmt.Sprintf("New destination: %s talked to %s", d.Label(), nw),
		Message:     msg,
		Device:      &d,
		Destination: &Destination{Network: nw, Remote: remote, CapReached: capped},
	}, e.rules.sinksOr(r.Sinks), learn...)
}
