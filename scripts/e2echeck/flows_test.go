package main

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/netmon-dev/netmon/pkg/conntrack"
	"github.com/netmon-dev/netmon/pkg/filter"
	"github.com/netmon-dev/netmon/scripts/internal/manifest"
)

// labDir is the captured lab table and its manifest.
var labDir = filepath.Join("..", "..", "fixtures", "lab")

func mflow(name, proto, src string, sport uint16, dst string, dport uint16) manifest.Flow {
	s, d := netip.MustParseAddr(src), netip.MustParseAddr(dst)
	return manifest.Flow{Name: name, Proto: proto, SrcIP: s, SrcPort: sport, DstIP: d, DstPort: dport,
		Key: manifest.Key(proto, s, sport, d, dport), Outbound: true, Replied: true}
}

// wantProblems fails t unless got has one problem per want, in order,
// each containing its want.
func wantProblems(t *testing.T, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for i, w := range want {
		if !strings.Contains(got[i], w) {
			t.Errorf("problem %d = %q, want it to contain %q", i, got[i], w)
		}
	}
}

// testManifest has one flow of each kind the checks treat differently.
func testManifest() *manifest.Manifest {
	dl := mflow("download", "tcp", "10.0.0.5", 40000, "203.0.113.80", 8080)
	dl.UpPayload, dl.DownPayload = 12, 1<<20
	held := mflow("held", "tcp", "fd00::6", 40001, "2001:db8::82", 8080)
	held.LongLived, held.DownPayload = true, 65536
	unrep := mflow("unreplied", "udp", "10.0.0.6", 40002, "203.0.113.84", 9999)
	unrep.Replied, unrep.UpPayload = false, 64
	ping := mflow("ping", "icmp", "10.0.0.5", 77, "203.0.113.80", 8)
	lan := mflow("lan", "udp", "10.0.0.5", 40003, "192.168.50.10", 5300)
	lan.Outbound = false
	return &manifest.Manifest{Version: manifest.Version, Flows: []manifest.Flow{dl, held, unrep, ping, lan}}
}

// listed is how a correct netmon lists f: payload plus some header bytes.
func listed(f manifest.Flow) flowJSON {
	g := flowJSON{Key: f.Key, Proto: f.Proto, SrcIP: f.SrcIP.String(), SrcPort: f.SrcPort,
		DstIP: f.DstIP.String(), DstPort: f.DstPort, Flags: []string{},
		UplinkPackets: 3, UplinkBytes: f.UpPayload + 120}
	if f.Replied {
		g.DownlinkPackets, g.DownlinkBytes = 3, f.DownPayload+120
	} else {
		g.Flags = []string{"UNREPLIED"}
	}
	if f.Proto == "tcp" {
		g.State, g.Flags = "TIME_WAIT", []string{"ASSURED"}
		if f.LongLived {
			g.State = "ESTABLISHED"
		}
	}
	g.TotalBytes = g.UplinkBytes + g.DownlinkBytes
	return g
}

// correct is the listing of every expected-active flow.
func correct(m *manifest.Manifest, closed bool) []flowJSON {
	var out []flowJSON
	for _, f := range expectedActive(m, closed) {
		out = append(out, listed(f))
	}
	return out
}

func TestCheckFlows(t *testing.T) {
	m := testManifest()
	byName := func(name string) manifest.Flow {
		for _, f := range m.Flows {
			if f.Name == name {
				return f
			}
		}
		t.Fatalf("no flow %s", name)
		return manifest.Flow{}
	}
	edit := func(name string, fn func(*flowJSON)) []flowJSON {
		out := correct(m, false)
		for i := range out {
			if out[i].Key == byName(name).Key {
				fn(&out[i])
			}
		}
		return out
	}
	tests := []struct {
		name   string
		flows  []flowJSON
		closed bool
		want   []string // substrings, one per expected problem
	}{
		{"all present and counted", correct(m, false), false, nil},
		{"closed: held flow gone", correct(m, true), true, nil},
		{"closed: held flow still listed", correct(m, false), true, []string{"still lists held"}},
		{"missing flow", correct(m, false)[1:], false, []string{"missing download"}},
		{"empty listing", nil, false, []string{"missing download", "missing held", "missing unreplied", "missing ping"}},
		{"lan-to-lan listed", append(correct(m, false), listed(byName("lan"))), false, []string{"lists lan (udp|10.0.0.5|40003|192.168.50.10|5300), which is not outbound"}},
		{"unknown flow", append(correct(m, false), flowJSON{Key: "tcp|10.0.0.9|1|203.0.113.99|80"}), false, []string{"did not generate"}},
		{"listed twice", append(correct(m, false), listed(byName("ping"))), false, []string{"listed twice"}},
		{"download short", edit("download", func(g *flowJSON) { g.DownlinkBytes = 1000; g.TotalBytes = g.UplinkBytes + 1000 }), false, []string{"downlink_bytes 1000 < 1048576"}},
		{"upload short", edit("download", func(g *flowJSON) { g.UplinkBytes = 0; g.TotalBytes = g.DownlinkBytes }), false, []string{"uplink_bytes 0 < 12"}},
		{"no counters", edit("ping", func(g *flowJSON) { g.UplinkPackets = 0 }), false, []string{"nf_conntrack_acct"}},
		{"total wrong", edit("ping", func(g *flowJSON) { g.TotalBytes++ }), false, []string{"total_bytes"}},
		{"fields differ from key", edit("ping", func(g *flowJSON) { g.SrcPort = 78 }), false, []string{"do not match key"}},
		{"answered flow flagged unreplied", edit("ping", func(g *flowJSON) { g.Flags = []string{"UNREPLIED"} }), false, []string{"was answered"}},
		{"answered flow without reply packets", edit("download", func(g *flowJSON) { g.DownlinkPackets = 0 }), false, []string{"was answered"}},
		{"unreplied flow with a reply", edit("unreplied", func(g *flowJSON) { g.DownlinkPackets = 1 }), false, []string{"never answered"}},
		{"unreplied flow without flag", edit("unreplied", func(g *flowJSON) { g.Flags = nil }), false, []string{"never answered"}},
		{"held flow not established", edit("held", func(g *flowJSON) { g.State = "TIME_WAIT" }), false, []string{`held open but state is "TIME_WAIT"`}},
		{"udp with a state", edit("unreplied", func(g *flowJSON) { g.State = "ESTABLISHED" }), false, []string{"protocol without states"}},
		{"tcp without a state", edit("download", func(g *flowJSON) { g.State = "" }), false, []string{"tcp flow without a state"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := checkFlows(m, tt.flows, tt.closed)
			wantProblems(t, got, tt.want)
		})
	}
}

func TestDecodeFlows(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []flowJSON
		wantErr string
	}{
		{"array", `[{"key":"k","proto":"udp","src_port":5,"flags":["ASSURED"],"downlink_bytes":9,"seen_before":true}]`,
			[]flowJSON{{Key: "k", Proto: "udp", SrcPort: 5, Flags: []string{"ASSURED"}, DownlinkBytes: 9}}, ""},
		{"empty array", " []\n", []flowJSON{}, ""},
		{"object instead of array", `{"flows":[]}`, nil, "want a JSON array"},
		{"empty output", "", nil, "want a JSON array"},
		{"wrong field type", `[{"src_port":"80"}]`, nil, "decode flows"},
		{"port out of range", `[{"src_port":70000}]`, nil, "decode flows"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeFlows([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("decodeFlows = %v, want error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("decodeFlows (-want +got):\n%s", diff)
			}
		})
	}
}

// labListing parses the captured lab table with netmon's parser and lists
// it the way print-outbound does, keeping only outbound flows if outbound.
func labListing(t *testing.T, outbound bool) []flowJSON {
	t.Helper()
	f, err := filter.New([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/24"), netip.MustParsePrefix("fd00::/64")})
	if err != nil {
		t.Fatal(err)
	}
	r, err := os.Open(filepath.Join(labDir, "router_table.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out []flowJSON
	stats, err := conntrack.Parse(r, func(e *conntrack.Entry) bool {
		if outbound && !f.Outbound(e) {
			return true
		}
		k := conntrack.KeyOf(e)
		out = append(out, flowJSON{Key: k.String(), Proto: e.Proto.String(), SrcIP: e.Orig.Src.String(), SrcPort: k.SrcPort,
			DstIP: e.Orig.Dst.String(), DstPort: k.DstPort, State: e.State, Flags: e.Status.Flags(),
			UplinkPackets: e.Orig.Packets, UplinkBytes: e.Orig.Bytes, DownlinkPackets: e.Reply.Packets,
			DownlinkBytes: e.Reply.Bytes, TotalBytes: e.TotalBytes()})
		return true
	})
	if err != nil || stats.Skipped != 0 {
		t.Fatalf("parse lab table: %v, %d lines skipped", err, stats.Skipped)
	}
	return out
}

// TestLabCapture runs the checks on the real table captured in the lab:
// netmon's parser and filter on it give exactly the manifest's outbound
// flows, and without the filter the checker names every non-outbound flow.
func TestLabCapture(t *testing.T) {
	m, err := manifest.Read(filepath.Join(labDir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if p := checkFlows(m, labListing(t, true), false); len(p) != 0 {
		t.Errorf("outbound flows of the lab table: %d problems:\n%s", len(p), strings.Join(p, "\n"))
	}
	var notOutbound int
	for _, f := range m.Flows {
		if !f.Outbound {
			notOutbound++
		}
	}
	p := checkFlows(m, labListing(t, false), false)
	if len(p) != notOutbound {
		t.Errorf("unfiltered lab table: %d problems, want one per non-outbound flow (%d):\n%s", len(p), notOutbound, strings.Join(p, "\n"))
	}
	for _, s := range p {
		if !strings.Contains(s, "not outbound") {
			t.Errorf("unexpected problem: %s", s)
		}
	}
}
