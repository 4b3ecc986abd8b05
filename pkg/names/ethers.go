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
	if st == nil {
		st = new(Stats)
	}
	var out []Lease
	err := eachLine(r, func(n int, line []byte) {
		if line == nil {
			st.Lines++
			st.skip(n)
			return
		}
		s := string(line)
		if i := strings.IndexByte(s, '#'); i >= 0 {
			s = s[:i]
		}
		f := strings.Fields(s)
		if len(f) == 0 {
			return
		}
		st.Lines++
		if len(f) != 2 {
			st.skip(n)
			return
		}
		m, ok := parseMAC(f[0])
		if !ok {
			st.skip(n)
			return
		}
		if _, isAddr := parseAddr(f[1]); isAddr {
			return
		}
		st.Entries++
		out = append(out, Lease{MAC: m, Name: f[1]})
	})
	return out, err
}
