package web

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestAcceptsGzip(t *testing.T) {
	tests := []struct {
		header string
		want   bool
	}{
		{"", false},
		{"gzip", true},
		{"gzip, deflate, br, zstd", true},
		{"br;q=1.0, GZIP;q=0.5", true},
		{"gzip;q=0", false},
		{"gzip; q=0.000", false},
		{"*", true},
		{"identity", false},
		{"deflate, br", false},
		{"xgzip", false},
	}
	for _, tc := range tests {
		t.Run(tc.header, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			if tc.header != "" {
				r.Header.Set("Accept-Encoding", tc.header)
			}
			if got := acceptsGzip(r); got != tc.want {
				t.Errorf("acceptsGzip(%q) = %v, want %v", tc.header, got, tc.want)
			}
		})
	}
}

// doWith runs a request for target with the given request headers.
func doWith(t *testing.T, h http.Handler, method, target string, header map[string]string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

// gunzip decompresses a whole gzip body.
func gunzip(t *testing.T, b string) string {
	t.Helper()
	zr, err := gzip.NewReader(strings.NewReader(b))
	if err != nil {
		t.Fatalf("gzip body: %v", err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("gunzip: %v", err)
	}
	return string(out)
}

// TestStaticCaching checks every embedded asset: 200 with a strong ETag,
// 304 for If-None-Match, gzip for a client that accepts it with an ETag
// of its own, and the security headers and content type on each answer.
func TestStaticCaching(t *testing.T) {
	h, _ := testServer(t, nil)
	assetsServed := []struct{ path, file, contentType string }{
		{"/static/common.js", "common.js", "text/javascript; charset=utf-8"},
		{"/static/app.js", "app.js", "text/javascript; charset=utf-8"},
		{"/static/style.css", "style.css", "text/css; charset=utf-8"},
	}
	gz := map[string]string{"Accept-Encoding": "gzip, deflate"}
	for _, a := range assetsServed {
		t.Run(a.file, func(t *testing.T) {
			want, err := assets.ReadFile("assets/" + a.file)
			if err != nil {
				t.Fatal(err)
			}
			plain := doWith(t, h, http.MethodGet, a.path, nil)
			checkResponse(t, plain, http.StatusOK, a.contentType)
			etag := plain.Header.Get("ETag")
			if !strings.HasPrefix(etag, `"`) || len(etag) < 10 {
				t.Errorf("ETag = %q, want a strong one", etag)
			}
			if got := body(t, plain); got != string(want) {
				t.Errorf("plain body differs from the embedded file")
			}
			if ce := plain.Header.Get("Content-Encoding"); ce != "" {
				t.Errorf("Content-Encoding = %q without Accept-Encoding", ce)
			}

			zipped := doWith(t, h, http.MethodGet, a.path, gz)
			checkResponse(t, zipped, http.StatusOK, a.contentType)
			if ce := zipped.Header.Get("Content-Encoding"); ce != "gzip" {
				t.Fatalf("Content-Encoding = %q, want gzip", ce)
			}
			zetag := zipped.Header.Get("ETag")
			if zetag == etag || zetag == "" {
				t.Errorf("gzip ETag = %q, plain %q: two representations need two strong ETags", zetag, etag)
			}
			zb := body(t, zipped)
			if gunzip(t, zb) != string(want) {
				t.Error("gzip body does not decompress to the file")
			}
			t.Logf("%s: %d bytes, %d gzipped", a.file, len(want), len(zb))

			tests := []struct {
				name   string
				header map[string]string
				status int
			}{
				{"plain etag", map[string]string{"If-None-Match": etag}, http.StatusNotModified},
				{"weak form", map[string]string{"If-None-Match": "W/" + etag}, http.StatusNotModified},
				{"in a list", map[string]string{"If-None-Match": `"old", ` + etag}, http.StatusNotModified},
				{"gzip etag", map[string]string{"If-None-Match": zetag, "Accept-Encoding": "gzip"}, http.StatusNotModified},
				{"gzip etag, plain client", map[string]string{"If-None-Match": zetag}, http.StatusOK},
				{"changed", map[string]string{"If-None-Match": `"0123456789"`}, http.StatusOK},
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					res := doWith(t, h, http.MethodGet, a.path, tc.header)
					if res.StatusCode != tc.status {
						t.Fatalf("status %d, want %d", res.StatusCode, tc.status)
					}
					for k, v := range securityHeaders() {
						if got := res.Header.Get(k); got != v {
							t.Errorf("%s = %q, want %q", k, got, v)
						}
					}
					if !strings.Contains(res.Header.Get("Vary"), "Accept-Encoding") {
						t.Errorf("Vary = %q", res.Header.Get("Vary"))
					}
					b := body(t, res)
					if tc.status == http.StatusNotModified && (b != "" || res.Header.Get("Content-Encoding") != "") {
						t.Errorf("304 with a body (%d bytes) or Content-Encoding %q", len(b), res.Header.Get("Content-Encoding"))
					}
				})
			}
		})
	}
}

// TestCompressResponses checks the dynamic answers: JSON, the page and
// errors are gzipped for a client that accepts it and decode to the same
// bytes; tiny bodies, HEAD and clients without gzip get them plain;
// Prometheus's own gzip is not applied twice.
func TestCompressResponses(t *testing.T) {
	h, _ := testServer(t, nil)
	tests := []struct {
		name, method, target, acceptEncoding string
		wantGzip                             bool
	}{
		{"connections", http.MethodGet, "/connections.json", "gzip", true},
		{"page", http.MethodGet, "/", "gzip", true},
		{"small json", http.MethodGet, "/metrics.json", "gzip", false},
		{"no accept-encoding", http.MethodGet, "/connections.json", "", false},
		{"refused", http.MethodGet, "/connections.json", "gzip;q=0", false},
		{"tiny body", http.MethodGet, "/healthz", "gzip", false},
		{"tiny error", http.MethodGet, "/nope", "gzip", false},
		{"head", http.MethodHead, "/connections.json", "gzip", false},
		{"prometheus", http.MethodGet, "/metrics", "gzip", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			plain := doWith(t, h, tc.method, tc.target, nil)
			want := body(t, plain)
			res := doWith(t, h, tc.method, tc.target, map[string]string{"Accept-Encoding": tc.acceptEncoding})
			if res.StatusCode != plain.StatusCode {
				t.Errorf("status %d, plain %d", res.StatusCode, plain.StatusCode)
			}
			if !strings.Contains(strings.Join(res.Header.Values("Vary"), ","), "Accept-Encoding") {
				t.Errorf("Vary = %q", res.Header.Values("Vary"))
			}
			if got, wantCT := res.Header.Get("Content-Type"), plain.Header.Get("Content-Type"); got != wantCT {
				t.Errorf("Content-Type = %q, plain %q", got, wantCT)
			}
			for k, v := range securityHeaders() {
				if got := res.Header.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			got := body(t, res)
			if isGzip := res.Header.Get("Content-Encoding") == "gzip"; isGzip != tc.wantGzip {
				t.Fatalf("Content-Encoding = %q, want gzip %v", res.Header.Get("Content-Encoding"), tc.wantGzip)
			}
			if tc.wantGzip {
				t.Logf("%s: %d bytes, %d gzipped", tc.target, len(want), len(got))
				got = gunzip(t, got)
			}
			if tc.target == "/metrics" { // scrape-time figures differ between two scrapes
				if !strings.Contains(got, "netmon_") {
					t.Error("prometheus body lacks netmon_ metrics")
				}
				return
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("body differs from the plain answer (-plain +decoded):\n%s", diff)
			}
		})
	}
}

// TestCompressAbort checks that a handler cut short by
// http.ErrAbortHandler leaves the gzip stream unfinished: the client must
// see a broken body, not a complete short one.
func TestCompressAbort(t *testing.T) {
	h := compress(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte("[" + strings.Repeat(`{"row":1},`, 500)))
		panic(http.ErrAbortHandler)
	}))
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	func() {
		defer func() {
			if v := recover(); v != http.ErrAbortHandler {
				t.Fatalf("recovered %v, want http.ErrAbortHandler", v)
			}
		}()
		h.ServeHTTP(rec, req)
	}()
	if ce := rec.Header().Get("Content-Encoding"); ce != "gzip" {
		t.Fatalf("Content-Encoding = %q, want gzip", ce)
	}
	zr, err := gzip.NewReader(bytes.NewReader(rec.Body.Bytes()))
	if err != nil {
		return // not even a header: broken, as wanted
	}
	if _, err := io.ReadAll(zr); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("reading the cut body: %v, want io.ErrUnexpectedEOF", err)
	}
}

// TestCompressFlush checks that a handler that flushes gets what it wrote
// so far to the client, gzipped when its type is text and plain when not.
func TestCompressFlush(t *testing.T) {
	tests := []struct {
		name, contentType string
		wantGzip          bool
	}{
		{"json", "application/json", true},
		{"binary", "application/octet-stream", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var flushed string
			rec := httptest.NewRecorder()
			h := compress(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tc.contentType)
				w.Write([]byte("first"))
				http.NewResponseController(w).Flush()
				flushed = rec.Body.String()
				w.Write([]byte(" second"))
			}))
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.Header.Set("Accept-Encoding", "gzip")
			h.ServeHTTP(rec, req)
			if !rec.Flushed || flushed == "" {
				t.Fatalf("nothing reached the client at the flush (flushed %v)", rec.Flushed)
			}
			got := rec.Body.String()
			if isGzip := rec.Header().Get("Content-Encoding") == "gzip"; isGzip != tc.wantGzip {
				t.Fatalf("Content-Encoding = %q, want gzip %v", rec.Header().Get("Content-Encoding"), tc.wantGzip)
			}
			if tc.wantGzip {
				got = gunzip(t, got)
			}
			if got != "first second" {
				t.Errorf("body = %q", got)
			}
		})
	}
}
