package main

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/netmon-dev/netmon/pkg/config"
	"github.com/netmon-dev/netmon/pkg/store"
)

func testConfig(t *testing.T) config.Config {
	t.Helper()
	cfg := config.Default()
	dir := t.TempDir()
	cfg.DBPath = filepath.Join(dir, "netmon.db")
	cfg.StateDir = filepath.Join(dir, "state")
	return cfg
}

// livePath is cfg's live state.
func livePath(cfg config.Config) string { return filepath.Join(stateDir(cfg), liveName) }

func dump(t *testing.T, path string) string {
	t.Helper()
	db, err := store.OpenLive(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var b bytes.Buffer
	if err := db.Dump(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestIngestOnce(t *testing.T) {
	cfg := testConfig(t)
	tests := []struct {
		name string
		want string // regexp for the summary line
	}{
		{"cold", `^entries=29 outbound=17 skipped=0 .*new_hosts=10 opened=17 updated=0 closed=0 `},
		// Bookkeeping: ingest_state and the ingest counters (ingest_status).
		{"same table again writes only bookkeeping", `^entries=29 outbound=17 .*new_hosts=0 opened=0 updated=0 closed=0 .*rows_written=2 `},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := runIngestOnce(context.Background(), cfg, fileSource("router_extended.txt"), &out); err != nil {
				t.Fatal(err)
			}
			if !regexp.MustCompile(tt.want).Match(out.Bytes()) {
				t.Errorf("summary %q does not match %q", out.String(), tt.want)
			}
		})
	}
	// ingest-once committed its cycle to the record: the bytes of the
	// active connections, once (the second run saw no growth).
	live, err := store.OpenLive(context.Background(), livePath(cfg))
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	active := activeTotals(t, live)
	rec, err := store.OpenRecord(context.Background(), cfg.DBPath)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	devs, err := rec.DeviceTotalsForever(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var recorded uint64
	for _, d := range devs {
		recorded += d.TotalBytes()
	}
	if recorded != active.bytes || len(devs) == 0 {
		t.Errorf("the record holds %d bytes in %d devices; the live state %d", recorded, len(devs), active.bytes)
	}
}

func TestIngestOnceFailedReadLeavesDatabase(t *testing.T) {
	cfg := testConfig(t)
	if err := runIngestOnce(context.Background(), cfg, fileSource("router_extended.txt"), &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	before := dump(t, livePath(cfg))
	boom := errors.New("conntrack: exit status 1")
	err := runIngestOnce(context.Background(), cfg, &fakeSource{err: boom}, &bytes.Buffer{})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want %v", err, boom)
	}
	if after := dump(t, livePath(cfg)); after != before {
		t.Error("a failed read changed the database")
	}
}
