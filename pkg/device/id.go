package device

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// ID names a device, stably and readably in URLs and JSON: the normalised
// MAC ("aa:bb:cc:dd:ee:ff") for a machine seen in the neighbour table, or
// "ip:" and the address ("ip:10.0.0.9", "ip:fd00::9") for a LAN address
// with no MAC known. The empty ID is no device.
type ID string

// addrPrefix starts the ID of a device known only by its address.
const addrPrefix = "ip:"

// ErrBadID is wrapped by ParseID's errors.
var ErrBadID = errors.New("not a device id")

// MACID is the ID of the device with MAC m.
func MACID(m MAC) ID { return ID(m.String()) }

// AddrID is the ID of the device known only by address a (unmapped,
// without zone).
func AddrID(a netip.Addr) ID { return ID(addrPrefix + normAddr(a).String()) }

// ParseID reads an ID in either form, accepting the MAC spellings
// ParseMAC accepts, and returns it normalised.
func ParseID(s string) (ID, error) {
	if rest, ok := strings.CutPrefix(s, addrPrefix); ok {
		a, err := netip.ParseAddr(rest)
		if err != nil || a.Zone() != "" {
			return "", fmt.Errorf("%w: %q", ErrBadID, s)
		}
		return AddrID(a), nil
	}
	m, err := ParseMAC(s)
	if err != nil || !m.Valid() {
		return "", fmt.Errorf("%w: %q", ErrBadID, s)
	}
	return MACID(m), nil
}

// MAC returns the MAC of a MAC-keyed ID.
func (id ID) MAC() (MAC, bool) {
	if strings.HasPrefix(string(id), addrPrefix) {
		return MAC{}, false
	}
	m, err := ParseMAC(string(id))
	return m, err == nil
}

// Addr returns the address of an "ip:" ID.
func (id ID) Addr() (netip.Addr, bool) {
	rest, ok := strings.CutPrefix(string(id), addrPrefix)
	if !ok {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(rest)
	return a, err == nil
}

// IsAddr reports whether the device is known only by its address.
func (id ID) IsAddr() bool { return strings.HasPrefix(string(id), addrPrefix) }

// normAddr is the form every map of the package is keyed by: IPv4-mapped
// IPv6 unmapped, zone dropped (conntrack prints none, netlink gives none,
// but a neighbours file may).
func normAddr(a netip.Addr) netip.Addr { return a.Unmap().WithZone("") }
