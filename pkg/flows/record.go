package flows

import (
	"net/netip"
	"time"

	"github.com/netmon-dev/netmon/pkg/conntrack"
)

// Connection is one flow as recorded: its key, state and counters as the
// last cycle that changed it saw them, and when it was first seen, last
// changed and closed. Uplink counters are the ORIGINAL direction's,
// downlink the REPLY's.
type Connection struct {
	Key    conntrack.FlowKey
	State  string // "" for protocols without a state
	Status conntrack.Status
	conntrack.Counters
	FirstSeenAt time.Time
	LastSeenAt  time.Time
	ClosedAt    *time.Time // nil while the flow is in the conntrack table
	// HostFirstSeenAt is when its remote host was first seen: how long
	// netmon has known the destination (NEW vs SEEN in the dashboard).
	HostFirstSeenAt time.Time
	// Device is the source's device id ("aa:bb:cc:dd:ee:ff", "ip:10.0.0.5"),
	// DeviceName its name, and DstName the name the source looked up for
	// the destination: "" where not known.
	Device, DeviceName, DstName string
}

// Host is one address's traffic: the growth of the counters of all its
// flows, so it survives the flows closing and never goes backwards. A
// remote host has the times of its first flow and of the last cycle that
// opened or changed one; a LAN host only its totals.
type Host struct {
	IP            netip.Addr
	FirstSeenAt   time.Time
	LastSeenAt    time.Time
	UplinkBytes   uint64
	DownlinkBytes uint64
}
