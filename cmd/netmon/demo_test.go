package main

import (
	"context"
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestDemoConfig loads the README demo's configs/demo.yaml from the
// checkout's root, as `go run ./cmd/netmon serve --config
// configs/demo.yaml` does: its bundled /proc and /sys tree gives the
// WAN and LAN tiles (no "no such interface"), accounting on, and the
// fs_root does not hide the name files from the namer.
func TestDemoConfig(t *testing.T) {
	noTestStateDir(t)
	t.Chdir(filepath.Join("..", ".."))
	cfg, err := loadConfig(testFlags(t), "configs/demo.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	// The demo must start on a fresh machine: its paths pass the checks
	// serve makes before it opens anything (db_path's directory exists).
	if err := checkPaths(testFlags(t), cfg); err != nil {
		t.Errorf("the demo's paths: %v", err)
	}
	m, err := systemMetrics(cfg)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := m.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var tiles []string
	for _, it := range snap.Interfaces {
		tiles = append(tiles, it.Name+" "+it.Error)
	}
	if diff := cmp.Diff([]string{"eth0 ", "br-lan "}, tiles); diff != "" {
		t.Errorf("interface tiles (-want +got):\n%s", diff)
	}
	if ct := snap.Conntrack; ct == nil || ct.Accounting == nil || !*ct.Accounting {
		t.Errorf("conntrack %+v: want accounting on", ct)
	}
	if accountingOff(cfg) {
		t.Error("the demo says accounting is off")
	}

	nm := newNamer(context.Background(), cfg, nil, discardLogger())
	nm.once(context.Background())
	laptop, dst := netip.MustParseAddr("10.0.0.5"), netip.MustParseAddr("203.0.113.80")
	nm.prepare(context.Background(), [][2]netip.Addr{{laptop, dst}})
	dev, name, _ := nm.flow(laptop, dst)
	if dev != "00:1b:21:3a:4b:5c" || name != "anna-laptop" {
		t.Errorf("10.0.0.5 is device %q named %q, want 00:1b:21:3a:4b:5c anna-laptop", dev, name)
	}
}
