package web

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// securityHeaders are the headers every response must carry.
func securityHeaders() map[string]string {
	return map[string]string{
		"Content-Security-Policy": contentSecurityPolicy,
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "no-referrer",
		"X-Frame-Options":         "DENY",
	}
}

func TestContentSecurityPolicy(t *testing.T) {
	for _, want := range []string{"default-src 'self'", "script-src 'self'", "frame-ancestors 'none'", "object-src 'none'"} {
		if !strings.Contains(contentSecurityPolicy, want) {
			t.Errorf("CSP lacks %q", want)
		}
	}
	for _, bad := range []string{"unsafe-inline", "unsafe-eval", "http:", "https:", "*"} {
		if strings.Contains(contentSecurityPolicy, bad) {
			t.Errorf("CSP allows %q", bad)
		}
	}
}

// TestRouteMethodMatrix asks every route with every method, plus unknown
// paths and bad queries, and checks status, content type and the
// security headers on each response, errors included.
func TestRouteMethodMatrix(t *testing.T) {
	h, _ := testServer(t, nil)
	routes := []struct {
		path        string
		contentType string // of a GET
		getStatus   int
	}{
		{"/", "text/html; charset=utf-8", http.StatusOK},
		{"/static/common.js", "text/javascript; charset=utf-8", http.StatusOK},
		{"/static/app.js", "text/javascript; charset=utf-8", http.StatusOK},
		{"/static/style.css", "text/css; charset=utf-8", http.StatusOK},
		{"/favicon.ico", "", http.StatusNoContent},
		{"/connections.json", "application/json; charset=utf-8", http.StatusOK},
		{"/metrics.json", "application/json; charset=utf-8", http.StatusOK},
		{"/metrics", "text/plain; version=0.0.4; charset=utf-8; escaping=underscores", http.StatusOK},
		{"/healthz", "application/json; charset=utf-8", http.StatusOK},
	}
	methods := []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch, http.MethodOptions, "PROPFIND"}
	for _, rt := range routes {
		for _, m := range methods {
			t.Run(m+" "+rt.path, func(t *testing.T) {
				res := do(t, h, m, rt.path)
				wantStatus, wantType := rt.getStatus, rt.contentType
				if m != http.MethodGet && m != http.MethodHead {
					wantStatus, wantType = http.StatusMethodNotAllowed, "application/json; charset=utf-8"
					if got := res.Header.Get("Allow"); got != "GET, HEAD" {
						t.Errorf("Allow = %q, want GET, HEAD", got)
					}
				}
				checkResponse(t, res, wantStatus, wantType)
			})
		}
	}
	others := []struct {
		name, method, target string
		status               int
	}{
		{"unknown path", http.MethodGet, "/nope", http.StatusNotFound},
		{"unknown path with POST", http.MethodPost, "/nope", http.StatusNotFound},
		{"directory of the assets", http.MethodGet, "/static/", http.StatusNotFound},
		{"template source", http.MethodGet, "/static/index.html.tmpl", http.StatusNotFound},
		{"trailing slash", http.MethodGet, "/connections.json/", http.StatusNotFound},
		{"oversized query", http.MethodGet, "/connections.json?limit=1&x=" + strings.Repeat("a", 300), http.StatusBadRequest},
		{"oversized query on unknown path", http.MethodGet, "/nope?" + strings.Repeat("a", 300), http.StatusBadRequest},
		{"bad escape", http.MethodGet, "/connections.json?limit=%zz", http.StatusBadRequest},
		{"semicolon", http.MethodGet, "/connections.json?limit=1;limit=2", http.StatusBadRequest},
		{"unknown parameter", http.MethodGet, "/connections.json?foo=1", http.StatusBadRequest},
		{"repeated limit", http.MethodGet, "/connections.json?limit=1&limit=2", http.StatusBadRequest},
		{"parameter on healthz", http.MethodGet, "/healthz?verbose=1", http.StatusBadRequest},
		{"parameter on metrics.json", http.MethodGet, "/metrics.json?x", http.StatusBadRequest},
		{"parameter on metrics", http.MethodGet, "/metrics?name[]=x", http.StatusBadRequest},
		{"bad limit on dashboard", http.MethodGet, "/?limit=-1", http.StatusBadRequest},
	}
	for _, tc := range others {
		t.Run(tc.name, func(t *testing.T) {
			checkResponse(t, do(t, h, tc.method, tc.target), tc.status, "application/json; charset=utf-8")
		})
	}
}

// checkResponse checks status, content type and security headers, and
// that JSON responses are not cached.
func checkResponse(t *testing.T, res *http.Response, status int, contentType string) {
	t.Helper()
	if res.StatusCode != status {
		t.Errorf("status = %d, want %d", res.StatusCode, status)
	}
	if got := res.Header.Get("Content-Type"); got != contentType {
		t.Errorf("Content-Type = %q, want %q", got, contentType)
	}
	got := map[string]string{}
	for k := range securityHeaders() {
		got[k] = res.Header.Get(k)
	}
	if diff := cmp.Diff(securityHeaders(), got); diff != "" {
		t.Errorf("security headers (-want +got):\n%s", diff)
	}
	if strings.HasPrefix(contentType, "application/json") {
		if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("JSON Cache-Control = %q, want no-store", cc)
		}
	}
}

// FuzzQueryString sends arbitrary query strings to every endpoint that
// reads one. Properties: the answer is 200 or 400 (never a 500 or a
// panic), and it carries the security headers.
func FuzzQueryString(f *testing.F) {
	for _, q := range []string{"", "limit=200", "limit=-1", "limit=%zz", "limit=1;x", "limit=1&limit=2", "x=" + strings.Repeat("y", 300), "limit=99999999999999999999"} {
		f.Add(q)
	}
	h, _ := testServer(f, nil)
	f.Fuzz(func(t *testing.T, q string) {
		for _, path := range []string{"/", "/connections.json", "/metrics.json", "/healthz"} {
			req := httptest.NewRequest(http.MethodGet, path, nil)
			req.URL.RawQuery = q
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK && rec.Code != http.StatusBadRequest {
				t.Fatalf("%s?%q: status %d", path, q, rec.Code)
			}
			if rec.Header().Get("Content-Security-Policy") != contentSecurityPolicy {
				t.Fatalf("%s?%q: no CSP", path, q)
			}
		}
	})
}
