package names

import (
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/netmon-dev/netmon/pkg/device"
)

const fixtureDir = "../../fixtures/names"

func fixture(tb testing.TB, name string) *os.File {
	tb.Helper()
	f, err := os.Open(filepath.Join(fixtureDir, name))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { f.Close() })
	return f
}

var cmpAddr = cmpopts.EquateComparable(netip.Addr{})

func mac(s string) device.MAC {
	m, err := device.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return m
}

func ip(s string) netip.Addr { return netip.MustParseAddr(s) }

func unix(s int64) time.Time { return time.Unix(s, 0).UTC() }

func TestParseFixtures(t *testing.T) {
	exp := unix(1764590400)
	tests := []struct {
		file   string
		format Format
		want   []Lease
		stats  Stats
	}{
		{
			// Real: written by dnsmasq 2.90 in the lab (scripts/e2e-names.sh).
			file: "dnsmasq-lab.leases", format: FormatDnsmasq,
			want: []Lease{
				{MAC: mac("ce:39:34:fe:e8:79"), Addr: ip("10.0.3.134"), Name: "lab-phone", Expires: unix(1796202395)},
				{MAC: mac("ba:48:48:04:35:67"), Addr: ip("10.0.3.114"), Name: "lab-laptop", Expires: unix(1796202391)},
				{MAC: mac("ce:39:34:fe:e8:79"), Addr: ip("fd00:3::112"), Name: "lab-phone", Expires: unix(1796166695)},
				{MAC: mac("ba:48:48:04:35:67"), Addr: ip("fd00:3::102"), Name: "lab-laptop", Expires: unix(1796166692)},
			},
			stats: Stats{Lines: 5, Entries: 4},
		},
		{
			file: "openwrt-dhcp.leases", format: FormatDnsmasq,
			want: []Lease{
				{MAC: mac("00:1b:21:3a:4b:5c"), Addr: ip("192.168.1.20"), Name: "desktop", Expires: exp},
				{MAC: mac("b8:27:eb:12:34:56"), Addr: ip("192.168.1.2"), Name: "raspberrypi"},
				{MAC: mac("da:a1:19:aa:bb:cc"), Addr: ip("192.168.1.33"), Expires: exp},
				{MAC: mac("00:1b:21:0a:0b:0c"), Addr: ip("192.168.1.34"), Name: "old-nic", Expires: exp},
				{MAC: mac("00:1b:21:3a:4b:5c"), Addr: ip("fd00::1:99"), Name: "desktop", Expires: exp}, // DUID-LL
				{Addr: ip("fd00::1:98"), Expires: exp},                                                 // DUID-EN: no MAC
			},
			stats: Stats{Lines: 9, Entries: 6, Skipped: 2, FirstSkip: 5},
		},
		{
			file: "odhcpd", format: FormatOdhcpd,
			want: []Lease{
				{MAC: mac("00:1b:21:3a:4b:5c"), Addr: ip("fd00::1:1a"), Name: "desktop", Expires: exp},
				{MAC: mac("00:1b:21:3a:4b:5c"), Addr: ip("fd00::1:1b"), Name: "desktop", Expires: exp},
				{Addr: ip("fd00::1:1a"), Name: "desktop"},
				{MAC: mac("00:25:4b:11:22:33"), Addr: ip("fd00::1:2b"), Expires: exp},
				{MAC: mac("00:25:4b:44:55:66"), Addr: ip("fd00::1:2c"), Expires: exp},
				{MAC: mac("00:25:4b:01:02:03"), Addr: ip("192.168.1.40"), Name: "printer"},
			},
			stats: Stats{Lines: 6, Entries: 6, Skipped: 1, FirstSkip: 6},
		},
		{
			file: "dhcpd.leases", format: FormatISC,
			want: []Lease{
				{MAC: mac("00:1b:21:3a:4b:5c"), Addr: ip("192.168.1.20"), Name: "desktop-renamed", Expires: unix(1764633600)},
				{MAC: mac("b8:27:eb:12:34:56"), Addr: ip("192.168.1.21"), Name: "pi zero"},
				{MAC: mac("00:25:4b:0d:0e:0f"), Addr: ip("192.168.1.24"), Name: "", Expires: time.Date(2025, 12, 1, 20, 0, 0, 0, time.UTC)},
			},
			stats: Stats{Lines: 53, Entries: 3, Skipped: 2, FirstSkip: 48},
		},
		{
			file: "kea-leases4.csv", format: FormatKea,
			want: []Lease{
				{MAC: mac("00:1b:21:3a:4b:5c"), Addr: ip("192.168.1.20"), Name: "desktop.lan", Expires: exp},
				{MAC: mac("b8:27:eb:12:34:56"), Addr: ip("192.168.1.21"), Name: "pi"},
				{MAC: mac("00:25:4b:0d:0e:0f"), Addr: ip("192.168.1.24"), Name: "comma,name", Expires: exp},
			},
			stats: Stats{Lines: 8, Entries: 3, Skipped: 2, FirstSkip: 8},
		},
		{
			file: "kea-leases6.csv", format: FormatKea,
			want: []Lease{
				{MAC: mac("00:1b:21:3a:4b:5c"), Addr: ip("fd00::1:20"), Name: "desktop", Expires: exp},
				{MAC: mac("b8:27:eb:12:34:56"), Addr: ip("fd00::1:21"), Name: "pi", Expires: exp},
				{Addr: ip("fd00::1:22"), Name: "enterprise-duid", Expires: exp},
			},
			stats: Stats{Lines: 3, Entries: 3},
		},
		{
			file: "openwrt-config-dhcp", format: FormatUCI,
			want: []Lease{
				{MAC: mac("00:1b:21:3a:4b:5c"), Addr: ip("192.168.1.20"), Name: "desktop"},
				{MAC: mac("00:11:32:aa:bb:cc"), Addr: ip("192.168.1.10"), Name: "nas"},
				{MAC: mac("00:11:32:aa:bb:cd"), Addr: ip("192.168.1.10"), Name: "nas"},
				{MAC: mac("00:25:4b:01:02:03"), Name: "printer"},
				{MAC: mac("00:25:4b:01:02:04"), Name: "printer"},
				{Addr: ip("192.168.1.77"), Name: "by-ip-only"},
			},
			stats: Stats{Lines: 31, Entries: 6, Skipped: 1, FirstSkip: 32},
		},
		{
			file: "dnsmasq.conf", format: FormatDnsmasqConf,
			want: []Lease{
				{MAC: mac("00:1b:21:3a:4b:5c"), Addr: ip("192.168.1.20"), Name: "desktop"},
				{MAC: mac("b8:27:eb:12:34:56"), Name: "raspberrypi"},
				{MAC: mac("00:25:4b:01:02:03"), Addr: ip("192.168.1.40"), Name: "printer"},
				{MAC: mac("00:25:4b:01:02:04"), Addr: ip("192.168.1.40"), Name: "printer"},
				{MAC: mac("00:11:32:aa:bb:cc"), Name: "nas"},
				{Addr: ip("fd00::1:50"), Name: "ipv6-only"},
				{MAC: mac("00:0c:42:00:00:0a"), Addr: ip("fd00::1:a"), Name: "mixed"},
			},
			stats: Stats{Lines: 9, Entries: 7, Skipped: 1, FirstSkip: 12},
		},
		{
			file: "ethers", format: FormatEthers,
			want: []Lease{
				{MAC: mac("00:1b:21:3a:4b:5c"), Name: "desktop"},
				{MAC: mac("00:25:4b:01:02:03"), Name: "printer.lan"},
				{MAC: mac("00:11:32:aa:bb:cc"), Name: "nas"},
			},
			stats: Stats{Lines: 6, Entries: 3, Skipped: 2, FirstSkip: 6},
		},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			head, err := os.ReadFile(filepath.Join(fixtureDir, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if got := Detect(tc.file, head); got != tc.format {
				t.Fatalf("Detect = %v, want %v", got, tc.format)
			}
			// By content alone too, where the name is not conventional.
			if got := Detect("/x/unnamed", head); got != tc.format && tc.format != FormatEthers && tc.format != FormatDnsmasqConf {
				t.Errorf("Detect by content = %v, want %v", got, tc.format)
			}
			var st Stats
			got, err := Parse(tc.format, fixture(t, tc.file), &st)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got, cmpAddr); diff != "" {
				t.Errorf("leases (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.stats, st); diff != "" {
				t.Errorf("stats (-want +got):\n%s", diff)
			}
		})
	}
}

func TestHostileNamesStoredAsGiven(t *testing.T) {
	ls, err := ParseDnsmasq(fixture(t, "hostile.leases"), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"<script>alert(1)</script>",
		"bell\a\x1b[2Jname",
		"caf\xc3\x28\xff",
		strings.Repeat("x", 10240),
		`"quoted"&amp;{{.}}`,
	}
	if len(ls) != len(want) {
		t.Fatalf("%d leases, want %d", len(ls), len(want))
	}
	for i, l := range ls {
		if l.Name != want[i] {
			t.Errorf("lease %d name = %q, want %q", i, device.DisplayName(l.Name), device.DisplayName(want[i]))
		}
	}
}

func TestFormatSource(t *testing.T) {
	for f, want := range map[Format]device.NameSource{
		FormatDnsmasq: device.SourceLease, FormatOdhcpd: device.SourceLease, FormatISC: device.SourceLease,
		FormatKea: device.SourceLease, FormatUCI: device.SourceStatic, FormatDnsmasqConf: device.SourceStatic,
		FormatDnsmasqHostsFile: device.SourceStatic, FormatEthers: device.SourceEthers, FormatUnknown: device.SourceNone,
	} {
		if got := f.Source(); got != want {
			t.Errorf("%v.Source() = %v, want %v", f, got, want)
		}
	}
	if _, err := Parse(FormatUnknown, strings.NewReader(""), nil); err == nil {
		t.Error("Parse(unknown) = nil error")
	}
	if got := Format(99).String(); got != "format(99)" {
		t.Errorf("String = %q", got)
	}
}

func TestDetectContent(t *testing.T) {
	tests := []struct {
		head string
		want Format
	}{
		{"", FormatUnknown},
		{"\n\n# just comments\n", FormatUnknown},
		{"duid 00:01\n", FormatDnsmasq},
		{"lease 10.0.0.1 {\n", FormatISC},
		{"address,hwaddr,client_id\n", FormatKea},
		{"dhcp-host=aa:bb:cc:dd:ee:ff,x\n", FormatDnsmasqConf},
		{"52:54:00:12:34:56 laptop\n", FormatEthers},
		{"hello world\n", FormatUnknown},
	}
	for _, tc := range tests {
		if got := Detect("/somewhere/file", []byte(tc.head)); got != tc.want {
			t.Errorf("Detect(%q) = %v, want %v", tc.head, got, tc.want)
		}
	}
	for path, want := range map[string]Format{
		"/etc/config/dhcp": FormatUCI, "/tmp/hosts/odhcpd": FormatOdhcpd, "/etc/dnsmasq.d/hosts.conf": FormatDnsmasqConf,
		"/tmp/dhcp.leases": FormatDnsmasq, "/var/lib/kea/kea-leases4.csv": FormatKea, "/var/lib/dhcp/dhcpd6.leases": FormatISC,
	} {
		if got := Detect(path, nil); got != want {
			t.Errorf("Detect(%s) = %v, want %v", path, got, want)
		}
	}
}

func TestDeviceNames(t *testing.T) {
	now := unix(1000)
	ls := []Lease{
		{MAC: mac("00:1b:21:3a:4b:5c"), Addr: ip("10.0.0.5"), Name: "by-mac"},
		{Addr: ip("fd00::5"), Name: "by-addr", Expires: unix(2000)},
		{MAC: mac("00:1b:21:3a:4b:5d"), Name: "expired", Expires: unix(999)},
		{MAC: mac("00:1b:21:3a:4b:5e"), Name: ""},
	}
	want := []device.Name{{MAC: mac("00:1b:21:3a:4b:5c"), Name: "by-mac"}, {Addr: ip("fd00::5"), Name: "by-addr"}}
	if diff := cmp.Diff(want, DeviceNames(ls, now), cmpAddr); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestHostileNamesThroughJSON: hostile lease names reach the registry as
// given and come out of `netmon devices --output json` as a valid
// document (invalid UTF-8 becomes U+FFFD there, as encoding/json does),
// and shortened and clean through DisplayName.
func TestHostileNamesThroughJSON(t *testing.T) {
	ls, err := ParseDnsmasq(fixture(t, "hostile.leases"), nil)
	if err != nil {
		t.Fatal(err)
	}
	reg := device.NewRegistry(device.Options{})
	var ns []device.Neighbour
	for _, l := range ls {
		ns = append(ns, device.Neighbour{Addr: l.Addr, MAC: l.MAC})
	}
	reg.Observe(ns, time.Unix(1764500000, 0))
	reg.SetNames(device.SourceLease, DeviceNames(ls, time.Unix(1764500000, 0)))
	snap := reg.Snapshot()
	b, err := json.Marshal(snap)
	if err != nil || !json.Valid(b) {
		t.Fatalf("json: %v", err)
	}
	var back []device.Device
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	for i, d := range snap {
		if d.Name != ls[i].Name {
			t.Errorf("device %v named %q, want the lease's %q as given", d.ID, device.DisplayName(d.Name), device.DisplayName(ls[i].Name))
		}
		if want := strings.ToValidUTF8(d.Name, "\uFFFD"); back[i].Name != want {
			t.Errorf("device %v: JSON gives %q, want %q", d.ID, device.DisplayName(back[i].Name), device.DisplayName(want))
		}
		if s := device.DisplayName(d.Name); !utf8.ValidString(s) || utf8.RuneCountInString(s) > device.DisplayMax+1 || strings.ContainsAny(s, "\a\x1b") {
			t.Errorf("DisplayName(%v) = %q", d.ID, s)
		}
	}
}
