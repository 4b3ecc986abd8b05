package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/netmon-dev/netmon/pkg/store"
)

// TestReport runs ingest-once over a real capture, then every report from
// the record it committed: the devices' and remote hosts' totals add up
// to the bytes of the stored connections, in each output format.
func TestReport(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(t)
	if err := runIngestOnce(ctx, cfg, fileSource("router_extended.txt"), &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	report := func(output string, args ...string) string {
		t.Helper()
		var out bytes.Buffer
		if err := runReport(ctx, cfg, reportOptions{period: "today", output: output}, args, now, &out); err != nil {
			t.Fatalf("report %v --output %s: %v", args, output, err)
		}
		return out.String()
	}
	type row struct {
		Device *string `json:"device"`
		Remote *string `json:"remote"`
		Start  string  `json:"start"`
		Total  uint64  `json:"total_bytes"`
		Conns  uint64  `json:"connections"`
	}
	sum := func(rows []row) (n uint64) {
		for _, r := range rows {
			n += r.Total
		}
		return n
	}
	var devices, remotes []row
	if err := json.Unmarshal([]byte(report("json")), &devices); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(report("json", "remotes")), &remotes); err != nil {
		t.Fatal(err)
	}
	live, err := store.OpenLive(ctx, livePath(cfg))
	if err != nil {
		t.Fatal(err)
	}
	captured := activeTotals(t, live).bytes // what the capture's outbound connections moved
	live.Close()
	if sum(devices) != captured || sum(remotes) != captured || len(devices) == 0 || devices[0].Device == nil || remotes[0].Remote == nil {
		t.Fatalf("devices %d bytes (%+v), remotes %d bytes; want %d each", sum(devices), devices, sum(remotes), captured)
	}
	var one struct {
		Buckets []row `json:"buckets"`
		Peers   []row `json:"peers"`
	}
	if err := json.Unmarshal([]byte(report("json", "device", *devices[0].Device)), &one); err != nil {
		t.Fatal(err)
	}
	if sum(one.Buckets) != devices[0].Total || sum(one.Peers) != devices[0].Total || one.Buckets[0].Start == "" {
		t.Errorf("device %s: buckets %d, remote hosts %d, want %d each", *devices[0].Device, sum(one.Buckets), sum(one.Peers), devices[0].Total)
	}
	if err := json.Unmarshal([]byte(report("json", "remote", *remotes[0].Remote)), &one); err != nil {
		t.Fatal(err)
	}
	if sum(one.Buckets) != remotes[0].Total || len(one.Peers) == 0 {
		t.Errorf("remote %s: %+v", *remotes[0].Remote, one)
	}
	if csv := report("csv"); !strings.HasPrefix(csv, "device,remote,start,name,uplink_bytes") || strings.Count(csv, "\n") != len(devices)+1 {
		t.Errorf("csv:\n%s", csv)
	}
	if table := report("table"); !strings.Contains(table, "DEVICE") || !strings.Contains(table, *devices[0].Device) {
		t.Errorf("table:\n%s", table)
	}
}

func TestReportErrors(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(t)
	var ue usageError
	if err := runReport(ctx, cfg, reportOptions{period: "fortnight", output: "json"}, nil, time.Now(), &bytes.Buffer{}); !errors.As(err, &ue) || !strings.Contains(err.Error(), "period") {
		t.Errorf("a bad period: %v, want a usage error naming period", err)
	}
	if err := runReport(ctx, cfg, reportOptions{output: "json"}, nil, time.Now(), &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "db_path") {
		t.Errorf("no database yet: %v, want an error naming db_path", err)
	}
}

// TestCommitCommand: `netmon commit` makes a running loop commit at once,
// without waiting for its interval.
func TestCommitCommand(t *testing.T) {
	cfg := testConfig(t)
	cfg.Interval = 20 * time.Millisecond
	cfg.CommitInterval = time.Hour
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs syncBuffer
	done := make(chan error, 1)
	go func() { done <- runIngestLoop(ctx, cfg, fileSource("router_extended.txt"), &logs) }()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(logs.String(), `msg="first ingest cycle"`) {
		if time.Now().After(deadline) {
			t.Fatalf("no cycle in 20s:\n%s", logs.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	var out bytes.Buffer
	if err := runCommit(ctx, cfg, 10*time.Second, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "committed at") {
		t.Errorf("commit said %q", out.String())
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := runCommit(context.Background(), cfg, time.Second, &out); err == nil || !strings.Contains(err.Error(), "no netmon process") {
		t.Errorf("commit without a writer: %v", err)
	}
}
