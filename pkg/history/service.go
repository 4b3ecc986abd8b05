package history

import "github.com/netmon-dev/netmon/pkg/conntrack"

// Service is a small fixed class of what a flow is for, from its
// protocol and destination port: the optional per-service split of the
// daily device buckets. The values are stored: append only.
type Service uint8

// Services.
const (
	Other Service = iota
	HTTPS
	QUIC
	HTTP
	DNS
	DoT
	SSH
	NTP
	Mail
	VPN
	ICMP
)

var serviceNames = [...]string{
	Other: "other", HTTPS: "https", QUIC: "quic", HTTP: "http", DNS: "dns", DoT: "dot",
	SSH: "ssh", NTP: "ntp", Mail: "mail", VPN: "vpn", ICMP: "icmp",
}

// String returns the class's name ("https", "quic", ..., "other").
func (s Service) String() string {
	if int(s) < len(serviceNames) {
		return serviceNames[s]
	}
	return "other"
}

// ServiceOf classifies a flow by its key: TCP 443 is https and UDP 443
// quic, 53 dns on either, 853 dot, 22 ssh, 80 and 8080 http, UDP 123 ntp,
// the mail submission and retrieval ports mail, the usual VPN ports vpn,
// ICMP and ICMPv6 icmp, everything else other.
func ServiceOf(k conntrack.FlowKey) Service {
	p, port := k.Proto, k.DstPort
	switch {
	case p.IsICMP():
		return ICMP
	case p == conntrack.ProtoGRE:
		return VPN
	case !p.HasPorts():
		return Other
	}
	tcp, udp := p == conntrack.ProtoTCP, p == conntrack.ProtoUDP
	switch port {
	case 443:
		if udp {
			return QUIC
		}
		return HTTPS
	case 53:
		return DNS
	case 853:
		return DoT
	case 22:
		if tcp {
			return SSH
		}
	case 80, 8080:
		if tcp {
			return HTTP
		}
	case 123:
		if udp {
			return NTP
		}
	case 25, 465, 587, 993, 995, 143, 110:
		if tcp {
			return Mail
		}
	case 1194, 51820, 500, 4500, 1701:
		return VPN
	}
	return Other
}
