package main

import (
	"bytes"
	"context"
	"io"
	"log"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// countingWriter records when its bytes arrived.
type countingWriter struct {
	n     uint64
	start time.Time
	last  time.Time
}

func (w *countingWriter) Write(p []byte) (int, error) {
	if w.start.IsZero() {
		w.start = time.Now()
	}
	w.n += uint64(len(p))
	w.last = time.Now()
	return len(p), nil
}

func TestSendPaced(t *testing.T) {
	tests := []struct {
		name     string
		n, rate  uint64
		min, max time.Duration
	}{
		// 400 KB at 1 MB/s: the last chunk is due at 0.4 s (the first is
		// sent at once).
		{"paced", 400_000, 1_000_000, 350 * time.Millisecond, 700 * time.Millisecond},
		{"unpaced", 4 << 20, 0, 0, 200 * time.Millisecond},
		{"nothing", 0, 1000, 0, 50 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var w countingWriter
			start := time.Now()
			if err := sendPaced(context.Background(), &w, tt.n, tt.rate); err != nil {
				t.Fatal(err)
			}
			took := time.Since(start)
			if w.n != tt.n {
				t.Errorf("sent %d bytes, want %d", w.n, tt.n)
			}
			if took < tt.min || took > tt.max {
				t.Errorf("took %s, want %s to %s", took, tt.min, tt.max)
			}
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := sendPaced(ctx, io.Discard, 1<<30, 1000); err == nil {
		t.Error("a cancelled paced send did not fail")
	}
}

func TestParseDownload(t *testing.T) {
	tests := []struct {
		line     string
		n, rate  uint64
		wantFail bool
	}{
		{"GET 100", 100, 0, false},
		{"GET 100 2000000", 100, 2_000_000, false},
		{"GET 100 0", 0, 0, true},
		{"GET 100 fast", 0, 0, true},
		{"GET 100 1 2", 0, 0, true},
		{"GET 100 ", 0, 0, true},
		{"PUT 100 1", 0, 0, true},
	}
	for _, tt := range tests {
		n, rate, err := parseDownload([]byte(tt.line))
		if (err != nil) != tt.wantFail || n != tt.n || rate != tt.rate {
			t.Errorf("parseDownload(%q) = %d, %d, %v", tt.line, n, rate, err)
		}
	}
	line := pacedRequestLine(MaxDownload, 1_000_000_000)
	if len(line) > maxRequestLine {
		t.Errorf("the longest paced request %q is longer than a server reads", line)
	}
}

// TestRunPace downloads from the real server over loopback at a pace.
func TestRunPace(t *testing.T) {
	tcpAddr, _ := startServer(t)
	ready := filepath.Join(t.TempDir(), "ready")
	var stderr bytes.Buffer
	logger := log.New(&stderr, "", 0)
	start := time.Now()
	err := runPace(context.Background(), []string{"-from", "127.0.0.1", "-to", tcpAddr, "-rate", "500000", "-duration", "600ms", "-ready", ready}, logger, &stderr)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	if took := time.Since(start); took < 500*time.Millisecond || took > 2*time.Second {
		t.Errorf("a 600 ms paced download took %s", took)
	}
	if !strings.Contains(stderr.String(), "read 300000 bytes") {
		t.Errorf("log: %s", stderr.String())
	}
	if _, err := os.Stat(ready); err != nil {
		t.Errorf("no ready file: %v", err)
	}
	for _, args := range [][]string{
		{"-to", tcpAddr},
		{"-from", "127.0.0.1"},
		{"-from", "127.0.0.1", "-to", tcpAddr, "-rate", "0"},
		{"-from", "127.0.0.1", "-to", tcpAddr, "-rate", "1000000000", "-duration", "10s"},
	} {
		if err := runPace(context.Background(), args, logger, &stderr); err == nil {
			t.Errorf("runPace(%q) succeeded", args)
		}
	}
}
