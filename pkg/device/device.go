// Package device is the vocabulary of LAN machines: a device is a MAC
// address learned from the neighbour table (every address seen with it,
// IPv4 and IPv6 global, privacy and link-local, is that one device), or a
// LAN address with no MAC known yet ("ip:10.0.0.9"), merged into the MAC's
// device once one appears. The Registry holds them, resolves a flow's
// address to its device and names devices from the sources in priority
// order (config, static DHCP hosts, leases, /etc/ethers, PTR, vendor).
//
// The package is pure: no files, no sockets, no clock. pkg/neigh reads the
// neighbour table into Neighbour values, pkg/names reads leases, hosts
// files and DNS into Name values; the caller hands both to the Registry.
package device

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"time"
)

// Device is one LAN machine as the registry knows it: plain values, what
// the store persists and `netmon devices` prints.
type Device struct {
	ID  ID
	MAC MAC // zero when unknown (an "ip:" device)
	// Addrs are the addresses seen with the device, most recently seen
	// first.
	Addrs []netip.Addr
	// Name is as its source gave it (it may hold markup, control
	// characters or invalid UTF-8); show it through DisplayName and an
	// escaping renderer.
	Name       string
	NameSource NameSource // "" when Name is empty
	Vendor     string
	Randomized bool // MAC is locally administered
	FirstSeen  time.Time
	LastSeen   time.Time
}

// NameSource says where a device's name came from. The constants are in
// priority order: a name from an earlier source wins.
type NameSource uint8

// Name sources, highest priority first.
const (
	SourceNone   NameSource = iota
	SourceConfig            // the devices: map of the config
	SourceStatic            // static DHCP hosts (OpenWrt config host, dnsmasq dhcp-host=)
	SourceLease             // active DHCP leases
	SourceEthers            // /etc/ethers
	SourcePTR               // reverse DNS of a LAN address
	SourceVendor            // the MAC's OUI vendor, the last resort
	numSources
)

var sourceNames = [numSources]string{"", "config", "static", "lease", "ethers", "ptr", "vendor"}

// String is the JSON and database spelling ("config", "lease", ...).
func (s NameSource) String() string {
	if s < numSources {
		return sourceNames[s]
	}
	return fmt.Sprintf("source(%d)", uint8(s))
}

// ParseNameSource reads String's spelling.
func ParseNameSource(s string) (NameSource, error) {
	for i, n := range sourceNames {
		if n == s {
			return NameSource(i), nil
		}
	}
	return SourceNone, fmt.Errorf("unknown name source %q", s)
}

// MarshalText writes String.
func (s NameSource) MarshalText() ([]byte, error) {
	if s >= numSources {
		return nil, fmt.Errorf("unknown name source %d", uint8(s))
	}
	return []byte(s.String()), nil
}

// UnmarshalText reads String's spelling.
func (s *NameSource) UnmarshalText(b []byte) error {
	v, err := ParseNameSource(string(b))
	*s = v
	return err
}

// Neighbour is one entry of a neighbour-table reading: Addr was seen
// with MAC on Iface. Readers leave out incomplete and failed entries.
type Neighbour struct {
	Addr  netip.Addr
	MAC   MAC
	Iface string // "" when the source does not say
}

// Name is what one source says about a machine's name, keyed by MAC, by
// address, or both (a lease). A zero MAC or an invalid Addr means "not
// keyed by that".
type Name struct {
	MAC  MAC
	Addr netip.Addr
	Name string
}

// Merge reports that the "ip:" device From became part of the MAC device
// To (a neighbour entry appeared for its address): the caller moves From's
// totals and history to To.
type Merge struct {
	From, To ID
}

// jsonDevice is the shape of `netmon devices --output json`.
type jsonDevice struct {
	Device     ID           `json:"device"`
	MAC        *string      `json:"mac"`
	Addresses  []netip.Addr `json:"addresses"`
	Name       string       `json:"name"`
	NameSource NameSource   `json:"name_source"`
	Vendor     string       `json:"vendor"`
	Randomized bool         `json:"randomized"`
	FirstSeen  string       `json:"first_seen_at"`
	LastSeen   string       `json:"last_seen_at"`
}

// TimeFormat is the JSON time format: RFC 3339 in UTC with milliseconds,
// as the rest of netmon's JSON.
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(TimeFormat)
}

// MarshalJSON writes the fields `netmon devices --output json` documents:
// mac is null when unknown, addresses an array (never null).
func (d Device) MarshalJSON() ([]byte, error) {
	j := jsonDevice{
		Device:     d.ID,
		Addresses:  d.Addrs,
		Name:       d.Name,
		NameSource: d.NameSource,
		Vendor:     d.Vendor,
		Randomized: d.Randomized,
		FirstSeen:  formatTime(d.FirstSeen),
		LastSeen:   formatTime(d.LastSeen),
	}
	if !d.MAC.IsZero() {
		s := d.MAC.String()
		j.MAC = &s
	}
	if j.Addresses == nil {
		j.Addresses = []netip.Addr{}
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (d *Device) UnmarshalJSON(b []byte) error {
	var j jsonDevice
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	id, err := ParseID(string(j.Device))
	if err != nil {
		return err
	}
	out := Device{ID: id, Addrs: j.Addresses, Name: j.Name, NameSource: j.NameSource,
		Vendor: j.Vendor, Randomized: j.Randomized}
	if j.MAC != nil {
		if out.MAC, err = ParseMAC(*j.MAC); err != nil {
			return err
		}
	}
	for _, p := range []struct {
		s string
		t *time.Time
	}{{j.FirstSeen, &out.FirstSeen}, {j.LastSeen, &out.LastSeen}} {
		if p.s == "" {
			continue
		}
		if *p.t, err = time.Parse(time.RFC3339Nano, p.s); err != nil {
			return fmt.Errorf("parse device time: %w", err)
		}
	}
	*d = out
	return nil
}

// ConfigName reads one entry of the config's devices: map, keyed by a MAC
// (any spelling ParseMAC reads) or an address, into a Name for
// Registry.SetNames(SourceConfig, ...). The error names the key.
func ConfigName(key, name string) (Name, error) {
	if m, err := ParseMAC(key); err == nil {
		if !m.Valid() {
			return Name{}, fmt.Errorf("devices: %q: not a device's MAC (zero or multicast)", key)
		}
		return Name{MAC: m, Name: name}, nil
	}
	a, err := netip.ParseAddr(key)
	if err != nil || a.Zone() != "" {
		return Name{}, fmt.Errorf("devices: %q: neither a MAC nor an address", key)
	}
	return Name{Addr: normAddr(a), Name: name}, nil
}
