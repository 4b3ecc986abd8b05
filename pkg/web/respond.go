package web

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
)

// contentSecurityPolicy allows only this origin's own script, style and
// fetches: no inline script, no remote origin, no framing.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; " +
	"img-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; " +
	"form-action 'none'; frame-ancestors 'none'"

// maxQuery bounds the raw query string; the longest legitimate one is
// "limit=1000000".
const maxQuery = 256

// secure sets the security headers on every response, turns a panic into
// a 500, admits the request (Access: client address, Host header, login)
// and rejects query strings no route could want before routing.
func (s *server) secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("handler panic", "path", r.URL.Path, "panic", fmt.Sprint(v))
				s.writeError(w, http.StatusInternalServerError, "internal error")
			}
		}()
		if !s.admit(w, r) {
			return
		}
		if len(r.URL.RawQuery) > maxQuery {
			s.writeError(w, http.StatusBadRequest, fmt.Sprintf("query string longer than %d bytes", maxQuery))
			return
		}
		if _, err := url.ParseQuery(r.URL.RawQuery); err != nil {
			s.writeError(w, http.StatusBadRequest, "malformed query string")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// query returns the request's parameters after checking that it holds
// only the allowed keys, each at most once.
func query(r *http.Request, allowed ...string) (url.Values, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, errors.New("malformed query string")
	}
	for k, v := range q {
		if !slices.Contains(allowed, k) {
			return nil, fmt.Errorf("unknown query parameter %q", truncate(k))
		}
		if len(v) > 1 {
			return nil, fmt.Errorf("query parameter %q given %d times", k, len(v))
		}
	}
	return q, nil
}

// truncate shortens client input before it is echoed in an error.
func truncate(s string) string {
	const max = 40
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}

// errorBody is the JSON of every error response.
type errorBody struct {
	Error string `json:"error"`
}

// startJSON sets the JSON headers, sends status and returns the body's
// 32 KiB buffer; the caller flushes it.
func startJSON(w http.ResponseWriter, status int) *bufio.Writer {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	return bufio.NewWriterSize(w, 32<<10)
}

// writeJSON writes v as JSON with status. Encoding errors after the
// header is out can only be logged.
func (s *server) writeJSON(w http.ResponseWriter, status int, v any) {
	bw := startJSON(w, status)
	err := json.NewEncoder(bw).Encode(v)
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		s.log.Warn("write json", "err", err)
	}
}

// jsonArray is a JSON array response written element by element through
// the 32 KiB buffer, so a 100,000-row answer is held in memory neither as
// rows nor as one encoded buffer: memory stays the same however long the
// array. Each element ends in a newline, so "[" elem "\n," elem "\n]\n".
type jsonArray struct {
	bw  *bufio.Writer
	enc *json.Encoder
	n   int   // elements written
	err error // first error encoding or writing (the client went away)
}

// startJSONArray sends the JSON headers and status and opens the array.
func startJSONArray(w http.ResponseWriter, status int) *jsonArray {
	bw := startJSON(w, status)
	bw.WriteByte('[')
	return &jsonArray{bw: bw, enc: json.NewEncoder(bw)}
}

// add writes v as the next element. After an error every call returns
// it again.
func (a *jsonArray) add(v any) error {
	if a.err != nil {
		return a.err
	}
	if a.n > 0 {
		a.bw.WriteByte(',') // a failure sticks in bw: Encode returns it
	}
	a.n++
	a.err = a.enc.Encode(v)
	return a.err
}

// end closes the array and flushes the buffer.
func (a *jsonArray) end() error {
	if a.err != nil {
		return a.err
	}
	a.bw.WriteString("]\n")
	a.err = a.bw.Flush()
	return a.err
}

// writeError writes {"error": msg} with status.
func (s *server) writeError(w http.ResponseWriter, status int, msg string) {
	s.writeJSON(w, status, errorBody{Error: msg})
}

// serverError logs err and answers 500 without leaking its text.
func (s *server) serverError(w http.ResponseWriter, r *http.Request, err error) {
	s.log.Error("request", "path", r.URL.Path, "err", err)
	s.writeError(w, http.StatusInternalServerError, "internal error")
}

// notFound answers paths no route lists.
func (s *server) notFound(w http.ResponseWriter, r *http.Request) {
	s.writeError(w, http.StatusNotFound, "not found")
}

// methodNotAllowed answers listed paths asked with a method other than
// GET or HEAD.
func (s *server) methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Allow", "GET, HEAD")
	s.writeError(w, http.StatusMethodNotAllowed, "method not allowed")
}

// noContent answers the browser's favicon request without a 404 in its
// console.
func (s *server) noContent(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "max-age=86400")
	w.WriteHeader(http.StatusNoContent)
}
