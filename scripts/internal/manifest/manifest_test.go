package manifest

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var eqAddr = cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{})

func TestKey(t *testing.T) {
	a := netip.MustParseAddr
	tests := []struct {
		name       string
		proto      string
		src, dst   netip.Addr
		sport, dpt uint16
		want       string
	}{
		{"tcp ipv4", "tcp", a("10.0.0.5"), a("203.0.113.80"), 51234, 8080, "tcp|10.0.0.5|51234|203.0.113.80|8080"},
		{"udp ipv6 compressed", "udp", a("fd00:0:0:0:0:0:0:5"), a("2001:db8::80"), 5, 53, "udp|fd00::5|5|2001:db8::80|53"},
		{"icmp id and type", "icmp", a("10.0.0.5"), a("203.0.113.80"), 23318, 8, "icmp|10.0.0.5|23318|203.0.113.80|8"},
		{"zero ports", "253", a("10.0.0.6"), a("203.0.113.89"), 0, 0, "253|10.0.0.6|0|203.0.113.89|0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Key(tt.proto, tt.src, tt.sport, tt.dst, tt.dpt); got != tt.want {
				t.Errorf("Key() = %q, want %q", got, tt.want)
			}
		})
	}
}

func flow(name, proto, src string, sport uint16, dst string, dport uint16, outbound bool) Flow {
	s, d := netip.MustParseAddr(src), netip.MustParseAddr(dst)
	return Flow{Name: name, Proto: proto, SrcIP: s, SrcPort: sport, DstIP: d, DstPort: dport,
		Key: Key(proto, s, sport, d, dport), Outbound: outbound, Replied: true}
}

func TestValidate(t *testing.T) {
	good := flow("a", "tcp", "10.0.0.5", 1000, "203.0.113.80", 8080, true)
	badKey := good
	badKey.Key = "tcp|10.0.0.5|1|203.0.113.80|8080"
	noName := good
	noName.Name = ""
	noAddr := good
	noAddr.DstIP = netip.Addr{}
	dup := good
	dup.Name = "b"
	tests := []struct {
		name    string
		m       Manifest
		wantErr string // substring; "" for no error
	}{
		{"valid", Manifest{Version: Version, Flows: []Flow{good}}, ""},
		{"wrong version", Manifest{Version: 99, Flows: []Flow{good}}, "version"},
		{"no flows", Manifest{Version: Version}, "flows: empty"},
		{"key does not match fields", Manifest{Version: Version, Flows: []Flow{badKey}}, "does not match"},
		{"missing name", Manifest{Version: Version, Flows: []Flow{noName}}, "name: empty"},
		{"missing address", Manifest{Version: Version, Flows: []Flow{noAddr}}, "missing address"},
		{"duplicate key", Manifest{Version: Version, Flows: []Flow{good, dup}}, "same key as flow a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.m.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Validate() = %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Validate() = %v, want error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestOutbound(t *testing.T) {
	m := Manifest{Version: Version, Flows: []Flow{
		flow("out1", "tcp", "10.0.0.5", 1, "203.0.113.80", 8080, true),
		flow("lan", "udp", "10.0.0.5", 2, "192.168.50.10", 5300, false),
		flow("out2", "udp", "fd00::5", 3, "2001:db8::80", 5300, true),
	}}
	var names []string
	for _, f := range m.Outbound() {
		names = append(names, f.Name)
	}
	if diff := cmp.Diff([]string{"out1", "out2"}, names); diff != "" {
		t.Errorf("Outbound() names (-want +got):\n%s", diff)
	}
}

func TestWriteRead(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.json")
	want := &Manifest{Version: Version, Flows: []Flow{
		flow("tcp", "tcp", "10.0.0.5", 1000, "203.0.113.80", 8080, true),
		flow("icmp6", "icmpv6", "fd00::5", 77, "2001:db8::80", 128, true),
	}}
	want.Flows[0].DownPayload = 1 << 20
	if err := Write(path, want); err != nil {
		t.Fatal(err)
	}
	got, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, eqAddr); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("directory holds %d files after Write, want only the manifest", len(entries))
	}
}

func TestReadErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name    string
		path    string
		wantErr string
	}{
		{"missing file", filepath.Join(dir, "absent.json"), "read manifest"},
		{"not json", write("bad.json", "{"), "decode manifest"},
		{"bad address", write("addr.json", `{"version":1,"flows":[{"name":"x","src_ip":"10.0.0.999"}]}`), "decode manifest"},
		{"invalid content", write("empty.json", `{"version":1,"flows":[]}`), "flows: empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Read(tt.path)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Read() = %v, want error containing %q", err, tt.wantErr)
			}
		})
	}
	if _, err := Read(filepath.Join(dir, "absent.json")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Read(missing) = %v, want it to wrap fs.ErrNotExist", err)
	}
}

// TestLabFixture keeps fixtures/lab consistent: the manifest reads, and
// every flow it lists is in the table captured in the same run, by the
// original tuple exactly as conntrack prints it.
func TestLabFixture(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "fixtures", "lab")
	m, err := Read(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if got := len(m.Outbound()); got == 0 || got == len(m.Flows) {
		t.Errorf("fixture has %d outbound of %d flows, want some of each", got, len(m.Flows))
	}
	table, err := os.ReadFile(filepath.Join(dir, "router_table.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Count(string(table), "\n"); lines != len(m.Flows) {
		t.Errorf("router_table.txt has %d lines, manifest %d flows", lines, len(m.Flows))
	}
	for _, f := range m.Flows {
		tuple := fmt.Sprintf("src=%s dst=%s sport=%d dport=%d ", f.SrcIP, f.DstIP, f.SrcPort, f.DstPort)
		if f.Proto == "icmp" || f.Proto == "icmpv6" {
			tuple = fmt.Sprintf("src=%s dst=%s type=%d code=0 id=%d ", f.SrcIP, f.DstIP, f.DstPort, f.SrcPort)
		}
		if !strings.Contains(string(table), " "+f.Proto+" ") || !strings.Contains(string(table), tuple) {
			t.Errorf("flow %s (%s) not in router_table.txt", f.Name, tuple)
		}
	}
}
