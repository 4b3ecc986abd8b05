package rates

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/netmon-dev/netmon/pkg/conntrack"
)

// Conn is one connection's rate.
type Conn struct {
	Key conntrack.FlowKey
	// Ref is the number the writer attached to the flow (flows.Change.Ref:
	// the live state's row id); 0 when no writer attaches one.
	Ref int64
	// UplinkBytes and DownlinkBytes are its counters at the last cycle
	// that changed it.
	UplinkBytes, DownlinkBytes uint64
	Reading
}

// Device is one device's rate: the sum over its flows.
type Device struct {
	ID string // "aa:bb:cc:dd:ee:ff" or "ip:10.0.0.9": what the Device function says
	// Name is the device's name where the reader knows one (the live
	// state's labels), else "".
	Name string
	// Addrs are the LAN addresses its flows came from in the last five
	// minutes, most recent first (at most MaxAddrs).
	Addrs []netip.Addr
	Reading
	// Spark is its rate at each tick of Now.Ticks.
	Spark []Rate
}

// Remote is one remote host's rate: the sum over the flows to it.
type Remote struct {
	Addr netip.Addr
	Reading
}

// Now is the state of the rates after a cycle: what the Now view shows.
type Now struct {
	At     time.Time     // the cycle the rates are of; zero before the first
	Cycles int64         // cycles the tracker has seen (rates need two)
	Window time.Duration // the window setting
	Total  Reading       // the whole router
	// Ticks are the sparkline's sample times after Query.Since, oldest
	// first, at most SparkSpan back; TotalSpark is the router's rate at
	// each of them, Device.Spark a device's.
	Ticks      []time.Time
	TotalSpark []Rate
	// Devices are those with traffic or a first reading in the last
	// SparkSpan, by window rate (up + down), highest first, then unknown
	// ones, ties by id.
	Devices []Device
	// Remotes are those with traffic in the window, by window rate,
	// highest first, ties by address; at most Query.Remotes.
	Remotes []Remote
}

// Query says how much of the state Now returns.
type Query struct {
	// Since: only sparkline ticks after it (a poller passes the last tick
	// it has); zero: all of them.
	Since time.Time
	// Remotes is how many remote hosts (<= 0: all).
	Remotes int
	// NoSpark leaves the sparklines out (no Ticks, no Spark points).
	NoSpark bool
}

// Order is how connections are listed.
type Order uint8

// Orders.
const (
	// ByBytes: total bytes (uplink + downlink), largest first.
	ByBytes Order = iota
	// ByRate: window rate (up + down), highest first; connections without
	// a rate after them, by bytes.
	ByRate
)

// ParseOrder parses "bytes" or "rate" ("" is bytes).
func ParseOrder(s string) (Order, error) {
	switch s {
	case "", "bytes":
		return ByBytes, nil
	case "rate":
		return ByRate, nil
	}
	return 0, fmt.Errorf("order %q: must be rate or bytes", s)
}

// String is "bytes" or "rate".
func (o Order) String() string {
	if o == ByRate {
		return "rate"
	}
	return "bytes"
}

// CompareReadings orders readings by window rate (up + down), highest
// first, known before unknown.
func CompareReadings(a, b Reading) int {
	if a.Known != b.Known {
		if a.Known {
			return -1
		}
		return 1
	}
	return cmp.Compare(b.Window.Total(), a.Window.Total())
}

// SortDevices sorts devices as Now.Devices are.
func SortDevices(ds []Device) {
	slices.SortFunc(ds, func(a, b Device) int {
		return cmp.Or(CompareReadings(a.Reading, b.Reading), cmp.Compare(a.ID, b.ID))
	})
}

// SortRemotes sorts remote hosts as Now.Remotes are.
func SortRemotes(rs []Remote) {
	slices.SortFunc(rs, func(a, b Remote) int {
		return cmp.Or(CompareReadings(a.Reading, b.Reading), a.Addr.Compare(b.Addr))
	})
}
