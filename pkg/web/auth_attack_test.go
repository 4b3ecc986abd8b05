package web_test

import (
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/crypto/bcrypt"

	"github.com/netmon-dev/netmon/pkg/sysmetrics"
	"github.com/netmon-dev/netmon/pkg/web"
)

// attackToken is the API token of the servers below.
const attackToken = "scrape-0123456789abcdef"

// movableClock is a clock the test moves while the server runs.
type movableClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *movableClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *movableClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// guardedServer serves a real store behind access on a loopback port;
// the bind address is filled in from the listener.
func guardedServer(t *testing.T, access web.Access, clk *movableClock) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close() // only to learn a free port for Bind
	access.Bind = ln.Addr().String()
	handler, err := web.New(web.Options{
		Store:   openStore(t),
		Metrics: sysmetrics.NewReader(sysmetrics.Options{Root: fixture("hosts", "minimal")}),
		Access:  &access,
		Now:     clk.now,
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err = net.Listen("tcp", access.Bind)
	if err != nil {
		t.Fatal(err)
	}
	srv := web.NewServer("", handler, nil)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// TestRawRequestsAccess sends hand-written requests over real loopback
// connections to a server with a password and an API token: DNS
// rebinding, missing Host, forged and expired cookies, wrong tokens and
// guessed passwords.
func TestRawRequestsAccess(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("correct horse"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	clk := &movableClock{t: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}
	addr := guardedServer(t, web.Access{PasswordHash: hash, APIToken: attackToken, SessionIdle: time.Hour}, clk)
	host := "Host: " + addr
	req := func(lines ...string) string { return strings.Join(lines, "\r\n") + "\r\n\r\n" }
	post := func(path, hostLine, body string, more ...string) string {
		lines := append([]string{"POST " + path + " HTTP/1.1", hostLine,
			"Content-Type: application/x-www-form-urlencoded",
			"Content-Length: " + strconv.Itoa(len(body))}, more...)
		return strings.Join(lines, "\r\n") + "\r\n\r\n" + body
	}

	// A real login, for the cookie the later cases forge and outlive.
	res := rawRoundTrip(t, addr, post("/login", host, "password=correct+horse"))
	res.Body.Close()
	var cookie string
	for _, c := range res.Cookies() {
		if c.Name == "netmon_session" {
			cookie = c.Value
		}
	}
	if res.StatusCode != http.StatusSeeOther || cookie == "" {
		t.Fatalf("login: %d, cookie %q", res.StatusCode, cookie)
	}
	flip := []byte(cookie)
	flip[0] ^= 1

	tests := []struct {
		name   string
		raw    string
		status int
	}{
		{name: "rebinding name on the JSON", raw: req("GET /connections.json HTTP/1.1", "Host: attacker.example", "Cookie: netmon_session="+cookie), status: http.StatusMisdirectedRequest},
		{name: "rebinding name on the metrics, with the token", raw: req("GET /metrics HTTP/1.1", "Host: attacker.example:"+port(addr), "Authorization: Bearer "+attackToken), status: http.StatusMisdirectedRequest},
		{name: "rebinding name on the login", raw: post("/login", "Host: attacker.example", "password=x"), status: http.StatusMisdirectedRequest},
		{name: "absolute-form target naming another host", raw: req("GET http://attacker.example/connections.json HTTP/1.1", "Host: attacker.example"), status: http.StatusMisdirectedRequest},
		{name: "HTTP/1.0 without Host", raw: req("GET /connections.json HTTP/1.0"), status: http.StatusMisdirectedRequest},
		{name: "localhost name", raw: req("GET /healthz HTTP/1.1", "Host: localhost:"+port(addr), "Authorization: Bearer "+attackToken), status: http.StatusServiceUnavailable},
		{name: "the session", raw: req("GET /connections.json HTTP/1.1", host, "Cookie: netmon_session="+cookie), status: http.StatusOK},
		{name: "no cookie", raw: req("GET /connections.json HTTP/1.1", host), status: http.StatusUnauthorized},
		{name: "no cookie, the page", raw: req("GET / HTTP/1.1", host), status: http.StatusSeeOther},
		{name: "forged cookie", raw: req("GET /connections.json HTTP/1.1", host, "Cookie: netmon_session="+string(flip)), status: http.StatusUnauthorized},
		{name: "made-up cookie", raw: req("GET / HTTP/1.1", host, "Cookie: netmon_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), status: http.StatusSeeOther},
		{name: "token", raw: req("GET /metrics HTTP/1.1", host, "Authorization: Bearer "+attackToken), status: http.StatusOK},
		{name: "token for the page", raw: req("GET / HTTP/1.1", host, "Authorization: Bearer "+attackToken), status: http.StatusForbidden},
		{name: "wrong token", raw: req("GET /metrics HTTP/1.1", host, "Authorization: Bearer "+attackToken[:len(attackToken)-1]), status: http.StatusUnauthorized},
		{name: "token as basic auth", raw: req("GET /metrics HTTP/1.1", host, "Authorization: Basic "+attackToken), status: http.StatusUnauthorized},
		{name: "cross-site login post", raw: post("/login", host, "password=correct+horse", "Origin: http://attacker.example"), status: http.StatusForbidden},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := rawRoundTrip(t, addr, tc.raw)
			defer res.Body.Close()
			if res.StatusCode != tc.status {
				t.Errorf("status %d, want %d", res.StatusCode, tc.status)
			}
			for _, h := range []string{"Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy"} {
				if res.Header.Get(h) == "" {
					t.Errorf("answer lacks %s: %v", h, res.Header)
				}
			}
		})
	}

	t.Run("expired session", func(t *testing.T) {
		clk.advance(61 * time.Minute)
		res := rawRoundTrip(t, addr, req("GET /connections.json HTTP/1.1", host, "Cookie: netmon_session="+cookie))
		res.Body.Close()
		if res.StatusCode != http.StatusUnauthorized {
			t.Errorf("status %d after the idle time, want 401", res.StatusCode)
		}
	})

	t.Run("brute force", func(t *testing.T) {
		var got []int
		for i := range 5 {
			res := rawRoundTrip(t, addr, post("/login", host, "password=guess"+strconv.Itoa(i)))
			res.Body.Close()
			got = append(got, res.StatusCode)
		}
		// Even the right password is refused unchecked while the client waits.
		res := rawRoundTrip(t, addr, post("/login", host, url.Values{"password": {"correct horse"}}.Encode()))
		res.Body.Close()
		got = append(got, res.StatusCode)
		want := []int{401, 401, 401, 429, 429, 429}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("statuses (-want +got):\n%s", diff)
		}
		if ra := res.Header.Get("Retry-After"); ra == "" {
			t.Error("429 without Retry-After")
		}
	})
}

// TestRawRequestsAllowFrom checks that a client outside allow_from is
// refused before anything else, a right Host header and token included.
func TestRawRequestsAllowFrom(t *testing.T) {
	clk := &movableClock{t: time.Now()}
	addr := guardedServer(t, web.Access{AllowFrom: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/24")}, APIToken: attackToken}, clk)
	for _, path := range []string{"/", "/login", "/metrics", "/static/style.css", "/nope"} {
		res := rawRoundTrip(t, addr, "GET "+path+" HTTP/1.1\r\nHost: "+addr+"\r\nAuthorization: Bearer "+attackToken+"\r\n\r\n")
		res.Body.Close()
		if res.StatusCode != http.StatusForbidden {
			t.Errorf("GET %s from 127.0.0.1 outside allow_from: %d, want 403", path, res.StatusCode)
		}
	}
}

func port(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}
