package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"net"
	"testing"
	"time"
)

// startServer serves on fresh loopback ports until the test ends and
// returns the TCP and UDP addresses.
func startServer(t *testing.T) (tcpAddr, udpAddr string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	lns, pcs, err := listen(ctx, []string{"127.0.0.1:0"}, []string{"127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	s := &server{log: log.New(io.Discard, "", 0)}
	done := make(chan struct{})
	go func() { s.run(ctx, lns, pcs); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return lns[0].Addr().String(), pcs[0].LocalAddr().String()
}

func TestServeDownload(t *testing.T) {
	tcpAddr, _ := startServer(t)
	tests := []struct {
		name     string
		request  string
		wantLen  int
		wantHeld bool // the server keeps the connection open after the payload
	}{
		{"payload then hold", "GET 100000\n", 100000, true},
		{"empty download", "GET 0\n", 0, true},
		{"bad request closes", "HELLO\n", 0, false},
		{"too large closes", "GET 1073741825\n", 0, false},
		{"overlong line closes", string(bytes.Repeat([]byte("A"), 100)) + "\n", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := net.Dial("tcp", tcpAddr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if err := c.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
				t.Fatal(err)
			}
			if _, err := io.WriteString(c, tt.request); err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(io.LimitReader(c, int64(tt.wantLen)))
			if err != nil || len(got) != tt.wantLen {
				t.Fatalf("read %d bytes, %v; want %d", len(got), err, tt.wantLen)
			}
			if !bytes.Equal(got, make([]byte, tt.wantLen)) {
				t.Errorf("payload is not all zero bytes")
			}
			// After the payload: a held connection yields nothing until
			// the deadline, a refused one ends (EOF or reset).
			if err := c.SetReadDeadline(time.Now().Add(200 * time.Millisecond)); err != nil {
				t.Fatal(err)
			}
			n, err := c.Read(make([]byte, 1))
			var ne net.Error
			held := errors.As(err, &ne) && ne.Timeout()
			if n != 0 || held != tt.wantHeld {
				t.Errorf("after payload: read %d bytes, err %v; want held=%v", n, err, tt.wantHeld)
			}
		})
	}
}

func TestServeEcho(t *testing.T) {
	_, udpAddr := startServer(t)
	c, err := net.Dial("udp", udpAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	for _, msg := range [][]byte{[]byte("one"), bytes.Repeat([]byte{7}, 1400), {0}} {
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 2000)
		n, err := c.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf[:n], msg) {
			t.Errorf("echo of %d bytes returned %d different bytes", len(msg), n)
		}
	}
}

func TestListenFailsCleanly(t *testing.T) {
	ctx := context.Background()
	lns, _, err := listen(ctx, []string{"127.0.0.1:0"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	taken := lns[0].Addr().String()
	defer lns[0].Close()

	// The first address binds, the second is taken: listen must fail and
	// release the first, so that it can be bound again right away.
	var lc net.ListenConfig
	probe, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	free := probe.Addr().String()
	probe.Close()
	if _, _, err := listen(ctx, []string{free, taken}, nil); err == nil {
		t.Fatalf("listen on a taken address succeeded")
	}
	again, err := lc.Listen(ctx, "tcp", free)
	if err != nil {
		t.Fatalf("address %s still bound after the failed listen: %v", free, err)
	}
	again.Close()

	if _, _, err := listen(ctx, nil, []string{"not-an-address"}); err == nil {
		t.Errorf("listen on a bad udp address succeeded")
	}
}

func TestServerStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	lns, pcs, err := listen(ctx, []string{"127.0.0.1:0"}, []string{"127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	s := &server{log: log.New(&logs, "", 0)}
	done := make(chan struct{})
	go func() { s.run(ctx, lns, pcs); close(done) }()

	// A held connection must not keep the server from stopping.
	c, err := net.Dial("tcp", lns[0].Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "GET 10\n"); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("server did not stop after cancel")
	}
	if bytes.Contains(logs.Bytes(), []byte("accept")) {
		t.Errorf("closing the listener was logged as an error: %s", logs.String())
	}
}

func TestZeros(t *testing.T) {
	buf := []byte{1, 2, 3}
	n, err := zeros{}.Read(buf)
	if n != 3 || err != nil || !bytes.Equal(buf, []byte{0, 0, 0}) {
		t.Errorf("Read = %d, %v, buf %v", n, err, buf)
	}
}
