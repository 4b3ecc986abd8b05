package web_test

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/netmon-dev/netmon/pkg/conntrack"
	"github.com/netmon-dev/netmon/pkg/device"
	"github.com/netmon-dev/netmon/pkg/history"
	"github.com/netmon-dev/netmon/pkg/rates"
	"github.com/netmon-dev/netmon/pkg/source"
	"github.com/netmon-dev/netmon/pkg/store"
	"github.com/netmon-dev/netmon/pkg/sysmetrics"
	"github.com/netmon-dev/netmon/pkg/web"
)

// The pages' hostile names: markup that would run script if any layer
// pasted it into HTML.
const (
	pagesHostileDevice = `<img src=x onerror=window.__netmonPwned=1>laptop`
	pagesHostileRemote = `</script><svg onload=window.__netmonPwned=2>.example`
	pagesDevice        = "ip:10.0.0.5"
	pagesRemote        = "203.0.113.80"
)

// pagesRecord is a real record holding three days of hours, 60 days and
// 14 months of history of two devices (one with a hostile name) and a
// remote host with a hostile name, committed as the ingest process would.
func pagesRecord(t testing.TB, now time.Time) *store.Record {
	t.Helper()
	ctx := context.Background()
	r, err := store.OpenRecord(ctx, filepath.Join(t.TempDir(), "record.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	cal := history.Calendar{}
	rem, other := netip.MustParseAddr(pagesRemote), netip.MustParseAddr("2001:db8::443")
	use := func(up, down uint64) history.Usage {
		return history.Usage{Counters: conntrack.Counters{UplinkBytes: up, DownlinkBytes: down, UplinkPackets: up / 100, DownlinkPackets: down / 100}, Connections: 3}
	}
	b := &history.Batch{
		Devices: map[history.DeviceKey]history.Usage{}, Remotes: map[history.RemoteKey]history.Usage{},
		Pairs: map[history.PairKey]history.Usage{}, Services: map[history.ServiceKey]history.Usage{},
		Totals: map[string]history.Usage{}, Seen: map[string]history.Seen{},
		Addrs: map[history.AddrKey]time.Time{}, RemoteSeen: map[netip.Addr]time.Time{rem: now.Add(-60 * 24 * time.Hour), other: now.Add(-30 * 24 * time.Hour)},
	}
	for i, dev := range []string{pagesDevice, "aa:bb:cc:dd:ee:06"} {
		scale := uint64(10 - 7*i)
		for h := range 72 {
			t0 := cal.Start(history.Hour, now.Add(-time.Duration(h)*time.Hour))
			b.Devices[history.DeviceKey{Device: dev, Res: history.Hour, Start: t0.Unix()}] = use(scale*uint64(1+h%5)<<18, scale*uint64(1+h%7)<<21)
		}
		for d := range 60 {
			t0 := cal.Start(history.Day, now.AddDate(0, 0, -d))
			g := use(scale*uint64(1+d%4)<<22, scale*uint64(1+d%9)<<25)
			b.Devices[history.DeviceKey{Device: dev, Res: history.Day, Start: t0.Unix()}] = g
			if d < 30 {
				b.Pairs[history.PairKey{Device: dev, Start: t0.Unix(), Remote: rem}] = g
				b.Pairs[history.PairKey{Device: dev, Start: t0.Unix(), Remote: other}] = use(g.UplinkBytes/3, g.DownlinkBytes/3)
				rg := b.Remotes[history.RemoteKey{Remote: rem, Start: t0.Unix()}]
				rg.Add(g)
				b.Remotes[history.RemoteKey{Remote: rem, Start: t0.Unix()}] = rg
			}
		}
		for m := range 14 {
			t0 := cal.Start(history.Month, now.AddDate(0, -m, 0))
			b.Devices[history.DeviceKey{Device: dev, Res: history.Month, Start: t0.Unix()}] = use(scale*uint64(1+m%3)<<28, scale*uint64(1+m%5)<<31)
		}
		b.Totals[dev] = use(1<<30, 1<<33)
		b.Seen[dev] = history.Seen{First: now.Add(-400 * 24 * time.Hour), Last: now}
	}
	mac, _ := device.ParseMAC("aa:bb:cc:dd:ee:06")
	devs := []device.Device{
		{ID: pagesDevice, Addrs: []netip.Addr{netip.MustParseAddr("10.0.0.5"), netip.MustParseAddr("fd00::5")}, Name: pagesHostileDevice,
			NameSource: device.SourceConfig, Vendor: `<b>Acme</b> & Co`, FirstSeen: now.Add(-400 * 24 * time.Hour), LastSeen: now},
		{ID: device.MACID(mac), MAC: mac, Randomized: mac.Randomized(), Addrs: []netip.Addr{netip.MustParseAddr("10.0.0.6")}, Name: "printer",
			NameSource: device.SourceLease, FirstSeen: now.Add(-90 * 24 * time.Hour), LastSeen: now},
	}
	if _, err := r.Commit(ctx, now, b, store.CommitInfo{BootID: "boot-1", Retention: store.DefaultRetention, Devices: devs,
		RemoteNames: map[netip.Addr]store.RemoteName{rem: {Name: pagesHostileRemote, Source: "dns", LearnedAt: now}}}); err != nil {
		t.Fatal(err)
	}
	return r
}

// pagesServer serves the pages from a real live store (active
// connections of both devices, three cycles a second apart, with the
// rates the ingest process would write) and a real record.
func pagesServer(t *testing.T) string {
	t.Helper()
	now := time.Now()
	live := openStore(t)
	conns := func(k uint64) []conntrack.Entry {
		return []conntrack.Entry{
			outbound("tcp", "10.0.0.5", 40001, pagesRemote, 443, "ESTABLISHED", "ASSURED", 10*k, 9000*k, 20*k, 900000*k),
			outbound("udp", "10.0.0.5", 40002, "2001:db8::443", 443, "", "ASSURED", 5*k, 1500*k, 9*k, 30000*k),
			outbound("tcp", "10.0.0.6", 40003, pagesRemote, 80, `<img src=x onerror=window.__netmonPwned=3>`, "ASSURED", k, 100*k, k, 100*k),
		}
	}
	// 10.0.0.6 is the printer's, as the ingest process labels it; 10.0.0.5
	// has no label: its device is ip:10.0.0.5.
	if err := live.WriteLabels(context.Background(), store.Labels{Addrs: []store.AddrLabel{
		{Addr: netip.MustParseAddr("10.0.0.6"), Device: "aa:bb:cc:dd:ee:06", Name: "printer"}}}); err != nil {
		t.Fatal(err)
	}
	tr := rates.New(10 * time.Second)
	for i, k := range []uint64{1, 2, 4} {
		at := now.Add(time.Duration(i-2) * time.Second)
		_, d, err := live.Reconcile(context.Background(), at, source.Slice(conns(k)).List(context.Background(), nil), 0)
		if err != nil {
			t.Fatal(err)
		}
		tr.Add(at, d, func(a netip.Addr) string {
			if a == netip.MustParseAddr("10.0.0.6") {
				return "aa:bb:cc:dd:ee:06"
			}
			return "ip:" + a.String()
		})
		if err := live.WriteRates(context.Background(), tr.Changes()); err != nil {
			t.Fatal(err)
		}
	}
	url, _ := serveHTTP(t, web.Options{
		Store:   live,
		Rates:   live,
		Metrics: sysmetrics.NewReader(sysmetrics.Options{Root: fixture("hosts", "minimal")}),
		History: pagesRecord(t, now),
	})
	return url
}

// viewport is a window size the pages are checked at.
type viewport struct {
	name          string
	width, height int64
	mobile        bool
}

var viewports = []viewport{{"desktop", 1400, 1000, false}, {"phone", 390, 844, true}}

// pageCheck is a page and what must show on it.
type pageCheck struct {
	kind   string // for the screenshot's name
	path   string
	charts int
	// texts are JavaScript expressions that must be true once painted.
	texts map[string]string
}

// TestPagesInBrowser opens the Device, Remote host and History pages at
// desktop and phone sizes and checks that their content shows, their
// charts are drawn, the phone never scrolls sideways, hostile names stay
// text and no console error (CSP violations among them) appears. With
// NETMON_SCREENSHOTS=1 it writes docs/screenshots/<page>-<size>.png.
func TestPagesInBrowser(t *testing.T) {
	browser := newBrowser(t)
	url := pagesServer(t)
	errs := consoleErrors(t, browser)
	checks := []pageCheck{
		{kind: "device", path: "/devices/" + pagesDevice, charts: 4, texts: map[string]string{
			"the hostile name as the title": `document.querySelector(".who .title").textContent === ` + jsString(pagesHostileDevice),
			"its addresses":                 `document.querySelector(".who .facts").textContent.includes("10.0.0.5, fd00::5")`,
			"the hostile vendor as text":    `document.querySelector(".who .facts").textContent.includes("<b>Acme</b> & Co")`,
			"a rate now":                    `/^[1-9][0-9.]* [kM]bit\/s$/.test(document.querySelector(".rate .big.down").textContent)`,
			"connection rates":              `[...document.querySelectorAll(".dconns td.num")].some(td => /^[1-9][0-9.]* [kM]bit\/s$/.test(td.textContent))`,
			"two active connections":        `document.querySelectorAll(".dconns tbody tr:not(.empty)").length === 2`,
			"the hostile remote name":       `[...document.querySelectorAll(".top[data-period='today'] td.host a")].some(a => a.textContent === ` + jsString(pagesHostileRemote) + `)`,
			"yesterday's top hosts":         `document.querySelectorAll(".top[data-period='yesterday'] tbody tr:not(.empty)").length === 2`,
			"48 hourly bars":                `Number(document.querySelector(".chart").dataset.points) >= 48`,
		}},
		{kind: "remote", path: "/remotes/" + pagesRemote, charts: 1, texts: map[string]string{
			"the hostile name as the title": `document.querySelector(".who .title").textContent === ` + jsString(pagesHostileRemote),
			"both devices":                  `document.querySelectorAll(".rdevs tbody tr:not(.empty)").length === 2`,
			"the device's hostile name":     `[...document.querySelectorAll(".rdevs td.host a")].some(a => a.textContent === ` + jsString(pagesHostileDevice) + `)`,
			"30 days of history":            `Number(document.querySelector(".chart").dataset.points) === 30`,
		}},
		{kind: "history", path: "/history?period=7d", texts: map[string]string{
			"both devices":             `document.querySelectorAll(".hist tbody tr:not(.empty)").length === 2`,
			"the 7-day button pressed": `document.querySelector(".picker [aria-pressed=true]").dataset.period === "7d"`,
			"the CSV link":             `document.querySelector("a.csv").getAttribute("href") === "/api/devices?period=7d&format=csv"`,
			"the hostile name as text": `document.querySelector(".hist td.host a").textContent === ` + jsString(pagesHostileDevice),
			"the period's span":        `/^from \d{4}-\d\d-\d\d \d\d:\d\d to now$/.test(document.querySelector(".hist .span").textContent)`,
			"rates now":                `[...document.querySelectorAll(".hist td.num")].filter(td => /↓ [1-9][0-9.]* [kM]?bit\/s$/.test(td.textContent)).length === 2`,
		}},
	}
	for _, vp := range viewports {
		for _, pc := range checks {
			t.Run(pc.kind+" "+vp.name, func(t *testing.T) {
				opts := []chromedp.EmulateViewportOption{}
				if vp.mobile {
					opts = append(opts, chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulatePortrait)
				}
				if err := chromedp.Do(browser, chromedp.EmulateViewport(vp.width, vp.height, opts...), chromedp.Navigate(url+pc.path)); err != nil {
					t.Fatalf("navigate: %v", err)
				}
				waitFor(t, browser, "the first paint", `document.getElementById("netmon").dataset.painted === "true"`, 10*time.Second)
				for what, expr := range pc.texts {
					if !eval[bool](t, browser, expr) {
						t.Errorf("%s: false: %s", what, expr)
					}
				}
				drawn := eval[int](t, browser, `[...document.querySelectorAll(".chart canvas")].filter(c => c.width > 0 && c.height > 0 && c.getBoundingClientRect().width > 0).length`)
				if drawn != pc.charts {
					t.Errorf("%d charts drawn, want %d", drawn, pc.charts)
				}
				if over := eval[int](t, browser, `document.documentElement.scrollWidth - window.innerWidth`); over > 0 {
					t.Errorf("the page is %d px wider than the %d px window", over, vp.width)
				}
				if n := eval[int](t, browser, `document.querySelectorAll("#page img, #page svg, #page script, #page b").length`); n != 0 {
					t.Errorf("%d elements were made from the hostile names", n)
				}
				if vp.name == "desktop" && pc.kind == "device" {
					// A poll of /api/now and the connections repaints the same.
					waitFor(t, browser, "a live poll", `Number(document.getElementById("netmon").dataset.livePolls) >= 2`, 10*time.Second)
					if !eval[bool](t, browser, pc.texts["two active connections"]) {
						t.Error("the connections are gone after a poll")
					}
				}
				if os.Getenv("NETMON_SCREENSHOTS") == "1" {
					png, err := chromedp.Run(browser, chromedp.FullScreenshot(100)) // 100: PNG
					if err != nil {
						t.Fatalf("screenshot: %v", err)
					}
					p := filepath.Join("..", "..", "docs", "screenshots", pc.kind+"-"+vp.name+".png")
					if err := os.WriteFile(p, png, 0o644); err != nil {
						t.Fatal(err)
					}
				}
			})
		}
	}
	// In dark mode the panels turn dark and the charts take their
	// colours from the dark palette.
	t.Run("device dark", func(t *testing.T) {
		if _, err := chromedp.Call(browser, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}}); err != nil {
			t.Fatalf("emulate dark mode: %v", err)
		}
		if err := chromedp.Do(browser, chromedp.EmulateViewport(1400, 1000), chromedp.Navigate(url+"/devices/"+pagesDevice)); err != nil {
			t.Fatalf("navigate: %v", err)
		}
		waitFor(t, browser, "the first paint", `document.getElementById("netmon").dataset.painted === "true"`, 10*time.Second)
		// luma is the brightness (0-255) of an element's computed colour.
		const luma = `((sel, prop) => { const [r, g, b] = getComputedStyle(document.querySelector(sel))[prop].match(/\d+/g).map(Number); return 0.2126 * r + 0.7152 * g + 0.0722 * b; })`
		got := eval[map[string]float64](t, browser, `({
			body: `+luma+`("body", "backgroundColor"),
			panel: `+luma+`(".panel", "backgroundColor"),
			text: `+luma+`(".who .title", "color"),
			axis: `+luma+`(".u-legend", "color"),
		})`)
		if got["body"] > 60 || got["panel"] > 60 || got["text"] < 160 || got["axis"] < 160 {
			t.Errorf("not dark: brightness %v", got)
		}
		if drawn := eval[int](t, browser, `[...document.querySelectorAll(".chart canvas")].filter(c => c.width > 0).length`); drawn != 4 {
			t.Errorf("%d charts drawn in dark mode, want 4", drawn)
		}
		if os.Getenv("NETMON_SCREENSHOTS") == "1" {
			png, err := chromedp.Run(browser, chromedp.FullScreenshot(100)) // 100: PNG
			if err != nil {
				t.Fatalf("screenshot: %v", err)
			}
			if err := os.WriteFile(filepath.Join("..", "..", "docs", "screenshots", "device-dark.png"), png, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	})
	t.Run("no payload ran", func(t *testing.T) {
		if eval[bool](t, browser, `"__netmonPwned" in window`) {
			t.Error("a payload ran")
		}
	})
	t.Run("no console errors", func(t *testing.T) {
		if e := errs(); len(e) != 0 {
			t.Errorf("console errors:\n%s", strings.Join(e, "\n"))
		}
	})
}

// The record is what cmd/netmon passes as Options.History, and the live
// state its Options.Rates: the pages find who a device or a remote host
// is through the one, and a device's connections through the other.
var (
	_ web.History           = (*store.Record)(nil)
	_ web.Directory         = (*store.Record)(nil)
	_ web.DeviceConnections = (*store.Live)(nil)
)

// BenchmarkPages serves the pages and a device's connections from a real
// record (pagesRecord) and a live store of 10,000 active connections from
// 250 LAN hosts: a device page asks nine routes for its JSON block, and
// /connections.json?device= walks every active connection.
func BenchmarkPages(b *testing.B) {
	const n = 10_000
	ctx := context.Background()
	now := time.Now()
	live, err := store.OpenLive(ctx, filepath.Join(b.TempDir(), "live.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer live.Close()
	if _, _, err := live.Reconcile(ctx, now, source.Slice(benchFlows(n)).List(ctx, nil), 0); err != nil {
		b.Fatal(err)
	}
	h, err := web.New(web.Options{
		Store: live, Rates: live, History: pagesRecord(b, now),
		Metrics: sysmetrics.NewReader(sysmetrics.Options{Root: fixture("hosts", "minimal")}),
	})
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct{ name, target string }{
		{"device", "/devices/" + pagesDevice},
		{"remote", "/remotes/" + pagesRemote},
		{"history", "/history?period=30d"},
		{"device-connections", "/connections.json?device=ip:10.0.0.5&limit=100"},
	} {
		b.Run(bc.name, func(b *testing.B) { benchGet(b, h, bc.target, nil) })
	}
}
