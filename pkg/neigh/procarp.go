package neigh

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"

	"github.com/netmon-dev/netmon/pkg/device"
)

// ATF_COM: the entry is complete (linux/if_arp.h).
const atfComplete = 0x02

// arpEther is ARPHRD_ETHER, the "HW type" of Ethernet entries.
const arpEther = 0x1

// ParseProcARP reads the /proc/net/arp format (IPv4 only):
//
//	IP address       HW type     Flags       HW address            Mask     Device
//	10.0.0.5         0x1         0x2         52:54:00:12:34:56     *        rl0
//
// Incomplete entries (flags without 0x2), non-Ethernet ones and zero MACs
// are counted as ignored; malformed lines are skipped and counted. The
// header line is optional.
func ParseProcARP(r io.Reader, st *Stats) ([]device.Neighbour, error) {
	var buf [8][]byte
	return eachNeighbour(r, st, []byte("IP address"), func(line []byte) (device.Neighbour, bool, bool) {
		return parseARPLine(buf[:0], line)
	})
}

func parseARPLine(buf [][]byte, line []byte) (n device.Neighbour, ok, good bool) {
	f := fields(buf, line)
	if len(f) != 6 {
		return n, false, false
	}
	a, err := netip.ParseAddr(string(f[0]))
	if err != nil || !a.Is4() {
		return n, false, false
	}
	hw, err1 := strconv.ParseUint(string(f[1]), 0, 16)
	flags, err2 := strconv.ParseUint(string(f[2]), 0, 32)
	if err1 != nil || err2 != nil {
		return n, false, false
	}
	n.Addr, n.Iface = a, string(f[5])
	if hw != arpEther || flags&atfComplete == 0 {
		return n, false, true
	}
	m, err := device.ParseMAC(string(f[3]))
	if err != nil {
		return n, false, false
	}
	n.MAC = m
	return n, usable(n), true
}

// ProcARP reads Root/proc/net/arp: the IPv4-only fallback when netlink
// is not available.
type ProcARP struct {
	Root string // "/" when empty
}

// Read reads and parses the file.
func (p *ProcARP) Read(ctx context.Context) ([]device.Neighbour, error) {
	root := p.Root
	if root == "" {
		root = "/"
	}
	path := filepath.Join(root, "proc", "net", "arp")
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read arp table: %w", err)
	}
	defer f.Close()
	ns, err := ParseProcARP(f, nil)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return ns, nil
}
