package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"sync"
	"syscall"
	"time"
)

// Bounds that keep every server loop finite even if the lab is left up.
const (
	maxConnsPerListener = 10000
	maxDatagrams        = 100000
)

// server runs the download and echo services until its context ends.
type server struct {
	log *log.Logger
	wg  sync.WaitGroup
}

// listen opens every TCP and UDP address. It fails without leaving any
// socket open if one address cannot be bound.
func listen(ctx context.Context, tcpAddrs, udpAddrs []string) ([]net.Listener, []net.PacketConn, error) {
	var lc net.ListenConfig
	var lns []net.Listener
	var pcs []net.PacketConn
	closeAll := func() {
		for _, l := range lns {
			l.Close()
		}
		for _, p := range pcs {
			p.Close()
		}
	}
	for _, a := range tcpAddrs {
		l, err := lc.Listen(ctx, "tcp", a)
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("listen tcp %s: %w", a, err)
		}
		lns = append(lns, l)
	}
	for _, a := range udpAddrs {
		p, err := lc.ListenPacket(ctx, "udp", a)
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("listen udp %s: %w", a, err)
		}
		pcs = append(pcs, p)
	}
	return lns, pcs, nil
}

// run serves on the given sockets until ctx ends, then closes them and
// waits for every handler.
func (s *server) run(ctx context.Context, lns []net.Listener, pcs []net.PacketConn) {
	for _, l := range lns {
		s.wg.Go(func() { s.acceptLoop(ctx, l) })
	}
	for _, p := range pcs {
		s.wg.Go(func() { s.echoLoop(p) })
	}
	<-ctx.Done()
	for _, l := range lns {
		l.Close()
	}
	for _, p := range pcs {
		p.Close()
	}
	s.wg.Wait()
}

func (s *server) acceptLoop(ctx context.Context, l net.Listener) {
	for range maxConnsPerListener {
		c, err := l.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				s.log.Printf("accept on %s: %v", l.Addr(), err)
			}
			return
		}
		s.wg.Go(func() {
			if err := serveDownload(ctx, c); err != nil {
				s.log.Printf("download %s -> %s: %v", c.RemoteAddr(), c.LocalAddr(), err)
			}
		})
	}
	s.log.Printf("%s: served %d connections, stop accepting", l.Addr(), maxConnsPerListener)
}

// serveDownload answers one download request and then holds the connection
// until the client closes it or ctx ends.
func serveDownload(ctx context.Context, c net.Conn) error {
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Now()) })
	defer stop()
	r := bufio.NewReaderSize(c, 64)
	line, err := r.ReadSlice('\n')
	if err != nil {
		return fmt.Errorf("read request: %w", err)
	}
	if len(line) > maxRequestLine {
		return fmt.Errorf("%w: line longer than %d bytes", errBadRequest, maxRequestLine)
	}
	n, rate, err := parseDownload(line[:len(line)-1])
	if err != nil {
		return err
	}
	if err := sendPaced(ctx, c, n, rate); err != nil {
		return fmt.Errorf("send %d bytes: %w", n, err)
	}
	// Hold until the client closes: its FIN comes first, so the server
	// side never lingers in TIME_WAIT. A client may reset instead (fetch
	// -close rst), which ends the download as well.
	if _, err := io.Copy(io.Discard, r); err != nil && !errors.Is(err, syscall.ECONNRESET) {
		return fmt.Errorf("wait for close: %w", err)
	}
	return nil
}

// echoLoop sends every datagram back to its sender from the same socket,
// so the reply leaves from the address the request went to.
func (s *server) echoLoop(p net.PacketConn) {
	buf := make([]byte, 65535)
	for range maxDatagrams {
		n, from, err := p.ReadFrom(buf)
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				s.log.Printf("read on %s: %v", p.LocalAddr(), err)
			}
			return
		}
		if _, err := p.WriteTo(buf[:n], from); err != nil {
			s.log.Printf("echo %s -> %s: %v", p.LocalAddr(), from, err)
		}
	}
	s.log.Printf("%s: echoed %d datagrams, stop", p.LocalAddr(), maxDatagrams)
}

// zeros is an endless reader of zero bytes: download payload.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
