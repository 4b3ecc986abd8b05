package main

import (
	"bytes"
	"errors"
	"os"
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
		{"config: one line", configError{errors.New(`interval: 5 has no unit; write 5s (in /etc/netmon/netmon.yaml)`)}, 2, "netmon: config: interval: 5 has no unit; write 5s (in /etc/netmon/netmon.yaml)\n"},
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
		exact    bool   // wantErr is the whole of stderr
	}{
		{name: "version", args: []string{"--version"}, wantOut: "netmon version 1.2.3 (commit abc, built today)"},
		{name: "help lists the commands", args: []string{"--help"}, wantOut: "print-outbound"},
		{name: "unknown flag", args: []string{"print-outbound", "--tpo", "3"}, wantCode: 2, wantErr: "unknown flag: --tpo"},
		{name: "bad output", args: []string{"print-outbound", "--output", "xml", "--input-file", fixture("conntrack", "router_extended.txt")}, wantCode: 2, wantErr: `--output must be table or json, got "xml"`},
		{name: "negative top", args: []string{"print-outbound", "--top", "-1", "--input-file", fixture("conntrack", "router_extended.txt")}, wantCode: 2, wantErr: "--top must be >= 0"},
		{name: "bad config value", args: []string{"print-outbound", "--local-subnets", "0.0.0.0/0"}, wantCode: 2, wantErr: "config: local_subnets"},
		{name: "missing input file", args: []string{"print-outbound", "--input-file", "/nonexistent/capture.txt"}, wantCode: 2,
			wantErr: "netmon: config: input_file: does not exist (got \"/nonexistent/capture.txt\" in --input-file)\n", exact: true},
		{name: "duration flag without a unit", args: []string{"ingest-loop", "--interval", "5"}, wantCode: 2,
			wantErr: "netmon: config: interval: 5 has no unit; write 5s (in --interval)\n", exact: true},
		{name: "top rows too many", args: []string{"serve", "--top-rows", "2000000"}, wantCode: 2,
			wantErr: "netmon: config: top_rows: must be between 1 and 10000 (got \"2000000\" in --top-rows)\n", exact: true},
		{name: "int flag not a number", args: []string{"serve", "--top-rows", "many"}, wantCode: 2, wantErr: `top_rows: not a whole number (got "many" in --top-rows)`},
		{name: "absolute conntrack path missing", args: []string{"ingest-once", "--conntrack-path", "/nonexistent"}, wantCode: 2,
			wantErr: "netmon: config: conntrack_path: does not exist (got \"/nonexistent\" in --conntrack-path)\n", exact: true},
		{name: "db is a directory", args: []string{"ingest-once", "--db", os.TempDir(), "--input-file", fixture("conntrack", "router_extended.txt")}, wantCode: 2, wantErr: "config: db_path: is a directory"},
		{name: "reader of a missing database", args: []string{"serve", "--ingest=false", "--db", "/tmp/netmon-no-such.db"}, wantCode: 2, wantErr: "config: db_path: no such database"},
		{name: "completes --log-level", args: []string{"__complete", "serve", "--log-level", ""}, wantOut: "debug\ninfo\nwarn\nerror\n:4\n"},
		{name: "completes --log-format", args: []string{"__complete", "ingest-loop", "--log-format", ""}, wantOut: "text\njson\n:4\n"},
		{name: "completes --output", args: []string{"__complete", "print-outbound", "--output", ""}, wantOut: "table\njson\n:4\n"},
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
			if tt.exact && stderr.String() != tt.wantErr {
				t.Errorf("stderr %q, want exactly %q", stderr.String(), tt.wantErr)
			}
			if !strings.Contains(stderr.String(), tt.wantErr) {
				t.Errorf("stderr %q does not contain %q", stderr.String(), tt.wantErr)
			}
		})
	}
}
