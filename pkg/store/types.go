package store

import (
	"net/netip"
	"time"
)

// Flow is one outbound connection as a snapshot shows it: the input of a
// reconcile cycle. Proto is the protocol's conntrack name ("tcp", "udp",
// "icmp", ...) or its number for protocols without one ("253"). The port
// fields follow conntrack.FlowKey (ICMP: echo id and type; GRE: keys).
// Uplink is the ORIGINAL direction's counters, downlink the REPLY's.
type Flow struct {
	Proto           string
	SrcIP           netip.Addr
	SrcPort         uint16
	DstIP           netip.Addr
	DstPort         uint16
	State           string // "" for protocols without a state
	Flags           string // comma-separated status flags, "ASSURED,UNREPLIED"
	UplinkPackets   uint64
	UplinkBytes     uint64
	DownlinkPackets uint64
	DownlinkBytes   uint64
}

// Connection is a row of the connections table joined with its remote host.
type Connection struct {
	Flow
	FirstSeenAt time.Time
	LastSeenAt  time.Time
	ClosedAt    *time.Time // nil while the flow is in the conntrack table
	// HostFirstSeenAt is the remote host's first_seen_at: how long netmon
	// has known the destination (NEW vs SEEN in the dashboard).
	HostFirstSeenAt time.Time
}

// TotalBytes is uplink plus downlink bytes.
func (f *Flow) TotalBytes() uint64 { return f.UplinkBytes + f.DownlinkBytes }

// RemoteHost is a row of the remote_hosts table. Its byte counts are the
// growth of counters seen over all its connections, so they survive the
// connections closing and never go backwards.
type RemoteHost struct {
	IP            netip.Addr
	FirstSeenAt   time.Time
	LastSeenAt    time.Time
	UplinkBytes   uint64
	DownlinkBytes uint64
}

// LocalHost holds the cumulative traffic of one LAN address, the same
// growth-of-counters sums as RemoteHost, kept for monotonic per-LAN-host
// counters (Prometheus).
type LocalHost struct {
	IP            netip.Addr
	UplinkBytes   uint64
	DownlinkBytes uint64
}

// CycleResult counts what one reconcile cycle changed.
type CycleResult struct {
	NewHosts int // remote hosts seen for the first time
	Opened   int // connections inserted or reopened (a tuple that came back, or whose counters went down)
	Updated  int // active connections whose counters or state changed
	Closed   int // connections that left the table this cycle
	Pruned   int // closed connections deleted for being older than the retention
	// Duplicates counts flows of the snapshot whose tuple an earlier flow
	// of the same snapshot already had (conntrack zones); they were merged
	// into it by summing counters.
	Duplicates int
	// RowsWritten is the number of rows inserted, updated or deleted: the
	// flash-wear figure (0 for a repeated identical snapshot but for the
	// one bookkeeping row).
	RowsWritten int
}
