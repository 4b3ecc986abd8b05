package main

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/netmon-dev/netmon/pkg/source"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestServe runs the whole serve command on a replay, with the ingest loop
// inside, on a loopback port, then stops it like SIGTERM would.
func TestServe(t *testing.T) {
	cfg := testConfig(t)
	cfg.Bind = "127.0.0.1:0"
	cfg.Interval = 50 * time.Millisecond
	cfg.FSRoot = fixture("hosts", "router")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	addrc := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- runServe(ctx, cfg, &source.File{Path: fixture("replay")}, io.Discard,
			serveHooks{listening: func(a net.Addr) { addrc <- a }})
	}()
	var base string
	select {
	case a := <-addrc:
		base = "http://" + a.String()
	case err := <-done:
		t.Fatalf("serve stopped early: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not listen")
	}

	// Healthy once the first cycles have run.
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, _ := get(t, base+"/healthz")
		if code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/healthz = %d after 10s", code)
		}
		time.Sleep(20 * time.Millisecond)
	}
	code, body := get(t, base+"/connections.json?limit=3")
	if code != http.StatusOK {
		t.Fatalf("/connections.json = %d %s", code, body)
	}
	var rows []struct {
		Key        string `json:"key"`
		TotalBytes uint64 `json:"total_bytes"`
	}
	if err := json.Unmarshal(body, &rows); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 {
		t.Errorf("got %d rows, want 3: %s", len(rows), body)
	}
	for _, path := range []string{"/", "/metrics.json", "/metrics"} {
		if code, body := get(t, base+path); code != http.StatusOK {
			t.Errorf("GET %s = %d %s", path, code, body)
		}
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve returned %v after cancel, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop")
	}
}

func TestServeBindError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg := testConfig(t)
	cfg.Bind = ln.Addr().String()
	err = runServe(context.Background(), cfg, &fakeSource{}, io.Discard, serveHooks{})
	if err == nil {
		t.Fatal("serve on a busy port succeeded")
	}
	if want := fmt.Sprintf("listen on %s", cfg.Bind); !strings.Contains(err.Error(), want) {
		t.Errorf("err = %v, want it to say %q", err, want)
	}
}

func get(t *testing.T, url string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}
