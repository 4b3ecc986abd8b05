package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/netmon-dev/netmon/pkg/alert"
	"github.com/netmon-dev/netmon/pkg/alert/sink"
	"github.com/netmon-dev/netmon/pkg/config"
	"github.com/netmon-dev/netmon/pkg/conntrack"
	"github.com/netmon-dev/netmon/pkg/flows"
	"github.com/netmon-dev/netmon/pkg/history"
	"github.com/netmon-dev/netmon/pkg/ingest"
	"github.com/netmon-dev/netmon/pkg/store"
)

// hook is a webhook receiver on loopback, as a user's would be: it
// verifies each request's signature, refuses while down, and counts
// every id it accepted (a sink de-duplicates by id; the tests count).
type hook struct {
	*httptest.Server
	secret string
	delay  time.Duration // before answering, to widen the window a kill can land in

	mu      sync.Mutex
	down    bool
	got     []alert.Alert // accepted, in order, repeats included
	refused int
	badSig  int
}

func newHook(t *testing.T, secret string) *hook {
	t.Helper()
	h := &hook{secret: secret}
	h.Server = httptest.NewServer(http.HandlerFunc(h.serve))
	t.Cleanup(h.Close)
	return h
}

func (h *hook) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	time.Sleep(h.delay)
	h.mu.Lock()
	defer h.mu.Unlock()
	if !sink.Verify(h.secret, body, r.Header.Get(sink.HeaderSignature)) {
		h.badSig++
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if h.down {
		h.refused++
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	var a alert.Alert
	if err := json.Unmarshal(body, &a); err != nil || a.ID != r.Header.Get(sink.HeaderAlertID) || a.ID != r.Header.Get(sink.HeaderIdempotency) {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	h.got = append(h.got, a)
}

func (h *hook) setDown(down bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.down = down
}

// received returns the accepted alerts, the number of repeats (an id
// accepted again) and of requests with a bad signature.
func (h *hook) received() (distinct []alert.Alert, repeats, badSig int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	seen := map[string]bool{}
	for _, a := range h.got {
		if seen[a.ID] {
			repeats++
			continue
		}
		seen[a.ID] = true
		distinct = append(distinct, a)
	}
	return distinct, repeats, h.badSig
}

// events names alerts by what they are about, for comparisons that do
// not depend on ids: "new_device DEVICE", "quota RULE PERCENT", ...
func events(as []alert.Alert) []string {
	out := make([]string, 0, len(as))
	for _, a := range as {
		e := string(a.Kind)
		switch {
		case a.Quota != nil:
			e += " " + a.Quota.Rule + " " + strconv.Itoa(a.Quota.Percent)
		case a.Device != nil:
			e += " " + a.Device.ID
		}
		out = append(out, e)
	}
	slices.Sort(out)
	return out
}

var alertCmpOpts = []cmp.Option{cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{}), cmpopts.EquateEmpty()}

// fakeClock is the tests' clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// TestAlertsReplay drives the real engine through its inputs, with a
// fake clock, into the real record, and the real dispatcher to a webhook
// on loopback: a known laptop and a phone with a randomised MAC during
// the learning period; after it, a new TV (its name and destinations
// arriving within its delay), the laptop passing 80% and then 100% of
// its daily quota, and the phone coming back with new randomised MACs
// and going. The sink is down at first: the alerts wait in the outbox
// and arrive once it is back, each exactly once, every signature good.
func TestAlertsReplay(t *testing.T) {
	ctx := context.Background()
	h := newHook(t, "s3cret")
	cfg := config.Default()
	cfg.Alerts.Sinks = []config.AlertSink{{Name: "hook", Type: "webhook", URL: h.URL, Secret: "s3cret"}}
	cfg.Alerts.Quotas = []config.QuotaAlert{{Name: "laptop-day", Device: "aa:bb:cc:dd:ee:01", Period: "day", Limit: "1GB"}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	rec, err := store.OpenRecord(ctx, filepath.Join(t.TempDir(), "netmon.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	clk := &fakeClock{t: time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC)}
	sinks, err := alertSinks(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	disp, err := alert.NewDispatcher(alert.DispatcherOptions{Outbox: rec, Sinks: sinks, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := alert.NewEngine(ctx, alert.Options{Rules: alertRules(cfg.Alerts), Store: rec, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	start := clk.Now()
	laptop := alert.Device{ID: "aa:bb:cc:dd:ee:01", MAC: "aa:bb:cc:dd:ee:01", Name: "laptop", Addr: netip.MustParseAddr("10.0.0.5")}
	phone := func(mac string, name string) alert.Device {
		return alert.Device{ID: mac, MAC: mac, Name: name, Randomized: true, Addr: netip.MustParseAddr("10.0.0.6")}
	}
	tv := alert.Device{ID: "aa:bb:cc:dd:ee:02", MAC: "aa:bb:cc:dd:ee:02", Addr: netip.MustParseAddr("10.0.0.7")}
	tvNamed := tv
	tvNamed.Name, tvNamed.Vendor = `Wohnzimmer-TV"><script>`, "Samsung"
	day := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	usage := func(b uint64) func(time.Time) {
		return func(at time.Time) {
			eng.UsageSeen(alert.Usage{Device: laptop.ID, At: at, Day: alert.Volume{Start: day, Bytes: b}})
		}
	}
	seen := func(d alert.Device) func(time.Time) {
		return func(at time.Time) { eng.DeviceSeen(alert.Sighting{Device: d, At: at}) }
	}
	talk := func(d alert.Device, to string) func(time.Time) {
		return func(at time.Time) {
			eng.Contacted(alert.Contact{Device: d.ID, Remote: netip.MustParseAddr(to), At: at})
		}
	}
	replay := []struct {
		at time.Duration
		do func(time.Time)
	}{
		{0, seen(laptop)},
		{time.Hour, seen(phone("de:ad:be:ef:00:01", "Pixel-7"))},
		{25 * time.Hour, seen(tv)},
		{25*time.Hour + time.Second, talk(tv, "203.0.113.80")},
		{25*time.Hour + 10*time.Second, seen(tvNamed)},
		{25*time.Hour + 20*time.Second, talk(tv, "2001:db8::80")},
		{25*time.Hour + 30*time.Second, usage(700_000_000)},
		{26 * time.Hour, usage(850_000_000)},
		{26*time.Hour + time.Minute, usage(900_000_000)},
		{27 * time.Hour, seen(phone("de:ad:be:ef:00:02", "Pixel-7"))},
		{27*time.Hour + time.Minute, seen(phone("de:ad:be:ef:00:03", ""))},
		{28 * time.Hour, usage(1_000_000_001)},
		{29 * time.Hour, seen(phone("de:ad:be:ef:00:01", "Pixel-7"))},
		{29 * time.Hour, seen(laptop)},
	}
	h.setDown(true)
	for _, s := range replay {
		clk.Set(start.Add(s.at))
		s.do(clk.Now())
		if err := eng.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := disp.Pass(ctx, "hook"); err != nil {
			t.Fatal(err)
		}
	}
	pending, err := rec.PendingAlerts(ctx)
	if err != nil || pending["hook"] != 3 {
		t.Fatalf("with the sink down, pending = %v, %v; want 3 waiting", pending, err)
	}
	h.setDown(false)
	for range 10 { // the retries' backoff, on the fake clock
		next, err := disp.Pass(ctx, "hook")
		if err != nil {
			t.Fatal(err)
		}
		if next.IsZero() {
			break
		}
		clk.Set(next)
	}
	got, repeats, badSig := h.received()
	want := []string{"new_device aa:bb:cc:dd:ee:02", "quota laptop-day 100", "quota laptop-day 80"}
	if diff := cmp.Diff(want, events(got)); diff != "" || repeats != 0 || badSig != 0 {
		t.Errorf("%d repeats, %d bad signatures; alerts at the sink (-want +got)\n%s", repeats, badSig, diff)
	}
	for _, a := range got {
		if a.Kind == alert.NewDevice {
			want := &alert.Device{ID: tv.ID, MAC: tv.MAC, Name: tvNamed.Name, Vendor: "Samsung", Addr: tv.Addr,
				Destinations: []netip.Addr{netip.MustParseAddr("203.0.113.80"), netip.MustParseAddr("2001:db8::80")}}
			if diff := cmp.Diff(want, a.Device, alertCmpOpts...); diff != "" {
				t.Errorf("the new device (-want +got)\n%s", diff)
			}
		}
	}
	if pending, _ := rec.PendingAlerts(ctx); pending["hook"] != 0 {
		t.Errorf("still pending after the sink came back: %v", pending)
	}
}

// TestFeeder runs real flows cycles through the feeder into a real
// engine and record: a device that appears is seen with its first
// destinations, its growth counts towards the LAN's quota, the baseline
// cycle's growth does not.
func TestFeeder(t *testing.T) {
	ctx := context.Background()
	rec, err := store.OpenRecord(ctx, filepath.Join(t.TempDir(), "netmon.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	clk := &fakeClock{t: time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)}
	rules := alert.Rules{
		NewDevice: alert.NewDeviceRule{Enabled: true},
		Quotas:    []alert.QuotaRule{{Name: "lan", Scope: alert.LAN, Period: alert.Day, Limit: 10_000, Warn: []int{50}}},
	}
	eng, err := alert.NewEngine(ctx, alert.Options{Rules: rules, Store: rec, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	f := &feeder{engine: eng, tally: &alert.Tally{Cal: history.Calendar{Loc: time.UTC}}, skip: true}
	tab := flows.New()
	remote := netip.MustParseAddr("203.0.113.80")
	flow := func(src string, sport uint16, up uint64) conntrack.Entry {
		s := netip.MustParseAddr(src)
		return conntrack.Entry{Proto: conntrack.ProtoTCP, State: "ESTABLISHED",
			Orig:  conntrack.Tuple{Src: s, Dst: remote, SrcPort: sport, DstPort: 443, Bytes: up, Packets: 1},
			Reply: conntrack.Tuple{Src: remote, Dst: s, SrcPort: 443, DstPort: sport, Bytes: up, Packets: 1}}
	}
	cycles := [][]conntrack.Entry{
		{flow("10.0.0.5", 1000, 4000)}, // the baseline: 8,000 bytes not counted
		{flow("10.0.0.5", 1000, 4500), flow("10.0.0.9", 2000, 1000)},
		{flow("10.0.0.5", 1000, 5000), flow("10.0.0.9", 2000, 2000), flow("10.0.0.9", 2001, 100)},
	}
	for _, es := range cycles {
		c := tab.Begin()
		for i := range es {
			if err := c.Add(&es[i]); err != nil {
				t.Fatal(err)
			}
		}
		f.observe(clk.Now(), c.Diff())
		c.Commit()
	}
	if err := eng.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	entries, err := rec.RecentAlerts(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	var got []alert.Alert
	for _, e := range entries {
		got = append(got, e.Alert)
	}
	// 10.0.0.5: +1,000 then +1,000; 10.0.0.9: 2,000, then +2,000 and a new
	// flow of 200: 6,200 of the 10,000 when the third cycle is in.
	if diff := cmp.Diff([]string{"new_device ip:10.0.0.5", "new_device ip:10.0.0.9", "quota lan 50"}, events(got)); diff != "" {
		t.Fatalf("alerts (-want +got)\n%s", diff)
	}
	for _, a := range got {
		if a.Quota != nil && a.Quota.UsedBytes != 6200 {
			t.Errorf("the quota alert counts %d bytes, want 6200 (the baseline left out)", a.Quota.UsedBytes)
		}
		if a.Device != nil && a.Device.ID == "ip:10.0.0.9" && (len(a.Device.Destinations) != 1 || a.Device.Destinations[0] != remote || a.Device.Addr != netip.MustParseAddr("10.0.0.9")) {
			t.Errorf("device %+v", a.Device)
		}
	}
}

// TestReportHealth: the watcher's translation of the loop's status.
func TestReportHealth(t *testing.T) {
	ctx := context.Background()
	rec, err := store.OpenRecord(ctx, filepath.Join(t.TempDir(), "netmon.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	eng, err := alert.NewEngine(ctx, alert.Options{Rules: alert.Rules{Health: alert.HealthRule{Enabled: true, After: time.Minute}}, Store: rec})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
	boom := errors.New("run conntrack: permission denied")
	steps := []struct {
		st        ingest.Status
		at        time.Duration
		wantSince time.Duration // -1: none
	}{
		{ingest.Status{}, 0, -1}, // no cycle yet
		{ingest.Status{LastOK: t0}, time.Second, -1},
		{ingest.Status{LastOK: t0, LastErr: boom, LastErrAt: t0.Add(2 * time.Second)}, 3 * time.Second, 2 * time.Second},
		{ingest.Status{LastOK: t0, LastErr: boom, LastErrAt: t0.Add(90 * time.Second)}, 91 * time.Second, 2 * time.Second},
		{ingest.Status{LastOK: t0.Add(92 * time.Second)}, 92 * time.Second, -1},
		{ingest.Status{LastOK: t0.Add(92 * time.Second), LastCommitErr: boom}, 100 * time.Second, 100 * time.Second},
	}
	var since time.Time
	for i, s := range steps {
		since = reportHealth(eng, s.st, since, t0.Add(s.at))
		want := time.Time{}
		if s.wantSince >= 0 {
			want = t0.Add(s.wantSince)
		}
		if !since.Equal(want) {
			t.Errorf("step %d: failing since %v, want %v", i, since, want)
		}
	}
	if err := eng.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	entries, _ := rec.RecentAlerts(ctx, 10)
	var kinds []alert.Kind
	for _, e := range entries {
		kinds = append(kinds, e.Kind)
	}
	if diff := cmp.Diff([]alert.Kind{alert.IngestRecovered, alert.IngestFailing}, kinds); diff != "" {
		t.Errorf("alerts (-want +got)\n%s", diff)
	}
}

// BenchmarkFeeder is the feeder's cost per cycle in the ingest goroutine:
// 10,000 flows of 250 devices, every flow growing each cycle.
func BenchmarkFeeder(b *testing.B) {
	ctx := context.Background()
	rec, err := store.OpenRecord(ctx, filepath.Join(b.TempDir(), "netmon.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer rec.Close()
	rules := alert.Rules{NewDevice: alert.NewDeviceRule{Enabled: true},
		Quotas: []alert.QuotaRule{{Name: "lan", Scope: alert.LAN, Period: alert.Day, Limit: 1 << 40, Warn: []int{80, 100}}}}
	eng, err := alert.NewEngine(ctx, alert.Options{Rules: rules, Store: rec})
	if err != nil {
		b.Fatal(err)
	}
	f := &feeder{engine: eng, tally: &alert.Tally{Cal: history.Calendar{Loc: time.UTC}}}
	tab := flows.New()
	es := make([]conntrack.Entry, 10000)
	for i := range es {
		src := netip.AddrFrom4([4]byte{10, 0, 0, byte(1 + i%250)})
		dst := netip.AddrFrom4([4]byte{203, 0, byte(i / 256), byte(i)})
		es[i] = conntrack.Entry{Proto: conntrack.ProtoTCP, State: "ESTABLISHED",
			Orig:  conntrack.Tuple{Src: src, Dst: dst, SrcPort: uint16(1024 + i), DstPort: 443},
			Reply: conntrack.Tuple{Src: dst, Dst: src, SrcPort: 443, DstPort: uint16(1024 + i)}}
	}
	now := time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
	cycle := func() {
		c := tab.Begin()
		for i := range es {
			es[i].Orig.Bytes += 100
			es[i].Orig.Packets++
			if err := c.Add(&es[i]); err != nil {
				b.Fatal(err)
			}
		}
		d := c.Diff()
		b.StartTimer()
		f.observe(now, d)
		b.StopTimer()
		c.Commit()
	}
	b.StopTimer()
	cycle() // every flow opened, every device new
	b.ReportAllocs()
	for range b.N { // not b.Loop: the flows cycle around each call is not timed
		cycle()
	}
}

// TestFeederNamesDevices: with the namer wired in (a replayed neighbour
// table and leases), a new machine alerts once under its MAC, with its
// DHCP name, whichever of its addresses (IPv4, IPv6) it talked from; a
// phone with a randomised MAC stays silent (the rule's default); an
// address the neighbour table does not know alerts as ip:ADDR.
func TestFeederNamesDevices(t *testing.T) {
	ctx := context.Background()
	rec, err := store.OpenRecord(ctx, filepath.Join(t.TempDir(), "netmon.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	cfg := config.Default()
	cfg.LocalSubnets = []string{"10.0.0.0/24", "fd00::/64"}
	cfg.NeighboursFile = "../../fixtures/names/demo/neighbours.txt"
	cfg.Leases = []string{"../../fixtures/names/demo/dhcp.leases"}
	cfg.ResolveRemoteNames = false
	nm := newNamer(ctx, cfg, rec, discardLogger())
	nm.once(ctx)
	eng, err := alert.NewEngine(ctx, alert.Options{Rules: alert.Rules{NewDevice: alert.NewDeviceRule{Enabled: true}}, Store: rec})
	if err != nil {
		t.Fatal(err)
	}
	f := &feeder{engine: eng, tally: &alert.Tally{Cal: history.Calendar{Loc: time.UTC}}, device: nm.device, describe: nm.describe}
	remote := netip.MustParseAddr("203.0.113.80")
	var es []conntrack.Entry
	for i, src := range []string{"10.0.0.5", "fd00::5", "10.0.0.6", "10.0.0.9"} {
		s := netip.MustParseAddr(src)
		es = append(es, conntrack.Entry{Proto: conntrack.ProtoTCP, State: "ESTABLISHED",
			Orig:  conntrack.Tuple{Src: s, Dst: remote, SrcPort: uint16(40000 + i), DstPort: 443, Bytes: 100, Packets: 1},
			Reply: conntrack.Tuple{Src: remote, Dst: s, SrcPort: 443, DstPort: uint16(40000 + i), Bytes: 100, Packets: 1}})
	}
	tab := flows.New()
	c := tab.Begin()
	for i := range es {
		if err := c.Add(&es[i]); err != nil {
			t.Fatal(err)
		}
	}
	f.observe(time.Now(), c.Diff())
	c.Commit()
	if err := eng.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	entries, err := rec.RecentAlerts(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]alert.Device{}
	for _, e := range entries {
		got[e.Device.ID] = *e.Device
	}
	want := map[string]alert.Device{
		"00:1b:21:3a:4b:5c": {ID: "00:1b:21:3a:4b:5c", MAC: "00:1b:21:3a:4b:5c", Name: "anna-laptop"},
		"ip:10.0.0.9":       {ID: "ip:10.0.0.9"},
	}
	ignore := cmpopts.IgnoreFields(alert.Device{}, "Addr", "Destinations", "Vendor")
	if diff := cmp.Diff(want, got, ignore); diff != "" {
		t.Errorf("new-device alerts by device (-want +got)\n%s", diff)
	}
}
