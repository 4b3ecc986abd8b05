package web

import (
	"context"
	"errors"
	"fmt"
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
	"github.com/prometheus/common/model"

	"github.com/netmon-dev/netmon/pkg/flows"
	"github.com/netmon-dev/netmon/pkg/history"
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

// populated gives the collector every source: the ingest counters with
// events, devices with names (hostile ones too), accounting off.
func populated(o *Options) {
	withCounters(sampleCounters())(o)
	withDevices(sampleDevices())(o)
	snap := sampleSnapshot()
	off := false
	snap.Conntrack.Accounting = &off
	o.Metrics = &fakeMetrics{snap: snap}
}

func sampleCounters() IngestCounters {
	return IngestCounters{
		Cycles: 120, FailedCycles: 3, Overruns: 1, SkippedLines: 7,
		Durations: Histogram{Bounds: []float64{0.005, 0.01, 0.1, 1}, Counts: []uint64{10, 100, 118, 119}, Count: 120, Sum: 1.5},
		Commits:   2, CommitErrors: 1, LastCommit: now.Add(-time.Minute),
		Events: EventCounters{Enabled: true, Listening: true, Received: 5000, Kept: 4000, Folded: 3990,
			Overruns: 1, Dropped: 2, Undecoded: 0, Restarts: 1},
	}
}

func withCounters(c IngestCounters) func(*Options) {
	return func(o *Options) {
		o.Counters = CountersFunc(func(context.Context) (IngestCounters, error) { return c, nil })
	}
}

// promHostileName has what a lease file can carry: quotes, a backslash, a
// newline, markup, invalid UTF-8.
const promHostileName = "evil\" \\ \n<b>x</b>\xff"

func sampleDevices() []history.Total {
	tot := func(id, name string, up, down uint64) history.Total {
		t := history.Total{Device: id, Name: name}
		t.UplinkBytes, t.DownlinkBytes = up, down
		return t
	}
	return []history.Total{
		tot("aa:bb:cc:dd:ee:ff", "laptop", 1000, 50000),
		tot("ip:10.0.0.9", "", 514, 20268),
		tot("02:00:00:00:00:01", promHostileName, 7, 9),
	}
}

func manyDevices(n int) []history.Total {
	out := make([]history.Total, n)
	for i := range out {
		out[i].Device = fmt.Sprintf("ip:10.0.%d.%d", i/250, i%250+1)
		out[i].UplinkBytes = uint64(i)
	}
	return out
}

type fakeDevices struct {
	ts  []history.Total
	err error
}

func (f fakeDevices) DeviceTotals(context.Context) ([]history.Total, error) { return f.ts, f.err }

var _ Devices = fakeDevices{}

func withDevices(ts []history.Total) func(*Options) {
	return func(o *Options) { o.Devices = fakeDevices{ts: ts} }
}

// TestDeviceInfoHostileNames: a name with quotes, a backslash, a newline
// and invalid UTF-8 stays one valid series whose label parses back to the
// name (invalid bytes replaced), and a 10 KB name is shortened.
func TestDeviceInfoHostileNames(t *testing.T) {
	long := strings.Repeat("é", 5000)
	for _, tc := range []struct {
		name, want string
	}{
		{name: promHostileName, want: "evil\" \\ \n<b>x</b>\uFFFD"},
		{name: long, want: strings.Repeat("é", maxLabelRunes) + "…"},
		{name: "", want: ""},
	} {
		t.Run(tc.want[:min(len(tc.want), 8)], func(t *testing.T) {
			c := collectorFor(t, withDevices([]history.Total{{Device: "02:00:00:00:00:01", Name: tc.name}}))
			text := exposition(t, c)
			p := expfmt.NewTextParser(model.LegacyValidation)
			mfs, err := p.TextToMetricFamilies(strings.NewReader(text))
			if err != nil {
				t.Fatalf("the exposition does not parse: %v\n%s", err, text)
			}
			mf := mfs["netmon_device_info"]
			if mf == nil || len(mf.Metric) != 1 {
				t.Fatalf("netmon_device_info: %v", mf)
			}
			labels := map[string]string{}
			for _, l := range mf.Metric[0].Label {
				labels[l.GetName()] = l.GetValue()
			}
			want := map[string]string{"device": "02:00:00:00:00:01", "mac": "02:00:00:00:00:01", "name": tc.want}
			if diff := cmp.Diff(want, labels); diff != "" {
				t.Errorf("labels (-want +got):\n%s", diff)
			}
		})
	}
}

// TestIngestCountersExported checks the values each counter takes from
// IngestCounters, and that a failing read fails only the ingest series.
func TestIngestCountersExported(t *testing.T) {
	c := collectorFor(t, withCounters(sampleCounters()))
	want := `
# HELP netmon_ingest_cycles_total Ingest cycles run, successful or failed, since the ingest process started.
# TYPE netmon_ingest_cycles_total counter
netmon_ingest_cycles_total 120
# HELP netmon_ingest_skipped_lines_total Conntrack lines the successful ingest cycles could not parse.
# TYPE netmon_ingest_skipped_lines_total counter
netmon_ingest_skipped_lines_total 7
# HELP netmon_events_overruns_total Times the events socket's buffer overflowed (ENOBUFS): the kernel dropped events.
# TYPE netmon_events_overruns_total counter
netmon_events_overruns_total 1
# HELP netmon_record_last_commit_timestamp_seconds Unix time of the last successful commit to the durable record.
# TYPE netmon_record_last_commit_timestamp_seconds gauge
netmon_record_last_commit_timestamp_seconds 1.79562774e+09
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "netmon_ingest_cycles_total", "netmon_ingest_skipped_lines_total",
		"netmon_events_overruns_total", "netmon_record_last_commit_timestamp_seconds"); err != nil {
		t.Error(err)
	}
	failing := collectorFor(t, func(o *Options) {
		o.Counters = CountersFunc(func(context.Context) (IngestCounters, error) {
			return IngestCounters{}, errors.New("database is locked")
		})
	})
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(failing)
	if _, err := reg.Gather(); err == nil || !strings.Contains(err.Error(), "read ingest counters") {
		t.Errorf("gather with failing counters: %v, want the counters' error", err)
	}
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
		{name: "everything populated", edit: populated},
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
		{name: "populated", edit: populated},
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
		{name: "one series per LAN address without devices", metric: "netmon_device_uplink_bytes_total", want: 2},
		{name: "address series are capped", edit: func(o *Options) { o.Store.(*fakeStore).locals = hosts(1000) }, metric: "netmon_device_downlink_bytes_total", want: MaxHostSeries},
		{name: "the device count is not capped", edit: func(o *Options) { o.Store.(*fakeStore).locals = hosts(1000) }, metric: "netmon_devices", want: 1},
		{name: "one series per device", edit: withDevices(sampleDevices()), metric: "netmon_device_uplink_bytes_total", want: 3},
		{name: "one info per device", edit: withDevices(sampleDevices()), metric: "netmon_device_info", want: 3},
		{name: "device series are capped", edit: withDevices(manyDevices(1000)), metric: "netmon_device_info", want: MaxHostSeries},
		{name: "no counters: no cycle counter", metric: "netmon_ingest_cycles_total", want: 0},
		{name: "counters: the histogram", edit: withCounters(sampleCounters()), metric: "netmon_ingest_cycle_duration_seconds", want: 1},
		{name: "events off: no events series", edit: withCounters(IngestCounters{Cycles: 1}), metric: "netmon_events_received_total", want: 0},
		{name: "accounting unknown: no series", metric: "netmon_conntrack_accounting", want: 0},
		{name: "active connections by protocol", metric: "netmon_active_connections", want: 3},
		{name: "unreadable interface has no counters", metric: "netmon_interface_receive_bytes_total", want: 1},
		{name: "but is reported unreadable", metric: "netmon_interface_readable", want: 2},
		{name: "no conntrack sysctls", edit: func(o *Options) {
			s := sampleSnapshot()
			s.Conntrack = nil
			o.Metrics = &fakeMetrics{snap: s}
		}, metric: "netmon_conntrack_entries", want: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := testutil.CollectAndCount(collectorFor(t, tc.edit), tc.metric); got != tc.want {
				t.Errorf("%s has %d series, want %d", tc.metric, got, tc.want)
			}
		})
	}
}

func TestTopDevices(t *testing.T) {
	tot := func(id string, up, down uint64) history.Total {
		t := history.Total{Device: id}
		t.UplinkBytes, t.DownlinkBytes = up, down
		return t
	}
	ts := []history.Total{tot("ip:10.0.0.9", 5, 0), tot("aa:bb:cc:dd:ee:02", 100, 0), tot("ip:10.0.0.3", 0, 5), tot("aa:bb:cc:dd:ee:01", 0, 50)}
	var got []string
	for _, d := range topDevices(ts, 3) {
		got = append(got, d.Device)
	}
	if diff := cmp.Diff([]string{"aa:bb:cc:dd:ee:02", "aa:bb:cc:dd:ee:01", "ip:10.0.0.3"}, got); diff != "" {
		t.Errorf("topDevices (-want +got):\n%s", diff)
	}
	if len(topDevices(ts, 10)) != 4 {
		t.Error("topDevices dropped devices under the cap")
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

// lintedMetrics GETs h's /metrics, which must answer 200 with no problem
// promlint finds, and returns its text.
func lintedMetrics(t *testing.T, h http.Handler) string {
	t.Helper()
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
	return text
}

// TestMetricsEndpointLint lints the whole /metrics answer, the Go and
// process collectors included, with promlint: the checks `promtool check
// metrics` runs (the Debian package carrying promtool is the whole
// Prometheus server, 96 MB installed, too much for CI).
func TestMetricsEndpointLint(t *testing.T) {
	h, _ := testServer(t, func(o *Options) {
		o.Build = BuildInfo{Version: "1.2.3", Revision: "0123abc", GoVersion: "go1.26.8"}
	})
	text := lintedMetrics(t, h)
	for _, want := range []string{
		`netmon_build_info{goversion="go1.26.8",revision="0123abc",version="1.2.3"} 1`,
		`netmon_device_uplink_bytes_total{device="ip:10.0.0.5"} 1000`,
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
