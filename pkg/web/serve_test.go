package web

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

func TestNewServerLimits(t *testing.T) {
	srv := NewServer("127.0.0.1:0", http.NotFoundHandler(), nil)
	got := []time.Duration{srv.ReadHeaderTimeout, srv.ReadTimeout, srv.WriteTimeout, srv.IdleTimeout}
	for i, d := range got {
		if d <= 0 {
			t.Errorf("timeout %d is %v: a stalled client would hold its connection forever", i, d)
		}
	}
	if srv.MaxHeaderBytes != MaxHeaderBytes || srv.ErrorLog == nil {
		t.Errorf("MaxHeaderBytes %d, ErrorLog %v", srv.MaxHeaderBytes, srv.ErrorLog)
	}
}

// TestServeListenerShutdown serves real requests over TCP, then cancels
// the context: Serve returns nil and the port is closed.
func TestServeListenerShutdown(t *testing.T) {
	h, _ := testServer(t, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ServeListener(ctx, ln, h, nil) }()
	url := "http://" + ln.Addr().String()
	res, err := http.Get(url + "/healthz")
	if err != nil {
		t.Fatalf("GET: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Header.Get("X-Frame-Options") != "DENY" {
		t.Errorf("GET /healthz: %d, headers %v", res.StatusCode, res.Header)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("ServeListener after cancel: %v", err)
		}
	case <-time.After(ShutdownTimeout + time.Second):
		t.Fatal("ServeListener did not return after cancel")
	}
	if _, err := http.Get(url + "/healthz"); err == nil {
		t.Error("server still answers after shutdown")
	}
}

func TestServeListenerClosedListener(t *testing.T) {
	h, _ := testServer(t, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	err = ServeListener(context.Background(), ln, h, nil)
	if !errors.Is(err, net.ErrClosed) {
		t.Errorf("ServeListener on a closed listener: %v", err)
	}
}

// TestSlowClientIsCutOff: a client that never finishes its headers is
// disconnected after the header timeout while others are served. The
// timeout is shortened here; production uses ReadHeaderTimeout.
func TestSlowClientIsCutOff(t *testing.T) {
	h, _ := testServer(t, nil)
	srv := NewServer("", h, nil)
	srv.ReadHeaderTimeout = 200 * time.Millisecond
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	slow, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	if _, err := io.WriteString(slow, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: "); err != nil {
		t.Fatal(err)
	}
	// Meanwhile a normal client is served.
	res, err := http.Get("http://" + ln.Addr().String() + "/healthz")
	if err != nil {
		t.Fatalf("normal client: %v", err)
	}
	res.Body.Close()
	slow.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = bufio.NewReader(slow).ReadString('\n')
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("slow client still connected after 5 s")
	}
}
