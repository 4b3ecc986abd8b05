package neigh

import (
	"context"
	"net"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/netmon-dev/netmon/pkg/device"
)

func TestFromNetlink(t *testing.T) {
	m := device.MAC{0x00, 0x1b, 0x21, 0x3a, 0x4b, 0x5c}
	names := map[int]string{3: "br-lan"}
	tests := []struct {
		name string
		in   netlink.Neigh
		want device.Neighbour
		ok   bool
	}{
		{"reachable IPv4", netlink.Neigh{LinkIndex: 3, Family: unix.AF_INET, State: netlink.NUD_REACHABLE, IP: net.ParseIP("192.168.1.20"), HardwareAddr: hardwareAddr(m)},
			device.Neighbour{Addr: nb("192.168.1.20", m.String(), "").Addr, MAC: m, Iface: "br-lan"}, true},
		{"stale IPv6, unknown link", netlink.Neigh{LinkIndex: 9, Family: unix.AF_INET6, State: netlink.NUD_STALE, IP: net.ParseIP("fd00::20"), HardwareAddr: hardwareAddr(m)},
			device.Neighbour{Addr: nb("fd00::20", m.String(), "").Addr, MAC: m}, true},
		{"failed", netlink.Neigh{Family: unix.AF_INET, State: netlink.NUD_FAILED, IP: net.ParseIP("192.168.1.21"), HardwareAddr: hardwareAddr(m)}, device.Neighbour{}, false},
		{"incomplete", netlink.Neigh{Family: unix.AF_INET, State: netlink.NUD_INCOMPLETE, IP: net.ParseIP("192.168.1.22")}, device.Neighbour{}, false},
		{"proxy", netlink.Neigh{Family: unix.AF_INET, Flags: netlink.NTF_PROXY, IP: net.ParseIP("192.168.1.23"), HardwareAddr: hardwareAddr(m)}, device.Neighbour{}, false},
		{"bridge fdb", netlink.Neigh{Family: unix.AF_BRIDGE, HardwareAddr: hardwareAddr(m)}, device.Neighbour{}, false},
		{"zero MAC", netlink.Neigh{Family: unix.AF_INET, State: netlink.NUD_NOARP, IP: net.ParseIP("192.168.1.24"), HardwareAddr: make(net.HardwareAddr, 6)}, device.Neighbour{}, false},
		{"tunnel lladdr", netlink.Neigh{Family: unix.AF_INET, State: netlink.NUD_PERMANENT, IP: net.ParseIP("192.168.1.25"), HardwareAddr: net.HardwareAddr{10, 0, 0, 2}}, device.Neighbour{}, false},
	}
	for _, tc := range tests {
		got, ok := fromNetlink(&tc.in, names)
		if ok != tc.ok || ok && got != tc.want {
			t.Errorf("%s: fromNetlink = %+v, %v; want %+v, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

// TestNetlinkRead dumps the table of the namespace the test runs in
// (no privilege needed); scripts/e2e-names.sh checks it against the
// lab's clients.
func TestNetlinkRead(t *testing.T) {
	ns, err := (&Netlink{}).Read(context.Background())
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	for _, n := range ns {
		if !n.Addr.IsValid() || !n.MAC.Valid() {
			t.Errorf("unusable neighbour %+v", n)
		}
	}
}

func TestNetlinkChanges(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	ch, err := (&Netlink{}).Changes(ctx)
	if err != nil {
		t.Fatalf("Changes: %v", err)
	}
	cancel()
	for range ch {
	}
}
