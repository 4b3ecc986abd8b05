package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/netmon-dev/netmon/pkg/store"
)

// alertDevices is how many LAN devices the alert crash replay brings in,
// one more per snapshot.
const alertDevices = 8

// writeAlertReplay writes a replay directory in which device i (10.0.0.
// 10+i) first appears in snapshot i, and every flow's counters grow by
// 1,000 bytes each way per snapshot: each device is new once, and the
// LAN's traffic keeps growing (the replay loops; restarted flows count
// again).
func writeAlertReplay(t *testing.T, dir string) string {
	t.Helper()
	replay := filepath.Join(dir, "replay")
	if err := os.Mkdir(replay, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range alertDevices {
		var b strings.Builder
		for j := 0; j <= i; j++ {
			n := 1000 * (i - j + 1)
			fmt.Fprintf(&b, "ipv4     2 tcp      6 431999 ESTABLISHED src=10.0.0.%d dst=203.0.113.%d sport=%d dport=443 packets=%d bytes=%d src=203.0.113.%d dst=203.0.113.1 sport=443 dport=%d packets=%d bytes=%d [ASSURED] mark=0 use=1\n",
				10+j, 80+j, 40000+j, i-j+1, n, 80+j, 40000+j, i-j+1, n)
		}
		if err := os.WriteFile(filepath.Join(replay, fmt.Sprintf("%02d.txt", i)), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return replay
}

// TestCrashAlerts runs the real binary (ingest-loop with alerts to a
// webhook on loopback) and SIGKILLs it at random moments, restarting it
// on the same record and state each time: while the sink is down (the
// alerts wait in the outbox, across kills) and while it is up and slow
// (so kills land between a delivery and its record). At the end every
// expected alert has arrived, one id per event: none lost, none raised
// twice. A kill between a sink's answer and the record of it makes the
// sink get that alert again, under its id, which a sink drops (the hook
// counts them: at most one per kill, the one in flight).
func TestCrashAlerts(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and kills it repeatedly")
	}
	bin := buildNetmon(t)
	dir := t.TempDir()
	replay := writeAlertReplay(t, dir)
	h := newHook(t, "crash-secret")
	h.delay = 20 * time.Millisecond
	conf := filepath.Join(dir, "netmon.yaml")
	yaml := `alerts:
  learning_period: 0s
  new_device:
    delay: 0s
  health:
    enabled: false
  sinks:
    - name: hook
      type: webhook
      url: ` + h.URL + `
      secret: crash-secret
      rate_limit: 1000
      timeout: 2s
  quotas:
    - name: lan
      device: lan
      period: day
      limit: 400kB
`
	if err := os.WriteFile(conf, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func() func(kill bool) {
		var stderr bytes.Buffer
		args := []string{"ingest-loop", "--input-file", replay, "--db", filepath.Join(dir, "netmon.db"),
			"--state-dir", filepath.Join(dir, "state"), "--config", conf, "--interval", "100ms", "--commit-interval", "1s", "--log-level", "warn"}
		cmd := netmonCmd(bin, args...)
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		return func(kill bool) {
			select {
			case <-exited: // a netmon that exits by itself tests nothing
				t.Fatalf("netmon exited before it was stopped: %s", stderr.String())
			default:
			}
			if kill {
				cmd.Process.Signal(syscall.SIGKILL)
			} else {
				cmd.Process.Signal(syscall.SIGTERM)
			}
			<-exited
		}
	}
	rng := rand.New(rand.NewPCG(18, uint64(time.Now().UnixNano())))
	const kills = 8
	h.setDown(true)
	for i := range kills {
		if i == kills/2 {
			h.setDown(false)
		}
		stop := run()
		time.Sleep(time.Duration(100+rng.IntN(600)) * time.Millisecond)
		stop(true)
		integrityCheck(t, filepath.Join(dir, "netmon.db"))
	}
	want := []string{"quota lan 100", "quota lan 80"}
	for i := range alertDevices {
		want = append(want, fmt.Sprintf("new_device ip:10.0.0.%d", 10+i))
	}
	stop := run()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got, _, _ := h.received()
		if len(got) >= len(want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // anything more would be a repeat
	stop(false)
	got, repeats, badSig := h.received()
	if diff := cmp.Diff(sorted(want), events(got)); diff != "" {
		t.Errorf("alerts at the sink after %d kills (-want +got)\n%s", kills, diff)
	}
	if badSig != 0 || repeats > kills {
		t.Errorf("%d bad signatures, %d repeats (at most one per kill)", badSig, repeats)
	}
	h.mu.Lock()
	refused := h.refused
	h.mu.Unlock()
	t.Logf("%d kills: %d alerts delivered, %d refused while the sink was down, %d repeated under their id", kills, len(got), refused, repeats)

	rec, err := store.OpenRecord(context.Background(), filepath.Join(dir, "netmon.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	pending, err := rec.PendingAlerts(context.Background())
	if err != nil || len(pending) != 0 {
		t.Errorf("after the clean stop pending = %v, %v; want none", pending, err)
	}
	if refused == 0 {
		t.Error("no alert reached the sink while it was down: the outbox was never exercised")
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
