package names

import (
	"context"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/netmon-dev/netmon/pkg/device"
	"github.com/netmon-dev/netmon/pkg/neigh"
)

// TestDemoBundle checks that the demo's neighbours, leases and query log
// (fixtures/names/demo) name what the demo replay shows.
func TestDemoBundle(t *testing.T) {
	dir := filepath.Join(fixtureDir, "demo")
	now := time.Date(2026, 12, 1, 9, 0, 10, 0, time.UTC)
	nf := &neigh.File{Path: filepath.Join(dir, "neighbours.txt")}
	ns, err := nf.Read(context.Background())
	if err != nil || nf.Stats.Skipped != 0 {
		t.Fatalf("neighbours: %v, %+v", err, nf.Stats)
	}
	lan := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/24"), netip.MustParsePrefix("fd00::/64"), netip.MustParsePrefix("192.168.50.0/24")}
	reg := device.NewRegistry(device.Options{Local: func(a netip.Addr) bool {
		for _, p := range lan {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}})
	reg.Observe(ns, now)
	u := NewLeases("/", []string{filepath.Join(dir, "dhcp.leases")}).Refresh(now)
	if f := u.Files[0]; f.Err != nil || f.Stats.Skipped != 0 || f.Format != FormatDnsmasq {
		t.Fatalf("leases: %+v", f)
	}
	u.Apply(reg.SetNames)
	for addr, want := range map[string]string{"10.0.0.5": "anna-laptop", "fd00::5": "anna-laptop", "10.0.0.6": "kitchen-phone", "fd00::6": "kitchen-phone", "192.168.50.10": "printer"} {
		name, src := reg.Name(reg.Resolve(netip.MustParseAddr(addr), now))
		if name != want || src != device.SourceLease {
			t.Errorf("%s is named %q from %v, want %q from lease", addr, name, src, want)
		}
	}
	if reg.Len() != 3 {
		t.Errorf("%d devices, want 3 (the WAN gateway is none)", reg.Len())
	}

	d := feedFile(t, "demo/dnsmasq.log", now)
	for _, f := range [][3]string{
		{"10.0.0.5", "203.0.113.80", "video.example"}, {"10.0.0.5", "203.0.113.81", "www.example.org"},
		{"10.0.0.5", "203.0.113.84", "mail.example"}, {"10.0.0.5", "203.0.113.85", "time.example"},
		{"10.0.0.5", "203.0.113.88", "updates.example"}, {"10.0.0.5", "203.0.113.89", "updates.example"},
		{"10.0.0.6", "203.0.113.80", "video.example"}, {"10.0.0.6", "203.0.113.82", "api.example"},
		{"10.0.0.6", "203.0.113.83", "chat.example"}, {"10.0.0.6", "203.0.113.84", "mail.example"},
		{"10.0.0.6", "203.0.113.87", "photos.example"}, {"10.0.0.6", "203.0.113.89", "updates.example"},
		{"10.0.0.6", "203.0.113.90", "new-service.example"},
		{"fd00::5", "2001:db8::80", "video.example"}, {"fd00::6", "2001:db8::81", "www.example.org"},
	} {
		if got, ok := d.Lookup(ip(f[0]), ip(f[1]), now); !ok || got != f[2] {
			t.Errorf("Lookup(%s, %s) = %q, %v; want %q", f[0], f[1], got, ok, f[2])
		}
	}
}
