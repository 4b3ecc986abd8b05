package main

import (
	"bytes"
	"context"
	"log"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestParsePorts(t *testing.T) {
	tests := []struct {
		in      string
		want    portPicker
		wantErr bool
	}{
		{"any", portPicker{}, false},
		{"40001", portPicker{40001, 40001}, false},
		{"random:40000-40029", portPicker{40000, 40029}, false},
		{"random:5-4", portPicker{}, true},
		{"random:x", portPicker{}, true},
		{"0", portPicker{}, true},
		{"70000", portPicker{}, true},
	}
	for _, tc := range tests {
		got, err := parsePorts(tc.in)
		if got != tc.want || (err != nil) != tc.wantErr {
			t.Errorf("parsePorts(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	p := portPicker{40000, 40002}
	for range 100 {
		if got := p.pick(r); got < 40000 || got > 40002 {
			t.Fatalf("pick = %d outside 40000-40002", got)
		}
	}
}

// TestFetch runs downloads over loopback against the real server: FIN and
// RST closes, one source port reused back to back, a reset mid-transfer,
// a paced read.
func TestFetch(t *testing.T) {
	tcpAddr, _ := startServer(t)
	dst := netip.MustParseAddrPort(tcpAddr)
	lo := netip.MustParseAddr("127.0.0.1")
	tests := []struct {
		name     string
		plan     fetchPlan
		wantOK   int
		wantRead uint64
		minTook  time.Duration
	}{
		{"fin", fetchPlan{n: 3, size: 10000}, 3, 30000, 0},
		{"one port reused back to back, rst", fetchPlan{n: 5, size: 10000, ports: portPicker{47001, 47001}, rst: true}, 5, 50000, 0},
		{"reset mid-transfer", fetchPlan{n: 2, size: 1 << 20, resetAt: 50000}, 2, 100000, 0},
		{"paced", fetchPlan{n: 1, size: 200_000, rate: 1_000_000}, 1, 200_000, 150 * time.Millisecond},
		{"spread over workers", fetchPlan{n: 4, size: 1000, workers: 2, spread: 100 * time.Millisecond}, 4, 4000, 50 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.plan
			p.src, p.dst, p.timeout = lo, dst, 10*time.Second
			p.workers = max(p.workers, 1)
			start := time.Now()
			res := p.run(context.Background())
			took := time.Since(start)
			if res.ok != tc.wantOK || res.read != tc.wantRead {
				t.Errorf("%d ok, %d bytes read (%v); want %d, %d", res.ok, res.read, res.firstErrors, tc.wantOK, tc.wantRead)
			}
			if took < tc.minTook {
				t.Errorf("took %v, want at least %v", took, tc.minTook)
			}
		})
	}
}

// TestFetchAndUDPCommands: the command lines run and refuse bad ones.
func TestFetchAndUDPCommands(t *testing.T) {
	tcpAddr, udpAddr := startServer(t)
	var out bytes.Buffer
	logger := log.New(&out, "", 0)
	if err := runFetch(context.Background(), []string{"-src", "127.0.0.1", "-dst", tcpAddr, "-n", "2", "-size", "100", "-close", "rst"}, logger, &out); err != nil {
		t.Errorf("fetch: %v", err)
	}
	if err := runUDP(context.Background(), []string{"-src", "127.0.0.1", "-dst", udpAddr, "-n", "3"}, logger, &out); err != nil {
		t.Errorf("udp: %v", err)
	}
	if !strings.Contains(out.String(), "2 ok, 0 failed, 200 bytes") || !strings.Contains(out.String(), "3 flows ok, 0 failed") {
		t.Errorf("summaries:\n%s", out.String())
	}
	for _, args := range [][]string{
		{"-src", "127.0.0.1", "-dst", tcpAddr, "-n", "0"},
		{"-src", "127.0.0.1", "-dst", tcpAddr, "-close", "never"},
		{"-src", "lan", "-dst", tcpAddr},
		{"-src", "127.0.0.1", "-dst", tcpAddr, "-ports", "random:9-1"},
	} {
		if err := runFetch(context.Background(), args, logger, &out); err == nil {
			t.Errorf("fetch %v: no error", args)
		}
	}
	if err := runUDP(context.Background(), []string{"-src", "127.0.0.1", "-dst", udpAddr, "-size", "2000"}, logger, &out); err == nil {
		t.Error("udp with 2000-byte datagrams: no error")
	}
}
