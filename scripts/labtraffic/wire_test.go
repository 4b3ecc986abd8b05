package main

import (
	"errors"
	"testing"
)

func TestParseRequest(t *testing.T) {
	tests := []struct {
		name    string
		line    string
		want    uint64
		wantErr bool
	}{
		{"zero", "GET 0", 0, false},
		{"one mebibyte", "GET 1048576", 1 << 20, false},
		{"limit", "GET 1073741824", MaxDownload, false},
		{"above limit", "GET 1073741825", 0, true},
		{"no verb", "1048576", 0, true},
		{"lower case verb", "get 10", 0, true},
		{"negative", "GET -1", 0, true},
		{"not a number", "GET ten", 0, true},
		{"trailing space", "GET 10 ", 0, true},
		{"empty", "", 0, true},
		{"overflow", "GET 99999999999999999999999", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseRequest([]byte(tt.line))
			if tt.wantErr {
				if !errors.Is(err, errBadRequest) {
					t.Fatalf("parseRequest(%q) = %d, %v; want an errBadRequest", tt.line, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("parseRequest(%q) = %d, %v; want %d", tt.line, got, err, tt.want)
			}
		})
	}
}

func TestRequestLineRoundTrip(t *testing.T) {
	for _, n := range []uint64{0, 1, 102400, 1 << 20, MaxDownload} {
		line := requestLine(n)
		if line[len(line)-1] != '\n' {
			t.Fatalf("requestLine(%d) = %q, want a trailing newline", n, line)
		}
		got, err := parseRequest(line[:len(line)-1])
		if err != nil || got != n {
			t.Errorf("parseRequest(requestLine(%d)) = %d, %v", n, got, err)
		}
	}
}
