// Package names finds names: of LAN devices, from DHCP leases, static
// host configurations and /etc/ethers (and reverse DNS), and of remote
// hosts, from the names LAN clients looked up (dnsmasq's query log) and
// reverse DNS.
//
// Parsers are pure (io.Reader in, values out, no files, no clock) and
// tolerant: a broken line or block is skipped and counted, never fatal.
// The I/O lives in Leases (finds and re-reads lease files), FollowDNSLog
// (tails the query log) and Reverse (asynchronous PTR lookups).
//
// Vendors (the OUI of a MAC) are not looked up: see vendor.go.
package names

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"io"
	"net/netip"
	"strings"
	"time"

	"github.com/netmon-dev/netmon/pkg/device"
)

// Lease is what a lease file or a static host configuration says about
// one machine. MAC is zero or Addr invalid where the source does not say.
type Lease struct {
	MAC  device.MAC
	Addr netip.Addr
	Name string // "" when the client sent none
	// Expires is when the lease ends; zero for a static host or an
	// infinite lease.
	Expires time.Time
}

// Stats counts what a parse saw.
type Stats struct {
	Lines   int // non-empty, non-comment lines (ISC, UCI: lines of blocks too)
	Entries int // leases returned
	Skipped int // malformed lines or blocks
	// FirstSkip is the 1-based line of the first malformed one (0: none).
	FirstSkip int
}

func (s *Stats) skip(line int) {
	s.Skipped++
	if s.FirstSkip == 0 {
		s.FirstSkip = line
	}
}

// maxLine bounds one line; a longer one is skipped (a 10 KB name still
// fits).
const maxLine = 64 << 10

// eachLine calls fn with every line of r without its line end (a
// trailing CR dropped too) and its 1-based number; an over-long line is
// passed as nil. It returns the first read error.
func eachLine(r io.Reader, fn func(n int, line []byte)) error {
	br := bufio.NewReaderSize(r, maxLine)
	n := 0
	for {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			for err == bufio.ErrBufferFull {
				_, err = br.ReadSlice('\n')
			}
			n++
			fn(n, nil)
		} else if len(line) > 0 {
			n++
			fn(n, bytes.TrimRight(line, "\r\n"))
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// lineKind is what one line of a lease or host file is to its format.
type lineKind uint8

const (
	notRecord lineKind = iota // a comment, a header, a statement the format passes over: not counted
	record                    // counted in Stats.Lines
	badRecord                 // malformed: counted in Stats.Lines and skipped
)

// eachRecord calls fn with every line of r that is not blank, trimmed of
// spaces, and its 1-based number, and counts the line as fn says. An
// over-long line is counted and skipped without reaching fn. It returns
// the first read error.
func eachRecord(r io.Reader, st *Stats, fn func(n int, s string) lineKind) error {
	return eachLine(r, func(n int, line []byte) {
		if line == nil {
			st.Lines++
			st.skip(n)
			return
		}
		s := strings.TrimSpace(string(line))
		if s == "" {
			return
		}
		k := fn(n, s)
		if k == badRecord {
			st.skip(n)
		}
		if k != notRecord {
			st.Lines++
		}
	})
}

// eachLease reads a format of one record a line: fn is given every line
// that is not blank (see eachRecord) and returns its leases, which count
// in st.Entries, and its kind. st may be nil.
func eachLease(r io.Reader, st *Stats, fn func(s string) ([]Lease, lineKind)) ([]Lease, error) {
	if st == nil {
		st = new(Stats)
	}
	var out []Lease
	err := eachRecord(r, st, func(_ int, s string) lineKind {
		ls, k := fn(s)
		if k == record {
			st.Entries += len(ls)
			out = append(out, ls...)
		}
		return k
	})
	return out, err
}

// parsed gives the leases of a record that parsed (ok), or marks it
// malformed.
func parsed(ls []Lease, ok bool) ([]Lease, lineKind) {
	if !ok {
		return nil, badRecord
	}
	return ls, record
}

// lastLeases keeps the last lease a file wrote for each address, in the
// order the addresses first appeared: dhcpd and Kea append a record each
// time a lease changes, so the last one for an address wins. The zero
// value is ready to use.
type lastLeases struct {
	order []netip.Addr
	last  map[netip.Addr]lastLease
}

type lastLease struct {
	lease Lease
	live  bool // false: the lease ended (released, expired, free, ...)
}

// set makes l, live or not, the last lease of its address.
func (b *lastLeases) set(l Lease, live bool) {
	if b.last == nil {
		b.last = map[netip.Addr]lastLease{}
	}
	if _, seen := b.last[l.Addr]; !seen {
		b.order = append(b.order, l.Addr)
	}
	b.last[l.Addr] = lastLease{l, live}
}

// leases returns the last leases that are live, counted in st.Entries.
func (b *lastLeases) leases(st *Stats) []Lease {
	var out []Lease
	for _, a := range b.order {
		if l := b.last[a]; l.live {
			out = append(out, l.lease)
		}
	}
	st.Entries += len(out)
	return out
}

// duidMAC returns the link-layer address inside a DUID-LLT (type 1) or
// DUID-LL (type 3) of hardware type 1 (Ethernet), given as hex with or
// without colons: DHCPv6 leases name no MAC, but most clients build their
// DUID from one.
func duidMAC(s string) device.MAC {
	s = strings.ReplaceAll(s, ":", "")
	b, err := hex.DecodeString(s)
	if err != nil || len(b) < 4 || b[2] != 0 || b[3] != 1 || b[0] != 0 {
		return device.MAC{}
	}
	var m device.MAC
	switch {
	case b[1] == 1 && len(b) == 14:
		copy(m[:], b[8:])
	case b[1] == 3 && len(b) == 10:
		copy(m[:], b[4:])
	default:
		return device.MAC{}
	}
	if !m.Valid() {
		return device.MAC{}
	}
	return m
}

// parseAddr parses an address without zone, unmapped.
func parseAddr(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// parseMAC parses a usable MAC.
func parseMAC(s string) (device.MAC, bool) {
	m, err := device.ParseMAC(s)
	return m, err == nil && m.Valid()
}
