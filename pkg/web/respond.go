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
// a 500, and rejects query strings no route could want before routing.
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

// jsonArray is a JSON array that writeJSON encodes element by element,
// so a 100,000-row answer is never held in memory as one encoded buffer.
type jsonArray struct {
	n    int
	elem func(i int) any
}

// encode writes the array to w, one element at a time.
func (a jsonArray) encode(w *bufio.Writer, enc *json.Encoder) error {
	w.WriteByte('[')
	for i := range a.n {
		if i > 0 {
			w.WriteByte(',')
		}
		if err := enc.Encode(a.elem(i)); err != nil {
			return err
		}
	}
	_, err := w.WriteString("]\n")
	return err
}

// writeJSON writes v (or a jsonArray) as JSON with status. Encoding
// errors after the header is out can only be logged.
func (s *server) writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	bw := bufio.NewWriterSize(w, 32<<10)
	enc := json.NewEncoder(bw)
	var err error
	if a, ok := v.(jsonArray); ok {
		err = a.encode(bw, enc)
	} else {
		err = enc.Encode(v)
	}
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		s.log.Warn("write json", "err", err)
	}
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
