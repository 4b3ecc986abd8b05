package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"

	"github.com/netmon-dev/netmon/pkg/alert"
	"github.com/netmon-dev/netmon/pkg/conntrack"
	"github.com/netmon-dev/netmon/pkg/filter"
	"github.com/netmon-dev/netmon/pkg/flows"
	"github.com/netmon-dev/netmon/pkg/ingest"
	"github.com/netmon-dev/netmon/pkg/rates"
	"github.com/netmon-dev/netmon/pkg/source"
	"github.com/netmon-dev/netmon/pkg/store"
	"github.com/netmon-dev/netmon/pkg/sysmetrics"
	"github.com/netmon-dev/netmon/pkg/web"
)

// chromiumPath is Debian's chromium. Without it the browser tests skip,
// except in CI (CI set), where they must run.
const chromiumPath = "/usr/bin/chromium"

// fixture returns a path under the repository's fixtures/.
func fixture(parts ...string) string {
	return filepath.Join(append([]string{"..", "..", "fixtures"}, parts...)...)
}

// newBrowser starts a headless chromium with a fresh profile and returns
// a chromedp context for one tab.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "" {
			t.Skipf("no %s (apt-get install chromium); CI runs this test", chromiumPath)
		}
		t.Fatalf("CI is set but chromium is missing: %v", err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-component-update", true),
		chromedp.WindowSize(1400, 1000),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// serveHTTP serves the handler of opts on a loopback port until the
// returned stop is called (or the test ends).
func serveHTTP(t testing.TB, opts web.Options) (url string, stop func()) {
	t.Helper()
	handler, err := web.New(opts)
	if err != nil {
		t.Fatalf("web.New: %v", err)
	}
	return serveHandler(t, handler)
}

// serveHandler serves handler on a loopback port until the returned stop
// is called (or the test ends).
func serveHandler(t testing.TB, handler http.Handler) (url string, stop func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- web.ServeListener(ctx, ln, handler, nil) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("serve: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return "http://" + ln.Addr().String(), stop
}

// pollGate holds every request for the JSON endpoints the page polls
// until release is called, so a test sees what the page's JSON block
// alone painted.
type pollGate struct {
	next http.Handler
	open chan struct{}
	once sync.Once
}

func newPollGate(t testing.TB, next http.Handler) *pollGate {
	g := &pollGate{next: next, open: make(chan struct{})}
	t.Cleanup(g.release)
	return g
}

func (g *pollGate) release() { g.once.Do(func() { close(g.open) }) }

func (g *pollGate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasSuffix(r.URL.Path, ".json") {
		select {
		case <-g.open:
		case <-r.Context().Done():
			return
		}
	}
	g.next.ServeHTTP(w, r)
}

// consoleErrors collects the tab's console errors and uncaught exceptions
// from now on (CSP violations among them: Chromium logs each as an
// error); the returned func gives those seen so far.
func consoleErrors(t *testing.T, ctx context.Context) func() []string {
	t.Helper()
	var (
		mu   sync.Mutex
		errs []string
	)
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				mu.Lock()
				errs = append(errs, m.String())
				mu.Unlock()
			}
		}
	}()
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(errs)
	}
}

// openStore opens a database file in a temporary directory.
func openStore(t testing.TB) *store.Live {
	t.Helper()
	db, err := store.OpenLive(context.Background(), filepath.Join(t.TempDir(), "netmon.db"))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// lanFilter keeps flows from the lab's LAN, IPv4 and IPv6.
func lanFilter(t testing.TB) *filter.Filter {
	t.Helper()
	f, err := filter.New([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/24"), netip.MustParsePrefix("fd00::/64")})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// copyReplay copies the demo replay's snapshots (not its README) into a
// temporary directory.
func copyReplay(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	names, err := filepath.Glob(fixture("replay", "*.txt"))
	if err != nil || len(names) < 2 {
		t.Fatalf("replay fixtures: %v (%d files)", err, len(names))
	}
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(n)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// eval runs a JavaScript expression in the page.
func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// waitFor polls a JavaScript predicate until it holds or d passes.
func waitFor(t *testing.T, ctx context.Context, what, expr string, d time.Duration) {
	t.Helper()
	_, err := chromedp.Run(ctx, chromedp.Poll[bool](expr,
		chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(d)))
	if err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

// rowsSignature is each row's key and exact total bytes: it changes when
// the data changes, not when an age ticks from "1 s ago" to "2 s ago".
const rowsSignature = `[...document.querySelectorAll("#rows tr")].map(r => (r.dataset.key || "") + "=" + (r.querySelector(".c-total") ? r.querySelector(".c-total").title : "")).join(";")`

// badgeOf returns the badge text of the first row whose key holds part.
func badgeOf(part string) string {
	return `(() => { const r = [...document.querySelectorAll("#rows tr")].find(r => (r.dataset.key || "").includes("` + part + `")); return r ? r.querySelector(".badge").textContent : ""; })()`
}

// TestDashboardInBrowser runs the whole chain (replayed conntrack
// snapshots, parser, filter, real ingest loop, SQLite store, web handler,
// HTTP) and watches the page in headless chromium.
func TestDashboardInBrowser(t *testing.T) {
	browser := newBrowser(t)
	const (
		interval = time.Second
		window   = 4 * time.Second
	)
	db := openStore(t)
	in := &ingest.Ingester{
		Source: &source.File{Path: copyReplay(t)},
		Filter: lanFilter(t),
		Store:  db,
		Logger: slog.New(slog.DiscardHandler),
	}
	runLoop(t, in, interval)
	deadline := time.Now().Add(10 * time.Second)
	for in.Status().Cycles == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no ingest cycle after 10 s: %v", in.Status().LastErr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	url, stopServer := serveHTTP(t, web.Options{
		Store:         db,
		Metrics:       sysmetrics.NewReader(sysmetrics.Options{Root: fixture("hosts", "router")}),
		Health:        ingestHealth(in),
		Interval:      interval,
		NewHostWindow: window,
		TopN:          50,
	})

	errs := consoleErrors(t, browser)
	if err := chromedp.Do(browser, chromedp.Navigate(url+"/")); err != nil {
		t.Fatalf("navigate: %v", err)
	}
	eval[any](t, browser, "window.__netmonMarker = 42")
	if n := eval[int](t, browser, `document.querySelectorAll("#rows tr[data-key]").length`); n == 0 {
		t.Fatal("the JSON block painted no rows")
	}
	first := eval[string](t, browser, rowsSignature)

	t.Run("rows change without a reload", func(t *testing.T) {
		waitFor(t, browser, "the rows to change", rowsSignature+` !== `+jsString(first), 15*time.Second)
		if m := eval[int](t, browser, "window.__netmonMarker"); m != 42 {
			t.Errorf("window marker = %d: the page was reloaded", m)
		}
	})

	var screenshot []byte // taken while a NEW badge shows
	t.Run("a new host's badge turns from new to seen before", func(t *testing.T) {
		isNew := badgeOf("|203.0.113.90|") + ` === "new"`
		waitFor(t, browser, "203.0.113.90 to show as NEW", isNew, 20*time.Second)
		// For the picture, let the first cycle's hosts turn SEEN while
		// 203.0.113.90 is still NEW, if the timing allows.
		chromedp.Run(browser, chromedp.Poll[bool](isNew+` && `+badgeOf("|203.0.113.80|")+` === "seen before"`,
			chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(4*time.Second)))
		png, err := chromedp.Run(browser, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		if eval[bool](t, browser, isNew) {
			screenshot = png
		}
		waitFor(t, browser, "203.0.113.90 to show as SEEN", badgeOf("|203.0.113.90|")+` === "seen before"`, 20*time.Second)
		if m := eval[int](t, browser, "window.__netmonMarker"); m != 42 {
			t.Errorf("window marker = %d: the page was reloaded", m)
		}
	})

	t.Run("metric tiles fill", func(t *testing.T) {
		// The page's JSON block holds the reader's first reading, which
		// has no rate yet; a rate means a poll updated the tile.
		waitFor(t, browser, "an interface rate", `document.querySelector('[data-iface="enp2s0"] .rx-rate').textContent.endsWith("/s")`, 10*time.Second)
		tiles := eval[map[string]string](t, browser, `({
			load: document.getElementById("load").textContent,
			mem: document.getElementById("mem").textContent,
			ct: document.getElementById("ct-text").textContent,
			ctHidden: String(document.getElementById("tile-conntrack").hidden),
			ingest: document.getElementById("ingest-text").textContent,
			count: document.getElementById("count").textContent,
			enp3s0: document.querySelector('[data-iface="enp3s0"] .rx').textContent,
		})`)
		checks := map[string]func(string) bool{
			"load":     func(s string) bool { return strings.Count(s, ".") == 3 },
			"mem":      func(s string) bool { return strings.Contains(s, "iB / ") },
			"ct":       func(s string) bool { return s == "0 / 262,144" },
			"ctHidden": func(s string) bool { return s == "false" },
			"ingest":   func(s string) bool { return strings.HasSuffix(s, " cycles") && !strings.Contains(s, " 1 cycles") },
			"count":    func(s string) bool { return strings.HasPrefix(s, "top ") && strings.HasSuffix(s, " connections") },
			"enp3s0":   func(s string) bool { return strings.HasSuffix(s, "B") },
		}
		for k, ok := range checks {
			if !ok(tiles[k]) {
				t.Errorf("tile %s = %q", k, tiles[k])
			}
		}
	})

	t.Run("screenshot", func(t *testing.T) {
		png := screenshot
		if png == nil {
			t.Skip("no screenshot: the NEW badge never showed")
		}
		p := filepath.Join(t.TempDir(), "dashboard.png")
		if err := os.WriteFile(p, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", p)
		if out := os.Getenv("NETMON_SCREENSHOT"); out != "" {
			if err := os.WriteFile(out, png, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("screenshot also written to %s", out)
		}
	})

	t.Run("no console errors", func(t *testing.T) {
		if e := errs(); len(e) != 0 {
			t.Errorf("console errors:\n%s", strings.Join(e, "\n"))
		}
	})

	t.Run("stale data is announced and polling goes on", func(t *testing.T) {
		stopServer()
		waitFor(t, browser, "the stale banner", `!document.getElementById("stale").hidden && document.getElementById("stale").textContent.startsWith("data stale since ")`, 10*time.Second)
		if m := eval[int](t, browser, "window.__netmonMarker"); m != 42 {
			t.Errorf("window marker = %d: the page was reloaded", m)
		}
	})
}

// runLoop runs the ingest loop until the test ends.
func runLoop(t testing.TB, in *ingest.Ingester, interval time.Duration) {
	t.Helper()
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		in.Loop(ctx, interval, nil)
	}()
	t.Cleanup(func() {
		stop()
		<-done
	})
}

// ingestHealth is what cmd/netmon passes as Options.Health: the loop's
// status in the web server's terms.
func ingestHealth(in *ingest.Ingester) web.Health {
	return web.HealthFunc(func() web.IngestStatus {
		st := in.Status()
		return web.IngestStatus{LastOK: st.LastOK, LastErr: st.LastErr, Cycles: st.Cycles + st.Errors, Errors: st.Errors,
			LastDuration: st.LastSummary.Took, LastSkipped: st.LastSummary.Skipped}
	})
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", `\r`, "\u2028", `\u2028`, "\u2029", `\u2029`)
	return `"` + r.Replace(s) + `"`
}

// hostileFlows are connections whose state holds markup that would run
// script if any layer pasted it into HTML unescaped (flags are a typed
// status and cannot carry text). A state with spaces cannot come through
// the conntrack text format, so they go straight into the real store.
func hostileFlows() []conntrack.Entry {
	return []conntrack.Entry{
		outbound("tcp", "10.0.0.5", 40001, "203.0.113.91", 80, `<img src=x onerror=window.__netmonPwned=1>`, "", 0, 300, 0, 9000),
		outbound("tcp", "10.0.0.5", 40002, "203.0.113.92", 80, `</script><script>window.__netmonPwned=2</script>`, "", 0, 200, 0, 8000),
		outbound("udp", "10.0.0.6", 40003, "203.0.113.93", 53, `"><svg onload=window.__netmonPwned=3>`, "ASSURED", 0, 100, 0, 100),
	}
}

// formatFlows cover the cell formats: IPv6 in brackets, ICMP's id and
// type, no ports for unknown protocols, sizes from bytes to MiB.
func formatFlows() []conntrack.Entry {
	return []conntrack.Entry{
		outbound("tcp", "fd00::5", 47067, "2001:db8::80", 443, "ESTABLISHED", "ASSURED", 900, 61234, 4000, 5<<20),
		outbound("icmp", "10.0.0.5", 4660, "203.0.113.80", 8, "", "", 3, 252, 3, 252),
		outbound("253", "10.0.0.6", 0, "203.0.113.89", 0, "", "UNREPLIED", 1, 8, 0, 0),
	}
}

// TestDashboardInBrowserStatic serves a store that does not change, with
// the polled endpoints held back until the first checks are done. It
// checks that the JSON block alone paints the rows and tiles, that a poll
// paints the same cells, that hostile state and flags text shows as text
// and nothing in it runs, that no console error appears, and that the
// page's CSP blocks inline script.
func TestDashboardInBrowserStatic(t *testing.T) {
	browser := newBrowser(t)
	db := openStore(t)
	flows := append(hostileFlows(), formatFlows()...)
	fill(t, db, time.Now(), flows)
	handler, err := web.New(web.Options{
		Store:   db,
		Metrics: sysmetrics.NewReader(sysmetrics.Options{Root: fixture("hosts", "minimal")}),
		Alerts:  &nowAlerts{},
	})
	if err != nil {
		t.Fatal(err)
	}
	gate := newPollGate(t, handler)
	url, _ := serveHandler(t, gate)
	errs := consoleErrors(t, browser)
	if err := chromedp.Do(browser, chromedp.Navigate(url+"/")); err != nil {
		t.Fatalf("navigate: %v", err)
	}
	check := func(t *testing.T) {
		t.Helper()
		got := eval[[]string](t, browser, `[...document.querySelectorAll("#rows td.state")].map(td => td.textContent).sort()`)
		var want []string
		for _, f := range flows {
			want = append(want, f.State)
		}
		slices.Sort(want)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("state cells are not the payloads as text (-want +got):\n%s", diff)
		}
		if n := eval[int](t, browser, `document.querySelectorAll("#rows img, #rows script, #rows svg, body img, body svg").length`); n != 0 {
			t.Errorf("%d elements were made from the payloads", n)
		}
		if pwned := eval[bool](t, browser, `"__netmonPwned" in window`); pwned {
			t.Error("a payload ran")
		}
	}
	// cells is every row's cells but the age, with their titles.
	const cells = `[...document.querySelectorAll("#rows tr")].map(r => [...r.children].filter(td => !td.classList.contains("seen")).map(td => td.textContent.trim() + (td.title ? " (" + td.title + ")" : "")).join(" | "))`
	var first []string
	t.Run("first paint from the JSON block", func(t *testing.T) {
		polls := eval[string](t, browser, `JSON.stringify(document.getElementById("netmon").dataset)`)
		if polls != "{}" {
			t.Fatalf("a poll completed while the gate was shut: %s", polls)
		}
		first = eval[[]string](t, browser, cells)
		if len(first) != len(flows) {
			t.Errorf("%d rows painted, want %d:\n%s", len(first), len(flows), strings.Join(first, "\n"))
		}
		for _, want := range []string{"[2001:db8::80]:443", "5.0 MiB", "8 B", "| 203.0.113.89 |", "| 203.0.113.80 type 8 |"} {
			if !strings.Contains(strings.Join(first, "\n"), want) {
				t.Errorf("rows lack %q:\n%s", want, strings.Join(first, "\n"))
			}
		}
		tiles := eval[map[string]string](t, browser, `({
			load: document.getElementById("load").textContent,
			mem: document.getElementById("mem").textContent,
			ctHidden: String(document.getElementById("tile-conntrack").hidden),
			ingest: document.getElementById("ingest-text").textContent,
			count: document.getElementById("count").textContent,
			enp2s0: document.querySelector('[data-iface="enp2s0"] .rx-packets').textContent,
			enp3s0: document.querySelector('[data-iface="enp3s0"] .bad').textContent,
			window: document.getElementById("window").textContent,
			alerts: document.getElementById("alerts-box").hidden ? "hidden" : document.getElementById("alerts").textContent,
			devices: document.getElementById("devices").textContent,
			acct: String(document.getElementById("acct").hidden),
		})`)
		want := map[string]string{
			"load":     "0.00  0.01  0.05",
			"mem":      "128 MiB / 256 MiB",
			"ctHidden": "true",
			"ingest":   tiles["ingest"],
			"count":    "top 6 of 6 connections",
			"enp2s0":   "10 pkts",
			"enp3s0":   "interface enp3s0: no such interface",
			"window":   "1 min",
			"alerts":   "no alerts",
			"devices":  "no rates: this server reads no live rates",
			"acct":     "true", // accounting is not in /metrics.json: unknown, no banner
		}
		if diff := cmp.Diff(want, tiles); diff != "" {
			t.Errorf("tiles (-want +got):\n%s", diff)
		}
		if !strings.HasSuffix(tiles["ingest"], " · 1 cycle") {
			t.Errorf("ingest tile = %q", tiles["ingest"])
		}
		check(t)
	})
	gate.release()
	t.Run("polls paint the same cells", func(t *testing.T) {
		waitFor(t, browser, "two connection polls and a metrics poll",
			`Number(document.getElementById("netmon").dataset.connectionsPolls) >= 2 && Number(document.getElementById("netmon").dataset.metricsPolls) >= 1`, 10*time.Second)
		// Give a broken image's onerror time to fire, were there one.
		if err := chromedp.Do(browser, chromedp.Sleep(300*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		check(t)
		if diff := cmp.Diff(first, eval[[]string](t, browser, cells)); diff != "" {
			t.Errorf("rows differ (-JSON block +poll):\n%s", diff)
		}
	})
	t.Run("no console errors", func(t *testing.T) {
		if e := errs(); len(e) != 0 {
			t.Errorf("console errors:\n%s", strings.Join(e, "\n"))
		}
	})
	// The check above means something only if a CSP violation would show
	// up there: an inline script must be refused, and logged.
	t.Run("CSP refuses inline script", func(t *testing.T) {
		eval[any](t, browser, `(() => { const s = document.createElement("script"); s.textContent = "window.__netmonInline = 1"; document.body.append(s); })()`)
		waitFor(t, browser, "the inline script to be refused", `!("__netmonInline" in window)`, time.Second)
		deadline := time.Now().Add(5 * time.Second)
		for !slices.ContainsFunc(errs(), func(e string) bool { return strings.Contains(e, "Content Security Policy") }) {
			if time.Now().After(deadline) {
				t.Fatalf("no CSP violation logged; console errors: %q", errs())
			}
			time.Sleep(50 * time.Millisecond)
		}
		if eval[bool](t, browser, `"__netmonInline" in window`) {
			t.Error("an inline script ran despite the CSP")
		}
	})
}

// nowAlerts is a web.Alerts with fixed alerts, one of them titled with
// markup.
type nowAlerts struct{ entries []alert.Entry }

func (a *nowAlerts) RecentAlerts(_ context.Context, limit int) ([]alert.Entry, error) {
	return a.entries[:min(limit, len(a.entries))], nil
}
func (a *nowAlerts) AlertCounts(context.Context) ([]alert.Count, error)    { return nil, nil }
func (a *nowAlerts) PendingAlerts(context.Context) (map[string]int, error) { return nil, nil }

var _ web.Alerts = (*nowAlerts)(nil)

// Hostile names the Now page must show as text.
const (
	hostileDevice = `<img src=x onerror=window.__netmonPwned=4>laptop`
	hostileRemote = `</script><svg onload=window.__netmonPwned=5>video.example`
	hostileAlert  = `New device <img src=x onerror=window.__netmonPwned=6>`
)

// noAccounting rewrites /metrics.json answers to say the kernel counts no
// bytes (conntrack.accounting false), as a router with
// nf_conntrack_acct=0 reports it.
func noAccounting(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics.json" {
			next.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		var m map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &m); err == nil {
			if ct, ok := m["conntrack"].(map[string]any); ok {
				ct["accounting"] = false
			}
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		json.NewEncoder(w).Encode(m)
	})
}

// nowServer runs the whole chain with rates (replayed snapshots, ingest
// loop, rates tracker written to the live state each cycle, names of a
// device and a remote host holding markup) and serves it; accounting
// false makes /metrics.json report the kernel's byte counting off.
func nowServer(t *testing.T, accountingOff bool) string {
	t.Helper()
	const interval = time.Second
	db := openStore(t)
	laptop, other := netip.MustParseAddr("10.0.0.5"), netip.MustParseAddr("10.0.0.6")
	device := func(a netip.Addr) string {
		switch a {
		case laptop:
			return "aa:bb:cc:dd:ee:05"
		case other:
			return "aa:bb:cc:dd:ee:06"
		}
		return "ip:" + a.String()
	}
	video := netip.MustParseAddr("203.0.113.80")
	ctx := context.Background()
	err := db.WriteLabels(ctx, store.Labels{
		Addrs: []store.AddrLabel{{Addr: laptop, Device: device(laptop), Name: "anna-laptop"}, {Addr: other, Device: device(other), Name: hostileDevice}},
		Dsts:  []store.DstLabel{{Client: laptop, Addr: video, Name: "video.example"}, {Client: other, Addr: video, Name: hostileRemote}},
	})
	if err != nil {
		t.Fatalf("write labels: %v", err)
	}
	tr := rates.New(3 * time.Second)
	in := &ingest.Ingester{
		Source: &source.File{Path: copyReplay(t)},
		Filter: lanFilter(t),
		Store:  db,
		Device: device,
		Logger: slog.New(slog.DiscardHandler),
	}
	in.Observe = func(now time.Time, d *flows.Delta) {
		tr.Add(now, d, device)
		if err := db.WriteRates(ctx, tr.Changes()); err != nil {
			tr.Rewrite()
		}
	}
	runLoop(t, in, interval)
	deadline := time.Now().Add(10 * time.Second)
	for in.Status().Cycles < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("fewer than two ingest cycles after 10 s: %v", in.Status().LastErr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	alerts := &nowAlerts{entries: []alert.Entry{
		{Alert: alert.Alert{ID: "a2", Kind: alert.Quota, Severity: alert.Warning, At: time.Now().Add(-2 * time.Minute),
			Title: "anna-laptop used 80% of its daily quota", Message: "8.0 GiB of 10 GiB today"}, Created: time.Now()},
		{Alert: alert.Alert{ID: "a1", Kind: alert.NewDevice, Severity: alert.Info, At: time.Now().Add(-3 * time.Hour),
			Title: hostileAlert, Message: "first seen at 10.0.0.7"}, Created: time.Now()},
	}}
	handler, err := web.New(web.Options{
		Store:         db,
		Rates:         db,
		Metrics:       sysmetrics.NewReader(sysmetrics.Options{Root: fixture("hosts", "router")}),
		Health:        ingestHealth(in),
		Interval:      interval,
		NewHostWindow: 4 * time.Second,
		TopN:          50,
		Alerts:        alerts,
	})
	if err != nil {
		t.Fatal(err)
	}
	if accountingOff {
		handler = noAccounting(handler)
	}
	url, _ := serveHandler(t, handler)
	return url
}

// The Now page's probes.
const (
	// devicesSignature is each device row's rates and sparkline: it
	// changes when a poll brings new rates or sparkline points.
	devicesSignature = `[...document.querySelectorAll("#devices li[data-device]")].map(li => li.dataset.device + "=" + li.querySelector(".drates").textContent + "@" + (li.querySelector("svg .dn") ? li.querySelector("svg .dn").getAttribute("points") : "")).join(";") + "|" + document.getElementById("total-down").textContent`
	// noSideScroll holds when the page is no wider than the viewport.
	noSideScroll = `document.documentElement.scrollWidth <= document.documentElement.clientWidth`
	// rateValue parses a humanRate text ("1.2 Mbit/s"; "–" is -1).
	rateValue = `((s) => { const m = /^([0-9.]+) ([kMGT]?)(bit|B)\/s$/.exec(s.trim()); if (!m) return -1; return Number(m[1]) * ({"": 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12})[m[2]]; })`
)

// TestNowPageInBrowser watches the Now page on a phone (390x844) and a
// desktop (1400x1000) over the whole chain with live rates: devices
// ranked with rates and sparklines, connections, live updates, no
// sideways scrolling on the phone, hostile names inert, filter and sort,
// the alerts list and the byte-counting banner, no console errors.
// NETMON_SCREENSHOTS=1 writes docs/screenshots/now-{phone,desktop}.png.
func TestNowPageInBrowser(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil && os.Getenv("CI") == "" {
		t.Skipf("no %s (apt-get install chromium); CI runs this test", chromiumPath)
	}
	url := nowServer(t, true)
	sizes := []struct {
		name          string
		width, height int64
		mobile        bool
	}{
		{"phone", 390, 844, true},
		{"desktop", 1400, 1000, false},
	}
	for _, sz := range sizes {
		t.Run(sz.name, func(t *testing.T) {
			browser := newBrowser(t)
			opts := []chromedp.EmulateViewportOption{chromedp.EmulatePortrait}
			if sz.mobile {
				opts = append(opts, chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulateScale(2))
			}
			if err := chromedp.Do(browser, chromedp.EmulateViewport(sz.width, sz.height, opts...)); err != nil {
				t.Fatalf("emulate viewport: %v", err)
			}
			errs := consoleErrors(t, browser)
			if err := chromedp.Do(browser, chromedp.Navigate(url+"/")); err != nil {
				t.Fatalf("navigate: %v", err)
			}
			eval[any](t, browser, "window.__netmonMarker = 42")

			t.Run("devices with rates and connections", func(t *testing.T) {
				waitFor(t, browser, "a device with a known rate",
					`[...document.querySelectorAll("#devices .drates .down")].some(s => /\d/.test(s.textContent))`, 10*time.Second)
				if n := eval[int](t, browser, `document.querySelectorAll("#rows tr[data-key]").length`); n == 0 {
					t.Error("no connection rows")
				}
				got := eval[map[string]string](t, browser, `({
					up: document.getElementById("total-up").textContent,
					down: document.getElementById("total-down").textContent,
					href: document.querySelector('#devices li[data-device="aa:bb:cc:dd:ee:05"] a').getAttribute("href"),
					name: document.querySelector('#devices li[data-device="aa:bb:cc:dd:ee:05"] .dname').textContent,
					addr: document.querySelector('#devices li[data-device="aa:bb:cc:dd:ee:05"] .daddr').textContent,
				})`)
				want := map[string]string{"up": got["up"], "down": got["down"], "href": "/devices/aa%3Abb%3Acc%3Add%3Aee%3A05", "name": "anna-laptop", "addr": "10.0.0.5"}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("device row (-want +got):\n%s", diff)
				}
				for _, k := range []string{"up", "down"} {
					if !strings.HasSuffix(got[k], "bit/s") {
						t.Errorf("router total %s = %q, want bits per second", k, got[k])
					}
				}
			})

			t.Run("live updates arrive", func(t *testing.T) {
				first := eval[string](t, browser, devicesSignature)
				waitFor(t, browser, "the device rates or sparklines to change", devicesSignature+` !== `+jsString(first), 15*time.Second)
				waitFor(t, browser, "a sparkline with points",
					`[...document.querySelectorAll("#devices svg .up")].some(p => p.getAttribute("points").split(" ").length >= 3)`, 15*time.Second)
				if m := eval[int](t, browser, "window.__netmonMarker"); m != 42 {
					t.Errorf("window marker = %d: the page was reloaded", m)
				}
			})

			t.Run("hostile names are text", func(t *testing.T) {
				waitFor(t, browser, "the named remote host",
					`[...document.querySelectorAll("#rows td.c-remote .main")].some(s => s.textContent === `+jsString(hostileRemote)+`)`, 10*time.Second)
				waitFor(t, browser, "the alert", `[...document.querySelectorAll("#alerts .what")].some(s => s.textContent === `+jsString(hostileAlert)+`)`, 5*time.Second)
				if n := eval[int](t, browser, `document.querySelectorAll("body img, body script, svg[onload], #rows svg").length`); n != 0 {
					t.Errorf("%d elements were made from the names", n)
				}
				if !eval[bool](t, browser, `[...document.querySelectorAll("#rows td.c-device .main")].some(s => s.textContent === `+jsString(hostileDevice)+`)`) {
					t.Error("no connection row shows the device name as text")
				}
				if got := eval[string](t, browser, `document.querySelector('#devices li[data-device="aa:bb:cc:dd:ee:06"] .dname').textContent`); got != hostileDevice {
					t.Errorf("device row name = %q, want the name as text", got)
				}
				if eval[bool](t, browser, `"__netmonPwned" in window`) {
					t.Error("a name ran as script")
				}
			})

			t.Run("byte counting banner", func(t *testing.T) {
				waitFor(t, browser, "the banner", `!document.getElementById("acct").hidden`, 10*time.Second)
				if got := eval[string](t, browser, `document.getElementById("acct").textContent`); got != "the kernel is not counting bytes: sysctl -w net.netfilter.nf_conntrack_acct=1" {
					t.Errorf("banner = %q", got)
				}
			})

			t.Run("filter", func(t *testing.T) {
				if err := chromedp.Do(browser, chromedp.SendKeys("#filter", "udp")); err != nil {
					t.Fatalf("type in the filter: %v", err)
				}
				got := eval[[]string](t, browser, `[...document.querySelectorAll("#rows tr[data-key]")].map(r => r.querySelector(".c-proto").textContent)`)
				if len(got) == 0 {
					t.Fatal("the filter udp hides every row")
				}
				for _, p := range got {
					if p != "udp" {
						t.Errorf("filter udp shows a %s row", p)
					}
				}
				all := eval[int](t, browser, `Number(document.getElementById("shown").textContent.replace(/,/g, ""))`)
				if len(got) >= all {
					t.Errorf("filter shows %d of %d rows", len(got), all)
				}
				if m := eval[string](t, browser, `document.getElementById("match").textContent`); !strings.Contains(m, " matching") {
					t.Errorf("match count = %q", m)
				}
				eval[any](t, browser, `(() => { const f = document.getElementById("filter"); f.value = ""; f.dispatchEvent(new Event("input")); })()`)
				if n := eval[int](t, browser, `document.querySelectorAll("#rows tr[data-key]").length`); n != all {
					t.Errorf("cleared filter shows %d rows, want %d", n, all)
				}
			})

			t.Run("sort", func(t *testing.T) {
				sorted := func(what, cell, parse string, dir int) {
					t.Helper()
					expr := `(() => { const v = [...document.querySelectorAll("#rows tr[data-key]")].map(r => (` + parse + `)(r.querySelector("` + cell + `"))); return v.every((x, i) => i === 0 || (` + strconv.Itoa(dir) + ` < 0 ? v[i-1] >= x : v[i-1] <= x)); })()`
					waitFor(t, browser, what, expr, 5*time.Second)
				}
				byTotal := `(td) => Number(td.title.replace(/[^0-9]/g, ""))`
				sorted("rows by total bytes, largest first (the default)", ".c-total", byTotal, -1)
				if err := chromedp.Do(browser, chromedp.Click(`th[data-sort="proto"] button`)); err != nil {
					t.Fatalf("click proto: %v", err)
				}
				sorted("rows by protocol", ".c-proto", `(td) => td.textContent`, 1)
				if got := eval[string](t, browser, `document.querySelector('th[data-sort="proto"]').getAttribute("aria-sort")`); got != "ascending" {
					t.Errorf("proto aria-sort = %q", got)
				}
				if err := chromedp.Do(browser, chromedp.Click(`th[data-sort="down_rate"] button`)); err != nil {
					t.Fatalf("click down/s: %v", err)
				}
				sorted("rows by downlink rate, highest first", ".c-downrate", `(td) => `+rateValue+`(td.textContent)`, -1)
				if err := chromedp.Do(browser, chromedp.Click(`th[data-sort="total"] button`)); err != nil {
					t.Fatalf("click total: %v", err)
				}
				sorted("rows by total bytes again", ".c-total", byTotal, -1)
			})

			t.Run("no sideways scrolling", func(t *testing.T) {
				if !eval[bool](t, browser, noSideScroll) {
					w := eval[string](t, browser, `document.documentElement.scrollWidth + " > " + document.documentElement.clientWidth`)
					t.Errorf("the page scrolls sideways: %s", w)
				}
				if sz.mobile {
					// The tiles fold into one summary line; the key numbers
					// stay in view: a card's rates and total.
					if eval[bool](t, browser, `document.getElementById("system").open`) {
						t.Error("the router figures are unfolded on a phone")
					}
					if s := eval[string](t, browser, `document.getElementById("sys-summary").textContent`); !strings.Contains(s, "load ") {
						t.Errorf("summary line = %q", s)
					}
					off := eval[int](t, browser, `[...document.querySelectorAll("#rows tr[data-key] .c-downrate, #rows tr[data-key] .c-uprate, #rows tr[data-key] .c-total, #devices .drates span")].filter(e => { const r = e.getBoundingClientRect(); return r.width === 0 || r.right > document.documentElement.clientWidth; }).length`)
					if off != 0 {
						t.Errorf("%d key numbers are hidden or beyond the right edge", off)
					}
				} else if !eval[bool](t, browser, `document.getElementById("system").open`) {
					t.Error("the router figures are folded on a desktop")
				}
			})

			// shoot writes the screenshot to docs/screenshots/now-NAME.png
			// under NETMON_SCREENSHOTS.
			t.Run("polling waits in a hidden tab", func(t *testing.T) {
				if sz.mobile {
					t.Skip("once is enough: the desktop run checks it")
				}
				hide := func(hidden bool) {
					eval[any](t, browser, `(() => { Object.defineProperty(document, "hidden", {configurable: true, get: () => `+strconv.FormatBool(hidden)+`}); document.dispatchEvent(new Event("visibilitychange")); })()`)
				}
				const polls = `Number(document.getElementById("netmon").dataset.nowPolls)`
				hide(true)
				// A poll under way when the tab hid may still finish.
				if err := chromedp.Do(browser, chromedp.Sleep(1500*time.Millisecond)); err != nil {
					t.Fatal(err)
				}
				before := eval[int](t, browser, polls)
				if err := chromedp.Do(browser, chromedp.Sleep(3*time.Second)); err != nil {
					t.Fatal(err)
				}
				if after := eval[int](t, browser, polls); after != before {
					t.Errorf("%d polls in a hidden tab", after-before)
				}
				hide(false)
				waitFor(t, browser, "polling to resume", polls+` > `+strconv.Itoa(before), 5*time.Second)
			})

			// On a phone one screen scrolled to the element scrollTo
			// selects (the page's top when ""), on a desktop the whole
			// page, which fits a README.
			shoot := func(t *testing.T, name, scrollTo string) {
				t.Helper()
				shot := chromedp.FullScreenshot(100)
				if sz.mobile {
					shot = chromedp.CaptureScreenshot()
				}
				if scrollTo == "" {
					eval[any](t, browser, "window.scrollTo(0, 0)")
				} else {
					eval[any](t, browser, `document.querySelector(`+jsString(scrollTo)+`).scrollIntoView()`)
				}
				png, err := chromedp.Run(browser, shot)
				if err != nil {
					t.Fatalf("screenshot: %v", err)
				}
				if os.Getenv("NETMON_SCREENSHOTS") == "" {
					t.Skip("NETMON_SCREENSHOTS unset: not writing docs/screenshots")
				}
				p := filepath.Join("..", "..", "docs", "screenshots", "now-"+name+".png")
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, png, 0o644); err != nil {
					t.Fatal(err)
				}
				t.Logf("screenshot written to %s", p)
			}

			t.Run("screenshot", func(t *testing.T) {
				if os.Getenv("NETMON_SCREENSHOTS") != "" {
					// Let the sparklines fill for the picture,
					if err := chromedp.Do(browser, chromedp.Sleep(20*time.Second)); err != nil {
						t.Fatal(err)
					}
				}
				// and for rates on most rows (a replay that starts over
				// reopens every connection: no rates for a cycle).
				waitFor(t, browser, "rates on the rows",
					`[...document.querySelectorAll("#rows .c-downrate")].filter(td => /\d/.test(td.textContent)).length >= 8`, 15*time.Second)
				shoot(t, sz.name, "")
				if sz.mobile {
					shoot(t, sz.name+"-connections", ".conns")
				}
			})

			t.Run("dark", func(t *testing.T) {
				_, err := chromedp.Call(browser, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
					Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}})
				if err != nil {
					t.Fatalf("emulate dark mode: %v", err)
				}
				bg := eval[string](t, browser, `getComputedStyle(document.body).backgroundColor`)
				var r, g, b int
				if _, err := fmt.Sscanf(bg, "rgb(%d, %d, %d)", &r, &g, &b); err != nil || r+g+b > 150 {
					t.Errorf("dark mode background = %q, want a dark colour", bg)
				}
				shoot(t, sz.name+"-dark", "")
			})

			t.Run("no console errors", func(t *testing.T) {
				if e := errs(); len(e) != 0 {
					t.Errorf("console errors:\n%s", strings.Join(e, "\n"))
				}
			})
		})
	}
}
