package source

import (
	"errors"
	"fmt"

	"github.com/mdlayher/netlink"
	ct "github.com/ti-mo/conntrack"
	"golang.org/x/sys/unix"

	"github.com/netmon-dev/netmon/pkg/conntrack"
)

// The socket is mdlayher/netlink's, the decoder ti-mo/conntrack's: that
// library's own Listen cannot be used, because its reader stops for good
// at the first ENOBUFS (a new socket must be dialled and subscribed, which
// loses events again) and it gives no handle on the socket to check the
// buffer the kernel granted.

// nfnlgrpConntrackDestroy is NFNLGRP_CONNTRACK_DESTROY
// (linux/netfilter/nfnetlink.h).
const nfnlgrpConntrackDestroy = 3

// netlinkSocket is a NETLINK_NETFILTER socket subscribed to the conntrack
// DESTROY group.
type netlinkSocket struct {
	c      *netlink.Conn
	buffer int
}

var _ eventSocket = (*netlinkSocket)(nil)

// openNetlink opens the socket in the network namespace of the calling
// thread, forces its receive buffer to buffer bytes (SO_RCVBUFFORCE, over
// net.core.rmem_max), and only then subscribes it, so no event arrives
// while the buffer is small.
func openNetlink(buffer int) (eventSocket, error) {
	c, err := netlink.Dial(unix.NETLINK_NETFILTER, nil)
	if err != nil {
		return nil, fmt.Errorf("open netlink socket: %w", err)
	}
	got, err := forceReadBuffer(c, buffer)
	if err == nil {
		err = c.JoinGroup(nfnlgrpConntrackDestroy)
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
			err = ErrEventsPermission
		}
		if err != nil {
			err = fmt.Errorf("subscribe to conntrack DESTROY events: %w", err)
		}
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	return &netlinkSocket{c: c, buffer: got}, nil
}

// forceReadBuffer sets the socket's receive buffer past the system limit
// and returns what the kernel granted.
func forceReadBuffer(c *netlink.Conn, buffer int) (int, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return 0, fmt.Errorf("set event buffer: %w", err)
	}
	var got int
	var sockErr error
	err = raw.Control(func(fd uintptr) {
		sockErr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, buffer)
		if sockErr == nil {
			got, sockErr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF)
		}
	})
	switch {
	case err != nil:
		return 0, fmt.Errorf("set event buffer: %w", err)
	case errors.Is(sockErr, unix.EPERM):
		return 0, fmt.Errorf("set event buffer of %d bytes: %w", buffer, ErrEventsPermission)
	case sockErr != nil:
		return 0, fmt.Errorf("set event buffer of %d bytes: %w", buffer, sockErr)
	}
	return got, nil
}

// Receive implements eventSocket.
func (s *netlinkSocket) Receive(deliver func(*conntrack.Entry)) (int, error) {
	msgs, err := s.c.Receive()
	if errors.Is(err, unix.ENOBUFS) {
		return 0, errOverrun
	}
	if err != nil {
		return 0, fmt.Errorf("receive conntrack events: %w", err)
	}
	return decodeEvents(msgs, deliver), nil
}

// decodeEvents delivers the DESTROY events among msgs as entries and
// returns how many messages could not be decoded.
func decodeEvents(msgs []netlink.Message, deliver func(*conntrack.Entry)) int {
	bad := 0
	for _, m := range msgs {
		var ev ct.Event
		if err := ev.Unmarshal(m); err != nil {
			bad++
			continue
		}
		if ev.Type != ct.EventDestroy || ev.Flow == nil {
			continue
		}
		e := entryOf(ev.Flow)
		deliver(&e)
	}
	return bad
}

// Buffer implements eventSocket.
func (s *netlinkSocket) Buffer() int { return s.buffer }

// Close implements eventSocket.
func (s *netlinkSocket) Close() error { return s.c.Close() }

// entryOf is the DESTROY event of f as `conntrack -E -o extended,id` prints
// it and pkg/conntrack parses it: the same Entry from the socket and from
// the text. Events carry no use count, and the kernel sends the mark only
// when it is not zero, as the text shows it.
func entryOf(f *ct.Flow) conntrack.Entry {
	e := conntrack.Entry{
		Event:  conntrack.EventDestroy,
		Family: 10,
		Proto:  conntrack.Proto(f.TupleOrig.Proto.Protocol),
		// The kernel leaves the timeout out of an event when it is 0 (an
		// expired entry), and conntrack prints none then.
		Timeout: f.Timeout, HasTimeout: f.Timeout != 0,
		Orig:  tupleOf(f.TupleOrig, f.CountersOrig),
		Reply: tupleOf(f.TupleReply, f.CountersReply),
		Mark:  f.Mark, HasMark: f.Mark != 0,
		ID: f.ID,
	}
	if e.Orig.Src.Is4() {
		e.Family = 2
	}
	if !f.Status.SeenReply() {
		e.Status |= conntrack.StatusUnreplied
	}
	if f.Status.Assured() {
		e.Status |= conntrack.StatusAssured
	}
	if f.Status.Offload() {
		e.Status |= conntrack.StatusOffload
		e.HasTimeout = false
	}
	if f.Status&statusHWOffload != 0 {
		e.Status |= conntrack.StatusHWOffload
		e.HasTimeout = false
	}
	switch pi := f.ProtoInfo; {
	case pi.TCP != nil:
		e.State = stateName(tcpStates[:], pi.TCP.State)
	case pi.SCTP != nil:
		e.State = stateName(sctpStates[:], pi.SCTP.State)
	case pi.DCCP != nil:
		e.State = stateName(dccpStates[:], pi.DCCP.State)
	}
	return e
}

func tupleOf(t ct.Tuple, c ct.Counter) conntrack.Tuple {
	out := conntrack.Tuple{
		Src: t.IP.SourceAddress.Unmap(), Dst: t.IP.DestinationAddress.Unmap(),
		Packets: c.Packets, Bytes: c.Bytes,
	}
	if p := t.Proto; p.ICMPv4 || p.ICMPv6 {
		out.ICMPType, out.ICMPCode, out.ICMPID = p.ICMPType, p.ICMPCode, p.ICMPID
	} else {
		out.SrcPort, out.DstPort = p.SourcePort, p.DestinationPort
	}
	return out
}

// statusHWOffload is IPS_HW_OFFLOAD, which ti-mo/conntrack does not name.
const statusHWOffload ct.Status = 1 << 15

// The state names libnetfilter_conntrack prints, by the kernel's numbers.
var (
	tcpStates = [...]string{"NONE", "SYN_SENT", "SYN_RECV", "ESTABLISHED", "FIN_WAIT",
		"CLOSE_WAIT", "LAST_ACK", "TIME_WAIT", "CLOSE", "LISTEN", "MAX", "IGNORE"}
	sctpStates = [...]string{"NONE", "CLOSED", "COOKIE_WAIT", "COOKIE_ECHOED", "ESTABLISHED",
		"SHUTDOWN_SENT", "SHUTDOWN_RECD", "SHUTDOWN_ACK_SENT", "HEARTBEAT_SENT", "HEARTBEAT_ACKED"}
	dccpStates = [...]string{"NONE", "REQUEST", "RESPOND", "PARTOPEN", "OPEN",
		"CLOSEREQ", "CLOSING", "TIMEWAIT", "IGNORE", "INVALID"}
)

func stateName(names []string, n uint8) string {
	if int(n) < len(names) {
		return names[n]
	}
	return "UNKNOWN"
}
