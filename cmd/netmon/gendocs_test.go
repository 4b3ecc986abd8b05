package main

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestGenDocs writes the man pages and completions and checks there is a
// page per command, each a gzipped man page with no name or time in its
// gzip header, and completions for the three shells.
func TestGenDocs(t *testing.T) {
	dir := t.TempDir()
	root := newRootCmd(buildInfo{"1.2.3", "abc", "2026-12-01T20:30:00Z"})
	root.InitDefaultCompletionCmd()
	if err := genDocs(root, dir, buildInfo{"1.2.3", "abc", "2026-12-01T20:30:00Z"}); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, c := range append(root.Commands(), root) {
		if c.IsAvailableCommand() || c == root {
			want = append(want, strings.ReplaceAll(c.CommandPath(), " ", "-")+".1.gz")
		}
	}
	pages, err := filepath.Glob(filepath.Join(dir, "man", "*.1.gz"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range pages {
		got = append(got, filepath.Base(p))
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("no man page %s among %v", w, got)
		}
	}
	if slices.Contains(got, "netmon-gen-docs.1.gz") {
		t.Error("the hidden gen-docs command has a man page")
	}
	b, err := os.ReadFile(filepath.Join(dir, "man", "netmon-serve.1.gz"))
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if zr.Name != "" || !zr.ModTime.IsZero() {
		t.Errorf("gzip header holds name %q, time %v", zr.Name, zr.ModTime)
	}
	page, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{`.TH "NETMON-SERVE" "1" "Dec 2026" "netmon 1.2.3" "netmon manual"`, "allowed_hosts"} {
		if !strings.Contains(string(page), w) {
			t.Errorf("netmon-serve(1) lacks %q", w)
		}
	}
	for name, w := range map[string]string{"netmon.bash": "__start_netmon", "_netmon": "#compdef netmon", "netmon.fish": "complete -c netmon"} {
		b, err := os.ReadFile(filepath.Join(dir, "completions", name))
		if err != nil || !strings.Contains(string(b), w) {
			t.Errorf("completion %s: %v, lacks %q", name, err, w)
		}
	}
}
