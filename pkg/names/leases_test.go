package names

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/netmon-dev/netmon/pkg/device"
)

// root builds a fixture filesystem: path (as on the router) -> fixture.
func root(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for p, fx := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(fixtureDir, fx))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLeasesDefaults(t *testing.T) {
	dir := root(t, map[string]string{
		"/tmp/dhcp.leases":           "openwrt-dhcp.leases",
		"/tmp/hosts/odhcpd":          "odhcpd",
		"/etc/config/dhcp":           "openwrt-config-dhcp",
		"/etc/ethers":                "ethers",
		"/etc/dnsmasq.d/static.conf": "dnsmasq.conf",
	})
	l := NewLeases(dir, nil)
	now := time.Unix(1764500000, 0) // before the fixtures' leases end
	u := l.Refresh(now)
	if !u.Changed {
		t.Error("first Refresh: Changed = false")
	}
	var got []string
	for _, f := range u.Files {
		rel, _ := filepath.Rel(dir, f.Path)
		got = append(got, "/"+rel+" "+f.Format.String())
		if f.Err != nil {
			t.Errorf("%s: %v", f.Path, f.Err)
		}
	}
	want := []string{"/tmp/dhcp.leases dnsmasq", "/tmp/hosts/odhcpd odhcpd", "/etc/config/dhcp uci", "/etc/ethers ethers", "/etc/dnsmasq.d/static.conf dnsmasq-conf"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
	desktop := mac("00:1b:21:3a:4b:5c")
	has := func(ns []device.Name, n device.Name) bool { return slices.Contains(ns, n) }
	if !has(u.Leases, device.Name{MAC: desktop, Name: "desktop"}) || !has(u.Static, device.Name{MAC: desktop, Name: "desktop"}) ||
		!has(u.Ethers, device.Name{MAC: desktop, Name: "desktop"}) {
		t.Errorf("desktop is not named by every source: %v / %v / %v", u.Leases, u.Static, u.Ethers)
	}
	// Nothing changed: no re-read.
	if u2 := l.Refresh(now); u2.Changed || len(u2.Leases) != len(u.Leases) {
		t.Errorf("second Refresh: Changed %v, %d leases (was %d)", u2.Changed, len(u2.Leases), len(u.Leases))
	}
	// The lease file grows: re-read.
	p := filepath.Join(dir, "tmp/dhcp.leases")
	f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("1764590400 00:25:4b:99:99:99 192.168.1.99 newcomer *\n"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	u3 := l.Refresh(now)
	if !u3.Changed || !has(u3.Leases, device.Name{MAC: mac("00:25:4b:99:99:99"), Name: "newcomer"}) {
		t.Errorf("after the lease file grew: Changed %v, leases %v", u3.Changed, u3.Leases)
	}
	// The file goes away: its names go.
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	u4 := l.Refresh(now)
	if !u4.Changed || has(u4.Leases, device.Name{MAC: mac("00:25:4b:99:99:99"), Name: "newcomer"}) {
		t.Errorf("after the lease file went: Changed %v", u4.Changed)
	}
	// Leases that ended are left out.
	if u5 := l.Refresh(time.Unix(1764600000, 0)); has(u5.Leases, device.Name{MAC: desktop, Name: "desktop"}) {
		t.Error("an ended odhcpd lease still names the desktop")
	}
}

func TestLeasesConfigured(t *testing.T) {
	dir := root(t, map[string]string{"/srv/a.leases": "dnsmasq-lab.leases", "/srv/junk": "lab-clients.txt"})
	missing := filepath.Join(dir, "srv", "missing.leases")
	l := NewLeases("/ignored", []string{filepath.Join(dir, "srv", "a.leases"), filepath.Join(dir, "srv", "junk"), missing})
	u := l.Refresh(time.Unix(1764500000, 0))
	if len(u.Files) != 3 {
		t.Fatalf("%d files, want 3: %+v", len(u.Files), u.Files)
	}
	if u.Files[0].Err != nil || u.Files[0].Leases != 4 || len(u.Leases) != 4 {
		t.Errorf("lab lease file: %+v, %d names", u.Files[0], len(u.Leases))
	}
	if u.Files[1].Err == nil {
		t.Error("a file of no known format: no error")
	}
	if u.Files[2].Err == nil {
		t.Error("a missing configured file: no error")
	}
	if u2 := l.Refresh(time.Unix(1764500000, 0)); u2.Changed {
		t.Error("nothing changed, yet Changed")
	}
	var sources []device.NameSource
	u.Apply(func(src device.NameSource, _ []device.Name) { sources = append(sources, src) })
	if diff := cmp.Diff([]device.NameSource{device.SourceStatic, device.SourceLease, device.SourceEthers}, sources); diff != "" {
		t.Errorf("Apply sources (-want +got):\n%s", diff)
	}
}
