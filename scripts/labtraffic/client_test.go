package main

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/netmon-dev/netmon/scripts/internal/manifest"
)

func TestClientRun(t *testing.T) {
	tcpAddr, udpAddr := startServer(t)
	srv := netip.MustParseAddrPort(tcpAddr)
	echoSrv := netip.MustParseAddrPort(udpAddr)
	lo := netip.MustParseAddr("127.0.0.1")
	plan := []Planned{
		{Name: "dl", Kind: Download, Src: lo, Dst: lo, Port: srv.Port(), Size: 100 * kib, Outbound: true},
		{Name: "held", Kind: Download, Src: lo, Dst: lo, Port: srv.Port(), Size: 10, Outbound: true, Held: true},
		{Name: "echo", Kind: Echo, Src: lo, Dst: lo, Port: echoSrv.Port(), Size: 50, Count: 3},
		// Nobody listens on port 9 (discard) here: nothing comes back, and
		// the unconnected socket ignores the ICMP port-unreachable.
		{Name: "unreplied", Kind: Unreplied, Src: lo, Dst: lo, Port: 9, Size: 20, Count: 2, Outbound: true},
	}
	want := []manifest.Flow{
		{Name: "dl", Proto: "tcp", SrcIP: lo, DstIP: lo, DstPort: srv.Port(), Outbound: true, Replied: true, UpPayload: 11, DownPayload: 100 * kib},
		{Name: "held", Proto: "tcp", SrcIP: lo, DstIP: lo, DstPort: srv.Port(), Outbound: true, LongLived: true, Replied: true, UpPayload: 7, DownPayload: 10},
		{Name: "echo", Proto: "udp", SrcIP: lo, DstIP: lo, DstPort: echoSrv.Port(), Replied: true, UpPayload: 150, DownPayload: 150},
		{Name: "unreplied", Proto: "udp", SrcIP: lo, DstIP: lo, DstPort: 9, Outbound: true, UpPayload: 40},
	}
	if os.Geteuid() == 0 {
		plan = append(plan, Planned{Name: "ping", Kind: Ping, Src: lo, Dst: lo, Size: 8, Count: 2})
		want = append(want, manifest.Flow{Name: "ping", Proto: "icmp", SrcIP: lo, SrcPort: 500, DstIP: lo, DstPort: 8, Replied: true, UpPayload: 16, DownPayload: 16})
	}

	c := &client{timeout: 5 * time.Second, icmpID: 500}
	got, held, err := c.run(context.Background(), plan)
	if err != nil {
		t.Fatal(err)
	}
	defer closeAll(held)

	// Source ports are the kernel's choice: check each is set and is the
	// one in the key, then compare the rest.
	for i, f := range got {
		if f.SrcPort == 0 {
			t.Errorf("flow %s: source port 0", f.Name)
		}
		if k := manifest.Key(f.Proto, f.SrcIP, f.SrcPort, f.DstIP, f.DstPort); f.Key != k {
			t.Errorf("flow %s: key %q, want %q", f.Name, f.Key, k)
		}
		if f.Proto != "icmp" {
			got[i].SrcPort = 0
		}
	}
	if diff := cmp.Diff(want, got, cmpopts.EquateComparable(netip.Addr{}), cmpopts.IgnoreFields(manifest.Flow{}, "Key")); diff != "" {
		t.Errorf("flows (-want +got):\n%s", diff)
	}

	if len(held) != 1 {
		t.Fatalf("got %d held connections, want 1", len(held))
	}
	if err := held[0].SetReadDeadline(time.Now().Add(100 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	_, err = held[0].Read(make([]byte, 1))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("held connection read = %v, want a timeout (still open, nothing sent)", err)
	}
}

func TestClientRunErrors(t *testing.T) {
	tcpAddr, _ := startServer(t)
	srv := netip.MustParseAddrPort(tcpAddr)
	lo := netip.MustParseAddr("127.0.0.1")

	// A UDP socket that answers with different bytes.
	garbler, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer garbler.Close()
	go func() {
		buf := make([]byte, 100)
		n, from, err := garbler.ReadFrom(buf)
		if err == nil {
			buf[n-1]++
			garbler.WriteTo(buf[:n], from)
		}
	}()
	// A UDP port nobody answers, for the echo timeout.
	silent, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	closedPort := func() uint16 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return netip.MustParseAddrPort(l.Addr().String()).Port()
	}()

	held := Planned{Name: "held-first", Kind: Download, Src: lo, Dst: lo, Port: srv.Port(), Size: 1, Held: true}
	tests := []struct {
		name    string
		step    Planned
		wantErr string
		wantIs  error
	}{
		{"connection refused", Planned{Name: "refused", Kind: Download, Src: lo, Dst: lo, Port: closedPort, Size: 1}, "flow refused: dial", nil},
		{"server refuses size", Planned{Name: "huge", Kind: Download, Src: lo, Dst: lo, Port: srv.Port(), Size: MaxDownload + 1}, "flow huge: read payload", nil},
		{"echo mismatch", Planned{Name: "garbled", Kind: Echo, Src: lo, Dst: lo, Port: netip.MustParseAddrPort(garbler.LocalAddr().String()).Port(), Size: 10, Count: 1}, "flow garbled", errEchoMismatch},
		{"echo timeout", Planned{Name: "silent", Kind: Echo, Src: lo, Dst: lo, Port: netip.MustParseAddrPort(silent.LocalAddr().String()).Port(), Size: 10, Count: 1}, "flow silent: read reply 1", nil},
		{"unknown kind", Planned{Name: "odd", Kind: Kind(42), Src: lo, Dst: lo}, "flow odd: unknown kind", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &client{timeout: 300 * time.Millisecond}
			flows, conns, err := c.run(context.Background(), []Planned{held, tt.step})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("run() error = %v, want it to contain %q", err, tt.wantErr)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("run() error = %v, want errors.Is %v", err, tt.wantIs)
			}
			if flows != nil || conns != nil {
				t.Errorf("run() returned %d flows and %d connections with its error", len(flows), len(conns))
			}
		})
	}
}

func TestCloseAll(t *testing.T) {
	a, b := net.Pipe()
	if err := closeAll([]net.Conn{a, b}); err != nil {
		t.Fatalf("closeAll = %v", err)
	}
	for _, c := range []net.Conn{a, b} {
		if _, err := c.Write([]byte{1}); !errors.Is(err, io.ErrClosedPipe) {
			t.Errorf("write after closeAll = %v, want io.ErrClosedPipe", err)
		}
	}
	if err := closeAll(nil); err != nil {
		t.Errorf("closeAll(nil) = %v", err)
	}
}
