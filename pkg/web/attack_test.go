package web_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/netmon-dev/netmon/pkg/conntrack"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/netmon-dev/netmon/pkg/sysmetrics"
	"github.com/netmon-dev/netmon/pkg/web"
)

// TestRawRequests sends hand-written, hostile or odd HTTP/1.1 requests
// over a real loopback connection to the real server (web.ServeListener
// over a real store) and checks each answer's status. Every answer the
// handler writes carries the security headers; the few that net/http
// writes itself before any handler runs (a request it cannot parse, a
// header block over MaxHeaderBytes) are plain-text errors with no body of
// ours, and the connection is then closed.
func TestRawRequests(t *testing.T) {
	url, _ := serveHTTP(t, web.Options{
		Store:   openStore(t),
		Metrics: sysmetrics.NewReader(sysmetrics.Options{Root: fixture("hosts", "minimal")}),
	})
	addr := strings.TrimPrefix(url, "http://")
	req := func(lines ...string) string { return strings.Join(lines, "\r\n") + "\r\n\r\n" }
	const host = "Host: 127.0.0.1"
	tests := []struct {
		name   string
		raw    string
		status int
		// byServer: net/http answers before the handler, so the answer
		// carries no security headers of ours.
		byServer bool
	}{
		{name: "dashboard", raw: req("GET / HTTP/1.1", host), status: http.StatusOK},
		{name: "unknown path", raw: req("GET /admin HTTP/1.1", host), status: http.StatusNotFound},
		{name: "dot-dot path is cleaned, then redirected", raw: req("GET /static/../../go.mod HTTP/1.1", host), status: http.StatusTemporaryRedirect},
		{name: "escaped dot-dot", raw: req("GET /static/%2e%2e/%2e%2e/go.mod HTTP/1.1", host), status: http.StatusNotFound},
		{name: "NUL in the path", raw: req("GET /%00 HTTP/1.1", host), status: http.StatusNotFound},
		{name: "POST with a body", raw: "POST /connections.json HTTP/1.1\r\n" + host + "\r\nContent-Length: 11\r\n\r\n{\"limit\":1}", status: http.StatusMethodNotAllowed},
		{name: "PUT", raw: req("PUT / HTTP/1.1", host, "Content-Length: 0"), status: http.StatusMethodNotAllowed},
		{name: "DELETE", raw: req("DELETE /connections.json HTTP/1.1", host), status: http.StatusMethodNotAllowed},
		{name: "TRACE", raw: req("TRACE / HTTP/1.1", host), status: http.StatusMethodNotAllowed},
		{name: "OPTIONS on a route", raw: req("OPTIONS /metrics HTTP/1.1", host), status: http.StatusMethodNotAllowed},
		{name: "made-up method", raw: req("BREW /healthz HTTP/1.1", host), status: http.StatusMethodNotAllowed},
		{name: "limit in exponent form", raw: req("GET /connections.json?limit=1e9 HTTP/1.1", host), status: http.StatusBadRequest},
		{name: "limit in hex", raw: req("GET /connections.json?limit=0x10 HTTP/1.1", host), status: http.StatusBadRequest},
		{name: "limit NUL", raw: req("GET /connections.json?limit=%00 HTTP/1.1", host), status: http.StatusBadRequest},
		{name: "limit beyond int64", raw: req("GET /connections.json?limit=99999999999999999999 HTTP/1.1", host), status: http.StatusBadRequest},
		{name: "limit negative", raw: req("GET /connections.json?limit=-5 HTTP/1.1", host), status: http.StatusBadRequest},
		{name: "limit with a plus sign", raw: req("GET /connections.json?limit=+5 HTTP/1.1", host), status: http.StatusBadRequest},
		{name: "limit over MaxLimit", raw: req("GET /connections.json?limit=1000001 HTTP/1.1", host), status: http.StatusBadRequest},
		{name: "limit as markup", raw: req("GET /connections.json?limit=%3Cscript%3E HTTP/1.1", host), status: http.StatusBadRequest},
		{name: "array-style key", raw: req("GET /connections.json?limit[]=1 HTTP/1.1", host), status: http.StatusBadRequest},
		{name: "query of 4 kB", raw: req("GET /?"+strings.Repeat("a=1&", 1024)+" HTTP/1.1", host), status: http.StatusBadRequest},
		{name: "invalid UTF-8 in the query", raw: req("GET /connections.json?limit=%ff%fe HTTP/1.1", host), status: http.StatusBadRequest},
		{name: "header block over MaxHeaderBytes", raw: req("GET / HTTP/1.1", host, "X-Big: "+strings.Repeat("b", 64<<10)), status: http.StatusRequestHeaderFieldsTooLarge, byServer: true},
		{name: "URL over MaxHeaderBytes", raw: req("GET /"+strings.Repeat("u", 64<<10)+" HTTP/1.1", host), status: http.StatusRequestHeaderFieldsTooLarge, byServer: true},
		{name: "no Host header", raw: req("GET / HTTP/1.1"), status: http.StatusBadRequest, byServer: true},
		{name: "two Host headers", raw: req("GET / HTTP/1.1", host, host), status: http.StatusBadRequest, byServer: true},
		// net/http reads the body as chunked and drops Content-Length
		// (RFC 9112 6.3), then closes the connection: no smuggling.
		{name: "Content-Length and chunked together", raw: req("POST / HTTP/1.1", host, "Content-Length: 4", "Transfer-Encoding: chunked") + "0\r\n\r\n", status: http.StatusMethodNotAllowed},
		// ServeMux refuses the "*" target; without DisableGeneralOptionsHandler
		// net/http would answer 200 itself, without our headers.
		{name: "OPTIONS *", raw: req("OPTIONS * HTTP/1.1", host), status: http.StatusBadRequest},
		{name: "CONNECT", raw: req("CONNECT 203.0.113.80:443 HTTP/1.1", "Host: 203.0.113.80:443"), status: http.StatusMethodNotAllowed},
		{name: "absolute-form target", raw: req("GET http://evil.example/connections.json HTTP/1.1", "Host: evil.example"), status: http.StatusOK},
		{name: "garbage request line", raw: req("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", host), status: http.StatusBadRequest, byServer: true},
		{name: "header with a NUL", raw: req("GET / HTTP/1.1", host, "X-A: a\x00b"), status: http.StatusBadRequest, byServer: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := rawRoundTrip(t, addr, tc.raw)
			defer res.Body.Close()
			if res.StatusCode != tc.status {
				t.Errorf("status %d, want %d", res.StatusCode, tc.status)
			}
			csp := res.Header.Get("Content-Security-Policy")
			if tc.byServer {
				if csp != "" {
					t.Errorf("answer said to come from net/http carries our headers: %v", res.Header)
				}
				return
			}
			for _, h := range []string{"Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy"} {
				if res.Header.Get(h) == "" {
					t.Errorf("answer lacks %s: %v", h, res.Header)
				}
			}
			if tc.status == http.StatusMethodNotAllowed && res.Header.Get("Allow") != "GET, HEAD" {
				t.Errorf("405 with Allow %q", res.Header.Get("Allow"))
			}
		})
	}
	// The server is still there for a normal client after all of it.
	res := rawRoundTrip(t, addr, req("GET /connections.json HTTP/1.1", host))
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("connections.json after the attacks: %d", res.StatusCode)
	}
}

// rawRoundTrip writes raw on a fresh connection to addr and reads one
// response.
func rawRoundTrip(t *testing.T, addr, raw string) *http.Response {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write([]byte(raw)); err != nil {
		t.Fatalf("write request: %v", err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	return res
}

// TestMarkupThroughRealStore writes state words holding markup, quotes
// and event handlers straight into a real store (the parser refuses such
// state words, see TestHostileReplay; this checks the web layer would hold
// even if one got through; protocol and flags are typed and cannot carry
// text) and reads them back over HTTP: the JSON
// decodes to the exact bytes and holds no raw <, > or &, and so does the
// page's JSON block.
func TestMarkupThroughRealStore(t *testing.T) {
	hostile := []string{
		`<script>alert(1)</script>`,
		`<img src=x onerror=alert(1)>`,
		`"><b>bold</b>&amp;`,
		`' onmouseover='alert(1)`,
		"</td></tr><tr><td>\u2028\u2029",
	}
	db := openStore(t)
	now := time.Date(2026, 11, 25, 17, 0, 0, 0, time.UTC)
	var flows []conntrack.Entry
	for i, s := range hostile {
		flows = append(flows, outbound("tcp", "10.0.0.5", uint16(40000+i), "203.0.113.80", 443, s, "ASSURED", 0, uint64(1000-i), 0, 0))
	}
	fill(t, db, now, flows)
	url, _ := serveHTTP(t, web.Options{
		Store:   db,
		Metrics: sysmetrics.NewReader(sysmetrics.Options{Root: fixture("hosts", "minimal")}),
		Now:     func() time.Time { return now },
	})

	raw := get(t, url+"/connections.json")
	if i := strings.IndexAny(raw, "<>&"); i >= 0 {
		t.Errorf("JSON holds a raw %q: ...%s...", raw[i], raw[max(0, i-20):min(len(raw), i+20)])
	}
	var got []struct {
		State string `json:"state"`
	}
	if err := json.Unmarshal([]byte(raw), &got); err != nil {
		t.Fatalf("decode JSON: %v", err)
	}
	var states []string
	for _, c := range got {
		states = append(states, c.State)
	}
	if diff := cmp.Diff(hostile, states); diff != "" {
		t.Errorf("states through JSON (-stored +decoded):\n%s", diff)
	}

	// The page carries them only in its JSON block, JSON-escaped as
	// /connections.json does: no <, > or & that could end the block.
	page := get(t, url+"/")
	const open = `<script type="application/json" id="netmon-data">`
	_, rest, _ := strings.Cut(page, open)
	block, outside, _ := strings.Cut(rest, "</script>")
	if i := strings.IndexAny(block, "<>&"); i >= 0 {
		t.Errorf("JSON block holds a raw %q", block[i])
	}
	for _, s := range hostile {
		if strings.Contains(outside, s) {
			t.Errorf("page holds %q outside the JSON block", s)
		}
	}
	var data struct {
		Connections struct {
			Rows []struct {
				State string `json:"state"`
			} `json:"rows"`
		} `json:"connections"`
	}
	if err := json.Unmarshal([]byte(block), &data); err != nil {
		t.Fatalf("decode the JSON block: %v", err)
	}
	states = states[:0]
	for _, c := range data.Connections.Rows {
		states = append(states, c.State)
	}
	if diff := cmp.Diff(hostile, states); diff != "" {
		t.Errorf("states through the JSON block (-stored +decoded):\n%s", diff)
	}
	if n := strings.Count(page, "<script"); n != 3 {
		t.Errorf("page has %d <script tags, want the JSON block, common.js and app.js", n)
	}
}

// get fetches url, which must answer 200, and returns the body.
func get(t *testing.T, url string) string {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, res.StatusCode, b)
	}
	return string(b)
}

// TestSlowClients opens many slow connections at once against a server
// with shortened timeouts (production: web.ReadHeaderTimeout and friends):
// headers dripped a byte at a time (the deadline is absolute, so dripping
// does not extend it), a body dripped after complete headers, and an idle
// keep-alive connection. Each is cut off, and a normal client polling
// meanwhile gets every answer.
func TestSlowClients(t *testing.T) {
	handler, err := web.New(web.Options{
		Store:   openStore(t),
		Metrics: sysmetrics.NewReader(sysmetrics.Options{Root: fixture("hosts", "minimal")}),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := web.NewServer("", handler, nil)
	srv.ReadHeaderTimeout = 300 * time.Millisecond
	srv.ReadTimeout = 600 * time.Millisecond
	srv.IdleTimeout = 600 * time.Millisecond
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	addr := ln.Addr().String()

	const each = 10
	kinds := []struct {
		name   string
		prefix string // sent at once
		drip   bool   // then one byte every 50 ms
	}{
		{"headers a byte at a time", "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ", true},
		{"body a byte at a time", "POST /connections.json HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n", true},
		{"idle keep-alive", "GET /favicon.ico HTTP/1.1\r\nHost: x\r\n\r\n", false},
	}
	type outcome struct {
		kind string
		took time.Duration
		err  error
	}
	results := make(chan outcome, each*len(kinds))
	for _, k := range kinds {
		for range each {
			go func() {
				took, err := holdUntilCut(addr, k.prefix, k.drip, 10*time.Second)
				results <- outcome{k.name, took, err}
			}()
		}
	}

	// A normal client meanwhile.
	client := &http.Client{Timeout: 10 * time.Second}
	stop := time.Now().Add(1500 * time.Millisecond)
	served := 0
	for time.Now().Before(stop) {
		res, err := client.Get("http://" + addr + "/connections.json")
		if err != nil {
			t.Fatalf("normal client among slow ones: %v", err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("normal client among slow ones: status %d", res.StatusCode)
		}
		served++
		time.Sleep(20 * time.Millisecond)
	}

	slowest := map[string]time.Duration{}
	for range each * len(kinds) {
		o := <-results
		if o.err != nil {
			t.Errorf("%s: %v", o.kind, o.err)
		}
		slowest[o.kind] = max(slowest[o.kind], o.took)
	}
	t.Logf("normal client served %d requests meanwhile; slowest cut-off per kind: %v", served, slowest)
}

// holdUntilCut sends prefix on a new connection, then (drip) a byte every
// 50 ms, reading whatever the server answers, and returns how long the
// server took to close the connection, or an error if it was still open
// after limit.
func holdUntilCut(addr, prefix string, drip bool, limit time.Duration) (time.Duration, error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	start := time.Now()
	if _, err := io.WriteString(conn, prefix); err != nil {
		return time.Since(start), nil
	}
	buf := make([]byte, 4096)
	for time.Since(start) < limit {
		if drip {
			if _, err := conn.Write([]byte("a")); err != nil {
				return time.Since(start), nil // reset: cut off
			}
		}
		conn.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		_, err := conn.Read(buf)
		var ne net.Error
		switch {
		case err == nil: // part of an answer: keep reading
		case errors.As(err, &ne) && ne.Timeout(): // still open, nothing said
		default:
			return time.Since(start), nil // EOF or reset: cut off
		}
	}
	return limit, fmt.Errorf("still connected after %v", limit)
}
