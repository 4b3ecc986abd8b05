package names

import (
	"bytes"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/netmon-dev/netmon/pkg/device"
)

// Format is a lease or host file format.
type Format uint8

// The formats Parse reads.
const (
	FormatUnknown          Format = iota
	FormatDnsmasq                 // dnsmasq leases, OpenWrt /tmp/dhcp.leases
	FormatOdhcpd                  // OpenWrt /tmp/hosts/odhcpd
	FormatISC                     // ISC dhcpd.leases
	FormatKea                     // Kea memfile CSV
	FormatUCI                     // OpenWrt /etc/config/dhcp (config host)
	FormatDnsmasqConf             // dnsmasq.conf dhcp-host= lines
	FormatDnsmasqHostsFile        // dnsmasq dhcp-hostsfile (dhcp-host values, one a line)
	FormatEthers                  // /etc/ethers
)

var formatNames = [...]string{"unknown", "dnsmasq", "odhcpd", "isc", "kea", "uci", "dnsmasq-conf", "dnsmasq-hostsfile", "ethers"}

func (f Format) String() string {
	if int(f) < len(formatNames) {
		return formatNames[f]
	}
	return fmt.Sprintf("format(%d)", uint8(f))
}

// Source is the device-name source a format's names count as: static
// hosts, leases or /etc/ethers.
func (f Format) Source() device.NameSource {
	switch f {
	case FormatUCI, FormatDnsmasqConf, FormatDnsmasqHostsFile:
		return device.SourceStatic
	case FormatEthers:
		return device.SourceEthers
	case FormatUnknown:
		return device.SourceNone
	}
	return device.SourceLease
}

// Parse reads r in format f.
func Parse(f Format, r io.Reader, st *Stats) ([]Lease, error) {
	switch f {
	case FormatDnsmasq:
		return ParseDnsmasq(r, st)
	case FormatOdhcpd:
		return ParseOdhcpd(r, st)
	case FormatISC:
		return ParseISC(r, st)
	case FormatKea:
		return ParseKea(r, st)
	case FormatUCI:
		return ParseUCI(r, st)
	case FormatDnsmasqConf:
		return ParseDnsmasqHosts(r, false, st)
	case FormatDnsmasqHostsFile:
		return ParseDnsmasqHosts(r, true, st)
	case FormatEthers:
		return ParseEthers(r, st)
	}
	return nil, fmt.Errorf("parse leases: unknown format %v", f)
}

// Detect tells the format of a file from its name and its first bytes.
// The name decides where it is conventional (dhcpd.leases, kea-leases*.csv,
// ethers, config/dhcp, dnsmasq.conf, /tmp/hosts/odhcpd); otherwise the
// content: "lease " blocks, a Kea header, "config " sections, dhcp-host=
// lines, odhcpd "# iface ..." lines, dnsmasq lease lines (a number, then a
// MAC or IAID), or MAC-name lines.
func Detect(path string, head []byte) Format {
	base := filepath.Base(path)
	switch {
	case strings.HasSuffix(base, ".csv") || strings.HasPrefix(base, "kea-leases"):
		return FormatKea
	case base == "dhcpd.leases" || base == "dhcpd6.leases":
		return FormatISC
	case base == "ethers":
		return FormatEthers
	case base == "dhcp" && filepath.Base(filepath.Dir(path)) == "config":
		return FormatUCI
	case base == "dnsmasq.conf" || filepath.Base(filepath.Dir(path)) == "dnsmasq.d":
		return FormatDnsmasqConf
	case base == "odhcpd" && filepath.Base(filepath.Dir(path)) == "hosts":
		return FormatOdhcpd
	case base == "dnsmasq.leases" || base == "dhcp.leases":
		return FormatDnsmasq
	}
	for line := range bytes.Lines(head) {
		s := string(bytes.TrimSpace(line))
		if s == "" {
			continue
		}
		f := strings.Fields(s)
		switch {
		case strings.HasPrefix(s, "address,"):
			return FormatKea
		case f[0] == "lease" || f[0] == "server-duid" || f[0] == "authoring-byte-order" || f[0] == "failover":
			return FormatISC
		case f[0] == "config" || f[0] == "package":
			return FormatUCI
		case strings.HasPrefix(s, "dhcp-host="):
			return FormatDnsmasqConf
		case f[0] == "#" && len(f) >= 8 && (f[3] == "ipv4" || isHex(f[3])) && isSigned(f[5]):
			return FormatOdhcpd
		case s[0] == '#':
			continue
		case f[0] == "duid":
			return FormatDnsmasq
		case len(f) >= 4 && isDigits(f[0]):
			return FormatDnsmasq
		case len(f) == 2:
			if _, ok := parseMAC(f[0]); ok {
				return FormatEthers
			}
		}
		return FormatUnknown
	}
	return FormatUnknown
}

func isDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

// DeviceNames turns leases into the names device.Registry.SetNames
// takes: keyed by MAC where the lease names one (the address of a lease
// moves), else by address. Leases without a name, and leases that ended
// before now, are left out.
func DeviceNames(ls []Lease, now time.Time) []device.Name {
	out := make([]device.Name, 0, len(ls))
	for _, l := range ls {
		if l.Name == "" || !l.Expires.IsZero() && l.Expires.Before(now) {
			continue
		}
		n := device.Name{Name: l.Name}
		if l.MAC.Valid() {
			n.MAC = l.MAC
		} else {
			n.Addr = l.Addr
		}
		out = append(out, n)
	}
	return out
}

func isHex(s string) bool {
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return s != ""
}

func isSigned(s string) bool { return isDigits(strings.TrimPrefix(s, "-")) }
