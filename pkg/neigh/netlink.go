package neigh

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/netmon-dev/netmon/pkg/device"
)

// Netlink reads the neighbour table of the network namespace the process
// runs in through rtnetlink (github.com/vishvananda/netlink, pure Go), and
// watches it for changes. Reading needs no privilege.
type Netlink struct{}

var (
	_ Reader  = (*Netlink)(nil)
	_ Watcher = (*Netlink)(nil)
)

// Read dumps the IPv4 and IPv6 neighbour tables. An interrupted dump (the
// table changed while the kernel sent it) is tried again once; a second
// interruption returns what came, without error.
func (nl *Netlink) Read(ctx context.Context) ([]device.Neighbour, error) {
	list, err := netlink.NeighList(0, netlink.FAMILY_ALL)
	if errors.Is(err, netlink.ErrDumpInterrupted) {
		list, err = netlink.NeighList(0, netlink.FAMILY_ALL)
		if errors.Is(err, netlink.ErrDumpInterrupted) {
			err = nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("dump neighbour table: %w", err)
	}
	names := linkNames()
	out := make([]device.Neighbour, 0, len(list))
	for i := range list {
		if n, ok := fromNetlink(&list[i], names); ok {
			out = append(out, n)
		}
	}
	return out, nil
}

// linkNames maps interface indexes to names ("" where the list fails:
// the names are for display only).
func linkNames() map[int]string {
	links, err := netlink.LinkList()
	if err != nil {
		return nil
	}
	m := make(map[int]string, len(links))
	for _, l := range links {
		a := l.Attrs()
		m[a.Index] = a.Name
	}
	return m
}

// fromNetlink converts one entry, leaving out bridge FDB entries, proxy
// entries, failed and incomplete ones and those without a usable MAC.
func fromNetlink(e *netlink.Neigh, names map[int]string) (device.Neighbour, bool) {
	var n device.Neighbour
	if e.Family != unix.AF_INET && e.Family != unix.AF_INET6 {
		return n, false
	}
	if e.State&(netlink.NUD_FAILED|netlink.NUD_INCOMPLETE) != 0 || e.Flags&netlink.NTF_PROXY != 0 {
		return n, false
	}
	a, ok := netip.AddrFromSlice(e.IP)
	if !ok || len(e.HardwareAddr) != 6 {
		return n, false
	}
	n.Addr = a.Unmap()
	copy(n.MAC[:], e.HardwareAddr)
	n.Iface = names[e.LinkIndex]
	return n, usable(n)
}

// Changes subscribes to the kernel's neighbour updates (RTM_NEWNEIGH,
// RTM_DELNEIGH) and turns each burst into one value on the returned
// channel (it holds one; updates coming while it is full add nothing).
func (nl *Netlink) Changes(ctx context.Context) (<-chan struct{}, error) {
	updates := make(chan netlink.NeighUpdate, 256)
	done := make(chan struct{})
	failed := make(chan struct{}, 1)
	err := netlink.NeighSubscribeWithOptions(updates, done, netlink.NeighSubscribeOptions{
		ErrorCallback: func(error) {
			select {
			case failed <- struct{}{}:
			default:
			}
		},
	})
	if err != nil {
		return nil, fmt.Errorf("subscribe to neighbour updates: %w", err)
	}
	out := make(chan struct{}, 1)
	go func() {
		defer close(out)
		defer func() {
			// Stop the subscription, and keep reading until the library
			// closes the channel, so its goroutine never blocks on a send.
			close(done)
			go func() {
				for range updates {
				}
			}()
		}()
		for {
			select {
			case <-ctx.Done():
				return
			case <-failed:
				return
			case _, ok := <-updates:
				if !ok {
					return
				}
				select {
				case out <- struct{}{}:
				default:
				}
			}
		}
	}()
	return out, nil
}

// hardwareAddr is for tests building netlink entries.
func hardwareAddr(m device.MAC) net.HardwareAddr { return net.HardwareAddr(m[:]) }
