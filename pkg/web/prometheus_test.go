package web

import (
	"errors"
	"fmt"
	"github.com/netmon-dev/netmon/pkg/flows"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	"github.com/prometheus/common/expfmt"
)

// collectorFor builds the server's collector over the fakes.
func collectorFor(t *testing.T, edit func(*Options)) *collector {
	t.Helper()
	opts := Options{
		Store: &fakeStore{
			byProto:   map[string]int{"tcp": 3, "udp": 1, "icmp": 1},
			remote:    4,
			locals:    []flows.Host{{IP: netip.MustParseAddr("10.0.0.5"), UplinkBytes: 1000, DownlinkBytes: 50000}, {IP: netip.MustParseAddr("10.0.0.6"), UplinkBytes: 514, DownlinkBytes: 20268}},
			lastCycle: now.Add(-time.Second),
			cycles:    42,
		},
		Metrics: &fakeMetrics{snap: sampleSnapshot()},
		Now:     clock,
		Build:   BuildInfo{Version: "1.2.3", Revision: "0123abc", GoVersion: "go1.26.8"},
	}
	if edit != nil {
		edit(&opts)
	}
	s, err := newServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	return newCollector(s)
}

func TestCollectorLint(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Options)
	}{
		{name: "database only"},
		{name: "in-process ingest", edit: func(o *Options) {
			o.Health = HealthFunc(func() IngestStatus {
				return IngestStatus{LastOK: now, Cycles: 10, Errors: 2, LastDuration: 15 * time.Millisecond, LastSkipped: 1}
			})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			problems, err := testutil.CollectAndLint(collectorFor(t, tc.edit))
			if err != nil {
				t.Fatalf("lint: %v", err)
			}
			for _, p := range problems {
				t.Errorf("lint: %s: %s", p.Metric, p.Text)
			}
		})
	}
}

// TestCollectorGolden compares the whole exposition with a golden file.
func TestCollectorGolden(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Options)
	}{
		{name: "database-only"},
		{name: "in-process", edit: func(o *Options) {
			o.Health = HealthFunc(func() IngestStatus {
				return IngestStatus{LastOK: now.Add(-250 * time.Millisecond), Cycles: 10, Errors: 2, LastDuration: 15 * time.Millisecond, LastSkipped: 1}
			})
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := collectorFor(t, tc.edit)
			name := "prometheus-" + tc.name + ".golden.txt"
			golden(t, name, exposition(t, c))
			f, err := os.Open(filepath.Join("..", "..", "fixtures", "web", name))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if err := testutil.CollectAndCompare(c, f); err != nil {
				t.Errorf("CollectAndCompare: %v", err)
			}
		})
	}
}

// exposition is the text format of everything c collects, through a
// pedantic registry that also checks c's descriptions.
func exposition(t *testing.T, c prometheus.Collector) string {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(c); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	var b strings.Builder
	enc := expfmt.NewEncoder(&b, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			t.Fatal(err)
		}
	}
	if b.Len() == 0 {
		t.Fatal("the collector exported nothing")
	}
	return b.String()
}

func TestCollectorSeries(t *testing.T) {
	hosts := func(n int) []flows.Host {
		out := make([]flows.Host, n)
		for i := range out {
			out[i] = flows.Host{IP: netip.AddrFrom4([4]byte{10, 0, byte(i / 250), byte(i%250 + 1)}), UplinkBytes: uint64(i), DownlinkBytes: 1}
		}
		return out
	}
	tests := []struct {
		name   string
		edit   func(*Options)
		metric string
		want   int
	}{
		{name: "one series per LAN host", metric: "netmon_lan_host_uplink_bytes_total", want: 2},
		{name: "LAN host series are capped", edit: func(o *Options) { o.Store.(*fakeStore).locals = hosts(1000) }, metric: "netmon_lan_host_downlink_bytes_total", want: MaxHostSeries},
		{name: "the LAN host count is not capped", edit: func(o *Options) { o.Store.(*fakeStore).locals = hosts(1000) }, metric: "netmon_lan_hosts", want: 1},
		{name: "active connections by protocol", metric: "netmon_active_connections", want: 3},
		{name: "unreadable interface has no counters", metric: "netmon_interface_receive_bytes_total", want: 1},
		{name: "but is reported unreadable", metric: "netmon_interface_readable", want: 2},
		{name: "no conntrack sysctls", edit: func(o *Options) {
			s := sampleSnapshot()
			s.Conntrack = nil
			o.Metrics = &fakeMetrics{snap: s}
		}, metric: "netmon_conntrack_entries", want: 0},
		{name: "no in-process ingest: no error counter", metric: "netmon_ingest_cycle_errors_total", want: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := testutil.CollectAndCount(collectorFor(t, tc.edit), tc.metric); got != tc.want {
				t.Errorf("%s has %d series, want %d", tc.metric, got, tc.want)
			}
		})
	}
}

func TestTopHosts(t *testing.T) {
	a := netip.MustParseAddr
	hs := []flows.Host{
		{IP: a("10.0.0.9"), UplinkBytes: 5},
		{IP: a("10.0.0.2"), UplinkBytes: 100},
		{IP: a("10.0.0.3"), DownlinkBytes: 5},
		{IP: a("10.0.0.1"), DownlinkBytes: 50},
	}
	var got []string
	for _, h := range topHosts(hs, 3) {
		got = append(got, h.IP.String())
	}
	if diff := cmp.Diff([]string{"10.0.0.2", "10.0.0.1", "10.0.0.3"}, got); diff != "" {
		t.Errorf("topHosts (-want +got):\n%s", diff)
	}
	if len(topHosts(hs, 10)) != 4 {
		t.Error("topHosts dropped hosts under the cap")
	}
}

// TestMetricsEndpointSurvivesStoreError: a failing store yields a scrape
// that still carries the system figures.
func TestMetricsEndpointSurvivesStoreError(t *testing.T) {
	h, fs := testServer(t, nil)
	fs.err = errors.New("database is locked")
	res := do(t, h, http.MethodGet, "/metrics")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d, want 200 with the readable metrics", res.StatusCode)
	}
	b := body(t, res)
	for _, want := range []string{"netmon_system_load1 0.57", `netmon_interface_receive_bytes_total{interface="enp2s0"} 2.62630588e+08`, "go_goroutines"} {
		if !strings.Contains(b, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(b, "netmon_remote_hosts") {
		t.Error("/metrics exports remote hosts it could not read")
	}
}

func TestCustomRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	extra := prometheus.NewCounter(prometheus.CounterOpts{Name: "netmon_test_extra_total", Help: "A caller's own metric."})
	reg.MustRegister(extra)
	h, _ := testServer(t, func(o *Options) { o.Registry = reg })
	b := body(t, do(t, h, http.MethodGet, "/metrics"))
	for _, want := range []string{"netmon_test_extra_total 0", "netmon_remote_hosts 4"} {
		if !strings.Contains(b, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(b, "go_goroutines") {
		t.Error("a caller's registry got the runtime collectors added")
	}
	// The same registry cannot take netmon's collector twice.
	if _, err := New(Options{Store: &fakeStore{}, Metrics: &fakeMetrics{}, Registry: reg}); err == nil {
		t.Error("second New on one registry: want a registration error")
	}
}

func TestPromLogger(t *testing.T) {
	var buf strings.Builder
	l := promLogger{log: newTextLogger(&buf)}
	l.Println("error gathering metrics: ", fmt.Errorf("x"))
	if !strings.Contains(buf.String(), `err="error gathering metrics: x"`) {
		t.Errorf("log = %q", buf.String())
	}
}

// TestMetricsEndpointLint lints the whole /metrics answer, the Go and
// process collectors included, with promlint: the checks `promtool check
// metrics` runs (the Debian package carrying promtool is the whole
// Prometheus server, 96 MB installed, too much for CI).
func TestMetricsEndpointLint(t *testing.T) {
	h, _ := testServer(t, func(o *Options) {
		o.Build = BuildInfo{Version: "1.2.3", Revision: "0123abc", GoVersion: "go1.26.8"}
	})
	res := do(t, h, http.MethodGet, "/metrics")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d", res.StatusCode)
	}
	text := body(t, res)
	problems, err := promlint.New(strings.NewReader(text)).Lint()
	if err != nil {
		t.Fatalf("lint: %v", err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
	for _, want := range []string{
		`netmon_build_info{goversion="go1.26.8",revision="0123abc",version="1.2.3"} 1`,
		`netmon_lan_host_uplink_bytes_total{device="10.0.0.5"} 1000`,
		"go_goroutines ",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(text, `{host=`) {
		t.Error("a series still has a host label")
	}
}
