package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// ICMP echo types (RFC 792, RFC 4443).
const (
	icmpEchoRequest   = 8
	icmpEchoReply     = 0
	icmpv6EchoRequest = 128
	icmpv6EchoReply   = 129
)

// echoRequestType is the echo-request type for the address family of dst:
// what netmon's flow key holds in its destination-port position.
func echoRequestType(dst netip.Addr) uint8 {
	if dst.Is4() {
		return icmpEchoRequest
	}
	return icmpv6EchoRequest
}

// marshalEcho builds an ICMP (v6=false) or ICMPv6 echo request. The ICMPv6
// checksum is left zero: it covers a pseudo-header only the kernel knows,
// and Linux fills it in for raw ICMPv6 sockets.
func marshalEcho(v6 bool, id, seq uint16, payload []byte) []byte {
	b := make([]byte, 8+len(payload))
	b[0] = icmpEchoRequest
	if v6 {
		b[0] = icmpv6EchoRequest
	}
	binary.BigEndian.PutUint16(b[4:], id)
	binary.BigEndian.PutUint16(b[6:], seq)
	copy(b[8:], payload)
	if !v6 {
		binary.BigEndian.PutUint16(b[2:], checksum(b))
	}
	return b
}

// parseEchoReply reports the id and sequence of an echo reply, and ok=false
// for anything else (a raw socket sees every ICMP message of its host).
func parseEchoReply(v6 bool, b []byte) (id, seq uint16, ok bool) {
	want := byte(icmpEchoReply)
	if v6 {
		want = icmpv6EchoReply
	}
	if len(b) < 8 || b[0] != want || b[1] != 0 {
		return 0, 0, false
	}
	return binary.BigEndian.Uint16(b[4:]), binary.BigEndian.Uint16(b[6:]), true
}

// checksum is the Internet checksum (RFC 1071) of b.
func checksum(b []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// errNoReply is returned when an echo request got no reply in time.
var errNoReply = errors.New("no echo reply")

// ping sends count echo requests with the given id from src to dst over a
// raw socket (root only) and waits up to timeout for each reply. It uses
// its own id rather than ping(8) so the manifest knows the flow key.
func ping(ctx context.Context, src, dst netip.Addr, id uint16, size, count int, timeout time.Duration) error {
	network, v6 := "ip4:icmp", false
	if dst.Is6() {
		network, v6 = "ip6:ipv6-icmp", true
	}
	var lc net.ListenConfig
	pc, err := lc.ListenPacket(ctx, network, src.String())
	if err != nil {
		return fmt.Errorf("open raw icmp socket: %w", err)
	}
	defer pc.Close()
	payload := make([]byte, size)
	to := &net.IPAddr{IP: dst.AsSlice()}
	buf := make([]byte, 1500)
	for seq := 1; seq <= count; seq++ {
		if _, err := pc.WriteTo(marshalEcho(v6, id, uint16(seq), payload), to); err != nil {
			return fmt.Errorf("send echo %d to %s: %w", seq, dst, err)
		}
		if err := pc.SetReadDeadline(time.Now().Add(timeout)); err != nil {
			return fmt.Errorf("set deadline: %w", err)
		}
		if err := awaitReply(pc, buf, v6, id, uint16(seq)); err != nil {
			return fmt.Errorf("echo %d to %s: %w", seq, dst, err)
		}
	}
	return nil
}

// maxForeignICMP bounds how many unrelated ICMP messages awaitReply skips.
const maxForeignICMP = 1000

// awaitReply reads until the reply to (id, seq) arrives or the deadline set
// on pc passes.
func awaitReply(pc net.PacketConn, buf []byte, v6 bool, id, seq uint16) error {
	for range maxForeignICMP {
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return errNoReply
			}
			return fmt.Errorf("read reply: %w", err)
		}
		if gotID, gotSeq, ok := parseEchoReply(v6, buf[:n]); ok && gotID == id && gotSeq == seq {
			return nil
		}
	}
	return errNoReply
}
