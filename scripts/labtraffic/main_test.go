package main

import (
	"bytes"
	"context"
	"errors"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestRunArgs(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
		usage   bool // errors.Is(err, errUsage)
	}{
		{"no command", nil, "usage", true},
		{"unknown command", []string{"flood"}, `unknown command "flood"`, true},
		{"serve without addresses", []string{"serve"}, "serve needs -tcp or -udp", true},
		{"serve with bad lifetime", []string{"serve", "-udp", "127.0.0.1:0", "-lifetime", "0s"}, "lifetime: must be > 0", false},
		{"serve with bad flag", []string{"serve", "-bogus"}, "flag provided but not defined", false},
		{"serve on bad address", []string{"serve", "-tcp", "999.0.0.1:1"}, "listen tcp 999.0.0.1:1", false},
		{"client without manifest", []string{"client"}, "client needs -manifest", true},
		{"client with bad timeout", []string{"client", "-manifest", "x", "-timeout", "-1s"}, "must be > 0", false},
		{"pace without from", []string{"pace", "-to", "127.0.0.1:1"}, "pace needs -from", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			err := run(context.Background(), tt.args, &stderr)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("run(%q) = %v, want error containing %q", tt.args, err, tt.wantErr)
			}
			if got := errors.Is(err, errUsage); got != tt.usage {
				t.Errorf("errors.Is(err, errUsage) = %v, want %v", got, tt.usage)
			}
		})
	}
}

func TestRunServeReadyAndStop(t *testing.T) {
	ready := filepath.Join(t.TempDir(), "ready")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var stderr bytes.Buffer
	go func() {
		done <- run(ctx, []string{"serve", "-tcp", "127.0.0.1:0", "-udp", "127.0.0.1:0,[::1]:0", "-ready", ready}, &stderr)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(ready); err == nil {
			break
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("ready file never appeared; log: %s", stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve returned %v after cancel", err)
	}
}

func TestSplitList(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"empty", "", nil},
		{"one", "127.0.0.1:1", []string{"127.0.0.1:1"}},
		{"ipv6 and trailing comma", "[::1]:53,10.0.0.1:53,", []string{"[::1]:53", "10.0.0.1:53"}},
		{"spaces and empty items", " a , ,b", []string{"a", "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, splitList(tt.in)); diff != "" {
				t.Errorf("splitList(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

// TestStdlibOnly keeps labtraffic (and the manifest package it shares with
// the checker) on the standard library: it runs on the lab machine with
// nothing but Go, and CI installs no module for it.
func TestStdlibOnly(t *testing.T) {
	const own = "github.com/netmon-dev/netmon/scripts/internal/manifest"
	for _, dir := range []string{".", filepath.Join("..", "internal", "manifest")} {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, file := range files {
			if strings.HasSuffix(file, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range f.Imports {
				path := strings.Trim(imp.Path.Value, `"`)
				first, _, _ := strings.Cut(path, "/")
				if path != own && strings.Contains(first, ".") {
					t.Errorf("%s imports %s, which is not in the standard library", file, path)
				}
			}
		}
	}
}
