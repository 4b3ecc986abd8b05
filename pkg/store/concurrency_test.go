package store

import (
	"github.com/netmon-dev/netmon/pkg/conntrack"

	"context"
	"fmt"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"
)

// TestConcurrentReaderSeesWholeCycles runs cycles through one *Live while a
// second *Live on the same file (its own pool, as the web server process has)
// reads in a loop. Every cycle replaces all K active flows with K new ones
// whose uplink bytes are the cycle number, so a reader that saw half a
// cycle would find a count other than K or mixed byte values. Any error,
// "database is locked" included, fails the test.
func TestConcurrentReaderSeesWholeCycles(t *testing.T) {
	const (
		cycles = 40
		k      = 50
	)
	ctx := context.Background()
	path := t.TempDir() + "/netmon.db"
	writer, err := OpenLive(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Close()
	reader, err := OpenLive(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()

	var done atomic.Bool
	readErr := make(chan error, 1)
	reads := 0
	go func() {
		defer close(readErr)
		for !done.Load() {
			reads++
			conns, total, err := reader.ActiveConnections(ctx, 0)
			if err != nil {
				readErr <- fmt.Errorf("read %d: %w", reads, err)
				return
			}
			if total != len(conns) || (total != 0 && total != k) {
				readErr <- fmt.Errorf("read %d: %d rows, total %d; want %d", reads, len(conns), total, k)
				return
			}
			for _, c := range conns {
				if c.UplinkBytes != conns[0].UplinkBytes {
					readErr <- fmt.Errorf("read %d: rows of two cycles: %d and %d bytes",
						reads, conns[0].UplinkBytes, c.UplinkBytes)
					return
				}
			}
			if _, err := remoteHosts(reader, ctx); err != nil {
				readErr <- fmt.Errorf("read %d: %w", reads, err)
				return
			}
		}
	}()

	t0 := time.Date(2026, 11, 25, 17, 0, 0, 0, time.UTC)
	for i := 1; i <= cycles; i++ {
		flows := make([]conntrack.Entry, k)
		for j := range flows {
			flows[j] = flow("udp", "10.0.0.5", uint16((i%2)*k+j), netip.AddrFrom4([4]byte{203, 0, 113, byte(j % 20)}).String(), 53,
				"", "", 1, uint64(i), 0, 0)
		}
		res, err := reconcile(writer, ctx, t0.Add(time.Duration(i)*time.Second), flows, time.Minute)
		if err != nil {
			t.Fatalf("cycle %d: %v", i, err)
		}
		if i > 1 && (res.Opened != k || res.Closed != k) {
			t.Fatalf("cycle %d: %+v; want %d opened and closed", i, res, k)
		}
	}
	done.Store(true)
	if err := <-readErr; err != nil {
		t.Fatal(err)
	}
	t.Logf("%d reads during %d cycles", reads, cycles)
}
