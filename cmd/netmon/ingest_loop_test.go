package main

import (
	"bytes"
	"context"
	"github.com/netmon-dev/netmon/pkg/source"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/netmon-dev/netmon/pkg/store"
)

// syncBuffer is a bytes.Buffer the loop's logger and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestIngestLoop runs the loop over the demo replay until it has logged a
// few cycles, cancels it like SIGTERM, and checks it stopped cleanly with
// the cycles committed.
func TestIngestLoop(t *testing.T) {
	cfg := testConfig(t)
	cfg.Interval = 100 * time.Millisecond
	cfg.LogLevel = "debug" // one line per cycle
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs syncBuffer
	done := make(chan error, 1)
	go func() { done <- runIngestLoop(ctx, cfg, &source.File{Path: fixture("replay")}, &logs) }()

	deadline := time.Now().Add(30 * time.Second)
	for strings.Count(logs.String(), `msg="ingest cycle"`) < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("fewer than 3 cycles logged in 30s:\n%s", logs.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("loop returned %v after cancel, want nil", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("loop did not stop after cancel")
	}
	if !strings.Contains(logs.String(), "ingest loop stopped") {
		t.Errorf("no stop line in the log:\n%s", logs.String())
	}

	db, err := store.OpenLive(context.Background(), livePath(cfg))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, cycles, err := db.LastCycle(context.Background()); err != nil || cycles < 3 {
		t.Errorf("LastCycle: %d cycles, %v; want at least 3", cycles, err)
	}
}
