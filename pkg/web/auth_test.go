package web

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/crypto/bcrypt"
)

// testToken is the bearer token of the tests that set one.
const testToken = "tok-0123456789abcdef"

// testHash is the bcrypt hash of "correct horse", at the lowest cost so
// the tests stay fast (netmon passwd uses bcrypt.DefaultCost).
var testHash = func() []byte {
	h, err := bcrypt.GenerateFromPassword([]byte("correct horse"), bcrypt.MinCost)
	if err != nil {
		panic(err)
	}
	return h
}()

// request builds a request from remote to local with the Host header
// host, as net/http hands it to the handler.
func request(method, target, host, remote, local string) *http.Request {
	r := httptest.NewRequest(method, target, nil)
	r.Host = host
	r.RemoteAddr = remote
	if local != "" {
		addr := net.TCPAddrFromAddrPort(netip.MustParseAddrPort(local))
		r = r.WithContext(context.WithValue(r.Context(), http.LocalAddrContextKey, addr))
	}
	return r
}

func TestNormalHost(t *testing.T) {
	tests := map[string]string{
		"10.0.0.1:8080":        "10.0.0.1",
		"Router.LAN.":          "router.lan",
		"[fd00::1]:8080":       "fd00::1",
		"[::1]":                "::1",
		"localhost":            "localhost",
		"":                     "",
		"netmon.example:80":    "netmon.example",
		"NETMON.example.:8080": "netmon.example",
	}
	for in, want := range tests {
		if got := normalHost(in); got != want {
			t.Errorf("normalHost(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestAllowedHost(t *testing.T) {
	g, err := newGuard(&Access{Bind: "10.0.0.1:8080", AllowedHosts: []string{"router.lan", "Netmon.Example."}}, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	wild, err := newGuard(&Access{Bind: "0.0.0.0:8080"}, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		g     *guard
		host  string
		local string // the address the connection came in on
		want  bool
	}{
		{name: "bound address", g: g, host: "10.0.0.1:8080", want: true},
		{name: "bound address without port", g: g, host: "10.0.0.1", want: true},
		{name: "localhost", g: g, host: "localhost:8080", want: true},
		{name: "a .localhost name", g: g, host: "netmon.localhost:8080", want: true},
		{name: "loopback v4", g: g, host: "127.0.0.1:8080", want: true},
		{name: "loopback v6", g: g, host: "[::1]:8080", want: true},
		{name: "allowed name", g: g, host: "router.lan:8080", want: true},
		{name: "allowed name, other case, trailing dot", g: g, host: "NETMON.example.", want: true},
		{name: "rebinding name", g: g, host: "attacker.example:8080"},
		{name: "name ending like an allowed one", g: g, host: "evilrouter.lan"},
		{name: "name starting like localhost", g: g, host: "localhost.attacker.example"},
		{name: "empty", g: g, host: ""},
		{name: "other address", g: g, host: "10.0.0.2:8080"},
		{name: "wildcard bind: the address the connection came to", g: wild, host: "192.168.1.1:8080", local: "192.168.1.1:8080", want: true},
		{name: "wildcard bind: v6 connection address", g: wild, host: "[fd00::1]:8080", local: "[fd00::1]:8080", want: true},
		{name: "wildcard bind: another address", g: wild, host: "192.168.1.2:8080", local: "192.168.1.1:8080"},
		{name: "wildcard bind: the unspecified address is no name", g: wild, host: "0.0.0.0:8080", local: "192.168.1.1:8080"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := request(http.MethodGet, "/", tc.host, "10.0.0.5:40000", tc.local)
			if got := tc.g.allowedHost(r); got != tc.want {
				t.Errorf("allowedHost(Host: %q) = %v, want %v", tc.host, got, tc.want)
			}
		})
	}
}

func TestAllowedClient(t *testing.T) {
	g, err := newGuard(&Access{AllowFrom: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/24"), netip.MustParsePrefix("fd00::/64")}}, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	open, err := newGuard(&Access{}, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		g      *guard
		remote string
		want   bool
	}{
		{g, "10.0.0.5:1234", true},
		{g, "[::ffff:10.0.0.5]:1234", true},
		{g, "[fd00::5]:1234", true},
		{g, "10.0.1.5:1234", false},
		{g, "127.0.0.1:1234", false},
		{g, "[fd00:0:0:1::5]:1234", false},
		{g, "garbage", false},
		{open, "203.0.113.80:1234", true},
	}
	for _, tc := range tests {
		if got := tc.g.allowedClient(request(http.MethodGet, "/", "localhost", tc.remote, "")); got != tc.want {
			t.Errorf("allowedClient(%s) = %v, want %v", tc.remote, got, tc.want)
		}
	}
}

func TestNewGuardRefuses(t *testing.T) {
	tests := []struct {
		name string
		a    Access
		want string
	}{
		{"not a bcrypt hash", Access{PasswordHash: []byte("hunter2")}, "password hash"},
		{"short token", Access{APIToken: "abc"}, "api token"},
		{"empty allowed host", Access{AllowedHosts: []string{"."}}, "allowed host"},
		{"invalid prefix", Access{AllowFrom: []netip.Prefix{{}}}, "allow_from"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := newGuard(&tc.a, time.Now)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("newGuard error = %v, want one naming %q", err, tc.want)
			}
		})
	}
}

// TestAdmit runs every gate through the real handler: status and where a
// refused browser is sent.
func TestAdmit(t *testing.T) {
	access := &Access{
		Bind:         "10.0.0.1:8080",
		AllowFrom:    []netip.Prefix{netip.MustParsePrefix("10.0.0.0/24")},
		PasswordHash: testHash,
		APIToken:     testToken,
	}
	h, _ := testServer(t, func(o *Options) { o.Access = access })
	noLogin, _ := testServer(t, func(o *Options) { o.Access = &Access{Bind: "10.0.0.1:8080"} })
	tests := []struct {
		name     string
		h        http.Handler
		method   string
		path     string
		host     string
		remote   string
		auth     string // Authorization header
		status   int
		location string
	}{
		{name: "outside allow_from, even for a public path", path: "/login", remote: "10.0.1.9:5000", status: http.StatusForbidden},
		{name: "outside allow_from with the right token", path: "/metrics", remote: "192.0.2.1:5000", auth: "Bearer " + testToken, status: http.StatusForbidden},
		{name: "rebinding host", path: "/connections.json", host: "attacker.example", status: http.StatusMisdirectedRequest},
		{name: "rebinding host on /metrics", path: "/metrics", host: "attacker.example:8080", auth: "Bearer " + testToken, status: http.StatusMisdirectedRequest},
		{name: "no host", path: "/", host: "-", status: http.StatusMisdirectedRequest},
		{name: "page without login", path: "/", status: http.StatusSeeOther, location: "/login"},
		{name: "unknown page without login", path: "/admin", status: http.StatusSeeOther, location: "/login"},
		{name: "logout page without login", path: "/logout", status: http.StatusSeeOther, location: "/login"},
		{name: "JSON without login", path: "/connections.json", status: http.StatusUnauthorized},
		{name: "metrics without login", path: "/metrics", status: http.StatusUnauthorized},
		{name: "POST without login", method: http.MethodPost, path: "/logout", status: http.StatusUnauthorized},
		{name: "login page is public", path: "/login", status: http.StatusOK},
		{name: "style is public", path: "/static/style.css", status: http.StatusOK},
		{name: "login style is public", path: "/static/login.css", status: http.StatusOK},
		{name: "token on metrics", path: "/metrics", auth: "Bearer " + testToken, status: http.StatusOK},
		{name: "token on JSON", path: "/connections.json", auth: "bearer " + testToken, status: http.StatusOK},
		{name: "token on metrics.json", path: "/metrics.json", auth: "Bearer " + testToken, status: http.StatusOK},
		{name: "token on healthz", path: "/healthz", auth: "Bearer " + testToken, status: http.StatusOK},
		{name: "token on the page", path: "/", auth: "Bearer " + testToken, status: http.StatusForbidden},
		{name: "token with POST", method: http.MethodPost, path: "/connections.json", auth: "Bearer " + testToken, status: http.StatusForbidden},
		{name: "wrong token", path: "/metrics", auth: "Bearer " + testToken + "x", status: http.StatusUnauthorized},
		{name: "basic auth is no token", path: "/metrics", auth: "Basic " + testToken, status: http.StatusUnauthorized},
		{name: "login off: dashboard", h: noLogin, path: "/", status: http.StatusOK},
		{name: "login off: login page sends home", h: noLogin, path: "/login", status: http.StatusSeeOther, location: "/"},
		{name: "login off: still the Host check", h: noLogin, path: "/", host: "attacker.example", status: http.StatusMisdirectedRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hh := tc.h
			if hh == nil {
				hh = h
			}
			method := tc.method
			if method == "" {
				method = http.MethodGet
			}
			host := tc.host
			switch host {
			case "":
				host = "10.0.0.1:8080"
			case "-":
				host = ""
			}
			remote := tc.remote
			if remote == "" {
				remote = "10.0.0.5:40000"
			}
			r := request(method, tc.path, host, remote, "10.0.0.1:8080")
			if tc.auth != "" {
				r.Header.Set("Authorization", tc.auth)
			}
			rec := httptest.NewRecorder()
			hh.ServeHTTP(rec, r)
			res := rec.Result()
			if res.StatusCode != tc.status {
				t.Errorf("status %d, want %d", res.StatusCode, tc.status)
			}
			if got := res.Header.Get("Location"); got != tc.location {
				t.Errorf("Location %q, want %q", got, tc.location)
			}
			if res.Header.Get("Content-Security-Policy") == "" || res.Header.Get("X-Frame-Options") != "DENY" {
				t.Errorf("answer lacks the security headers: %v", res.Header)
			}
			if tc.status == http.StatusUnauthorized && !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("401 without a Bearer challenge: %v", res.Header)
			}
		})
	}
}

// TestWrongTokensAreLimited checks that bearer-token guesses count
// against the same per-client limit as passwords.
func TestWrongTokensAreLimited(t *testing.T) {
	h, _ := testServer(t, func(o *Options) {
		o.Access = &Access{Bind: "10.0.0.1:8080", PasswordHash: testHash, APIToken: testToken}
	})
	var got []int
	for i := range freeFailures + 1 {
		r := request(http.MethodGet, "/metrics", "10.0.0.1:8080", "10.0.0.7:1000", "")
		r.Header.Set("Authorization", "Bearer guess-"+strings.Repeat("x", i+16))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		got = append(got, rec.Code)
	}
	// Even the right token waits now.
	r := request(http.MethodGet, "/metrics", "10.0.0.1:8080", "10.0.0.7:1000", "")
	r.Header.Set("Authorization", "Bearer "+testToken)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	got = append(got, rec.Code)
	want := []int{401, 401, 401, 429, 429}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	if ra := rec.Header().Get("Retry-After"); ra != "1" {
		t.Errorf("Retry-After = %q, want 1", ra)
	}
}

func TestPathClasses(t *testing.T) {
	tests := []struct {
		path          string
		token, public bool
	}{
		{"/", false, false},
		{"/connections.json", true, false},
		{"/metrics.json", true, false},
		{"/metrics", true, false},
		{"/healthz", true, false},
		{"/login", false, true},
		{"/logout", false, false},
		{"/static/app.js", false, true},
		{"/favicon.ico", false, true},
		{"/metrics/", false, false},
	}
	for _, tc := range tests {
		if got := tokenPath(tc.path); got != tc.token {
			t.Errorf("tokenPath(%q) = %v", tc.path, got)
		}
		if got := publicPath(tc.path); got != tc.public {
			t.Errorf("publicPath(%q) = %v", tc.path, got)
		}
	}
}
