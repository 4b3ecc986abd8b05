package web

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// blockStart opens the page's one JSON block.
const blockStart = `<script type="application/json" id="netmon-data">`

// pageBlock returns the text of the page's JSON block, up to the first
// </script>: a string in the data that could end the block would cut it
// short here, as it would in a browser, and the text would not decode.
func pageBlock(t *testing.T, page string) string {
	t.Helper()
	_, rest, ok := strings.Cut(page, blockStart)
	if !ok {
		t.Fatalf("page has no %s", blockStart)
	}
	block, _, ok := strings.Cut(rest, "</script>")
	if !ok {
		t.Fatal("the JSON block is not closed")
	}
	return block
}

// decodeJSON decodes s into a generic value, so that two documents compare
// field by field whatever Go types wrote them.
func decodeJSON(t *testing.T, what, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("decode %s: %v\n%s", what, err, s)
	}
	return v
}

func TestDashboardGolden(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Options)
	}{
		{"dashboard.golden.html", nil},
		{"dashboard-rates-alerts.golden.html", func(o *Options) { o.Rates, o.Alerts = sampleRates(), sampleAlerts() }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, _ := testServer(t, tc.edit)
			res := do(t, h, http.MethodGet, "/")
			checkResponse(t, res, http.StatusOK, "text/html; charset=utf-8")
			if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", cc)
			}
			golden(t, tc.name, body(t, res))
		})
	}
}

// TestDashboardData checks that the JSON block holds exactly what the
// polled endpoints answer at the same moment, so the first paint and
// every poll go through the same rendering of the same data: /api/now
// with the connections when the server reads rates, /connections.json
// when it does not, /metrics.json, and /api/alerts when it reads alerts.
func TestDashboardData(t *testing.T) {
	tests := []struct {
		name       string
		target     string // the page; its rows are /connections.json?limit= or /api/now?limit=
		edit       func(*Options, *fakeStore)
		limit      int
		noMetrics  bool
		wantWindow float64
		logout     bool
	}{
		{name: "top n rows", target: "/", edit: func(o *Options, _ *fakeStore) { o.TopN = 3 }, limit: 3, wantWindow: 60},
		{name: "limit from the query", target: "/?limit=2", limit: 2, wantWindow: 60},
		{name: "default top n", target: "/", limit: DefaultTopN, wantWindow: 60},
		{name: "no connections", target: "/", edit: func(_ *Options, fs *fakeStore) { fs.conns = nil }, limit: DefaultTopN, wantWindow: 60},
		{name: "new-host window", target: "/", edit: func(o *Options, _ *fakeStore) { o.NewHostWindow = 90 * time.Second }, limit: DefaultTopN, wantWindow: 90},
		{name: "stale ingest", target: "/", edit: func(_ *Options, fs *fakeStore) { fs.lastCycle = now.Add(-10 * time.Second) }, limit: DefaultTopN, wantWindow: 60},
		{
			name: "system reading failed", target: "/", limit: DefaultTopN, wantWindow: 60, noMetrics: true,
			edit: func(o *Options, _ *fakeStore) { o.Metrics = &fakeMetrics{err: errors.New("read loadavg: gone")} },
		},
		{name: "rates", target: "/", edit: func(o *Options, _ *fakeStore) { o.Rates = sampleRates() }, limit: DefaultTopN, wantWindow: 60},
		{name: "rates, limit", target: "/?limit=2", edit: func(o *Options, _ *fakeStore) { o.Rates = sampleRates() }, limit: 2, wantWindow: 60},
		{
			name: "rates, limit beyond /api/now's", target: "/?limit=20000", limit: MaxNowLimit, wantWindow: 60,
			edit: func(o *Options, _ *fakeStore) { o.Rates = sampleRates() },
		},
		{name: "alerts", target: "/", edit: func(o *Options, _ *fakeStore) { o.Alerts = sampleAlerts() }, limit: DefaultTopN, wantWindow: 60},
		{name: "no alerts yet", target: "/", edit: func(o *Options, _ *fakeStore) { o.Alerts = &fakeAlerts{} }, limit: DefaultTopN, wantWindow: 60},
		{
			name: "login on", target: "/", limit: DefaultTopN, wantWindow: 60, logout: true,
			edit: func(o *Options, _ *fakeStore) {
				o.Access = &Access{Bind: "10.0.0.1:8080", PasswordHash: testHash, SessionIdle: time.Hour}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var opts Options
			h, _ := testServer(t, func(o *Options) {
				if tc.edit != nil {
					tc.edit(o, o.Store.(*fakeStore))
				}
				opts = *o
			})
			var client *loginClient
			if tc.logout {
				client = newLoginClient(t, h)
				client.run([]step{{method: "POST", path: "/login", password: pw("correct horse"), status: 303, location: "/"}})
			}
			get := func(target string) *http.Response {
				t.Helper()
				if client != nil {
					return client.do(http.MethodGet, target, nil)
				}
				return do(t, h, http.MethodGet, target)
			}
			page := body(t, get(tc.target))
			got := decodeJSON(t, "JSON block", pageBlock(t, page))

			want := map[string]any{
				"limit":                   float64(tc.limit),
				"new_host_window_seconds": tc.wantWindow,
				"alerts_limit":            float64(DashboardAlerts),
				"logout":                  tc.logout,
				"now":                     nil,
				"connections":             nil,
				"metrics":                 nil,
				"alerts":                  nil,
			}
			if opts.Rates != nil {
				res := get("/api/now?limit=" + strconv.Itoa(tc.limit))
				want["now"] = decodeJSON(t, "/api/now", body(t, res))
			} else {
				conns := get("/connections.json?limit=" + strconv.Itoa(tc.limit))
				total, err := strconv.Atoi(conns.Header.Get("X-Total-Count"))
				if err != nil {
					t.Fatalf("X-Total-Count: %v", err)
				}
				want["connections"] = map[string]any{
					"rows":        decodeJSON(t, "/connections.json", body(t, conns)),
					"total":       float64(total),
					"server_time": conns.Header.Get("X-Server-Time"),
				}
			}
			if res := get("/metrics.json"); tc.noMetrics {
				if res.StatusCode != http.StatusInternalServerError {
					t.Fatalf("/metrics.json = %d, want 500 with the reading failing", res.StatusCode)
				}
			} else {
				want["metrics"] = decodeJSON(t, "/metrics.json", body(t, res))
			}
			if opts.Alerts != nil {
				want["alerts"] = decodeJSON(t, "/api/alerts", body(t, get("/api/alerts?limit="+strconv.Itoa(DashboardAlerts))))
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("JSON block differs from the endpoints' answers (-endpoints +block):\n%s", diff)
			}
			if strings.Contains(page, "gone") {
				t.Error("the page leaks the metrics error")
			}
		})
	}
}

// TestDashboardEscapes checks that hostile state text stays inert data in
// the JSON block: no markup, nothing that ends the block or opens a
// comment, and it decodes back to the very string stored.
func TestDashboardEscapes(t *testing.T) {
	hostile := []string{
		`</script><script>window.__netmonPwned=1</script>`,
		`<!--<script>`,
		`</SCRIPT >&amp;`,
		"\u2028line\u2029separators",
	}
	h, _ := testServer(t, func(o *Options) {
		fs := o.Store.(*fakeStore)
		for i, s := range hostile {
			fs.conns[i].State = s
		}
	})
	page := body(t, do(t, h, http.MethodGet, "/"))
	for _, bad := range []string{"<img", "<script>window", "<!--", "</SCRIPT", "&amp;", "\u2028"} {
		if strings.Contains(page, bad) {
			t.Errorf("page holds raw %q", bad)
		}
	}
	// Three scripts: the JSON block, which CSP does not run, common.js
	// and app.js.
	if n := strings.Count(strings.ToLower(page), "<script"); n != 3 {
		t.Errorf("page has %d <script tags, want 3", n)
	}
	if n := strings.Count(strings.ToLower(page), "</script"); n != 3 {
		t.Errorf("page has %d </script, want 3", n)
	}
	if !strings.Contains(page, `<script src="/static/app.js" defer></script>`) {
		t.Error("page lacks app.js")
	}
	var data pageData
	if err := json.Unmarshal([]byte(pageBlock(t, page)), &data); err != nil {
		t.Fatalf("decode JSON block: %v", err)
	}
	var got []string
	for _, c := range data.Connections.Rows[:len(hostile)] {
		got = append(got, c.State)
	}
	if diff := cmp.Diff(hostile, got); diff != "" {
		t.Errorf("states through the JSON block (-stored +decoded):\n%s", diff)
	}
}

// TestDashboardSkeleton checks that the template carries no data of its
// own: with an empty store the page is the same skeleton, only the block
// differs.
func TestDashboardSkeleton(t *testing.T) {
	full, _ := testServer(t, nil)
	empty, _ := testServer(t, func(o *Options) { o.Store.(*fakeStore).conns = nil })
	skeleton := func(h http.Handler) string {
		page := body(t, do(t, h, http.MethodGet, "/"))
		return strings.Replace(page, pageBlock(t, page), "", 1)
	}
	if diff := cmp.Diff(skeleton(full), skeleton(empty)); diff != "" {
		t.Errorf("skeleton changes with the data (-full +empty):\n%s", diff)
	}
}

func TestDashboardStoreError(t *testing.T) {
	h, fs := testServer(t, nil)
	fs.err = errors.New("no such table")
	checkResponse(t, do(t, h, http.MethodGet, "/"), http.StatusInternalServerError, "application/json; charset=utf-8")
}

func TestStaticAssets(t *testing.T) {
	h, _ := testServer(t, nil)
	for _, name := range []string{"common.js", "app.js"} {
		js := body(t, do(t, h, http.MethodGet, "/static/"+name))
		if strings.Contains(js, "innerHTML") || strings.Contains(js, "insertAdjacentHTML") || strings.Contains(js, "document.write") {
			t.Errorf("%s uses an HTML-parsing sink", name)
		}
	}
	js := body(t, do(t, h, http.MethodGet, "/static/app.js"))
	for _, want := range []string{"/api/now?limit=", "&since=", "/connections.json?limit=", "/metrics.json", "/api/alerts?limit=", "textContent", "data stale since", "netmon-data", "NM.poll"} {
		if !strings.Contains(js, want) {
			t.Errorf("app.js lacks %q", want)
		}
	}
	// Protocol knowledge stays with the server, which sends endpoints as
	// text.
	for _, proto := range []string{`"tcp"`, `"udp"`, `"icmp"`, "src_port", "dst_port"} {
		if strings.Contains(js, proto) {
			t.Errorf("app.js knows about %s", proto)
		}
	}
	css := body(t, do(t, h, http.MethodGet, "/static/style.css"))
	if strings.Contains(css, "@import") || strings.Contains(css, "url(") {
		t.Error("style.css loads something from elsewhere")
	}
}
