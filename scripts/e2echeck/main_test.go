package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netmon-dev/netmon/scripts/internal/manifest"
)

func TestRun(t *testing.T) {
	dir := t.TempDir()
	m := testManifest()
	mPath := filepath.Join(dir, "manifest.json")
	if err := manifest.Write(mPath, m); err != nil {
		t.Fatal(err)
	}
	write := func(name string, v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.json", correct(m, false))
	short := write("short.json", correct(m, false)[1:])
	v4 := write("v4.json", correct(restrictLocal(m, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/24")}), false))
	db := ingestCycles(t, m, false)

	tests := []struct {
		name       string
		args       []string
		wantOut    string // substring of stdout
		wantStderr string // substring of stderr
		wantErr    error  // errors.Is target; nil for success
		errText    string // substring of the error when wantErr is nil but an error is expected
	}{
		{"flows ok", []string{"flows", "-manifest", mPath, "-file", good}, "e2echeck flows: ok: 4 flows", "", nil, ""},
		{"flows with a problem", []string{"flows", "-manifest", mPath, "-file", short}, "", "e2echeck flows: missing download", errProblems, ""},
		{"flows closed", []string{"flows", "-manifest", mPath, "-file", good, "-closed"}, "", "still lists held", errProblems, ""},
		{"db ok and saved", []string{"db", "-manifest", mPath, "-db", db, "-save", filepath.Join(dir, "s.json")}, "4 connections, 3 remote hosts", "", nil, ""},
		{"db against saved", []string{"db", "-manifest", mPath, "-db", db, "-before", filepath.Join(dir, "s.json")}, "e2echeck db: ok", "", nil, ""},
		{"db expecting closed", []string{"db", "-manifest", mPath, "-db", db, "-closed"}, "", "held: closed_at is NULL", errProblems, ""},
		{"flows ipv4 only: ipv6 listed", []string{"flows", "-manifest", mPath, "-file", good, "-local", "10.0.0.0/24"}, "", "lists held (tcp|fd00::6|40001|2001:db8::82|8080), which is not outbound", errProblems, ""},
		{"flows ipv4 only: matches", []string{"flows", "-manifest", mPath, "-file", v4, "-local", "10.0.0.0/24"}, "3 flows match", "", nil, ""},
		{"flows bad prefix", []string{"flows", "-manifest", mPath, "-file", good, "-local", "10.0.0.0/33"}, "", "", errUsage, ""},
		{"long-lived", []string{"long-lived", "-manifest", mPath}, "ipv6 tcp fd00::6 40001 2001:db8::82 8080\n", "", nil, ""},
		{"no command", nil, "", "", errUsage, ""},
		{"unknown command", []string{"fix"}, "", "", errUsage, ""},
		{"no manifest", []string{"flows", "-file", good}, "", "", errUsage, ""},
		{"flows without file", []string{"flows", "-manifest", mPath}, "", "", errUsage, ""},
		{"db without db", []string{"db", "-manifest", mPath}, "", "", errUsage, ""},
		{"web without url", []string{"web", "-manifest", mPath}, "", "", errUsage, ""},
		{"missing flows file", []string{"flows", "-manifest", mPath, "-file", filepath.Join(dir, "absent")}, "", "", os.ErrNotExist, ""},
		{"bad manifest", []string{"flows", "-manifest", good, "-file", good}, "", "", nil, "decode manifest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), tt.args, &stdout, &stderr)
			switch {
			case tt.wantErr != nil && !errors.Is(err, tt.wantErr):
				t.Fatalf("run = %v, want errors.Is %v", err, tt.wantErr)
			case tt.errText != "" && (err == nil || !strings.Contains(err.Error(), tt.errText)):
				t.Fatalf("run = %v, want error containing %q", err, tt.errText)
			case tt.wantErr == nil && tt.errText == "" && err != nil:
				t.Fatalf("run = %v; stderr: %s", err, stderr.String())
			}
			if !strings.Contains(stdout.String(), tt.wantOut) {
				t.Errorf("stdout = %q, want it to contain %q", stdout.String(), tt.wantOut)
			}
			if !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Errorf("stderr = %q, want it to contain %q", stderr.String(), tt.wantStderr)
			}
		})
	}
}

func TestRunWait(t *testing.T) {
	up := fakeServe(t, map[string]string{"/healthz": `{"status":"ok"}`})
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"answers", []string{"wait", "-url", up + "/healthz"}, ""},
		{"never 200", []string{"wait", "-url", up + "/missing", "-timeout", "300ms"}, "context deadline exceeded"},
		{"no url", []string{"wait"}, "wait needs -url"},
		{"bad timeout", []string{"wait", "-url", up, "-timeout", "0s"}, "positive -timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), tt.args, &stdout, &stderr)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("run(%q) = %v, want error containing %q", tt.args, err, tt.wantErr)
			}
		})
	}
}

func TestSplitList(t *testing.T) {
	tests := []struct {
		in   string
		want int
	}{{"", 0}, {"rl0", 1}, {"rl0,rl2,rw0", 3}, {" rl0 ,, ", 1}}
	for _, tt := range tests {
		if got := splitList(tt.in); len(got) != tt.want {
			t.Errorf("splitList(%q) = %q, want %d items", tt.in, got, tt.want)
		}
	}
}
