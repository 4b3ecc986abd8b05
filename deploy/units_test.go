package deploy

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// unit is a parsed systemd unit file: section -> key -> values in order.
// Keys may repeat (SystemCallFilter=), so each key holds a list.
type unit map[string]map[string][]string

func (u unit) get(section, key string) string {
	v := u[section][key]
	if len(v) == 0 {
		return ""
	}
	return v[len(v)-1]
}

// parseUnit reads the subset of the unit file syntax the files in
// deploy/systemd use: sections, key=value lines and comments.
func parseUnit(t *testing.T, path string) unit {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("open unit: %v", err)
	}
	defer f.Close()
	u := unit{}
	section := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = strings.Trim(line, "[]")
			u[section] = map[string][]string{}
		default:
			key, value, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("%s:%d: not a key=value line in a section: %q", path, n, line)
			}
			u[section][key] = append(u[section][key], value)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return u
}

// unitNames lists the unit files in deploy/systemd.
func unitNames(t *testing.T) []string {
	t.Helper()
	paths, err := filepath.Glob("systemd/*.service")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range paths {
		names = append(names, filepath.Base(p))
	}
	return names
}

// TestUnitsHardened checks what every unit must set, per issue 6 and the
// review of `systemd-analyze security`.
func TestUnitsHardened(t *testing.T) {
	hardening := map[string]string{
		"User":                   "netmon",
		"Group":                  "netmon",
		"NoNewPrivileges":        "yes",
		"ProtectSystem":          "strict",
		"ProtectHome":            "yes",
		"PrivateTmp":             "yes",
		"StateDirectory":         "netmon",
		"Restart":                "on-failure",
		"UMask":                  "0077",
		"EnvironmentFile":        "-/etc/default/netmon",
		"ExecReload":             "/bin/kill -HUP $MAINPID",
		"ProtectKernelTunables":  "yes",
		"ProtectKernelModules":   "yes",
		"MemoryDenyWriteExecute": "yes",
	}
	for _, name := range unitNames(t) {
		u := parseUnit(t, filepath.Join("systemd", name))
		for key, want := range hardening {
			t.Run(name+"/"+key, func(t *testing.T) {
				if got := u.get("Service", key); got != want {
					t.Errorf("%s=%q, want %q", key, got, want)
				}
			})
		}
	}
}

// TestUnitsRuntimeDirectory: every unit declares /run/netmon, the live
// state's tmpfs (issue 14): the ingest units write it, the web unit's WAL
// reader writes live.db-shm there, and ProtectSystem=strict leaves /run
// read-only but for declared directories. Preserved, so that neither a
// restart nor the other unit's stop loses the live state.
func TestUnitsRuntimeDirectory(t *testing.T) {
	want := map[string]string{"RuntimeDirectory": "netmon", "RuntimeDirectoryMode": "0750", "RuntimeDirectoryPreserve": "yes"}
	for _, name := range unitNames(t) {
		u := parseUnit(t, filepath.Join("systemd", name))
		got := map[string]string{}
		for key := range want {
			got[key] = u.get("Service", key)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", name, diff)
		}
	}
}

// TestUnitCapabilities checks that only the units that read the conntrack
// table hold CAP_NET_ADMIN, and that they pass it on to conntrack(8).
func TestUnitCapabilities(t *testing.T) {
	tests := []struct {
		unit              string
		bounding, ambient string
	}{
		{unit: "netmon-ingest.service", bounding: "CAP_NET_ADMIN", ambient: "CAP_NET_ADMIN"},
		{unit: "netmon-web.service", bounding: "", ambient: ""},
		{unit: "netmon.service", bounding: "CAP_NET_ADMIN", ambient: "CAP_NET_ADMIN"},
	}
	for _, tt := range tests {
		t.Run(tt.unit, func(t *testing.T) {
			u := parseUnit(t, filepath.Join("systemd", tt.unit))
			if _, ok := u["Service"]["CapabilityBoundingSet"]; !ok {
				t.Fatalf("CapabilityBoundingSet not set: the default keeps every capability")
			}
			if got := u.get("Service", "CapabilityBoundingSet"); got != tt.bounding {
				t.Errorf("CapabilityBoundingSet=%q, want %q", got, tt.bounding)
			}
			if got := u.get("Service", "AmbientCapabilities"); got != tt.ambient {
				t.Errorf("AmbientCapabilities=%q, want %q", got, tt.ambient)
			}
		})
	}
}

// TestUnitCommands checks what each unit runs: the packaged binary, the
// packaged config, the one database in the state directory, the LAN bind.
func TestUnitCommands(t *testing.T) {
	tests := []struct {
		unit string
		want []string
	}{
		// Every setting from the YAML: no --bind, no --db (issue 17). The
		// web unit says only its role.
		{unit: "netmon-ingest.service", want: []string{"/usr/bin/netmon", "ingest-loop", "--config", "/etc/netmon/netmon.yaml"}},
		{unit: "netmon-web.service", want: []string{"/usr/bin/netmon", "serve", "--ingest=false", "--config", "/etc/netmon/netmon.yaml"}},
		{unit: "netmon.service", want: []string{"/usr/bin/netmon", "serve", "--config", "/etc/netmon/netmon.yaml"}},
	}
	for _, tt := range tests {
		t.Run(tt.unit, func(t *testing.T) {
			u := parseUnit(t, filepath.Join("systemd", tt.unit))
			got := strings.Fields(u.get("Service", "ExecStart"))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ExecStart (-want +got):\n%s", diff)
			}
		})
	}
}

// TestUnitNetworkAccess pins the sockets each unit may open and the
// addresses it may talk to: ingest only netlink (conntrack) and no IP at
// all; the web unit only IP, and only private and local addresses.
func TestUnitNetworkAccess(t *testing.T) {
	tests := []struct {
		unit, families, deny, allow string
	}{
		{unit: "netmon-ingest.service", families: "AF_NETLINK", deny: "any"},
		{unit: "netmon-web.service", families: "AF_INET AF_INET6", deny: "any",
			allow: "localhost link-local 10.0.0.0/8 172.16.0.0/12 192.168.0.0/16 100.64.0.0/10 fc00::/7"},
		{unit: "netmon.service", families: "AF_INET AF_INET6 AF_NETLINK"},
	}
	for _, tt := range tests {
		t.Run(tt.unit, func(t *testing.T) {
			u := parseUnit(t, filepath.Join("systemd", tt.unit))
			got := []string{u.get("Service", "RestrictAddressFamilies"), u.get("Service", "IPAddressDeny"), u.get("Service", "IPAddressAllow")}
			if diff := cmp.Diff([]string{tt.families, tt.deny, tt.allow}, got); diff != "" {
				t.Errorf("RestrictAddressFamilies, IPAddressDeny, IPAddressAllow (-want +got):\n%s", diff)
			}
		})
	}
}

// TestWebUnitWaitsForNetwork: the bind address exists only once the network
// is up, so the web units must be ordered after network-online.target.
func TestWebUnitWaitsForNetwork(t *testing.T) {
	for _, name := range []string{"netmon-web.service", "netmon.service"} {
		t.Run(name, func(t *testing.T) {
			u := parseUnit(t, filepath.Join("systemd", name))
			for _, key := range []string{"Wants", "After"} {
				if !slices.Contains(strings.Fields(u.get("Unit", key)), "network-online.target") {
					t.Errorf("%s= lacks network-online.target", key)
				}
			}
		})
	}
}

// TestSingleUnitConflicts: netmon.service and the two-unit pair would write
// the same database twice over; systemd must refuse to run them together.
func TestSingleUnitConflicts(t *testing.T) {
	u := parseUnit(t, filepath.Join("systemd", "netmon.service"))
	got := strings.Fields(u.get("Unit", "Conflicts"))
	want := []string{"netmon-ingest.service", "netmon-web.service"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Conflicts (-want +got):\n%s", diff)
	}
}

// TestUnitsPackagedAndManaged fails when a unit file is added without being
// packaged, or without the maintainer scripts stopping and restarting it.
func TestUnitsPackagedAndManaged(t *testing.T) {
	want := unitNames(t)
	if len(want) == 0 {
		t.Fatal("no unit files in deploy/systemd")
	}

	var packaged []string
	for _, f := range loadNFPM(t).Contents {
		if dir, name := filepath.Split(f.Dst); dir == "/usr/lib/systemd/system/" {
			packaged = append(packaged, name)
		}
	}
	slices.Sort(packaged)
	if diff := cmp.Diff(want, packaged); diff != "" {
		t.Errorf("units in deploy/nfpm.yaml (-deploy/systemd +packaged):\n%s", diff)
	}

	unitsVar := regexp.MustCompile(`(?m)^units="([^"]*)"$`)
	for _, s := range []string{"postinstall.sh", "preremove.sh", "deb/postinst", "deb/prerm", "deb/postrm"} {
		t.Run(s, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("scripts", s))
			if err != nil {
				t.Fatal(err)
			}
			m := unitsVar.FindSubmatch(b)
			if m == nil {
				t.Fatalf(`no units="..." line`)
			}
			got := strings.Fields(string(m[1]))
			slices.Sort(got)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("units (-deploy/systemd +script):\n%s", diff)
			}
		})
	}
}

// TestSysctl checks the file that turns on the counters netmon reads.
func TestSysctl(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("sysctl", "90-netmon.conf"))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";") {
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("not a key = value line: %q", line)
		}
		got[strings.TrimSpace(key)] = strings.TrimSpace(value)
	}
	want := map[string]string{"net.netfilter.nf_conntrack_acct": "1", "net.netfilter.nf_conntrack_events": "1"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("sysctl settings (-want +got):\n%s", diff)
	}
}
