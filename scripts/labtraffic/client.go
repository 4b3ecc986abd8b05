package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"time"

	"github.com/netmon-dev/netmon/scripts/internal/manifest"
)

// client makes the planned flows.
type client struct {
	// timeout bounds every dial, read and write of one step.
	timeout time.Duration
	// icmpID is the echo id of the first Ping flow; the next ones count up.
	icmpID uint16
}

// run makes every planned flow in order and returns the manifest entries
// and the connections of Held flows, which the caller closes. On error the
// held connections opened so far are closed.
func (c *client) run(ctx context.Context, plan []Planned) ([]manifest.Flow, []net.Conn, error) {
	flows := make([]manifest.Flow, 0, len(plan))
	var held []net.Conn
	id := c.icmpID
	for _, p := range plan {
		f, conn, err := c.one(ctx, p, id)
		if err != nil {
			closeAll(held)
			return nil, nil, fmt.Errorf("flow %s: %w", p.Name, err)
		}
		if p.Kind == Ping {
			id++
		}
		if conn != nil {
			held = append(held, conn)
		}
		flows = append(flows, f)
	}
	return flows, held, nil
}

// one makes a single flow; it returns the connection only for Held flows.
func (c *client) one(ctx context.Context, p Planned, icmpID uint16) (manifest.Flow, net.Conn, error) {
	f := manifest.Flow{
		Name: p.Name, SrcIP: p.Src, DstIP: p.Dst, DstPort: p.Port,
		Outbound: p.Outbound, LongLived: p.Held, Replied: p.Kind != Unreplied,
	}
	var (
		local netip.AddrPort
		conn  net.Conn
		err   error
	)
	switch p.Kind {
	case Download:
		f.Proto = "tcp"
		f.UpPayload, f.DownPayload = uint64(len(requestLine(p.Size))), p.Size
		conn, err = c.download(ctx, p.Src, netip.AddrPortFrom(p.Dst, p.Port), p.Size)
		if err == nil {
			local = conn.LocalAddr().(*net.TCPAddr).AddrPort()
			if !p.Held {
				err = conn.Close()
				conn = nil
			}
		}
	case Echo:
		f.Proto = "udp"
		f.UpPayload = p.Size * uint64(p.Count)
		f.DownPayload = f.UpPayload
		local, err = c.echo(ctx, p.Src, netip.AddrPortFrom(p.Dst, p.Port), int(p.Size), p.Count)
	case Unreplied:
		f.Proto = "udp"
		f.UpPayload = p.Size * uint64(p.Count)
		local, err = c.sendOnly(p.Src, netip.AddrPortFrom(p.Dst, p.Port), int(p.Size), p.Count)
	case Ping:
		f.Proto = "icmp"
		if p.Dst.Is6() {
			f.Proto = "icmpv6"
		}
		f.UpPayload = p.Size * uint64(p.Count)
		f.DownPayload = f.UpPayload
		f.DstPort = uint16(echoRequestType(p.Dst))
		local = netip.AddrPortFrom(p.Src, icmpID)
		err = ping(ctx, p.Src, p.Dst, icmpID, int(p.Size), p.Count, c.timeout)
	default:
		err = fmt.Errorf("unknown kind %d", p.Kind)
	}
	if err != nil {
		return manifest.Flow{}, nil, err
	}
	f.SrcPort = local.Port()
	f.Key = manifest.Key(f.Proto, f.SrcIP, f.SrcPort, f.DstIP, f.DstPort)
	return f, conn, nil
}

// download connects from src, asks for size bytes and reads all of them.
// The connection is returned open.
func (c *client) download(ctx context.Context, src netip.Addr, dst netip.AddrPort, size uint64) (net.Conn, error) {
	d := net.Dialer{Timeout: c.timeout, LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(src, 0))}
	conn, err := d.DialContext(ctx, "tcp", dst.String())
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	if err := conn.SetDeadline(time.Now().Add(c.timeout)); err != nil {
		conn.Close()
		return nil, fmt.Errorf("set deadline: %w", err)
	}
	if _, err := conn.Write(requestLine(size)); err != nil {
		conn.Close()
		return nil, fmt.Errorf("send request: %w", err)
	}
	got, err := io.Copy(io.Discard, io.LimitReader(conn, int64(size)))
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("read payload: %w", err)
	}
	if uint64(got) != size {
		conn.Close()
		return nil, fmt.Errorf("read payload: got %d of %d bytes", got, size)
	}
	if err := conn.SetDeadline(time.Time{}); err != nil {
		conn.Close()
		return nil, fmt.Errorf("clear deadline: %w", err)
	}
	return conn, nil
}

// errEchoMismatch is returned when an echo reply differs from the request.
var errEchoMismatch = errors.New("echo reply differs from request")

// echo sends count datagrams of size bytes from one socket and waits for
// each to come back. It returns the socket's local address.
func (c *client) echo(ctx context.Context, src netip.Addr, dst netip.AddrPort, size, count int) (netip.AddrPort, error) {
	d := net.Dialer{LocalAddr: net.UDPAddrFromAddrPort(netip.AddrPortFrom(src, 0))}
	conn, err := d.DialContext(ctx, "udp", dst.String())
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("dial: %w", err)
	}
	defer conn.Close()
	req := make([]byte, size)
	resp := make([]byte, size+1)
	for i := range count {
		req[0] = byte(i) // tell the datagrams apart
		if err := conn.SetDeadline(time.Now().Add(c.timeout)); err != nil {
			return netip.AddrPort{}, fmt.Errorf("set deadline: %w", err)
		}
		if _, err := conn.Write(req); err != nil {
			return netip.AddrPort{}, fmt.Errorf("send datagram %d: %w", i+1, err)
		}
		n, err := conn.Read(resp)
		if err != nil {
			return netip.AddrPort{}, fmt.Errorf("read reply %d: %w", i+1, err)
		}
		if !bytes.Equal(resp[:n], req) {
			return netip.AddrPort{}, fmt.Errorf("reply %d: %w", i+1, errEchoMismatch)
		}
	}
	return conn.LocalAddr().(*net.UDPAddr).AddrPort(), nil
}

// sendOnly sends count datagrams and expects nothing back. The socket is
// unconnected so that an ICMP error, should one come, fails nothing.
func (c *client) sendOnly(src netip.Addr, dst netip.AddrPort, size, count int) (netip.AddrPort, error) {
	conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(src, 0)))
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("open socket: %w", err)
	}
	defer conn.Close()
	if err := conn.SetWriteDeadline(time.Now().Add(c.timeout)); err != nil {
		return netip.AddrPort{}, fmt.Errorf("set deadline: %w", err)
	}
	buf := make([]byte, size)
	for i := range count {
		if _, err := conn.WriteToUDPAddrPort(buf, dst); err != nil {
			return netip.AddrPort{}, fmt.Errorf("send datagram %d: %w", i+1, err)
		}
	}
	return conn.LocalAddr().(*net.UDPAddr).AddrPort(), nil
}

// closeAll closes every connection and returns the first error.
func closeAll(conns []net.Conn) error {
	var first error
	for _, c := range conns {
		if err := c.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}
