package web

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// newTextLogger logs to w for tests that check what was logged.
func newTextLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, nil))
}

func TestQuery(t *testing.T) {
	tests := []struct {
		name    string
		raw     string
		allowed []string
		wantErr string
	}{
		{name: "empty", raw: ""},
		{name: "allowed", raw: "limit=5", allowed: []string{"limit"}},
		{name: "unknown", raw: "x=1", allowed: []string{"limit"}, wantErr: `unknown query parameter "x"`},
		{name: "nothing allowed", raw: "limit=5", wantErr: `unknown query parameter "limit"`},
		{name: "repeated", raw: "limit=1&limit=1", allowed: []string{"limit"}, wantErr: `query parameter "limit" given 2 times`},
		{name: "long unknown key is cut", raw: strings.Repeat("k", 100) + "=1", wantErr: `unknown query parameter "` + strings.Repeat("k", 40) + `..."`},
		{name: "bad escape", raw: "a=%", wantErr: "malformed query string"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.URL.RawQuery = tc.raw
			_, err := query(r, tc.allowed...)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.wantErr {
				t.Errorf("query(%q) error = %q, want %q", tc.raw, got, tc.wantErr)
			}
		})
	}
}

func TestWriteJSONEncodeError(t *testing.T) {
	var logs strings.Builder
	s := &server{log: newTextLogger(&logs)}
	rec := httptest.NewRecorder()
	s.writeJSON(rec, http.StatusOK, math.NaN())
	if !strings.Contains(logs.String(), "write json") {
		t.Errorf("encode error not logged: %q", logs.String())
	}
}

func TestWriteError(t *testing.T) {
	s := &server{log: slog.New(slog.DiscardHandler)}
	rec := httptest.NewRecorder()
	s.writeError(rec, http.StatusTeapot, `bad "thing" <b>`)
	var got errorBody
	if err := json.NewDecoder(rec.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(errorBody{Error: `bad "thing" <b>`}, got); diff != "" {
		t.Errorf("error body (-want +got):\n%s", diff)
	}
	if rec.Code != http.StatusTeapot {
		t.Errorf("status %d", rec.Code)
	}
}

// TestPanicBecomes500: a panicking handler still answers, with the
// security headers, and the panic is logged.
func TestPanicBecomes500(t *testing.T) {
	var logs strings.Builder
	s := &server{log: newTextLogger(&logs)}
	h := s.secure(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	checkResponse(t, rec.Result(), http.StatusInternalServerError, "application/json; charset=utf-8")
	if !strings.Contains(logs.String(), "boom") {
		t.Errorf("panic not logged: %q", logs.String())
	}
}

func TestJSONArray(t *testing.T) {
	tests := []struct {
		name  string
		elems []any
		want  string
	}{
		{name: "empty", want: "[]\n"},
		{name: "one", elems: []any{1}, want: "[1\n]\n"},
		{name: "three", elems: []any{"a", map[string]int{"b": 2}, []int{}}, want: "[\"a\"\n,{\"b\":2}\n,[]\n]\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			a := startJSONArray(rec, http.StatusOK)
			for _, v := range tc.elems {
				if err := a.add(v); err != nil {
					t.Fatal(err)
				}
			}
			if err := a.end(); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, rec.Body.String()); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
		})
	}
}

// brokenWriter is a ResponseWriter whose connection is gone.
type brokenWriter struct{ httptest.ResponseRecorder }

var errGone = errors.New("connection reset by peer")

func (*brokenWriter) Write([]byte) (int, error) { return 0, errGone }

// TestJSONArrayWriteError: once the buffer cannot be flushed, add and end
// report the error, and keep reporting it.
func TestJSONArrayWriteError(t *testing.T) {
	a := startJSONArray(&brokenWriter{*httptest.NewRecorder()}, http.StatusOK)
	big := strings.Repeat("x", 40<<10) // more than the 32 KiB buffer
	if err := a.add(big); !errors.Is(err, errGone) {
		t.Fatalf("add past the buffer: %v, want %v", err, errGone)
	}
	if err := a.add(1); !errors.Is(err, errGone) {
		t.Errorf("add after the error: %v", err)
	}
	if err := a.end(); !errors.Is(err, errGone) {
		t.Errorf("end after the error: %v", err)
	}
	if a.n != 1 {
		t.Errorf("%d elements counted, want 1", a.n)
	}
}
