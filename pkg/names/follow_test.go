package names

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func appendFile(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

func pair(name, client, addr string) string {
	return "Dec  1 21:06:35 dnsmasq[1]: query[A] " + name + " from " + client + "\n" +
		"Dec  1 21:06:35 dnsmasq[1]: reply " + name + " is " + addr + "\n"
}

// waitName polls until (client, addr) names name, or fails.
func waitName(t *testing.T, d *DNSLog, client, addr, name string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if got, ok := d.Lookup(ip(client), ip(addr), time.Now()); ok && got == name {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	got, ok := d.Lookup(ip(client), ip(addr), time.Now())
	t.Fatalf("Lookup(%s, %s) = %q, %v; want %q", client, addr, got, ok, name)
}

func TestFollowDNSLog(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "dnsmasq.log")
	// The backlog: only its end is read, and its first, partial line dropped.
	old := strings.Repeat("Dec  1 21:00:00 dnsmasq[1]: forwarded x to y\n", 100) + pair("old.example", "10.0.0.5", "192.0.2.1")
	appendFile(t, path, old)
	d := NewDNSLog()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		done <- FollowDNSLog(ctx, path, d, FollowOptions{Poll: 5 * time.Millisecond, Backlog: 200,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	}()
	waitName(t, d, "10.0.0.5", "192.0.2.1", "old.example")

	// Lines appended, one written in two halves.
	appendFile(t, path, pair("new.example", "10.0.0.5", "192.0.2.2"))
	waitName(t, d, "10.0.0.5", "192.0.2.2", "new.example")
	appendFile(t, path, "Dec  1 21:06:35 dnsmasq[1]: query[A] half.example fr")
	time.Sleep(20 * time.Millisecond)
	appendFile(t, path, "om 10.0.0.6\nDec  1 21:06:35 dnsmasq[1]: reply half.example is 192.0.2.3\n")
	waitName(t, d, "10.0.0.6", "192.0.2.3", "half.example")

	// Rotation: renamed away, a new file at the path.
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	appendFile(t, path+".1", pair("late.example", "10.0.0.5", "192.0.2.4"))
	appendFile(t, path, pair("rotated.example", "10.0.0.7", "192.0.2.5"))
	waitName(t, d, "10.0.0.7", "192.0.2.5", "rotated.example")
	waitName(t, d, "10.0.0.5", "192.0.2.4", "late.example")

	// Truncation (copytruncate): read again from the start.
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	appendFile(t, path, pair("after.example", "10.0.0.8", "192.0.2.6"))
	waitName(t, d, "10.0.0.8", "192.0.2.6", "after.example")

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("FollowDNSLog = %v", err)
	}
}

func TestFollowWaitsForTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "later.log")
	d := NewDNSLog()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go FollowDNSLog(ctx, path, d, FollowOptions{Poll: 5 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	time.Sleep(20 * time.Millisecond)
	appendFile(t, path, pair("born.example", "10.0.0.5", "192.0.2.9"))
	waitName(t, d, "10.0.0.5", "192.0.2.9", "born.example")
}

func TestTailOverlongLine(t *testing.T) {
	d := NewDNSLog()
	tl := &tail{d: d}
	now := time.Now()
	tl.consume([]byte(strings.Repeat("x", maxLine+1)), now)
	tl.consume([]byte("still the long line\n"+pair("ok.example", "10.0.0.5", "192.0.2.1")), now)
	if got, ok := d.Lookup(ip("10.0.0.5"), ip("192.0.2.1"), now); !ok || got != "ok.example" {
		t.Errorf("after an over-long line: %q, %v", got, ok)
	}
	if len(tl.partial) != 0 {
		t.Errorf("partial holds %d bytes", len(tl.partial))
	}
}
