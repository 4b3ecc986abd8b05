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
	cfg.DBPath = filepath.Join(t.TempDir(), "netmon.db")
	return cfg
}

func dump(t *testing.T, path string) string {
	t.Helper()
	db, err := store.Open(context.Background(), path)
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
		{"same table again writes only bookkeeping", `^entries=29 outbound=17 .*new_hosts=0 opened=0 updated=0 closed=0 .*rows_written=1 `},
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
}

func TestIngestOnceFailedReadLeavesDatabase(t *testing.T) {
	cfg := testConfig(t)
	if err := runIngestOnce(context.Background(), cfg, fileSource("router_extended.txt"), &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	before := dump(t, cfg.DBPath)
	boom := errors.New("conntrack: exit status 1")
	err := runIngestOnce(context.Background(), cfg, &fakeSource{err: boom}, &bytes.Buffer{})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want %v", err, boom)
	}
	if after := dump(t, cfg.DBPath); after != before {
		t.Error("a failed read changed the database")
	}
}
