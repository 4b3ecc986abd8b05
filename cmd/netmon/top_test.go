package main

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/netmon-dev/netmon/pkg/config"
	"github.com/netmon-dev/netmon/pkg/conntrack"
	"github.com/netmon-dev/netmon/pkg/rates"
	"github.com/netmon-dev/netmon/pkg/source"
	"github.com/netmon-dev/netmon/pkg/store"
)

func topKey(src string, sport uint16, dst string) conntrack.FlowKey {
	return conntrack.FlowKey{Proto: conntrack.ProtoTCP, Src: netip.MustParseAddr(src), SrcPort: sport, Dst: netip.MustParseAddr(dst), DstPort: 443}
}

func topReading(up, down float64) rates.Reading {
	return rates.Reading{Known: true, Window: rates.Rate{Up: up, Down: down}}
}

// sampleTopView has a device with a long name and several addresses, an
// IPv6 connection with a long address and a connection without a rate.
func sampleTopView() *topView {
	return &topView{
		from: "read by top itself", at: time.Date(2026, 12, 1, 20, 30, 0, 0, time.UTC), window: 10 * time.Second,
		total: topReading(125000, 2_000_000), active: 1234,
		devices: []rates.Device{
			{ID: "ip:10.0.0.5", Addrs: []netip.Addr{netip.MustParseAddr("10.0.0.5")}, Reading: topReading(120000, 1_900_000),
				Spark: []rates.Rate{{Down: 1}, {Down: 1000}, {Down: 500}, {}}},
			{ID: "aa:bb:cc:dd:ee:ff-a-very-long-device-name", Addrs: []netip.Addr{netip.MustParseAddr("fd00::1234:5678:9abc:def0"), netip.MustParseAddr("10.0.0.6")},
				Reading: topReading(5000, 100000)},
			{ID: "ip:10.0.0.7"},
		},
		conns: []topConn{
			{key: topKey("10.0.0.5", 40000, "198.51.100.7"), up: 1 << 20, down: 300 << 20, Reading: topReading(120000, 1_900_000)},
			{key: topKey("fd00::1234:5678:9abc:def0", 50000, "2001:db8:1234:5678:9abc:def0:1234:5678"), up: 100, down: 2000, Reading: topReading(0, 0)},
			{key: topKey("10.0.0.6", 50001, "198.51.100.9"), up: 60, down: 60},
		},
	}
}

// TestRenderTop: every frame fits its screen, plain frames hold no escape
// sequence, and what a frame shows.
func TestRenderTop(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {40, 8}, {132, 50}, {20, 3}} {
		for _, smart := range []bool{false, true} {
			t.Run(fmt.Sprintf("%dx%d smart=%v", size[0], size[1], smart), func(t *testing.T) {
				lines := renderTop(sampleTopView(), sortRate, rates.Bits, size[0], size[1], smart)
				w, h := max(size[0], 40), max(size[1], 8)
				if len(lines) > h {
					t.Errorf("%d lines for %d", len(lines), h)
				}
				for i, l := range lines {
					plainL := stripEscapes(l)
					if n := utf8.RuneCountInString(plainL); n > w {
						t.Errorf("line %d is %d wide: %q", i, n, plainL)
					}
					if !smart && strings.ContainsRune(l, 0x1b) {
						t.Errorf("plain line %d holds an escape: %q", i, l)
					}
				}
			})
		}
	}
	lines := renderTop(sampleTopView(), sortBytes, rates.Bits, 80, 24, false)
	text := strings.Join(lines, "\n")
	for _, want := range []string{
		"sort: total bytes",
		"router  up 1.00 Mbit/s  down 16.0 Mbit/s  1,234 connections  3 devices",
		"ip:10.0.0.5          10.0.0.5           960 kbit/s 15.2 Mbit/s  .#= ",
		"aa:bb:cc:dd:ee:ff-a~ fd00::1234:5~ +1",
		"tcp   10.0.0.5:40000    198.51.100.7:443         960 kbit/s 15.2 Mbit/s  301 MiB",
		"tcp   [fd00::1234:5678~ [2001:db8:1234:5678:9~      0 bit/s     0 bit/s  2.1 KiB",
		"198.51.100.9:443                  -           -    120 B",
		"read by top itself",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("frame lacks %q:\n%s", want, text)
		}
	}
	smart := strings.Join(renderTop(sampleTopView(), sortRate, rates.Bytes, 80, 24, true), "\n")
	for _, want := range []string{"\x1b[1mnetmon top", "▁█▄ ", "120 kB/s"} {
		if !strings.Contains(smart, want) {
			t.Errorf("smart frame lacks %q:\n%s", want, smart)
		}
	}
}

func stripEscapes(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == 0x1b {
			for i < len(s) && !(s[i] >= 'a' && s[i] <= 'z' || s[i] >= 'A' && s[i] <= 'Z') {
				i++
			}
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func TestSortTop(t *testing.T) {
	tests := []struct {
		s           topSort
		devs, conns []string
	}{
		{sortRate, []string{"a", "b", "c"}, []string{"40000", "50001", "50000"}},
		{sortUp, []string{"b", "a", "c"}, []string{"50001", "40000", "50000"}},
		{sortDown, []string{"a", "b", "c"}, []string{"40000", "50001", "50000"}},
		{sortBytes, []string{"a", "b", "c"}, []string{"50000", "50001", "40000"}},
	}
	for _, tt := range tests {
		v := &topView{
			devices: []rates.Device{{ID: "c"}, {ID: "b", Reading: topReading(50, 10)}, {ID: "a", Reading: topReading(10, 100)}},
			conns: []topConn{
				{key: topKey("10.0.0.5", 50000, "198.51.100.7"), up: 1 << 30},
				{key: topKey("10.0.0.5", 40000, "198.51.100.7"), up: 10, Reading: topReading(10, 100)},
				{key: topKey("10.0.0.5", 50001, "198.51.100.7"), up: 20, Reading: topReading(50, 10)},
			},
		}
		sortTop(v, tt.s)
		var devs, conns []string
		for _, d := range v.devices {
			devs = append(devs, d.ID)
		}
		for _, c := range v.conns {
			conns = append(conns, fmt.Sprint(c.key.SrcPort))
		}
		if diff := cmp.Diff(tt.devs, devs); diff != "" {
			t.Errorf("%s: devices (-want +got):\n%s", tt.s, diff)
		}
		if diff := cmp.Diff(tt.conns, conns); diff != "" {
			t.Errorf("%s: connections (-want +got):\n%s", tt.s, diff)
		}
	}
}

func TestSparkline(t *testing.T) {
	pts := []rates.Rate{{}, {Up: 1}, {Up: 4}, {Up: 8}, {Down: 8}}
	if got := sparkline(pts, 10, false); got != " .=##" {
		t.Errorf("plain sparkline %q", got)
	}
	if got := sparkline(pts, 3, true); got != "▄██" {
		t.Errorf("smart sparkline of the last 3 %q", got)
	}
	if got := sparkline([]rates.Rate{{}, {}}, 5, false); got != "  " {
		t.Errorf("idle sparkline %q", got)
	}
}

// fakeTicks is a ticker a test fires by hand.
func fakeTicks(c chan time.Time) func(time.Duration) (<-chan time.Time, func()) {
	return func(time.Duration) (<-chan time.Time, func()) { return c, func() {} }
}

// TestTopPlainFrames: top's own loop over the replay, printed as plain
// frames (output not a terminal), a key a line.
func TestTopPlainFrames(t *testing.T) {
	cfg := config.Default()
	cfg.InputFile = fixture("replay")
	cfg.StateDir = t.TempDir()
	ticks := make(chan time.Time, 4)
	for range 2 {
		ticks <- time.Now()
	}
	var out bytes.Buffer
	clock := time.Now()
	term := topTerm{out: &out, in: strings.NewReader(""), size: func() (int, int) { return 80, 24 }, tick: fakeTicks(ticks),
		now: func() time.Time { clock = clock.Add(time.Second); return clock }}
	if err := runTop(context.Background(), cfg, topOptions{iterations: 3}, newSource(cfg), term); err != nil {
		t.Fatal(err)
	}
	frames := strings.Split(out.String(), "netmon top  ")[1:]
	if len(frames) != 3 {
		t.Fatalf("%d frames, want 3:\n%s", len(frames), out.String())
	}
	if strings.ContainsRune(out.String(), 0x1b) {
		t.Error("plain frames hold escape sequences")
	}
	if !strings.Contains(frames[0], "router  up -  down -") {
		t.Errorf("the first frame has rates:\n%s", frames[0])
	}
	if !strings.Contains(frames[2], "kbit/s") || !strings.Contains(frames[2], "ip:10.0.0.5") {
		t.Errorf("the third frame has no rates:\n%s", frames[2])
	}
	entries, _ := os.ReadDir(cfg.StateDir)
	if len(entries) != 0 {
		t.Errorf("top's own loop wrote %d files in the state directory", len(entries))
	}
}

// TestLiveTop: the view of a live state another process writes.
func TestLiveTop(t *testing.T) {
	ctx := context.Background()
	db, err := store.OpenLive(ctx, filepath.Join(t.TempDir(), "live.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tr := rates.New(10 * time.Second)
	at := time.Date(2026, 12, 1, 20, 0, 0, 0, time.UTC)
	for i := range 3 {
		e := conntrack.Entry{Proto: conntrack.ProtoTCP, State: "ESTABLISHED",
			Orig:  conntrack.Tuple{Src: netip.MustParseAddr("10.0.0.5"), Dst: netip.MustParseAddr("198.51.100.7"), SrcPort: 40000, DstPort: 443, Bytes: uint64(i) * 1000},
			Reply: conntrack.Tuple{Src: netip.MustParseAddr("198.51.100.7"), Dst: netip.MustParseAddr("10.0.0.5"), Bytes: uint64(i) * 100000}}
		_, d, err := db.Reconcile(ctx, at, source.Slice{e}.List(ctx, nil), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		tr.Add(at, d, nil)
		if err := db.WriteRates(ctx, tr.Changes()); err != nil {
			t.Fatal(err)
		}
		at = at.Add(time.Second)
	}
	for _, s := range []topSort{sortRate, sortBytes, sortDown} {
		v, err := (&liveTop{db: db, from: "live"}).view(ctx, s, 5, 10)
		if err != nil {
			t.Fatal(err)
		}
		if v.active != 1 || len(v.conns) != 1 || len(v.devices) != 1 {
			t.Fatalf("%s: %d active, %d connections, %d devices", s, v.active, len(v.conns), len(v.devices))
		}
		want := topReading(1000, 100000)
		if diff := cmp.Diff(want, v.conns[0].Reading); diff != "" {
			t.Errorf("%s: connection (-want +got):\n%s", s, diff)
		}
		if v.devices[0].Window != want.Window || len(v.devices[0].Spark) != 2 {
			t.Errorf("%s: device %+v", s, v.devices[0])
		}
	}
}

// tmux runs a tmux server of the test's own (its own socket), killed at
// the end. Without tmux the test skips, except in CI (CI=true, or
// NETMON_REQUIRE_E2E=1 as .ci/run sets), where it must run.
type tmux struct {
	t      *testing.T
	socket string
}

func newTmux(t *testing.T) *tmux {
	if _, err := exec.LookPath("tmux"); err != nil {
		if os.Getenv("CI") == "true" || os.Getenv("NETMON_REQUIRE_E2E") == "1" {
			t.Fatal("tmux is not installed, and CI must run this test (apt install tmux)")
		}
		t.Skip("tmux is not installed (apt install tmux; CI installs it)")
	}
	x := &tmux{t: t, socket: filepath.Join(t.TempDir(), "tmux.sock")}
	t.Cleanup(func() { exec.Command("tmux", "-S", x.socket, "kill-server").Run() })
	return x
}

func (x *tmux) run(args ...string) string {
	x.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-S", x.socket}, args...)...).CombinedOutput()
	if err != nil {
		x.t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// start runs command in a new 80x24 session named name.
func (x *tmux) start(name, command string) {
	x.t.Helper()
	x.run("new-session", "-d", "-s", name, "-x", "80", "-y", "24", command)
	x.run("set-option", "-t", name, "remain-on-exit", "on")
}

func (x *tmux) screen(name string, escapes bool) string {
	args := []string{"capture-pane", "-p", "-t", name}
	if escapes {
		args = append(args, "-e")
	}
	return x.run(args...)
}

// wait polls the screen until ok accepts it, for at most 10 s.
func (x *tmux) wait(name string, what string, ok func(string) bool) string {
	x.t.Helper()
	var s string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if s = x.screen(name, false); ok(s) {
			return s
		}
	}
	x.t.Fatalf("%s: no screen with %s:\n%s", name, what, s)
	return ""
}

func (x *tmux) dead(name string) bool {
	return strings.TrimSpace(x.run("display-message", "-p", "-t", name, "#{pane_dead}")) == "1"
}

func contains(subs ...string) func(string) bool {
	return func(s string) bool {
		for _, sub := range subs {
			if !strings.Contains(s, sub) {
				return false
			}
		}
		return true
	}
}

// TestTopInTmux runs the real binary in a real terminal (tmux, 80x24):
// its own loop over the replay with keys, plain under TERM=dumb, and the
// live state of a running ingest-loop.
func TestTopInTmux(t *testing.T) {
	x := newTmux(t)
	bin := buildNetmon(t)
	replay, err := filepath.Abs(fixture("replay"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()

	// Own loop, a smart terminal.
	x.start("own", fmt.Sprintf("TERM=screen %s top --input-file %s --state-dir %s", bin, replay, dir))
	s := x.wait("own", "rates", contains("netmon top", "sort: rate", "ip:10.0.0.5", "kbit/s", "read by top itself"))
	for i, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		if n := utf8.RuneCountInString(l); n > 80 {
			t.Errorf("line %d is %d wide", i, n)
		}
	}
	if !strings.Contains(x.screen("own", true), "\x1b[1m") {
		t.Error("a smart terminal got no bold header")
	}
	x.run("send-keys", "-t", "own", "b")
	x.wait("own", "the bytes order", contains("sort: total bytes"))
	x.run("send-keys", "-t", "own", "u")
	x.wait("own", "the uplink order", contains("sort: uplink rate"))
	x.run("send-keys", "-t", "own", "q")
	for deadline := time.Now().Add(5 * time.Second); !x.dead("own"); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("q did not quit")
		}
	}
	if after := x.screen("own", false); strings.Contains(after, "sort:") {
		t.Errorf("the terminal was not given back (alternate screen left on):\n%s", after)
	}

	// TERM=dumb: plain frames, no escape sequences.
	x.start("dumb", fmt.Sprintf("TERM=dumb %s top --input-file %s --state-dir %s", bin, replay, dir))
	x.wait("dumb", "rates", contains("kbit/s", "ip:10.0.0.5"))
	if e := x.screen("dumb", true); strings.Contains(e, "\x1b[") {
		t.Errorf("TERM=dumb got escape sequences:\n%q", e)
	}
	x.run("send-keys", "-t", "dumb", "q")
	for deadline := time.Now().Add(5 * time.Second); !x.dead("dumb"); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("q did not quit under TERM=dumb")
		}
	}

	// The live state of an ingest-loop in another process.
	state := filepath.Join(dir, "state")
	ingest := exec.Command(bin, "ingest-loop", "--input-file", replay, "--state-dir", state, "--db", filepath.Join(dir, "netmon.db"))
	if err := ingest.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ingest.Process.Kill(); ingest.Wait() })
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, err := os.Stat(filepath.Join(state, "live.db")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("ingest-loop wrote no live state")
		}
	}
	x.start("live", fmt.Sprintf("TERM=screen %s top --state-dir %s", bin, state))
	x.wait("live", "the live state's rates", contains("live state", "written by pid", "ip:10.0.0.5", "kbit/s"))
	x.run("send-keys", "-t", "live", "q")
}
