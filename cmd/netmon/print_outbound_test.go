package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"github.com/netmon-dev/netmon/pkg/source"
	"iter"
	"maps"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/netmon-dev/netmon/pkg/config"
	"github.com/netmon-dev/netmon/pkg/conntrack"
	"github.com/netmon-dev/netmon/pkg/ingest"
)

// fakeSource replays a fixed text through the real parser, or fails.
type fakeSource struct {
	text string
	err  error
}

var _ ingest.Source = (*fakeSource)(nil)

func (f *fakeSource) List(_ context.Context, st *conntrack.Stats) iter.Seq2[*conntrack.Entry, error] {
	return func(yield func(*conntrack.Entry, error) bool) {
		if f.err != nil {
			yield(nil, f.err)
			return
		}
		stopped := false
		*st, _ = conntrack.Parse(strings.NewReader(f.text), func(e *conntrack.Entry) bool {
			stopped = !yield(e, nil)
			return !stopped
		})
	}
}

func fileSource(name string) ingest.Source {
	return &source.File{Path: fixture("conntrack", name)}
}

// demoNamer names devices and remote hosts from the README demo's name
// files (fixtures/names/demo), without reverse DNS.
func demoNamer(t *testing.T) *namer {
	t.Helper()
	cfg := config.Default()
	cfg.LocalSubnets = []string{"10.0.0.0/24", "fd00::/64"}
	cfg.NeighboursFile = fixture("names", "demo/neighbours.txt")
	cfg.Leases = []string{fixture("names", "demo/dhcp.leases")}
	cfg.DNSLog = fixture("names", "demo/dnsmasq.log")
	cfg.ResolveRemoteNames = false
	cfg.FSRoot = t.TempDir()
	nm := newNamer(context.Background(), cfg, nil, discardLogger())
	nm.once(context.Background())
	return nm
}

func TestPrintOutboundGolden(t *testing.T) {
	v6 := config.Default()
	v6.LocalSubnets = []string{"10.0.0.0/24", "fd00::/64"}
	acctOff := config.Default()
	acctOff.FSRoot = filepath.Join("..", "..", "fixtures", "hosts", "acct-off")
	tests := []struct {
		name   string
		cfg    config.Config
		opts   printOutboundOptions
		input  string
		golden string
	}{
		{"table top 20", config.Default(), printOutboundOptions{top: 20, output: "table"}, "router_extended.txt", "print-outbound.table.golden"},
		{"table with ipv6 lan", v6, printOutboundOptions{top: 0, output: "table"}, "router_extended.txt", "print-outbound-v6.table.golden"},
		{"json top 5", config.Default(), printOutboundOptions{top: 5, output: "json"}, "router_extended.txt", "print-outbound.json.golden"},
		{"json no counters", config.Default(), printOutboundOptions{top: 0, output: "json"}, "tcp-no-counters.txt", "print-outbound-noacct.json.golden"},
		// The kernel counts no bytes: the footer says so, and how to fix it.
		{"table accounting off", acctOff, printOutboundOptions{top: 0, output: "table"}, "tcp-no-counters.txt", "print-outbound-noacct.table.golden"},
		// Named from the demo's neighbour table, leases and query log.
		{"table with names", v6, printOutboundOptions{top: 0, output: "table", names: demoNamer(t)}, "router_extended.txt", "print-outbound-names.table.golden"},
		{"json with names", v6, printOutboundOptions{top: 5, output: "json", names: demoNamer(t)}, "router_extended.txt", "print-outbound-names.json.golden"},
		{"-n: bare addresses", v6, printOutboundOptions{top: 0, output: "table", names: demoNamer(t), numeric: true}, "router_extended.txt", "print-outbound-v6.table.golden"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			if tt.cfg.FSRoot == "/" {
				// Not this machine's nf_conntrack_acct: a router's, which
				// says nothing of it.
				tt.cfg.FSRoot = filepath.Join("..", "..", "fixtures", "hosts", "router")
			}
			if err := runPrintOutbound(context.Background(), tt.cfg, tt.opts, fileSource(tt.input), &out); err != nil {
				t.Fatal(err)
			}
			checkGolden(t, tt.golden, out.Bytes())
		})
	}
}

func TestPrintOutboundJSONShape(t *testing.T) {
	var out bytes.Buffer
	opts := printOutboundOptions{top: 0, output: "json"}
	if err := runPrintOutbound(context.Background(), config.Default(), opts, fileSource("router_extended.txt"), &out); err != nil {
		t.Fatal(err)
	}
	var rows []map[string]any
	if err := json.Unmarshal(out.Bytes(), &rows); err != nil {
		t.Fatal(err)
	}
	if len(rows) == 0 {
		t.Fatal("no rows")
	}
	names := slices.Sorted(maps.Keys(rows[0]))
	// The names of issue 13 (device, device_name, dst_name) join the
	// seed's, which stay as they were.
	want := []string{"destination", "device", "device_name", "downlink_bytes", "downlink_packets", "dst_ip", "dst_name", "dst_port", "flags", "key", "proto",
		"source", "src_ip", "src_port", "state", "total_bytes", "uplink_bytes", "uplink_packets"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("JSON names (-want +got)\n%s", diff)
	}
	// Sorted by total bytes, largest first; totals are the sum of both directions.
	var prev float64 = -1
	for i, r := range rows {
		total := r["total_bytes"].(float64)
		if sum := r["uplink_bytes"].(float64) + r["downlink_bytes"].(float64); sum != total {
			t.Errorf("row %d: total_bytes %v != up+down %v", i, total, sum)
		}
		if prev >= 0 && total > prev {
			t.Errorf("row %d: total %v after %v: not sorted", i, total, prev)
		}
		prev = total
	}
}

func TestPrintOutboundNothing(t *testing.T) {
	tests := []struct {
		name, text string
	}{
		{"empty table", ""},
		{"only lan traffic", "ipv4     2 udp      17 27 src=10.0.0.5 dst=10.0.0.1 sport=44537 dport=53 packets=1 bytes=68 src=10.0.0.1 dst=10.0.0.5 sport=53 dport=44537 packets=1 bytes=148 mark=0 use=1\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := runPrintOutbound(context.Background(), config.Default(), printOutboundOptions{top: 20, output: "table"}, &fakeSource{text: tt.text}, &out)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(out.String(), "No outbound connections right now") {
				t.Errorf("output = %q", out.String())
			}
		})
	}
	var out bytes.Buffer
	if err := runPrintOutbound(context.Background(), config.Default(), printOutboundOptions{output: "json"}, &fakeSource{}, &out); err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(out.String()); got != "[]" {
		t.Errorf("json with nothing outbound = %q, want []", got)
	}
}

func TestPrintOutboundSourceError(t *testing.T) {
	boom := errors.New("conntrack exited 1")
	var out bytes.Buffer
	err := runPrintOutbound(context.Background(), config.Default(), printOutboundOptions{top: 20, output: "table"}, &fakeSource{err: boom}, &out)
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want %v", err, boom)
	}
	if out.Len() != 0 {
		t.Errorf("printed %q on failure", out.String())
	}
}

// TestTopFlows checks the bounded selection against a full sort of every
// outbound flow of the real 10,000-line capture, whose many unreplied UDP
// flows tie on total bytes, so the key order is exercised too.
func TestTopFlows(t *testing.T) {
	var all []conntrack.Entry
	for e, err := range fileSource("big_10000.txt.gz").List(context.Background(), nil) {
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, *e)
	}
	want := slices.Clone(all)
	sortByTotal(want)
	keys := func(es []conntrack.Entry) []string {
		out := make([]string, len(es))
		for i := range es {
			out[i] = conntrack.KeyOf(&es[i]).String()
		}
		return out
	}
	for _, tc := range []struct {
		name string
		n    int
	}{
		{"all", 0},
		{"one", 1},
		{"top 20", 20},
		{"every flow", len(all)},
		{"more than there are", len(all) + 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			top := topFlows{n: tc.n}
			for i := range all {
				top.offer(&all[i])
			}
			w := want
			if tc.n > 0 && tc.n < len(w) {
				w = w[:tc.n]
			}
			if diff := cmp.Diff(keys(w), keys(top.result())); diff != "" {
				t.Errorf("keys (-want +got):\n%s", diff)
			}
			if top.seen != len(all) {
				t.Errorf("seen = %d, want %d", top.seen, len(all))
			}
		})
	}
}

// reads is a source whose every List is the next of its listings.
type reads struct {
	listings []source.Slice
	n        int
}

func (r *reads) List(ctx context.Context, st *conntrack.Stats) iter.Seq2[*conntrack.Entry, error] {
	l := r.listings[min(r.n, len(r.listings)-1)]
	r.n++
	return l.List(ctx, st)
}

// TestPrintOutboundRate: two reads 2.5 s apart by the clock (not by the
// --rate asked), the rates of what grew, a zero for what did not, none
// for what the first read did not list, sorted by rate.
func TestPrintOutboundRate(t *testing.T) {
	flow := func(sport uint16, up, down uint64) conntrack.Entry {
		src, dst := netip.MustParseAddr("10.0.0.5"), netip.MustParseAddr("203.0.113.80")
		return conntrack.Entry{Proto: conntrack.ProtoTCP, State: "ESTABLISHED",
			Orig:  conntrack.Tuple{Src: src, Dst: dst, SrcPort: sport, DstPort: 443, Packets: 1, Bytes: up},
			Reply: conntrack.Tuple{Src: dst, Dst: src, SrcPort: 443, DstPort: sport, Packets: 1, Bytes: down}}
	}
	src := func() *reads {
		return &reads{listings: []source.Slice{
			{flow(1, 100, 100), flow(2, 5000, 90000)},
			{flow(1, 1100, 10100), flow(2, 5000, 90000), flow(3, 1<<30, 1<<30)},
		}}
	}
	clock := time.Date(2026, 12, 1, 20, 0, 0, 0, time.UTC)
	opts := printOutboundOptions{top: 0, output: "json", rate: time.Second,
		now: func() time.Time { return clock },
		sleep: func(_ context.Context, d time.Duration) error {
			if d != time.Second {
				t.Errorf("slept %s, want the --rate", d)
			}
			clock = clock.Add(2500 * time.Millisecond)
			return nil
		}}
	var out bytes.Buffer
	if err := runPrintOutbound(context.Background(), config.Default(), opts, src(), &out); err != nil {
		t.Fatal(err)
	}
	var rows []struct {
		SrcPort     uint16 `json:"src_port"`
		UplinkBps   *int64 `json:"uplink_bps"`
		DownlinkBps *int64 `json:"downlink_bps"`
	}
	if err := json.Unmarshal(out.Bytes(), &rows); err != nil {
		t.Fatal(err)
	}
	p := func(v int64) *int64 { return &v }
	want := []struct {
		SrcPort     uint16 `json:"src_port"`
		UplinkBps   *int64 `json:"uplink_bps"`
		DownlinkBps *int64 `json:"downlink_bps"`
	}{{1, p(3200), p(32000)}, {2, p(0), p(0)}, {3, nil, nil}}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}

	clock = time.Date(2026, 12, 1, 20, 0, 0, 0, time.UTC)
	opts.output, out = "table", bytes.Buffer{}
	bytesCfg := config.Default()
	bytesCfg.RateUnit = "bytes"
	if err := runPrintOutbound(context.Background(), config.Default(), opts, src(), &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(out.String(), "\n")
	for i, want := range []string{"3.20 kbit/s │ 32.0 kbit/s", "0 bit/s │     0 bit/s", "-"} {
		if !strings.Contains(lines[3+i], want) {
			t.Errorf("row %d %q lacks %q", i, lines[3+i], want)
		}
	}
	if !strings.Contains(out.String(), "rates over 2.5s") {
		t.Errorf("footer lacks the time between the reads:\n%s", out.String())
	}
	clock, out = time.Date(2026, 12, 1, 20, 0, 0, 0, time.UTC), bytes.Buffer{}
	if err := runPrintOutbound(context.Background(), bytesCfg, opts, src(), &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "400 B/s │ 4.00 kB/s") {
		t.Errorf("rate_unit bytes:\n%s", out.String())
	}
}

// TestEmptyTableWarnings: with no row to show, the counts go in the
// sentence and a warning stays on its own line after it.
func TestEmptyTableWarnings(t *testing.T) {
	for _, tc := range []struct{ footer, want string }{
		{"3 entries read, 0 outbound", "No outbound connections right now (3 entries read, 0 outbound).\n"},
		{"0 entries read\nwarning: byte counting is off", "No outbound connections right now (0 entries read).\nwarning: byte counting is off\n"},
	} {
		var b strings.Builder
		if err := writeFlowsTable(&b, nil, tableLayout{}, tc.footer); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tc.want, b.String()); diff != "" {
			t.Errorf("footer %q (-want +got):\n%s", tc.footer, diff)
		}
	}
}
