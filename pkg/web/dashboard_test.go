package web

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/netmon-dev/netmon/pkg/sysmetrics"
)

func TestDashboardGolden(t *testing.T) {
	h, _ := testServer(t, nil)
	res := do(t, h, http.MethodGet, "/")
	checkResponse(t, res, http.StatusOK, "text/html; charset=utf-8")
	golden(t, "dashboard.golden.html", body(t, res))
}

// TestDashboardEscapes checks that hostile state text is inert in the
// server-rendered page.
func TestDashboardEscapes(t *testing.T) {
	h, _ := testServer(t, nil)
	page := body(t, do(t, h, http.MethodGet, "/"))
	for _, want := range []string{
		`<td class="state">&lt;img src=x onerror=alert(1)&gt;</td>`,
		`<td class="state">&lt;script&gt;window.__netmonPwned=1&lt;/script&gt;</td>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks escaped cell %s", want)
		}
	}
	for _, bad := range []string{"<img", "<script>window"} {
		if strings.Contains(page, bad) {
			t.Errorf("page holds raw %q", bad)
		}
	}
	// The only script is the external app.js: no inline script at all.
	if n := strings.Count(page, "<script"); n != 1 || !strings.Contains(page, `<script src="/static/app.js" defer></script>`) {
		t.Errorf("page has %d script tags, want only app.js", n)
	}
}

func TestDashboardStates(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(*Options, *fakeStore)
		want    []string
		notWant []string
	}{
		{
			name:    "rows, badges and count",
			want:    []string{`top <span id="shown">5</span> of <span id="total">5</span> connections`, `<span class="badge new">NEW</span>`, `<span class="badge seen">SEEN</span>`, `[2001:db8::80]:443`, `<td class="num" title="20598 bytes">20 KiB</td>`, "2 s ago"},
			notWant: []string{"no active outbound connections"},
		},
		{
			name: "no connections",
			edit: func(_ *Options, fs *fakeStore) { fs.conns = nil },
			want: []string{"no active outbound connections", `top <span id="shown">0</span> of <span id="total">0</span>`},
		},
		{
			name:    "system reading failed",
			edit:    func(o *Options, _ *fakeStore) { o.Metrics = &fakeMetrics{err: errors.New("read loadavg: gone")} },
			want:    []string{"system figures unavailable", `id="tile-conntrack" hidden`},
			notWant: []string{"gone"},
		},
		{
			name: "no conntrack sysctls hides the tile",
			edit: func(o *Options, _ *fakeStore) {
				s := sampleSnapshot()
				s.Conntrack = nil
				o.Metrics = &fakeMetrics{snap: s}
			},
			want: []string{`id="tile-conntrack" hidden`},
		},
		{
			name:    "conntrack tile",
			want:    []string{`1,234 / 262,144`, `<progress id="ct-bar" max="262144" value="1234">`},
			notWant: []string{`id="tile-conntrack" hidden`},
		},
		{
			name: "stale ingest",
			edit: func(_ *Options, fs *fakeStore) { fs.lastCycle = now.Add(-10 * time.Second) },
			want: []string{`<p class="big bad" id="ingest-text">10 s ago · 42 cycles</p>`, "more than 3 intervals"},
		},
		{
			name: "missing interface shows its error",
			want: []string{`<p class="small bad">interface enp3s0: no such interface</p>`, `1.5 KiB/s`, `10,116 pkts`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, _ := testServer(t, func(o *Options) {
				if tc.edit != nil {
					tc.edit(o, o.Store.(*fakeStore))
				}
			})
			page := body(t, do(t, h, http.MethodGet, "/"))
			for _, w := range tc.want {
				if !strings.Contains(page, w) {
					t.Errorf("page lacks %q", w)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(page, w) {
					t.Errorf("page holds %q", w)
				}
			}
		})
	}
}

func TestDashboardStoreError(t *testing.T) {
	h, fs := testServer(t, nil)
	fs.err = errors.New("no such table")
	checkResponse(t, do(t, h, http.MethodGet, "/"), http.StatusInternalServerError, "application/json; charset=utf-8")
}

func TestStaticAssets(t *testing.T) {
	h, _ := testServer(t, nil)
	js := body(t, do(t, h, http.MethodGet, "/static/app.js"))
	if strings.Contains(js, "innerHTML") || strings.Contains(js, "insertAdjacentHTML") || strings.Contains(js, "document.write") {
		t.Error("app.js uses an HTML-parsing sink")
	}
	for _, want := range []string{"/connections.json?limit=", "/metrics.json", "textContent", "data stale since"} {
		if !strings.Contains(js, want) {
			t.Errorf("app.js lacks %q", want)
		}
	}
	css := body(t, do(t, h, http.MethodGet, "/static/style.css"))
	if strings.Contains(css, "@import") || strings.Contains(css, "url(") {
		t.Error("style.css loads something from elsewhere")
	}
}

func TestAgo(t *testing.T) {
	tests := []struct {
		name string
		d    time.Duration
		want string
	}{
		{"future", -time.Second, "just now"},
		{"now", 0, "just now"},
		{"under a second", 999 * time.Millisecond, "just now"},
		{"seconds", 42 * time.Second, "42 s ago"},
		{"minutes", 5*time.Minute + 59*time.Second, "5 min ago"},
		{"hours", 47 * time.Hour, "47 h ago"},
		{"days", 72 * time.Hour, "3 d ago"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ago(now, now.Add(-tc.d)); got != tc.want {
				t.Errorf("ago(%s) = %q, want %q", tc.d, got, tc.want)
			}
		})
	}
}

func TestHumanBytes(t *testing.T) {
	tests := []struct {
		n    uint64
		want string
	}{
		{0, "0 B"}, {9, "9 B"}, {10, "10 B"}, {1023, "1023 B"}, {1024, "1.0 KiB"}, {1536, "1.5 KiB"},
		{20598, "20 KiB"}, {5 << 20, "5.0 MiB"}, {1 << 40, "1.0 TiB"},
	}
	for _, tc := range tests {
		if got := humanBytes(tc.n); got != tc.want {
			t.Errorf("humanBytes(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}

func TestToSystemView(t *testing.T) {
	s := sampleSnapshot()
	s.Conntrack = &sysmetrics.Conntrack{Error: "nf_conntrack_count: permission denied"}
	v := toSystemView(&s)
	if !v.Conntrack.Known || v.Conntrack.Text != "–" || v.Conntrack.Error == "" {
		t.Errorf("unreadable conntrack: %+v", v.Conntrack)
	}
	if v.MemText != "128 MiB / 512 MiB" || v.Load != "0.57  0.49  0.21" {
		t.Errorf("tiles: mem %q load %q", v.MemText, v.Load)
	}
	if got := comma(1<<63 + 1); got != "9223372036854775809" {
		t.Errorf("comma of a huge counter = %q", got)
	}
}
