package web

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func TestSessionLifetime(t *testing.T) {
	tests := []struct {
		name  string
		steps []time.Duration // time between uses
		want  []bool          // whether each use finds the session
	}{
		{name: "used within the idle time", steps: []time.Duration{time.Minute, 59 * time.Minute, 59 * time.Minute}, want: []bool{true, true, true}},
		{name: "idle too long", steps: []time.Duration{time.Minute, time.Hour}, want: []bool{true, false}},
		{name: "ended stays ended", steps: []time.Duration{time.Hour, time.Second}, want: []bool{false, false}},
		{name: "busy but too old", steps: []time.Duration{50 * time.Minute, 50 * time.Minute, 50 * time.Minute}, want: []bool{true, true, false}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := &fakeClock{t: now}
			s := newSessions(4, time.Hour, 2*time.Hour, clk.now)
			tok := s.start()
			var got []bool
			for _, d := range tc.steps {
				clk.advance(d)
				_, ok := s.check(tok)
				got = append(got, ok)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("session found (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSessionTokens(t *testing.T) {
	clk := &fakeClock{t: now}
	s := newSessions(3, time.Hour, 24*time.Hour, clk.now)
	a := s.start()
	if len(a) != 43 {
		t.Errorf("token %q: %d characters, want 43 (32 bytes base64url)", a, len(a))
	}
	for _, forged := range []string{"", "x", a[:42], a + "A", a[:42] + "B"} {
		if _, ok := s.check(forged); ok && forged != a {
			t.Errorf("forged token %q accepted", forged)
		}
	}
	if _, ok := s.check(a); !ok {
		t.Fatal("real token refused")
	}
	s.end(a)
	if _, ok := s.check(a); ok {
		t.Error("token accepted after end")
	}
	// At capacity the least recently used session ends.
	clk.advance(time.Second)
	b := s.start()
	clk.advance(time.Second)
	c := s.start()
	clk.advance(time.Second)
	d := s.start()
	clk.advance(time.Second)
	s.check(b) // c is now the least recently used
	e := s.start()
	var alive []bool
	for _, tok := range []string{b, c, d, e} {
		_, ok := s.check(tok)
		alive = append(alive, ok)
	}
	if diff := cmp.Diff([]bool{true, false, true, true}, alive); diff != "" {
		t.Errorf("alive after eviction (-want +got):\n%s", diff)
	}
	if n := s.len(); n != 3 {
		t.Errorf("%d sessions held, want the cap 3", n)
	}
}

func TestSessionCookie(t *testing.T) {
	tests := []struct {
		name       string
		remote     string
		tls        bool
		proto      string
		wantSecure bool
	}{
		{name: "plain HTTP", remote: "10.0.0.5:1000"},
		{name: "TLS", remote: "10.0.0.5:1000", tls: true, wantSecure: true},
		{name: "proxy on this machine says https", remote: "127.0.0.1:1000", proto: "https", wantSecure: true},
		{name: "LAN client claims https", remote: "10.0.0.5:1000", proto: "https"},
		{name: "proxy on this machine says http", remote: "[::1]:1000", proto: "http"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/login", nil)
			r.RemoteAddr = tc.remote
			if tc.tls {
				r.TLS = &tls.ConnectionState{}
			}
			if tc.proto != "" {
				r.Header.Set("X-Forwarded-Proto", tc.proto)
			}
			c := sessionCookieFor(r, "tok", time.Hour)
			got := []any{c.Name, c.Path, c.HttpOnly, c.SameSite, c.Secure, c.MaxAge}
			want := []any{sessionCookie, "/", true, http.SameSiteStrictMode, tc.wantSecure, 3600}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("cookie (-want +got):\n%s", diff)
			}
		})
	}
	if c := sessionCookieFor(httptest.NewRequest(http.MethodPost, "/logout", nil), "", -1); c.MaxAge != -1 {
		t.Errorf("deleting cookie MaxAge = %d, want -1", c.MaxAge)
	}
}
