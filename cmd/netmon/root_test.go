package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestExitCode(t *testing.T) {
	tests := []struct {
		name     string
		err      error
		want     int
		wantText string
	}{
		{"success", nil, 0, ""},
		{"usage", usageError{errors.New("unknown flag: --tpo")}, 2, "netmon: unknown flag: --tpo\nRun 'netmon --help' for usage.\n"},
		{"wrapped usage", errors.Join(errors.New("x"), usageError{errors.New("config: interval: must be > 0")}), 2, ""},
		{"failure", errors.New("run conntrack: exit status 1"), 1, "netmon: run conntrack: exit status 1\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			if got := exitCode(&stderr, tt.err); got != tt.want {
				t.Errorf("exitCode = %d, want %d", got, tt.want)
			}
			if tt.wantText != "" && stderr.String() != tt.wantText {
				t.Errorf("stderr = %q, want %q", stderr.String(), tt.wantText)
			}
		})
	}
}

// TestRootCommand runs the real command tree the way main does.
func TestRootCommand(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string // substring of stdout
		wantErr  string // substring of the error line
	}{
		{name: "version", args: []string{"--version"}, wantOut: "netmon version 1.2.3 (commit abc, built today)"},
		{name: "help lists the commands", args: []string{"--help"}, wantOut: "print-outbound"},
		{name: "unknown flag", args: []string{"print-outbound", "--tpo", "3"}, wantCode: 2, wantErr: "unknown flag: --tpo"},
		{name: "bad output", args: []string{"print-outbound", "--output", "xml", "--input-file", fixture("conntrack", "router_extended.txt")}, wantCode: 2, wantErr: `--output must be table or json, got "xml"`},
		{name: "negative top", args: []string{"print-outbound", "--top", "-1", "--input-file", fixture("conntrack", "router_extended.txt")}, wantCode: 2, wantErr: "--top must be >= 0"},
		{name: "bad config value", args: []string{"print-outbound", "--local-subnets", "0.0.0.0/0"}, wantCode: 2, wantErr: "config: local_subnets"},
		{name: "missing input file", args: []string{"print-outbound", "--input-file", "/nonexistent/capture.txt"}, wantCode: 1, wantErr: "/nonexistent/capture.txt"},
		{name: "stray argument", args: []string{"ingest-once", "now"}, wantCode: 2, wantErr: `unknown command "now"`},
		{name: "print-outbound", args: []string{"print-outbound", "--top", "1", "--input-file", fixture("conntrack", "router_extended.txt")}, wantOut: "203.0.113.80:443"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := newRootCmd(buildInfo{"1.2.3", "abc", "today"})
			var stdout, stderr bytes.Buffer
			cmd.SetOut(&stdout)
			cmd.SetErr(&stderr)
			cmd.SetArgs(tt.args)
			code := exitCode(&stderr, cmd.Execute())
			if code != tt.wantCode {
				t.Errorf("exit code %d, want %d (stderr %q)", code, tt.wantCode, stderr.String())
			}
			if !strings.Contains(stdout.String(), tt.wantOut) {
				t.Errorf("stdout %q does not contain %q", stdout.String(), tt.wantOut)
			}
			if !strings.Contains(stderr.String(), tt.wantErr) {
				t.Errorf("stderr %q does not contain %q", stderr.String(), tt.wantErr)
			}
		})
	}
}
