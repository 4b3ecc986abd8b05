package names

import (
	"io"
	"strings"
	"time"
)

// ParseISC reads an ISC dhcpd lease file (/var/lib/dhcp/dhcpd.leases):
// blocks such as
//
//	lease 10.0.0.23 {
//	  starts 4 2023/11/16 10:00:00;
//	  ends 4 2023/11/16 22:00:00;
//	  binding state active;
//	  hardware ethernet 52:54:00:12:34:56;
//	  client-hostname "laptop";
//	}
//
// dhcpd appends a block each time a lease changes, so the last block for
// an address wins; an address whose last block is not active (free,
// expired, released, abandoned, backup) has no lease. `ends never;` is an
// infinite lease. A block without a closing brace or with an unusable
// address is skipped; other statements (server-duid, failover, ia-na of
// dhcpd6) are passed over.
func ParseISC(r io.Reader, st *Stats) ([]Lease, error) {
	if st == nil {
		st = new(Stats)
	}
	type block struct {
		lease  Lease
		active bool
		ok     bool
		start  int
	}
	var (
		cur  *block
		last lastLeases
	)
	closeBlock := func() {
		if cur.ok {
			last.set(cur.lease, cur.active)
		} else {
			st.skip(cur.start)
		}
		cur = nil
	}
	start := func(n int, s string) {
		rest, ok := strings.CutPrefix(s, "lease ")
		if !ok {
			return
		}
		addr, brace, _ := strings.Cut(strings.TrimSpace(rest), " ")
		a, ok := parseAddr(addr)
		cur = &block{start: n, ok: ok && a.Is4() && strings.TrimSpace(brace) == "{"}
		cur.lease.Addr = a
	}
	err := eachRecord(r, st, func(n int, s string) lineKind {
		if s[0] == '#' {
			return notRecord
		}
		if cur == nil {
			start(n, s)
			return record
		}
		if s == "}" {
			closeBlock()
			return record
		}
		if strings.HasPrefix(s, "lease ") {
			// The block before never closed.
			cur.ok = false
			closeBlock()
			start(n, s)
			return record
		}
		stmt, _, _ := strings.Cut(s, ";")
		switch {
		case strings.HasPrefix(stmt, "binding state "):
			cur.active = strings.TrimPrefix(stmt, "binding state ") == "active"
		case strings.HasPrefix(stmt, "hardware ethernet "):
			if m, ok := parseMAC(strings.TrimPrefix(stmt, "hardware ethernet ")); ok {
				cur.lease.MAC = m
			}
		case strings.HasPrefix(stmt, "client-hostname "):
			cur.lease.Name = unquoteISC(strings.TrimSuffix(strings.TrimPrefix(s, "client-hostname "), ";"))
		case strings.HasPrefix(stmt, "ends "):
			cur.lease.Expires = iscTime(strings.TrimPrefix(stmt, "ends "))
		}
		return record
	})
	if cur != nil {
		cur.ok = false
		closeBlock()
	}
	return last.leases(st), err
}

// iscTime parses "4 2023/11/16 22:00:00" (weekday, UTC date and time) or
// "epoch 1700000000; # ..." forms; "never" and anything else is zero.
func iscTime(s string) time.Time {
	f := strings.Fields(s)
	if len(f) >= 3 && f[0] != "epoch" {
		t, err := time.Parse("2006/01/02 15:04:05", f[1]+" "+f[2])
		if err == nil {
			return t.UTC()
		}
	}
	if len(f) >= 2 && f[0] == "epoch" {
		var sec int64
		for _, c := range f[1] {
			if c < '0' || c > '9' {
				return time.Time{}
			}
			sec = sec*10 + int64(c-'0')
		}
		return time.Unix(sec, 0).UTC()
	}
	return time.Time{}
}

// unquoteISC removes the quotes of a dhcpd string and its octal escapes
// (\001), keeping the bytes as they are.
func unquoteISC(s string) string {
	s = strings.TrimSpace(s)
	if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' {
		return s
	}
	s = s[1 : len(s)-1]
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		if c == '\\' && i+1 < len(s) {
			i++
			c = s[i]
		}
		b.WriteByte(c)
	}
	return b.String()
}

func isOctal(c byte) bool { return '0' <= c && c <= '7' }
