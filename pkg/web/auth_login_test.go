package web

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// loginClient sends requests from one LAN client to a server with a
// password, carrying the cookies it was given like a browser.
type loginClient struct {
	t       *testing.T
	h       http.Handler
	remote  string
	cookies map[string]*http.Cookie
	headers map[string]string
}

func newLoginClient(t *testing.T, h http.Handler) *loginClient {
	return &loginClient{t: t, h: h, remote: "10.0.0.5:40000", cookies: map[string]*http.Cookie{}, headers: map[string]string{}}
}

func (c *loginClient) do(method, path string, form url.Values) *http.Response {
	c.t.Helper()
	var r *http.Request
	if form != nil {
		r = httptest.NewRequest(method, path, strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		r = httptest.NewRequest(method, path, nil)
	}
	r.Host = "10.0.0.1:8080"
	r.RemoteAddr = c.remote
	for k, v := range c.headers {
		r.Header.Set(k, v)
	}
	for _, ck := range c.cookies {
		r.AddCookie(ck)
	}
	rec := httptest.NewRecorder()
	c.h.ServeHTTP(rec, r)
	res := rec.Result()
	for _, ck := range res.Cookies() {
		if ck.MaxAge < 0 {
			delete(c.cookies, ck.Name)
		} else {
			c.cookies[ck.Name] = ck
		}
	}
	return res
}

// loginServer is a handler with a password and the given clock.
func loginServer(t *testing.T, clk *fakeClock) (http.Handler, *server) {
	t.Helper()
	_, fs := testServer(t, nil)
	s, err := newServer(Options{
		Store:   fs,
		Metrics: &fakeMetrics{snap: sampleSnapshot()},
		Now:     clk.now,
		Access:  &Access{Bind: "10.0.0.1:8080", PasswordHash: testHash, APIToken: testToken, SessionIdle: time.Hour},
	})
	if err != nil {
		t.Fatal(err)
	}
	return s.routes(), s
}

// step is one request of a flow and what it must answer.
type step struct {
	method, path string
	password     *string // a login form with this password
	status       int
	location     string
}

func pw(s string) *string { return &s }

func (c *loginClient) run(steps []step) {
	c.t.Helper()
	for i, st := range steps {
		var form url.Values
		if st.password != nil {
			form = url.Values{"password": {*st.password}}
		}
		res := c.do(st.method, st.path, form)
		if res.StatusCode != st.status || res.Header.Get("Location") != st.location {
			c.t.Errorf("step %d %s %s: %d to %q, want %d to %q", i, st.method, st.path,
				res.StatusCode, res.Header.Get("Location"), st.status, st.location)
		}
	}
}

func TestLoginFlow(t *testing.T) {
	clk := &fakeClock{t: now}
	h, _ := loginServer(t, clk)
	c := newLoginClient(t, h)
	c.run([]step{
		{method: "GET", path: "/", status: 303, location: "/login"},
		{method: "GET", path: "/login", status: 200},
		{method: "POST", path: "/login", password: pw("wrong"), status: 401},
		{method: "POST", path: "/login", password: pw(""), status: 401},
		{method: "POST", path: "/login", password: pw("correct horse"), status: 303, location: "/"},
	})
	ck, ok := c.cookies[sessionCookie]
	if !ok {
		t.Fatal("no session cookie after login")
	}
	got := []any{ck.HttpOnly, ck.SameSite, ck.Path, ck.MaxAge, ck.Secure}
	want := []any{true, http.SameSiteStrictMode, "/", int(SessionMaxAge / time.Second), false}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("cookie (-want +got):\n%s", diff)
	}
	c.run([]step{
		{method: "GET", path: "/", status: 200},
		{method: "GET", path: "/connections.json", status: 200},
		{method: "GET", path: "/metrics", status: 200},
		{method: "GET", path: "/login", status: 303, location: "/"},
		{method: "GET", path: "/logout", status: 200},
	})
	stolen := *ck
	c.run([]step{
		{method: "POST", path: "/logout", status: 303, location: "/login"},
		{method: "GET", path: "/", status: 303, location: "/login"},
	})
	// The cookie of the ended session is worth nothing any more.
	c.cookies[sessionCookie] = &stolen
	c.run([]step{{method: "GET", path: "/connections.json", status: 401}})

	// Idle expiry: a fresh session, unused for the idle time, ends.
	c.run([]step{{method: "POST", path: "/login", password: pw("correct horse"), status: 303, location: "/"}})
	clk.advance(59 * time.Minute)
	c.run([]step{{method: "GET", path: "/connections.json", status: 200}})
	clk.advance(time.Hour)
	c.run([]step{{method: "GET", path: "/", status: 303, location: "/login"}})
}

// TestLoginWithoutPassword: with no password there is nothing to log in
// to or out of, so every login and logout request goes to the dashboard,
// with no Access at all and with an Access that sets no password.
func TestLoginWithoutPassword(t *testing.T) {
	for _, tc := range []struct {
		name   string
		access *Access
	}{
		{"no access", nil},
		{"no password", &Access{Bind: "10.0.0.1:8080", APIToken: testToken}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, fs := testServer(t, nil)
			s, err := newServer(Options{Store: fs, Metrics: &fakeMetrics{snap: sampleSnapshot()}, Now: clock, Access: tc.access})
			if err != nil {
				t.Fatal(err)
			}
			c := newLoginClient(t, s.routes())
			c.run([]step{
				{method: "GET", path: "/login", status: 303, location: "/"},
				{method: "POST", path: "/login", password: pw("correct horse"), status: 303, location: "/"},
				{method: "GET", path: "/logout", status: 303, location: "/"},
				{method: "POST", path: "/logout", status: 303, location: "/"},
			})
		})
	}
}

func TestLoginPage(t *testing.T) {
	h, _ := loginServer(t, &fakeClock{t: now})
	c := newLoginClient(t, h)
	res := c.do("GET", "/login", nil)
	page := body(t, res)
	if got := res.Header.Get("Content-Security-Policy"); got != loginCSP {
		t.Errorf("CSP %q, want %q", got, loginCSP)
	}
	if !strings.Contains(loginCSP, "form-action 'self'") || !strings.Contains(loginCSP, "script-src 'self'") {
		t.Errorf("login CSP %q", loginCSP)
	}
	for _, want := range []string{`action="/login"`, `method="post"`, `type="password"`, `href="/static/style.css"`, `href="/static/login.css"`} {
		if !strings.Contains(page, want) {
			t.Errorf("login page lacks %s", want)
		}
	}
	for _, bad := range []string{"<script", "javascript:", " onload=", " onclick=", " onsubmit="} {
		if strings.Contains(page, bad) {
			t.Errorf("login page holds script: %s", bad)
		}
	}
	res = c.do("POST", "/login", url.Values{"password": {"<b>x</b>"}})
	page = body(t, res)
	if !strings.Contains(page, "Wrong password.") || strings.Contains(page, "<b>x</b>") {
		t.Errorf("failed login page:\n%s", page)
	}
}

func TestLoginRefusals(t *testing.T) {
	tests := []struct {
		name    string
		headers map[string]string
		body    url.Values
		status  int
	}{
		{name: "posted from another site", headers: map[string]string{"Origin": "http://attacker.example"}, body: url.Values{"password": {"correct horse"}}, status: http.StatusForbidden},
		{name: "cross-site fetch", headers: map[string]string{"Sec-Fetch-Site": "cross-site"}, body: url.Values{"password": {"correct horse"}}, status: http.StatusForbidden},
		{name: "same origin", headers: map[string]string{"Origin": "http://10.0.0.1:8080", "Sec-Fetch-Site": "same-origin"}, body: url.Values{"password": {"correct horse"}}, status: http.StatusSeeOther},
		{name: "no-referrer page: Origin null, same-origin fetch", headers: map[string]string{"Origin": "null", "Sec-Fetch-Site": "same-origin"}, body: url.Values{"password": {"correct horse"}}, status: http.StatusSeeOther},
		{name: "Origin null from elsewhere", headers: map[string]string{"Origin": "null"}, body: url.Values{"password": {"correct horse"}}, status: http.StatusForbidden},
		{name: "oversized form", body: url.Values{"password": {strings.Repeat("a", maxLoginBody)}}, status: http.StatusBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, _ := loginServer(t, &fakeClock{t: now})
			c := newLoginClient(t, h)
			c.headers = tc.headers
			if res := c.do("POST", "/login", tc.body); res.StatusCode != tc.status {
				t.Errorf("status %d, want %d", res.StatusCode, tc.status)
			}
		})
	}
}

func TestLoginBruteForce(t *testing.T) {
	clk := &fakeClock{t: now}
	h, s := loginServer(t, clk)
	c := newLoginClient(t, h)
	var got []string
	attempt := func(password string) {
		res := c.do("POST", "/login", url.Values{"password": {password}})
		got = append(got, res.Status[:3]+" "+res.Header.Get("Retry-After"))
	}
	attempt("a")
	attempt("b")
	attempt("c")             // the third failure earns a second's wait
	attempt("correct horse") // refused unchecked while waiting
	clk.advance(time.Second) //
	attempt("d")             // 2 s
	clk.advance(2 * time.Second)
	attempt("correct horse")
	want := []string{"401 ", "401 ", "401 1", "429 1", "401 2", "303 "}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("attempts (-want +got):\n%s", diff)
	}
	// Success forgot the failures.
	if n := s.guard.limiter.len(); n != 0 {
		t.Errorf("%d limiter records after the success", n)
	}
}

func TestLoginBusy(t *testing.T) {
	h, s := loginServer(t, &fakeClock{t: now})
	for range maxHashing {
		s.guard.hashing <- struct{}{}
	}
	c := newLoginClient(t, h)
	res := c.do("POST", "/login", url.Values{"password": {"correct horse"}})
	if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") != "1" {
		t.Errorf("login while %d checks run: %d, Retry-After %q", maxHashing, res.StatusCode, res.Header.Get("Retry-After"))
	}
}
