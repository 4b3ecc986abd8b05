package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/netmon-dev/netmon/pkg/device"
	"github.com/netmon-dev/netmon/pkg/history"
)

var (
	_ History   = (*fakeDirectory)(nil)
	_ Directory = (*fakeDirectory)(nil)
)

// fakeDirectory is a fakeHistory that knows who devices and remote hosts
// are, and which devices talked to a remote host.
type fakeDirectory struct {
	*fakeHistory
	devs    map[string]device.Device
	hosts   map[netip.Addr]history.Remote
	talkers []history.Total // RemoteDevices of any host it knows
	days    []history.Point // RemoteHistory of any host it knows
}

func (f *fakeDirectory) Device(_ context.Context, id string) (device.Device, bool, error) {
	d, ok := f.devs[id]
	return d, ok, nil
}

func (f *fakeDirectory) Remote(_ context.Context, a netip.Addr) (history.Remote, bool, error) {
	h, ok := f.hosts[a]
	return h, ok, nil
}

func (f *fakeDirectory) RemoteDevices(_ context.Context, a netip.Addr, _ history.Span) ([]history.Total, error) {
	if _, ok := f.hosts[a]; !ok {
		return nil, nil
	}
	return f.talkers, nil
}

func (f *fakeDirectory) RemoteHistory(_ context.Context, a netip.Addr, _ history.Span) ([]history.Point, error) {
	if _, ok := f.hosts[a]; !ok {
		return nil, nil
	}
	return f.days, nil
}

// cmpSorted compares string slices as sets.
var cmpSorted = cmpopts.SortSlices(func(a, b string) bool { return a < b })

// hostileName is a device's and a remote host's name that would run
// script if pasted into HTML, end the JSON block, or open a comment.
const hostileName = "</script><script>window.__netmonPwned=1</script><!--<img src=x onerror=alert(1)>\u2028&amp;"

// pagesFake is a directory of one device (ip:10.0.0.5, which has two of
// sampleConns) and one remote host, both with hostileName.
func pagesFake() *fakeDirectory {
	rem := netip.MustParseAddr("203.0.113.80")
	t0 := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	return &fakeDirectory{
		fakeHistory: &fakeHistory{
			devices: []history.Total{{Device: "ip:10.0.0.5", Name: hostileName, Usage: use(100, 900)}},
			pairs:   []history.Total{{Remote: rem, Name: hostileName, Usage: use(40, 400)}, {Usage: use(1, 2)}},
			points:  []history.Point{{Start: t0, Usage: use(1, 2)}, {Start: t0.Add(time.Hour), Usage: use(3, 4)}},
		},
		devs: map[string]device.Device{"ip:10.0.0.5": {ID: "ip:10.0.0.5", Addrs: []netip.Addr{netip.MustParseAddr("10.0.0.5")},
			Name: hostileName, NameSource: device.SourceConfig, Vendor: "<b>Acme</b>", FirstSeen: t0, LastSeen: now}},
		hosts:   map[netip.Addr]history.Remote{rem: {Addr: rem, Name: hostileName, NameSource: "dns", FirstSeen: t0}},
		talkers: []history.Total{{Device: "ip:10.0.0.5", Name: hostileName, Usage: use(40, 400)}},
		days:    []history.Point{{Start: t0, Usage: use(5, 6)}},
	}
}

func pagesHandler(t *testing.T, h History) http.Handler {
	t.Helper()
	srv, _ := testServer(t, func(o *Options) { o.History = h })
	return srv
}

// TestPagesStatus asks the pages and their endpoints for good, unknown
// and malformed keys and checks status and content type.
func TestPagesStatus(t *testing.T) {
	const html, js = "text/html; charset=utf-8", "application/json; charset=utf-8"
	full := pagesHandler(t, pagesFake())
	plain := pagesHandler(t, &fakeHistory{devices: []history.Total{{Device: "ip:10.0.0.5", Usage: use(1, 1)}}})
	none := pagesHandler(t, nil)
	tests := []struct {
		name     string
		h        http.Handler
		target   string
		status   int
		typ      string
		contains string // in the body
	}{
		{"a device", full, "/devices/ip:10.0.0.5", 200, html, `data-kind="device"`},
		{"an unknown device", full, "/devices/aa:bb:cc:dd:ee:99", 404, html, "No device aa:bb:cc:dd:ee:99 in the record"},
		{"not a device id", full, "/devices/%3Cb%3E", 404, html, "a device id is a MAC"},
		{"a device page with a query", full, "/devices/ip:10.0.0.5?x=1", 400, html, "unknown query parameter"},
		{"a device without a directory", plain, "/devices/aa:bb:cc:dd:ee:99", 200, html, `data-kind="device"`},
		{"a device without history", none, "/devices/ip:10.0.0.5", 503, html, "No history"},
		{"a remote host", full, "/remotes/203.0.113.80", 200, html, `data-kind="remote"`},
		{"an IPv4-mapped remote host", full, "/remotes/::ffff:203.0.113.80", 301, "text/html; charset=utf-8", `/remotes/203.0.113.80`},
		{"an IPv6 address spelt long", full, "/remotes/2001:db8:0:0::80", 301, "text/html; charset=utf-8", `/remotes/2001:db8::80`},
		{"a MAC in capitals", full, "/devices/AA:BB:CC:DD:EE:99", 301, "text/html; charset=utf-8", `/devices/aa:bb:cc:dd:ee:99`},
		{"an unknown remote host", full, "/remotes/203.0.113.1", 404, html, "No remote host 203.0.113.1"},
		{"not an address", full, "/remotes/example.com", 400, html, "Bad remote host: &#34;example.com&#34; is not an IPv4 or IPv6 address."},
		{"an address with a zone", full, "/remotes/fe80::1%25eth0", 400, html, "is not an IPv4 or IPv6 address"},
		{"history", full, "/history", 200, html, `data-kind="history"`},
		{"history of a billing month", full, "/history?period=last-billing", 200, html, `data-kind="history"`},
		{"history of an unknown period", full, "/history?period=fortnight", 400, html, "is not one of today"},
		{"history without history", none, "/history", 503, html, "No history"},
		{"api: a remote host", full, "/api/remotes/203.0.113.80?period=7d", 200, js, `"first_seen_at":"2026-11-24T00:00:00.000Z"`},
		{"api: an unknown remote host", full, "/api/remotes/203.0.113.1", 404, js, "no remote host 203.0.113.1"},
		{"api: not an address", full, "/api/remotes/nope", 400, js, `"addr: \"nope\" is not an IPv4 or IPv6 address"`},
		{"api: a bad period", full, "/api/remotes/203.0.113.80?period=x", 400, js, "period: "},
		{"api: a remote host's days", full, "/api/remotes/203.0.113.80/history?period=400d", 200, js, `"t":[1795478400]`},
		{"api: a remote host's days as CSV", full, "/api/remotes/203.0.113.80/history?format=csv", 200, "text/csv; charset=utf-8", "2026-11-24T00:00:00Z"},
		{"api: without history", none, "/api/remotes/203.0.113.80", 503, js, "no history"},
		{"a device's connections", full, "/connections.json?device=ip:10.0.0.5", 200, js, `"device":"ip:10.0.0.5"`},
		{"static: pages.js", full, "/static/pages.js", 200, "text/javascript; charset=utf-8", "use strict"},
		{"static: uPlot", full, "/static/vendor/uplot/uPlot.iife.min.js", 200, "text/javascript; charset=utf-8", "uPlot"},
		{"static: uPlot's style", full, "/static/vendor/uplot/uPlot.min.css", 200, "text/css; charset=utf-8", ".uplot"},
		{"static: uPlot's licence", full, "/static/vendor/uplot/LICENSE", 200, "text/plain; charset=utf-8", "MIT"},
		{"static: not the template", full, "/static/pages.html.tmpl", 404, js, "not found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := do(t, tc.h, http.MethodGet, tc.target)
			checkResponse(t, res, tc.status, tc.typ)
			if b := body(t, res); !strings.Contains(b, tc.contains) {
				t.Errorf("body lacks %q:\n%.2000s", tc.contains, b)
			}
		})
	}
	for _, p := range []string{"/devices/ip:10.0.0.5", "/remotes/203.0.113.80", "/history", "/api/remotes/203.0.113.80"} {
		if res := do(t, full, http.MethodPost, p); res.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("POST %s = %d, want 405", p, res.StatusCode)
		}
	}
}

// TestDevicePageGolden is the device page of a device with a hostile name.
func TestDevicePageGolden(t *testing.T) {
	res := do(t, pagesHandler(t, pagesFake()), http.MethodGet, "/devices/ip:10.0.0.5")
	checkResponse(t, res, http.StatusOK, "text/html; charset=utf-8")
	if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", cc)
	}
	golden(t, "pages-device.golden.html", body(t, res))
}

// TestErrorPageGolden is the 404 page of an unknown device.
func TestErrorPageGolden(t *testing.T) {
	res := do(t, pagesHandler(t, pagesFake()), http.MethodGet, "/devices/aa:bb:cc:dd:ee:99")
	golden(t, "pages-404.golden.html", body(t, res))
}

// TestPagesEscapes checks that hostile names stay inert data in each
// page's JSON block: no markup, nothing that ends the block or opens a
// comment, and they decode back to the very strings given.
func TestPagesEscapes(t *testing.T) {
	h := pagesHandler(t, pagesFake())
	for _, target := range []string{"/devices/ip:10.0.0.5", "/remotes/203.0.113.80", "/history"} {
		t.Run(target, func(t *testing.T) {
			page := body(t, do(t, h, http.MethodGet, target))
			for _, bad := range []string{"<img", "<script>window", "<!--", "&amp;", "\u2028", "<b>"} {
				if strings.Contains(page, bad) {
					t.Errorf("page holds raw %q", bad)
				}
			}
			// The JSON block, which CSP does not run, common.js, uPlot and pages.js.
			for _, tag := range []string{"<script", "</script"} {
				if n := strings.Count(strings.ToLower(page), tag); n != 4 {
					t.Errorf("page has %d %s, want 4", n, tag)
				}
			}
			var data pagesData
			if err := json.Unmarshal([]byte(pageBlock(t, page)), &data); err != nil {
				t.Fatalf("decode JSON block: %v", err)
			}
			names := 0
			var walk func(v any)
			walk = func(v any) {
				switch v := v.(type) {
				case map[string]any:
					for k, x := range v {
						if k == "name" && x == hostileName {
							names++
						}
						walk(x)
					}
				case []any:
					for _, x := range v {
						walk(x)
					}
				}
			}
			for _, a := range data.Answers {
				var v any
				if err := json.Unmarshal(a.Body, &v); err != nil {
					t.Fatal(err)
				}
				walk(v)
			}
			if data.Device != nil && data.Device.Name == hostileName {
				names++
			}
			if names == 0 {
				t.Errorf("the hostile name does not decode back from the block")
			}
		})
	}
}

// TestPagesBlockAnswers checks that each page's JSON block holds, for
// every URL it names, exactly what that URL answers: the first paint and
// every later fetch render the same data.
func TestPagesBlockAnswers(t *testing.T) {
	h := pagesHandler(t, pagesFake())
	tests := []struct {
		target string
		roles  []string
	}{
		{"/devices/ip:10.0.0.5", []string{"7d", "connections", "day30", "day400", "hour", "month", "now", "today", "yesterday"}},
		{"/remotes/203.0.113.80", []string{"30d", "7d", "days", "today"}},
		{"/history?period=yesterday", []string{"devices"}},
	}
	for _, tc := range tests {
		t.Run(tc.target, func(t *testing.T) {
			var data pagesData
			if err := json.Unmarshal([]byte(pageBlock(t, body(t, do(t, h, http.MethodGet, tc.target)))), &data); err != nil {
				t.Fatal(err)
			}
			var roles []string
			for r := range data.URLs {
				roles = append(roles, r)
			}
			if diff := cmp.Diff(tc.roles, roles, cmpSorted); diff != "" {
				t.Errorf("roles (-want +got):\n%s", diff)
			}
			if len(data.Answers) != len(data.URLs) {
				t.Errorf("%d answers for %d URLs", len(data.Answers), len(data.URLs))
			}
			for role, u := range data.URLs {
				a, ok := data.Answers[u]
				if !ok {
					t.Errorf("%s: no answer for %s", role, u)
					continue
				}
				res := do(t, h, http.MethodGet, u)
				want := map[string]any{"status": float64(res.StatusCode), "body": decodeJSON(t, u, body(t, res))}
				if tot := res.Header.Get("X-Total-Count"); tot != "" {
					n, _ := strconv.Atoi(tot)
					want["total"] = float64(n)
				}
				raw, _ := json.Marshal(a)
				if diff := cmp.Diff(want, decodeJSON(t, "answer", string(raw))); diff != "" {
					t.Errorf("%s: the block's answer differs from %s (-endpoint +block):\n%s", role, u, diff)
				}
			}
		})
	}
}

// TestConnectionsDevice: ?device= lists and counts only that device's
// active connections, in the list's order, up to the limit.
func TestConnectionsDevice(t *testing.T) {
	h, _ := testServer(t, nil)
	tests := []struct {
		target string
		want   []string // keys' source addresses
		total  int
	}{
		{"/connections.json?device=ip:10.0.0.5", []string{"10.0.0.5", "10.0.0.5"}, 2},
		{"/connections.json?device=ip:10.0.0.5&limit=1", []string{"10.0.0.5"}, 2},
		{"/connections.json?device=da:a1:19:6e:0f:42", []string{"10.0.0.6"}, 1},
		{"/connections.json?device=ip:10.0.0.99", []string{}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.target, func(t *testing.T) {
			res := do(t, h, http.MethodGet, tc.target)
			checkResponse(t, res, http.StatusOK, "application/json; charset=utf-8")
			var rows []connectionJSON
			if err := json.Unmarshal([]byte(body(t, res)), &rows); err != nil {
				t.Fatal(err)
			}
			got := []string{}
			for _, r := range rows {
				got = append(got, r.SrcIP)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("rows (-want +got):\n%s", diff)
			}
			if n, _ := strconv.Atoi(res.Header.Get("X-Total-Count")); n != tc.total {
				t.Errorf("X-Total-Count = %d, want %d", n, tc.total)
			}
			if res.Header.Get("X-Server-Time") == "" {
				t.Error("no X-Server-Time")
			}
		})
	}
}

// TestAPIRemote is /api/remotes/{addr}: the host and its devices.
func TestAPIRemote(t *testing.T) {
	res := do(t, pagesHandler(t, pagesFake()), http.MethodGet, "/api/remotes/203.0.113.80?period=30d")
	got := decodeJSON(t, "/api/remotes", body(t, res))
	dev := "ip:10.0.0.5"
	row := usageJSON(use(40, 400))
	row.Device, row.Name = &dev, hostileName
	raw, _ := json.Marshal(remoteJSON{Remote: "203.0.113.80", Name: hostileName, NameSource: "dns",
		FirstSeen: "2026-11-24T00:00:00.000Z", Devices: []TotalJSON{row}, Total: usageJSON(use(40, 400))})
	if diff := cmp.Diff(decodeJSON(t, "want", string(raw)), got); diff != "" {
		t.Errorf("/api/remotes/203.0.113.80 (-want +got):\n%s", diff)
	}
}
