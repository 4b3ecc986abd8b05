package sink

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/netmon-dev/netmon/pkg/alert"
)

func TestClean(t *testing.T) {
	tests := []struct {
		in   string
		max  int
		want string
	}{
		{"plain", 100, "plain"},
		{"a\r\nX-Injected: 1", 100, "a  X-Injected: 1"},
		{"nul\x00esc\x1b[31m", 100, "nul esc [31m"},
		{"bad \xff utf8", 100, "bad \uFFFD utf8"},
		{"line\u2028sep", 100, "line sep"},
		{"ÄÖÜ", 3, "Ä"},
		{"  trimmed\n", 100, "trimmed"},
	}
	for _, tt := range tests {
		if got := Clean(tt.in, tt.max); got != tt.want {
			t.Errorf("Clean(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
		}
	}
}

func TestHeaderValue(t *testing.T) {
	tests := map[string]string{
		"New device: laptop":     "New device: laptop",
		"evil\r\nSet-Cookie: x":  "evil  Set-Cookie: x",
		"Wohnzimmer-Fernseher ü": "=?utf-8?b?V29obnppbW1lci1GZXJuc2VoZXIgw7w=?=",
	}
	for in, want := range tests {
		if got := headerValue(in, 250); got != want {
			t.Errorf("headerValue(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestPostStatus: how an answer maps to delivered, retry and give up.
func TestPostStatus(t *testing.T) {
	tests := []struct {
		code      int
		header    map[string]string
		wantErr   bool
		permanent bool
		after     time.Duration
	}{
		{code: 200}, {code: 204},
		{code: 400, wantErr: true, permanent: true},
		{code: 404, wantErr: true, permanent: true},
		{code: 302, header: map[string]string{"Location": "/elsewhere"}, wantErr: true, permanent: true},
		{code: 408, wantErr: true},
		{code: 429, header: map[string]string{"Retry-After": "30"}, wantErr: true, after: 30 * time.Second},
		{code: 500, wantErr: true},
		{code: 503, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.code), func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tt.code)
				w.Write([]byte("why\r\nnot"))
			}))
			defer srv.Close()
			err := post(context.Background(), newClient(), srv.URL, http.Header{}, []byte("{}"))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if err == nil {
				return
			}
			var perm *alert.PermanentError
			if errors.As(err, &perm) != tt.permanent {
				t.Errorf("err %v: permanent = %v, want %v", err, !tt.permanent, tt.permanent)
			}
			var se *StatusError
			if !errors.As(err, &se) || se.Code != tt.code || se.After != tt.after || se.Body != "why  not" {
				t.Errorf("status error %+v", se)
			}
		})
	}
}

func TestPostUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	err := post(context.Background(), newClient(), url, http.Header{}, nil)
	var perm *alert.PermanentError
	if err == nil || errors.As(err, &perm) {
		t.Errorf("a closed port: err = %v, want a retryable error", err)
	}
}
