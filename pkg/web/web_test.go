package web

import (
	"context"
	"errors"
	"flag"
	"github.com/netmon-dev/netmon/pkg/conntrack"
	"github.com/netmon-dev/netmon/pkg/flows"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/netmon-dev/netmon/pkg/store"
	"github.com/netmon-dev/netmon/pkg/sysmetrics"
)

var update = flag.Bool("update", false, "rewrite the golden files under fixtures/web")

// Compile-time checks that the real types and the fakes fit.
var (
	_ Store         = (*store.Live)(nil)
	_ SystemMetrics = (*sysmetrics.Reader)(nil)
	_ Store         = (*fakeStore)(nil)
	_ SystemMetrics = (*fakeMetrics)(nil)
	_ Health        = HealthFunc(nil)
)

// fakeStore is a hand-written Store holding its answers.
type fakeStore struct {
	conns     []flows.Connection // sorted as the real store sorts them
	byProto   map[string]int
	remote    int
	locals    []flows.Host
	lastCycle time.Time
	cycles    int64
	err       error // returned by every method when set

	// active, when set, replaces ActiveConnections; EachActiveConnection
	// walks what it returns unless each is set.
	active func(ctx context.Context, limit int) ([]flows.Connection, int, error)
	// each, when set, replaces EachActiveConnection.
	each func(ctx context.Context, limit int, start func(int) error, fn func(*flows.Connection) error) error
}

func (f *fakeStore) ActiveConnections(ctx context.Context, limit int) ([]flows.Connection, int, error) {
	if f.active != nil {
		return f.active(ctx, limit)
	}
	if f.err != nil {
		return nil, 0, f.err
	}
	out := f.conns
	if limit > 0 && limit < len(out) {
		out = out[:limit]
	}
	return out, len(f.conns), nil
}

// EachActiveConnection walks ActiveConnections' answer, handing every row
// through one reused Connection as the real store does, so a handler that
// kept the pointer would show the wrong rows.
func (f *fakeStore) EachActiveConnection(ctx context.Context, limit int, start func(int) error, fn func(*flows.Connection) error) error {
	if f.each != nil {
		return f.each(ctx, limit, start, fn)
	}
	conns, total, err := f.ActiveConnections(ctx, limit)
	if err != nil {
		return err
	}
	if err := start(total); err != nil {
		return err
	}
	var c flows.Connection
	for i := range conns {
		c = conns[i]
		if err := fn(&c); err != nil {
			return err
		}
	}
	return nil
}

func (f *fakeStore) ActiveByProto(context.Context) (map[string]int, error) { return f.byProto, f.err }
func (f *fakeStore) RemoteHostCount(context.Context) (int, error)          { return f.remote, f.err }
func (f *fakeStore) LocalHosts(context.Context) ([]flows.Host, error) {
	return f.locals, f.err
}
func (f *fakeStore) LastCycle(context.Context) (time.Time, int64, error) {
	return f.lastCycle, f.cycles, f.err
}

// fakeMetrics is a hand-written SystemMetrics.
type fakeMetrics struct {
	snap sysmetrics.Snapshot
	err  error
}

func (f *fakeMetrics) Read(context.Context) (sysmetrics.Snapshot, error) { return f.snap, f.err }

// now is the fixed clock of the handler tests.
var now = time.Date(2026, 11, 25, 17, 30, 0, 0, time.UTC)

func clock() time.Time { return now }

// key builds a flow key; sport and dport are the key's port positions.
func key(proto string, src netip.Addr, sport uint16, dst netip.Addr, dport uint16) conntrack.FlowKey {
	p, err := conntrack.ParseProto(proto)
	if err != nil {
		panic(err)
	}
	return conntrack.FlowKey{Proto: p, Src: src, SrcPort: sport, Dst: dst, DstPort: dport}
}

// sampleConns are connections as the store returns them: biggest first.
// They cover IPv4 and IPv6, ports and no ports, a host first seen inside
// the new-host window and one before, and hostile text in State.
func sampleConns() []flows.Connection {
	a := netip.MustParseAddr
	return []flows.Connection{
		{
			Key: key("tcp", a("10.0.0.6"), 33857, a("203.0.113.80"), 443), State: "ESTABLISHED", Status: conntrack.ParseStatus("ASSURED"),
			Counters:    conntrack.Counters{UplinkPackets: 6, UplinkBytes: 330, DownlinkPackets: 5, DownlinkBytes: 20268},
			FirstSeenAt: now.Add(-10 * time.Minute), LastSeenAt: now.Add(-2 * time.Second), HostFirstSeenAt: now.Add(-time.Hour),
			Device: "da:a1:19:6e:0f:42", DeviceName: `kitchen <b>phone</b>`, DstName: "video.example",
		},
		{
			Key: key("tcp", a("fd00::5"), 47067, a("2001:db8::80"), 443), State: "ESTABLISHED", Status: conntrack.ParseStatus("ASSURED"),
			Counters:    conntrack.Counters{UplinkPackets: 4, UplinkBytes: 305, DownlinkPackets: 3, DownlinkBytes: 3224},
			FirstSeenAt: now.Add(-30 * time.Second), LastSeenAt: now, HostFirstSeenAt: now.Add(-30 * time.Second),
		},
		{
			Key: key("tcp", a("10.0.0.5"), 58337, a("203.0.113.91"), 80), State: `<img src=x onerror=alert(1)>`, Status: conntrack.ParseStatus(""),
			Counters:    conntrack.Counters{UplinkPackets: 4, UplinkBytes: 225, DownlinkPackets: 3, DownlinkBytes: 1164},
			FirstSeenAt: now.Add(-5 * time.Second), LastSeenAt: now.Add(-time.Second), HostFirstSeenAt: now.Add(-5 * time.Second),
		},
		{
			Key: key("udp", a("10.0.0.6"), 40061, a("203.0.113.87"), 9999), State: "<script>window.__netmonPwned=1</script>", Status: conntrack.ParseStatus("UNREPLIED"),
			Counters:    conntrack.Counters{UplinkPackets: 2, UplinkBytes: 184, DownlinkPackets: 0, DownlinkBytes: 0},
			FirstSeenAt: now.Add(-3 * time.Hour), LastSeenAt: now.Add(-90 * time.Second), HostFirstSeenAt: now.Add(-3 * time.Hour),
		},
		{
			Key: key("icmp", a("10.0.0.5"), 4660, a("203.0.113.80"), 8), State: "", Status: conntrack.ParseStatus(""),
			Counters:    conntrack.Counters{UplinkPackets: 3, UplinkBytes: 252, DownlinkPackets: 3, DownlinkBytes: 0},
			FirstSeenAt: now.Add(-time.Minute), LastSeenAt: now.Add(-time.Minute), HostFirstSeenAt: now.Add(-time.Hour),
		},
	}
}

// sampleSnapshot is a system reading with one missing interface.
func sampleSnapshot() sysmetrics.Snapshot {
	r1, r2 := 1536.0, 100.0
	return sysmetrics.Snapshot{
		At:     now,
		Load:   sysmetrics.LoadAvg{Load1: 0.57, Load5: 0.49, Load15: 0.21},
		Memory: sysmetrics.Memory{TotalBytes: 512 << 20, AvailableBytes: 384 << 20, UsedBytes: 128 << 20},
		Interfaces: []sysmetrics.Interface{
			{Name: "enp2s0", RxBytes: 262630588, TxBytes: 709985, RxPackets: 10116, TxPackets: 7072, RxRate: &r1, TxRate: &r2},
			{Name: "enp3s0", Error: "interface enp3s0: no such interface"},
		},
		Conntrack: &sysmetrics.Conntrack{Count: 1234, Max: 262144},
	}
}

// testServer builds a server over the fakes with the fixed clock; edit
// adjusts the options first.
func testServer(t testing.TB, edit func(*Options)) (http.Handler, *fakeStore) {
	t.Helper()
	fs := &fakeStore{
		conns:     sampleConns(),
		byProto:   map[string]int{"tcp": 3, "udp": 1, "icmp": 1},
		remote:    4,
		locals:    []flows.Host{{IP: netip.MustParseAddr("10.0.0.5"), UplinkBytes: 1000, DownlinkBytes: 50000}, {IP: netip.MustParseAddr("10.0.0.6"), UplinkBytes: 514, DownlinkBytes: 20268}},
		lastCycle: now.Add(-time.Second),
		cycles:    42,
	}
	opts := Options{Store: fs, Metrics: &fakeMetrics{snap: sampleSnapshot()}, Now: clock}
	if edit != nil {
		edit(&opts)
	}
	h, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return h, fs
}

// get runs one request against h.
func do(t *testing.T, h http.Handler, method, target string) *http.Response {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
	return rec.Result()
}

// body reads a response body whole.
func body(t *testing.T, res *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// golden compares got with fixtures/web/<name>, rewriting it under -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("..", "..", "fixtures", "web", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("read golden file (run go test ./pkg/web -update): %v", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", name, diff)
	}
}

func TestNewOptions(t *testing.T) {
	tests := []struct {
		name    string
		opts    Options
		wantErr string // substring; "" for success
	}{
		{name: "defaults", opts: Options{Store: &fakeStore{}, Metrics: &fakeMetrics{}}},
		{name: "no store", opts: Options{Metrics: &fakeMetrics{}}, wantErr: "store is required"},
		{name: "no metrics", opts: Options{Store: &fakeStore{}}, wantErr: "metrics is required"},
		{name: "negative interval", opts: Options{Store: &fakeStore{}, Metrics: &fakeMetrics{}, Interval: -time.Second}, wantErr: "interval"},
		{name: "negative window", opts: Options{Store: &fakeStore{}, Metrics: &fakeMetrics{}, NewHostWindow: -time.Second}, wantErr: "new host window"},
		{name: "huge top n", opts: Options{Store: &fakeStore{}, Metrics: &fakeMetrics{}, TopN: MaxLimit + 1}, wantErr: "top n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.opts)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("New error = %v, want one naming %q", err, tc.wantErr)
			}
		})
	}
}

func TestNewDefaults(t *testing.T) {
	s, err := newServer(Options{Store: &fakeStore{}, Metrics: &fakeMetrics{}})
	if err != nil {
		t.Fatal(err)
	}
	got := []any{s.interval, s.window, s.topN, s.now != nil, s.log != nil, s.registry != nil}
	want := []any{DefaultInterval, DefaultNewHostWindow, DefaultTopN, true, true, true}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
}

func TestHealthFunc(t *testing.T) {
	want := IngestStatus{Cycles: 7, LastErr: errors.New("boom")}
	got := HealthFunc(func() IngestStatus { return want }).IngestStatus()
	if got.Cycles != 7 || got.LastErr != want.LastErr {
		t.Errorf("HealthFunc returned %+v, want %+v", got, want)
	}
}
