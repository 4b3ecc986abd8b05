package names

import (
	"io"
	"strings"
)

// ParseUCI reads the `config host` sections of OpenWrt's /etc/config/dhcp:
//
//	config host
//		option name 'laptop'
//		option mac '52:54:00:12:34:56'
//		option ip '10.0.0.23'
//
// `mac` may hold several MACs separated by spaces, and may be given as
// `list mac` lines; each is a host of that name. Values are single
// quoted, double quoted or bare. Other sections are passed over; a host
// section with no usable MAC and no address is skipped and counted.
func ParseUCI(r io.Reader, st *Stats) ([]Lease, error) {
	if st == nil {
		st = new(Stats)
	}
	var out []Lease
	type host struct {
		start int
		name  string
		ip    string
		macs  []string
		bad   bool
	}
	var cur *host
	flush := func() {
		if cur == nil {
			return
		}
		h := cur
		cur = nil
		a, aok := parseAddr(h.ip)
		var ls []Lease
		for _, s := range h.macs {
			m, ok := parseMAC(s)
			if !ok {
				h.bad = true
				continue
			}
			l := Lease{MAC: m, Name: h.name}
			if aok {
				l.Addr = a
			}
			ls = append(ls, l)
		}
		if len(h.macs) == 0 && aok {
			ls = append(ls, Lease{Addr: a, Name: h.name})
		}
		if len(ls) == 0 {
			st.skip(h.start)
			return
		}
		st.Entries += len(ls)
		out = append(out, ls...)
	}
	err := eachRecord(r, st, func(n int, s string) lineKind {
		if s[0] == '#' {
			return notRecord
		}
		kw, rest, _ := strings.Cut(s, " ")
		switch kw {
		case "config":
			flush()
			typ, _, _ := strings.Cut(strings.TrimSpace(rest), " ")
			if unquoteUCI(typ) == "host" {
				cur = &host{start: n}
			}
		case "option", "list":
			if cur == nil {
				return record
			}
			key, val, _ := strings.Cut(strings.TrimSpace(rest), " ")
			val = unquoteUCI(strings.TrimSpace(val))
			switch key {
			case "name":
				cur.name = val
			case "ip":
				cur.ip = val
			case "mac":
				cur.macs = append(cur.macs, strings.Fields(val)...)
			}
		case "package":
		default:
			if cur != nil {
				cur.bad = true
			}
		}
		return record
	})
	flush()
	return out, err
}

// unquoteUCI strips one pair of matching quotes (UCI has no escapes
// inside single quotes; in double quotes, \" and \\ are kept as is).
func unquoteUCI(s string) string {
	if len(s) >= 2 && (s[0] == '\'' || s[0] == '"') && s[len(s)-1] == s[0] {
		return s[1 : len(s)-1]
	}
	return s
}
