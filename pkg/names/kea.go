package names

import (
	"io"
	"strconv"
	"strings"
	"time"
)

// ParseKea reads a Kea memfile lease file (kea-leases4.csv or
// kea-leases6.csv): a header naming the columns, then one line per lease
// change. Columns are found by name (address, hwaddr, duid, expire,
// valid_lifetime, hostname, state), so both files and the columns later
// Kea versions add are read. Kea appends, so the last line for an address
// wins; a line with valid_lifetime 0 removes the lease, and only state 0
// (default) is a lease. Kea escapes a comma inside a value as "&#x2c".
// A second header line (Kea writes one after a file rotation) is passed
// over.
func ParseKea(r io.Reader, st *Stats) ([]Lease, error) {
	if st == nil {
		st = new(Stats)
	}
	col := map[string]int{}
	var last lastLeases
	err := eachRecord(r, st, func(_ int, s string) lineKind {
		if s[0] == '#' {
			return notRecord
		}
		f := strings.Split(s, ",")
		if f[0] == "address" {
			clear(col)
			for i, name := range f {
				col[name] = i
			}
			return notRecord
		}
		get := func(name string) string {
			if i, ok := col[name]; ok && i < len(f) {
				return strings.ReplaceAll(f[i], "&#x2c", ",")
			}
			return ""
		}
		a, ok := parseAddr(get("address"))
		if !ok || len(col) == 0 {
			return badRecord
		}
		l := Lease{Addr: a, Name: strings.TrimSuffix(get("hostname"), ".")}
		if hw := get("hwaddr"); hw != "" {
			if m, ok := parseMAC(hw); ok {
				l.MAC = m
			}
		}
		if l.MAC.IsZero() {
			l.MAC = duidMAC(get("duid"))
		}
		valid, err1 := strconv.ParseInt(get("valid_lifetime"), 10, 64)
		expire, err2 := strconv.ParseInt(get("expire"), 10, 64)
		if err1 != nil || err2 != nil {
			return badRecord
		}
		if valid != 0xffffffff {
			l.Expires = time.Unix(expire, 0).UTC()
		}
		state := get("state")
		last.set(l, valid != 0 && (state == "" || state == "0"))
		return record
	})
	return last.leases(st), err
}
