package main

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestChecksum(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want uint16
	}{
		// RFC 1071 section 3 example: the sum is 0xddf2, its complement 0x220d.
		{"rfc 1071 example", []byte{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7}, 0x220d},
		{"odd length pads with zero", []byte{0x01}, ^uint16(0x0100)},
		{"empty", nil, 0xffff},
		{"carry folds", []byte{0xff, 0xff, 0x00, 0x01}, 0xfffe},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := checksum(tt.in); got != tt.want {
				t.Errorf("checksum = %#04x, want %#04x", got, tt.want)
			}
		})
	}
}

func TestMarshalEcho(t *testing.T) {
	tests := []struct {
		name string
		v6   bool
		want []byte
	}{
		// type 8, code 0, checksum ^(0x0800+0x1234+0x0001+0x6869), id 0x1234, seq 1, "hi".
		{"ipv4 carries its checksum", false, []byte{8, 0, 0x7d, 0x61, 0x12, 0x34, 0, 1, 'h', 'i'}},
		// type 128: the kernel computes the ICMPv6 checksum.
		{"ipv6 leaves checksum to kernel", true, []byte{128, 0, 0, 0, 0x12, 0x34, 0, 1, 'h', 'i'}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := marshalEcho(tt.v6, 0x1234, 1, []byte("hi"))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("marshalEcho (-want +got):\n%s", diff)
			}
			if !tt.v6 && checksum(got) != 0 {
				t.Errorf("checksum over the message with its checksum = %#x, want 0", checksum(got))
			}
		})
	}
}

func TestParseEchoReply(t *testing.T) {
	tests := []struct {
		name    string
		v6      bool
		in      []byte
		wantID  uint16
		wantSeq uint16
		wantOK  bool
	}{
		{"ipv4 reply", false, []byte{0, 0, 0xaa, 0xbb, 0x12, 0x34, 0, 7}, 0x1234, 7, true},
		{"ipv6 reply", true, []byte{129, 0, 0, 0, 0x00, 0x05, 0x01, 0x00}, 5, 256, true},
		{"ipv4 request is not a reply", false, []byte{8, 0, 0, 0, 0, 1, 0, 1}, 0, 0, false},
		{"ipv6 neighbour solicitation", true, []byte{135, 0, 0, 0, 0, 0, 0, 0}, 0, 0, false},
		{"ipv6 reply read as ipv4", false, []byte{129, 0, 0, 0, 0, 5, 0, 1}, 0, 0, false},
		{"nonzero code", false, []byte{0, 1, 0, 0, 0, 5, 0, 1}, 0, 0, false},
		{"truncated", false, []byte{0, 0, 0, 0, 0, 5, 0}, 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, seq, ok := parseEchoReply(tt.v6, tt.in)
			if id != tt.wantID || seq != tt.wantSeq || ok != tt.wantOK {
				t.Errorf("parseEchoReply = %d, %d, %v; want %d, %d, %v", id, seq, ok, tt.wantID, tt.wantSeq, tt.wantOK)
			}
		})
	}
}

func TestEchoRequestType(t *testing.T) {
	if got := echoRequestType(netip.MustParseAddr("203.0.113.80")); got != 8 {
		t.Errorf("ipv4: got %d, want 8", got)
	}
	if got := echoRequestType(netip.MustParseAddr("2001:db8::80")); got != 128 {
		t.Errorf("ipv6: got %d, want 128", got)
	}
}

// TestPingLoopback pings the machine's own loopback over a raw socket,
// which needs root.
func TestPingLoopback(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("raw ICMP sockets need root")
	}
	tests := []struct {
		name string
		addr string
	}{
		{"ipv4", "127.0.0.1"},
		{"ipv6", "::1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := netip.MustParseAddr(tt.addr)
			if err := ping(context.Background(), a, a, 0x4e4d, 16, 2, 2*time.Second); err != nil {
				t.Fatalf("ping %s: %v", a, err)
			}
		})
	}
}

func TestAwaitReplyTimeout(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("raw ICMP sockets need root")
	}
	// Nothing sends an echo with this sequence number, so the wait ends by
	// the deadline with errNoReply.
	lo := netip.MustParseAddr("127.0.0.1")
	err := ping(context.Background(), lo, netip.MustParseAddr("127.0.0.2"), 1, 8, 1, time.Nanosecond)
	if !errors.Is(err, errNoReply) {
		t.Fatalf("ping with a 1ns timeout = %v, want errNoReply", err)
	}
}
