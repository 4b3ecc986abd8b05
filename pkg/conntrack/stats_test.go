package conntrack

import (
	"errors"
	"testing"
)

func TestParseErrorError(t *testing.T) {
	tests := []struct {
		name string
		err  *ParseError
		want string
	}{
		{name: "with field", err: &ParseError{Line: 3, Column: 44, Field: "dst", Reason: "not an IP address"}, want: "line 3 col 44: dst: not an IP address"},
		{name: "whole line", err: &ParseError{Line: 1, Column: 1, Reason: "empty line"}, want: "line 1 col 1: empty line"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.err.Error(); got != tc.want {
				t.Errorf("Error() = %q, want %q", got, tc.want)
			}
			if !errors.Is(tc.err, ErrMalformed) {
				t.Error("ParseError does not wrap ErrMalformed")
			}
		})
	}
}

func TestTrailerMismatch(t *testing.T) {
	tests := []struct {
		name  string
		stats Stats
		want  bool
	}{
		{name: "no trailer", stats: Stats{Lines: 5, Reported: -1}, want: false},
		{name: "agrees", stats: Stats{Lines: 29, Entries: 28, Skipped: 1, Reported: 29}, want: false},
		{name: "lines went missing", stats: Stats{Lines: 28, Reported: 29}, want: true},
		{name: "empty table", stats: Stats{Reported: 0}, want: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.stats.TrailerMismatch(); got != tc.want {
				t.Errorf("TrailerMismatch() = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestListenStatsLost(t *testing.T) {
	for _, tc := range []struct {
		s    ListenStats
		want bool
	}{
		{ListenStats{Listening: true, Received: 10, Kept: 5}, false},
		{ListenStats{Overruns: 1}, true},
		{ListenStats{Dropped: 1}, true},
		{ListenStats{Undecoded: 1}, true},
		{ListenStats{Restarts: 1}, true},
	} {
		if got := tc.s.Lost(); got != tc.want {
			t.Errorf("%+v.Lost() = %v, want %v", tc.s, got, tc.want)
		}
	}
}
