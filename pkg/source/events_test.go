package source

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/netmon-dev/netmon/pkg/conntrack"
)

// fakeSocket hands out what the test sends on recv, one Receive each.
type fakeSocket struct {
	recv   chan recvStep
	closed chan struct{}
	once   sync.Once
}

type recvStep struct {
	events    []conntrack.Entry
	undecoded int
	err       error
}

var _ eventSocket = (*fakeSocket)(nil)

func newFakeSocket() *fakeSocket {
	return &fakeSocket{recv: make(chan recvStep), closed: make(chan struct{})}
}

func (s *fakeSocket) Receive(deliver func(*conntrack.Entry)) (int, error) {
	select {
	case st := <-s.recv:
		for i := range st.events {
			deliver(&st.events[i])
		}
		return st.undecoded, st.err
	case <-s.closed:
		return 0, errors.New("use of closed file")
	}
}

func (s *fakeSocket) Buffer() int  { return 64 << 20 }
func (s *fakeSocket) Close() error { s.once.Do(func() { close(s.closed) }); return nil }

// destroyOf is a DESTROY event from src.
func destroyOf(src string, id uint32) conntrack.Entry {
	return conntrack.Entry{Event: conntrack.EventDestroy, Proto: conntrack.ProtoUDP, ID: id,
		Orig: conntrack.Tuple{Src: netip.MustParseAddr(src), Dst: netip.MustParseAddr("203.0.113.80"), SrcPort: 1, DstPort: 53}}
}

// listening starts l.Listen with sockets from socks, and waits for ready.
func listening(t *testing.T, l *Listener, keep func(*conntrack.Entry) bool, socks ...*fakeSocket) (stop func() error) {
	t.Helper()
	opened := make(chan *fakeSocket, len(socks))
	for _, s := range socks {
		opened <- s
	}
	l.open = func(int) (eventSocket, error) {
		select {
		case s := <-opened:
			return s, nil
		default:
			return nil, errors.New("no more sockets")
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan error, 2)
	done := make(chan error, 1)
	go func() { done <- l.Listen(ctx, keep, func(err error) { ready <- err }) }()
	if err := <-ready; err != nil {
		t.Fatalf("ready(%v)", err)
	}
	return func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(5 * time.Second):
			t.Fatal("Listen did not return after cancel")
			return nil
		}
	}
}

func drained(l *Listener) []uint32 {
	var ids []uint32
	l.Drain(func(e *conntrack.Entry) { ids = append(ids, e.ID) })
	return ids
}

// TestListenerKeepsAndDrains: events are kept in order until Drain, the
// ones keep refuses are counted as received only, and a full buffer drops
// and counts the rest.
func TestListenerKeepsAndDrains(t *testing.T) {
	l := &Listener{MaxPending: 3}
	sock := newFakeSocket()
	lan := func(e *conntrack.Entry) bool { return strings.HasPrefix(e.Orig.Src.String(), "10.") }
	stop := listening(t, l, lan, sock)

	sock.recv <- recvStep{events: []conntrack.Entry{destroyOf("10.0.0.5", 1), destroyOf("192.168.50.10", 2), destroyOf("10.0.0.6", 3)}}
	sock.recv <- recvStep{} // a Receive has returned once the next one is taken
	if diff := cmp.Diff([]uint32{1, 3}, drained(l)); diff != "" {
		t.Errorf("first drain (-want +got):\n%s", diff)
	}
	if got := drained(l); len(got) != 0 {
		t.Errorf("second drain: %v, want nothing", got)
	}
	sock.recv <- recvStep{events: []conntrack.Entry{destroyOf("10.0.0.5", 4), destroyOf("10.0.0.5", 5), destroyOf("10.0.0.5", 6), destroyOf("10.0.0.5", 7), destroyOf("10.0.0.5", 8)}}
	sock.recv <- recvStep{}
	if diff := cmp.Diff([]uint32{4, 5, 6}, drained(l)); diff != "" {
		t.Errorf("drain after a burst (-want +got):\n%s", diff)
	}
	want := conntrack.ListenStats{Listening: true, Buffer: 64 << 20, Received: 8, Kept: 5, Dropped: 2}
	if diff := cmp.Diff(want, l.Stats()); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
	if err := stop(); err != nil {
		t.Errorf("Listen = %v after cancel, want nil", err)
	}
	if l.Stats().Listening {
		t.Error("still listening after Listen returned")
	}
}

// TestListenerOverrunsAndRestarts: an overrun is counted and the socket
// goes on; a failed socket is closed and a new one opened, with its
// restart and its error in the stats; undecoded messages are counted.
func TestListenerOverrunsAndRestarts(t *testing.T) {
	l := &Listener{}
	first, second := newFakeSocket(), newFakeSocket()
	stop := listening(t, l, nil, first, second)

	first.recv <- recvStep{err: errOverrun}
	first.recv <- recvStep{err: errOverrun}
	first.recv <- recvStep{events: []conntrack.Entry{destroyOf("10.0.0.5", 1)}, undecoded: 2}
	first.recv <- recvStep{err: errors.New("socket broke")}
	select {
	case <-first.closed:
	case <-time.After(5 * time.Second):
		t.Fatal("the failed socket was not closed")
	}
	second.recv <- recvStep{events: []conntrack.Entry{destroyOf("10.0.0.5", 2)}}
	second.recv <- recvStep{}
	if diff := cmp.Diff([]uint32{1, 2}, drained(l)); diff != "" {
		t.Errorf("events across the restart (-want +got):\n%s", diff)
	}
	want := conntrack.ListenStats{Listening: true, Buffer: 64 << 20, Received: 2, Kept: 2, Overruns: 2,
		Undecoded: 2, Restarts: 1, LastError: "socket broke"}
	if diff := cmp.Diff(want, l.Stats()); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
	if err := stop(); err != nil {
		t.Error(err)
	}
}

// TestListenerPermission: without CAP_NET_ADMIN the first attempt fails,
// ready gets the error and Listen gives up at once.
func TestListenerPermission(t *testing.T) {
	l := &Listener{open: func(int) (eventSocket, error) {
		return nil, ErrEventsPermission
	}}
	var readyErr error
	err := l.Listen(context.Background(), nil, func(err error) { readyErr = err })
	if !errors.Is(err, ErrEventsPermission) || !errors.Is(readyErr, ErrEventsPermission) {
		t.Errorf("Listen = %v, ready(%v); want ErrEventsPermission for both", err, readyErr)
	}
}

// TestListenerBuffer: the socket is opened with the configured buffer, or
// the default.
func TestListenerBuffer(t *testing.T) {
	for _, tc := range []struct{ set, want int }{{0, DefaultEventsBuffer}, {1 << 20, 1 << 20}} {
		var got int
		l := &Listener{Buffer: tc.set, open: func(b int) (eventSocket, error) {
			got = b
			return nil, ErrEventsPermission
		}}
		l.Listen(context.Background(), nil, nil)
		if got != tc.want {
			t.Errorf("Buffer %d: opened with %d, want %d", tc.set, got, tc.want)
		}
	}
}
