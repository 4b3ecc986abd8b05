package main

import "net/netip"

// Kind is what a planned flow does on the wire.
type Kind int

// Kinds of planned flows.
const (
	// Download is a TCP connection that asks for Size bytes and reads them.
	Download Kind = iota
	// Echo is UDP: Count datagrams of Size bytes, each answered by the peer.
	Echo
	// Unreplied is UDP: Count datagrams of Size bytes to a port the WAN
	// namespace drops, so the flow stays [UNREPLIED].
	Unreplied
	// Ping is ICMP or ICMPv6 echo: Count requests of Size bytes of payload.
	Ping
)

// Planned is one flow the client makes. The addresses are the lab's
// (scripts/lab.sh sets them up; keep both in step).
type Planned struct {
	Name     string
	Kind     Kind
	Src, Dst netip.Addr
	Port     uint16 // destination port; 0 for Ping
	Size     uint64 // download size, or datagram / ping payload size
	Count    int    // datagrams or echo requests; 0 for Download
	Outbound bool   // netmon must list it
	Held     bool   // Download kept open until the client is told to close
}

// Lab addresses and ports, as scripts/lab.sh configures them.
const (
	DownloadPort  = 8080 // TCP download server (WAN and second LAN)
	EchoPort      = 5300 // UDP echo server (WAN and second LAN)
	DNSPort       = 53   // UDP echo server on the router, standing in for DNS
	UnrepliedPort = 9999 // dropped by the WAN namespace
)

const (
	kib = 1024
	mib = 1024 * kib
)

// DefaultPlan is the traffic mix of `lab.sh traffic`: every kind of flow
// the end-to-end test checks, each with distinct addresses or ports so
// that no two share a flow key.
func DefaultPlan() []Planned {
	a := netip.MustParseAddr
	return []Planned{
		{Name: "tcp-download-1MiB", Kind: Download, Src: a("10.0.0.5"), Dst: a("203.0.113.80"), Port: DownloadPort, Size: 1 * mib, Outbound: true},
		{Name: "tcp-download-100KiB", Kind: Download, Src: a("10.0.0.6"), Dst: a("203.0.113.81"), Port: DownloadPort, Size: 100 * kib, Outbound: true},
		{Name: "udp-request-response", Kind: Echo, Src: a("10.0.0.5"), Dst: a("203.0.113.80"), Port: EchoPort, Size: 200, Count: 3, Outbound: true},
		{Name: "udp-unreplied", Kind: Unreplied, Src: a("10.0.0.6"), Dst: a("203.0.113.84"), Port: UnrepliedPort, Size: 64, Count: 2, Outbound: true},
		{Name: "icmp-echo", Kind: Ping, Src: a("10.0.0.5"), Dst: a("203.0.113.80"), Size: 56, Count: 3, Outbound: true},
		{Name: "tcp6-download-100KiB", Kind: Download, Src: a("fd00::5"), Dst: a("2001:db8::80"), Port: DownloadPort, Size: 100 * kib, Outbound: true},
		{Name: "udp6-request-response", Kind: Echo, Src: a("fd00::6"), Dst: a("2001:db8::81"), Port: EchoPort, Size: 300, Count: 2, Outbound: true},
		{Name: "udp6-unreplied", Kind: Unreplied, Src: a("fd00::5"), Dst: a("2001:db8::84"), Port: UnrepliedPort, Size: 64, Count: 1, Outbound: true},
		{Name: "icmp6-echo", Kind: Ping, Src: a("fd00::5"), Dst: a("2001:db8::80"), Size: 56, Count: 2, Outbound: true},
		{Name: "router-dns", Kind: Echo, Src: a("10.0.0.6"), Dst: a("10.0.0.1"), Port: DNSPort, Size: 40, Count: 1},
		{Name: "router-dns6", Kind: Echo, Src: a("fd00::6"), Dst: a("fd00::1"), Port: DNSPort, Size: 40, Count: 1},
		{Name: "lan-to-lan-tcp", Kind: Download, Src: a("10.0.0.5"), Dst: a("192.168.50.10"), Port: DownloadPort, Size: 100 * kib},
		{Name: "lan-to-lan-udp", Kind: Echo, Src: a("10.0.0.5"), Dst: a("192.168.50.10"), Port: EchoPort, Size: 100, Count: 1},
		{Name: "tcp-held", Kind: Download, Src: a("10.0.0.6"), Dst: a("203.0.113.82"), Port: DownloadPort, Size: 64 * kib, Outbound: true, Held: true},
		{Name: "tcp6-held", Kind: Download, Src: a("fd00::6"), Dst: a("2001:db8::82"), Port: DownloadPort, Size: 64 * kib, Outbound: true, Held: true},
	}
}
