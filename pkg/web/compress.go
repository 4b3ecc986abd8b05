package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// minGzip is the smallest body worth compressing: below it gzip's 18
// bytes of framing and the CPU buy nothing.
const minGzip = 1024

// acceptsGzip reports whether the request's Accept-Encoding admits gzip
// (a q=0 refuses it).
func acceptsGzip(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept-Encoding") {
		for part := range strings.SplitSeq(v, ",") {
			coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			coding = strings.TrimSpace(coding)
			if !strings.EqualFold(coding, "gzip") && coding != "*" {
				continue
			}
			q := 1.0
			if k, v, ok := strings.Cut(params, "="); ok && strings.TrimSpace(k) == "q" {
				if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
					q = f
				}
			}
			return q > 0
		}
	}
	return false
}

// compressible reports whether a body of this Content-Type is text that
// gzip shrinks (images and archives are compressed already).
func compressible(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return strings.HasPrefix(mt, "text/") || mt == "application/json" || mt == "image/svg+xml"
}

// gzipPool holds the dynamic responses' writers: a gzip.Writer costs
// about 800 KB to make.
var gzipPool = sync.Pool{New: func() any {
	w, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed)
	return w
}}

// compress gzips the text responses of next for clients that accept it,
// once a body passes minGzip, and marks every response Vary:
// Accept-Encoding. A response that already has a Content-Encoding (the
// static assets, compressed once at startup; Prometheus, which
// negotiates its own) or no body (HEAD, 204, 304) passes untouched. A
// handler that panics (http.ErrAbortHandler: a list cut short) leaves the
// gzip stream unfinished, so the client sees a broken response, never a
// complete-looking short one.
func compress(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Vary", "Accept-Encoding")
		if r.Method == http.MethodHead || !acceptsGzip(r) {
			next.ServeHTTP(w, r)
			return
		}
		gw := &gzipWriter{ResponseWriter: w}
		next.ServeHTTP(gw, r)
		gw.finish()
	})
}

// gzipWriter buffers the first minGzip bytes of a body to decide, then
// either compresses it or passes it through.
type gzipWriter struct {
	http.ResponseWriter
	status int          // set by WriteHeader; 0 until then
	buf    []byte       // the body so far while undecided
	gz     *gzip.Writer // non-nil once compressing
	plain  bool         // decided: not compressed
}

// Unwrap lets http.ResponseController reach the connection.
func (g *gzipWriter) Unwrap() http.ResponseWriter { return g.ResponseWriter }

func (g *gzipWriter) WriteHeader(code int) {
	if g.status != 0 || g.plain || g.gz != nil {
		return
	}
	if code >= 100 && code < 200 {
		g.ResponseWriter.WriteHeader(code)
		return
	}
	g.status = code
	h := g.Header()
	if code == http.StatusNoContent || code == http.StatusNotModified ||
		h.Get("Content-Encoding") != "" || !compressible(h.Get("Content-Type")) {
		g.passThrough()
	}
}

// passThrough decides against compression and sends what is held.
func (g *gzipWriter) passThrough() {
	g.plain = true
	g.ResponseWriter.WriteHeader(g.statusOr200())
	if len(g.buf) > 0 {
		g.ResponseWriter.Write(g.buf)
		g.buf = nil
	}
}

func (g *gzipWriter) statusOr200() int {
	if g.status == 0 {
		return http.StatusOK
	}
	return g.status
}

func (g *gzipWriter) Write(p []byte) (int, error) {
	switch {
	case g.plain:
		return g.ResponseWriter.Write(p)
	case g.gz != nil:
		return g.gz.Write(p)
	}
	if g.status == 0 {
		g.WriteHeader(http.StatusOK) // as net/http does on a first Write
		if g.plain {
			return g.ResponseWriter.Write(p)
		}
	}
	if len(g.buf)+len(p) < minGzip {
		g.buf = append(g.buf, p...)
		return len(p), nil
	}
	g.startGzip()
	return g.gz.Write(p)
}

// startGzip sends the header with Content-Encoding and the body held.
func (g *gzipWriter) startGzip() {
	h := g.Header()
	h.Set("Content-Encoding", "gzip")
	h.Del("Content-Length")
	g.ResponseWriter.WriteHeader(g.statusOr200())
	g.gz = gzipPool.Get().(*gzip.Writer)
	g.gz.Reset(g.ResponseWriter)
	if len(g.buf) > 0 {
		g.gz.Write(g.buf)
		g.buf = nil
	}
}

// Flush sends what is written so far: a handler that flushes wants the
// client to see it now.
func (g *gzipWriter) Flush() {
	if g.status == 0 && !g.plain && g.gz == nil {
		g.WriteHeader(http.StatusOK) // decides by the Content-Type
	}
	switch {
	case g.gz != nil:
		g.gz.Flush()
	case !g.plain:
		g.startGzip()
		g.gz.Flush()
	}
	http.NewResponseController(g.ResponseWriter).Flush()
}

// finish ends the body: closes the gzip stream, or sends a small body as
// it is.
func (g *gzipWriter) finish() {
	switch {
	case g.gz != nil:
		g.gz.Close()
		gzipPool.Put(g.gz)
		g.gz = nil
	case !g.plain && (g.status != 0 || len(g.buf) > 0):
		g.passThrough()
	}
}

// asset is an embedded file ready to serve: its bytes, their gzip form
// (nil when it does not shrink) and a strong ETag for each, computed
// once.
type asset struct {
	contentType string
	body, gz    []byte
	etag        string // of body; the gzip form's is etag with "-gz" inside the quotes
}

// newAsset hashes and compresses b.
func newAsset(b []byte, contentType string) *asset {
	sum := sha256.Sum256(b)
	a := &asset{contentType: contentType, body: b, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
	if len(b) >= minGzip {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		zw.Write(b)
		zw.Close()
		if buf.Len() < len(b) {
			a.gz = buf.Bytes()
		}
	}
	return a
}

// serve answers with the asset, or 304 when If-None-Match names the
// representation the client would get. Cache-Control no-cache: the
// browser keeps the file and asks each time whether it changed, so a new
// build is never hidden behind a stale cache.
func (a *asset) serve(w http.ResponseWriter, r *http.Request) {
	body, etag := a.body, a.etag
	h := w.Header()
	if a.gz != nil && acceptsGzip(r) {
		body, etag = a.gz, strings.TrimSuffix(a.etag, `"`)+`-gz"`
		h.Set("Content-Encoding", "gzip")
	}
	h.Set("Content-Type", a.contentType)
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", etag)
	if etagMatch(r.Header.Get("If-None-Match"), etag) {
		h.Del("Content-Encoding")
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Write(body)
}

// etagMatch reports whether an If-None-Match value lists etag (or is
// "*"); a weak "W/" form of it matches too, as RFC 9110's weak
// comparison for If-None-Match says.
func etagMatch(header, etag string) bool {
	for part := range strings.SplitSeq(header, ",") {
		p := strings.TrimSpace(part)
		if p == "*" || strings.TrimPrefix(p, "W/") == etag {
			return true
		}
	}
	return false
}
