package names

import (
	"io"
	"strings"
)

// ParseEthers reads /etc/ethers: a MAC and a host name (or an address,
// which names nothing and is passed over) per line, # comments.
//
//	52:54:00:12:34:56 laptop
//	0:1b:21:a:b:c    printer.lan
func ParseEthers(r io.Reader, st *Stats) ([]Lease, error) {
	return eachLease(r, st, func(s string) ([]Lease, lineKind) {
		s, _, _ = strings.Cut(s, "#")
		f := strings.Fields(s)
		if len(f) == 0 {
			return nil, notRecord
		}
		if len(f) != 2 {
			return nil, badRecord
		}
		m, ok := parseMAC(f[0])
		if !ok {
			return nil, badRecord
		}
		if _, isAddr := parseAddr(f[1]); isAddr {
			return nil, record
		}
		return []Lease{{MAC: m, Name: f[1]}}, record
	})
}
