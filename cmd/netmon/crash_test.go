package main

import (
	"bufio"
	"compress/gzip"
	"context"
	"database/sql"
	"fmt"
	"github.com/netmon-dev/netmon/pkg/source"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/netmon-dev/netmon/pkg/config"
	"github.com/netmon-dev/netmon/pkg/conntrack"
	"github.com/netmon-dev/netmon/pkg/filter"
	"github.com/netmon-dev/netmon/pkg/store"
)

// netmonCmd returns the command for the built binary. The child is killed
// when the test process dies, so a test that times out (and skips its
// deferred cleanup) leaves no ingest loop running.
func netmonCmd(bin string, args ...string) *exec.Cmd {
	cmd := exec.Command(bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd
}

// snapshotTotals is what the active connections of a database hold after
// a complete cycle of one snapshot.
type snapshotTotals struct {
	count int
	bytes uint64
}

// totalsOf is the oracle of the process tests: what pkg/store leaves
// active after a complete cycle of the snapshot at path, with the default
// local_subnets. TestTotalsOf holds it to the real store.
func totalsOf(t *testing.T, path string) snapshotTotals {
	t.Helper()
	ps, _ := filter.ParsePrefixes(config.Default().LocalSubnets)
	f, err := filter.New(ps)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[conntrack.FlowKey]bool{}
	var tot snapshotTotals
	src := &source.File{Path: path}
	for e, err := range src.List(context.Background(), nil) {
		if err != nil {
			t.Fatal(err)
		}
		if !f.Outbound(e) {
			continue
		}
		// The store merges entries of one tuple into one connection by
		// summing their counters: the tuple counts once, its bytes all.
		if k := conntrack.KeyOf(e); !seen[k] {
			seen[k] = true
			tot.count++
		}
		tot.bytes += e.TotalBytes()
	}
	return tot
}

// readActiveTotals sums the active connections of db.
func readActiveTotals(ctx context.Context, db *store.Live) (snapshotTotals, error) {
	conns, n, err := db.ActiveConnections(ctx, 0)
	if err != nil {
		return snapshotTotals{}, err
	}
	got := snapshotTotals{count: n}
	for i := range conns {
		got.bytes += conns[i].TotalBytes()
	}
	return got, nil
}

// activeTotals is readActiveTotals failing the test on an error.
func activeTotals(t *testing.T, db *store.Live) snapshotTotals {
	t.Helper()
	got, err := readActiveTotals(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// TestTotalsOf runs one real cycle of a snapshot and compares the active
// set the store leaves with what totalsOf predicts. The duplicate case
// lists an outbound tuple twice, in zone 7 and in zone 0, as conntrack
// can: the store sums the two into one connection.
func TestTotalsOf(t *testing.T) {
	capture, err := os.ReadFile(fixture("conntrack", "small_mixed.txt"))
	if err != nil {
		t.Fatal(err)
	}
	const zoned = "ipv4     2 udp      17 27 src=10.0.0.6 dst=203.0.113.80 sport=34817 dport=5353 packets=1 bytes=76 src=203.0.113.80 dst=203.0.113.1 sport=5353 dport=34817 packets=1 bytes=172 mark=0 zone=7 use=1\n"
	if !strings.Contains(string(capture), zoned) {
		t.Fatal("small_mixed.txt lost its zone=7 line")
	}
	tests := []struct {
		name     string
		snapshot string
	}{
		{name: "capture", snapshot: string(capture)},
		{name: "duplicate tuple", snapshot: string(capture) + strings.Replace(zoned, "zone=7 ", "", 1)},
	}
	var got []snapshotTotals
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "snapshot.txt")
			if err := os.WriteFile(path, []byte(tt.snapshot), 0o644); err != nil {
				t.Fatal(err)
			}
			cfg := testConfig(t)
			if err := runIngestOnce(context.Background(), cfg, &source.File{Path: path}, io.Discard); err != nil {
				t.Fatal(err)
			}
			db, err := store.OpenLive(context.Background(), livePath(cfg))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			stored := activeTotals(t, db)
			if want := totalsOf(t, path); stored != want {
				t.Errorf("the store left %+v active, totalsOf says %+v", stored, want)
			}
			got = append(got, stored)
		})
	}
	if len(got) == 2 && (got[1].count != got[0].count || got[1].bytes != got[0].bytes+76+172) {
		t.Errorf("the duplicate did not merge by summing: %+v, then %+v", got[0], got[1])
	}
}

// snapshotLines is how much of the real 10k capture the process tests
// replay: enough for a cycle to take a while, small enough that the test
// process's own checks stay quick under the race detector, which slows
// the pure-Go SQLite down many times over.
const snapshotLines = 3000

// writeHalves writes two overlapping snapshots cut from the first
// snapshotLines lines of the real 10k capture, so a cycle of either leaves
// a different active set.
func writeHalves(t *testing.T, dir string) (a, b string) {
	t.Helper()
	fh, err := os.Open(fixture("conntrack", "big_10000.txt.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	zr, err := gzip.NewReader(fh)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	sc := bufio.NewScanner(zr)
	for sc.Scan() && len(lines) < snapshotLines {
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	a, b = filepath.Join(dir, "a.txt"), filepath.Join(dir, "b.txt")
	cut := len(lines) * 7 / 10
	for path, part := range map[string][]string{a: lines[:cut], b: lines[len(lines)-cut:]} {
		if err := os.WriteFile(path, []byte(strings.Join(part, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return a, b
}

// writeReplay writes the two snapshots of writeHalves into dir/replay and
// returns that directory and what a complete cycle of each leaves active.
func writeReplay(t *testing.T, dir string) (string, []snapshotTotals) {
	t.Helper()
	replay := filepath.Join(dir, "replay")
	if err := os.Mkdir(replay, 0o755); err != nil {
		t.Fatal(err)
	}
	a, b := writeHalves(t, replay)
	complete := []snapshotTotals{totalsOf(t, a), totalsOf(t, b)}
	if complete[0] == complete[1] || complete[0].count == 0 {
		t.Fatalf("snapshots do not tell cycles apart: %+v", complete)
	}
	return replay, complete
}

// integrityCheck fails the test unless the SQLite file at path passes
// integrity_check.
func integrityCheck(t *testing.T, path string) {
	t.Helper()
	raw, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var ok string
	if err := raw.QueryRow("PRAGMA integrity_check").Scan(&ok); err != nil || ok != "ok" {
		t.Fatalf("%s: integrity_check = %q, %v", filepath.Base(path), ok, err)
	}
}

// checkStores opens the live state and the record in dir as netmon would
// after a crash: both intact, the live state holding exactly one complete
// cycle. It returns the live state's cycle count.
func checkStores(t *testing.T, dir string, complete ...snapshotTotals) (cycles int64) {
	t.Helper()
	live := filepath.Join(dir, "state", liveName)
	integrityCheck(t, live)
	if _, err := os.Stat(filepath.Join(dir, "netmon.db")); err == nil {
		integrityCheck(t, filepath.Join(dir, "netmon.db"))
	}
	ctx := context.Background()
	db, err := store.OpenLive(ctx, live)
	if err != nil {
		t.Fatalf("reopen after kill: %v", err)
	}
	defer db.Close()
	_, cycles, err = db.LastCycle(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := activeTotals(t, db)
	if cycles == 0 && got.count == 0 {
		return cycles
	}
	for _, c := range complete {
		if got == c {
			return cycles
		}
	}
	t.Fatalf("after %d cycles the active set is %+v, not a complete cycle (%+v)", cycles, got, complete)
	return cycles
}

// loop starts `netmon ingest-loop` on the database and state directory of
// dir, with extra flags.
func loop(t *testing.T, bin, input, dir string, extra ...string) *exec.Cmd {
	t.Helper()
	args := append([]string{"ingest-loop", "--input-file", input, "--db", filepath.Join(dir, "netmon.db"),
		"--state-dir", filepath.Join(dir, "state"), "--interval", "100ms", "--log-level", "error"}, extra...)
	cmd := netmonCmd(bin, args...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

func kill(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
}

// TestCrashSafety kills a real `netmon ingest-loop` with SIGKILL at random
// moments and checks every time that the live state and the record are
// intact and the live state holds a whole cycle: never half of one.
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the binary")
	}
	bin := buildNetmon(t)
	replay, complete := writeReplay(t, t.TempDir())
	rng := rand.New(rand.NewPCG(1, uint64(time.Now().UnixNano())))

	t.Run("during cycles", func(t *testing.T) {
		dir := t.TempDir()
		var last int64
		for i := range 20 {
			cmd := loop(t, bin, replay, dir, "--commit-interval", "1s")
			// Kill at a random moment after the run has committed a cycle of
			// its own, so every kill lands in the middle of the loop whatever
			// the machine's speed.
			waitForCycle(t, filepath.Join(dir, "state", liveName), last)
			time.Sleep(time.Duration(rng.IntN(250)) * time.Millisecond)
			kill(t, cmd)
			cycles := checkStores(t, dir, complete...)
			if cycles < last {
				t.Fatalf("kill %d: cycle count went back from %d to %d", i, last, cycles)
			}
			last = cycles
		}
		t.Logf("20 kills survived, %d cycles committed", last)
	})

	t.Run("while creating", func(t *testing.T) {
		for range 10 {
			dir := t.TempDir()
			cmd := loop(t, bin, replay, dir)
			time.Sleep(time.Duration(rng.IntN(30)) * time.Millisecond)
			kill(t, cmd)
			if _, err := os.Stat(filepath.Join(dir, "state", liveName)); err != nil {
				continue // killed before the file was created
			}
			checkStores(t, dir, complete...)
		}
	})
}

// TestCrashNeverCountsTwice grows one connection step by step while the
// ingest loop is killed (SIGKILL) or stopped (SIGTERM) and restarted at
// random: the record's total for the device never exceeds what the
// connection really moved (a restart never counts anything twice), and
// what it misses is only the growth since the last commit of a killed run.
func TestCrashNeverCountsTwice(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the binary")
	}
	bin := buildNetmon(t)
	dir := t.TempDir()
	input := filepath.Join(dir, "table.txt")
	const step = 1000
	table := func(n int) {
		t.Helper()
		line := fmt.Sprintf("ipv4     2 tcp      6 431999 ESTABLISHED src=10.0.0.5 dst=203.0.113.80 sport=40000 dport=443 packets=%d bytes=%d src=203.0.113.80 dst=203.0.113.1 sport=443 dport=40000 packets=%d bytes=%d [ASSURED] mark=0 use=1\n", n, n*step, n, 2*n*step)
		if err := os.WriteFile(input+".tmp", []byte(line), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(input+".tmp", input); err != nil {
			t.Fatal(err)
		}
	}
	live := filepath.Join(dir, "state", liveName)
	// applied waits until the live state holds the connection at n steps.
	applied := func(n int) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for time.Now().Before(deadline) {
			if db, err := store.OpenLive(context.Background(), live); err == nil {
				got, err := readActiveTotals(context.Background(), db)
				db.Close()
				if err == nil && got.bytes == uint64(3*n*step) {
					return
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
		t.Fatalf("step %d never reached the live state", n)
	}
	// start runs the loop and waits for its first cycle, so that its
	// signal handlers are in place before the test signals it.
	var cmd *exec.Cmd
	start := func() {
		t.Helper()
		var before int64
		if db, err := store.OpenLive(context.Background(), live); err == nil {
			_, before, _ = db.LastCycle(context.Background())
			db.Close()
		}
		cmd = loop(t, bin, input, dir, "--commit-interval", "1h")
		waitForCycle(t, live, before)
	}
	rng := rand.New(rand.NewPCG(3, uint64(time.Now().UnixNano())))
	table(1)
	start()
	applied(1)
	const steps = 30
	lost := 0 // steps of growth the kills lost
	uncommitted := 1
	for n := 2; n <= steps; n++ {
		table(n)
		applied(n)
		uncommitted++
		switch rng.IntN(3) {
		case 0: // SIGKILL: the growth since the last commit is lost
			kill(t, cmd)
			lost += uncommitted
			uncommitted = 0
			start()
		case 1: // SIGTERM: the final commit keeps it
			cmd.Process.Signal(syscall.SIGTERM)
			if err := cmd.Wait(); err != nil {
				t.Fatalf("ingest-loop after SIGTERM: %v", err)
			}
			uncommitted = 0
			start()
		}
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("ingest-loop after SIGTERM: %v", err)
	}
	rec, err := store.OpenRecord(context.Background(), filepath.Join(dir, "netmon.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	devs, err := rec.DeviceTotalsForever(context.Background())
	if err != nil || len(devs) != 1 {
		t.Fatalf("devices %+v, %v", devs, err)
	}
	got, truth := devs[0].TotalBytes(), uint64(3*steps*step)
	want := truth - uint64(3*lost*step)
	t.Logf("truth %d bytes, recorded %d, kills lost %d steps", truth, got, lost)
	if got > truth {
		t.Fatalf("recorded %d bytes, more than the %d the connection moved: counted twice", got, truth)
	}
	if got != want {
		t.Errorf("recorded %d bytes, want %d (%d steps lost to kills)", got, want, lost)
	}
}

// TestSecondWriterRefused: while ingest-loop writes a database, a second
// writer (ingest-once on the same database or the same state directory)
// exits non-zero with one line naming the first's pid, and writes nothing.
func TestSecondWriterRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildNetmon(t)
	dir := t.TempDir()
	cmd := loop(t, bin, fixture("replay"), dir, "--interval", "1s")
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	waitForCycle(t, filepath.Join(dir, "state", liveName), 0)
	other := t.TempDir()
	for name, args := range map[string][]string{
		"same database":  {"--db", filepath.Join(dir, "netmon.db"), "--state-dir", filepath.Join(other, "state")},
		"same state dir": {"--db", filepath.Join(other, "netmon.db"), "--state-dir", filepath.Join(dir, "state")},
	} {
		t.Run(name, func(t *testing.T) {
			second := netmonCmd(bin, append([]string{"ingest-once", "--input-file", fixture("conntrack", "small_mixed.txt")}, args...)...)
			out, err := second.CombinedOutput()
			if err == nil {
				t.Fatalf("a second writer ran: %s", out)
			}
			msg := strings.TrimSpace(string(out))
			if !strings.Contains(msg, "pid "+strconv.Itoa(cmd.Process.Pid)) || strings.Count(msg, "\n") > 1 {
				t.Errorf("message %q does not name pid %d in one line", msg, cmd.Process.Pid)
			}
		})
	}
}

// waitForCycle waits until the live state at path has committed more
// than after cycles, reading it as a second process would.
func waitForCycle(t *testing.T, path string, after int64) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(path); err == nil {
			db, err := store.OpenLive(ctx, path)
			if err == nil {
				_, n, err := db.LastCycle(ctx)
				db.Close()
				if err == nil && n > after {
					return
				}
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no cycle after %d committed within 60s", after)
}

// TestReaderBesideWriterProcess reads the live state from this process, as
// `netmon serve --ingest=false` does, while a real `netmon ingest-loop`
// process writes cycles into it: every read sees a whole cycle and none
// fails with "database is locked".
func TestReaderBesideWriterProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildNetmon(t)
	dir := t.TempDir()
	replay, complete := writeReplay(t, dir)
	path := filepath.Join(dir, "state", liveName)

	cmd := loop(t, bin, replay, dir)
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			t.Errorf("ingest-loop after SIGTERM: %v", err)
		}
	}()
	waitForCycle(t, path, 0)
	ctx := context.Background()
	db, err := store.OpenLive(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// Read until the writer has committed a few cycles during the reads
	// (and at least 20 reads); the deadline only stops a stuck writer.
	var first, last int64
	deadline := time.Now().Add(2 * time.Minute)
	for i := 0; i < 20 || last < first+3; i++ {
		if time.Now().After(deadline) {
			t.Fatalf("the writer committed only %d cycles during %d reads", last-first, i)
		}
		got, err := readActiveTotals(ctx, db)
		if err != nil {
			t.Fatalf("read %d: %v", i, err)
		}
		if got != complete[0] && got != complete[1] {
			t.Fatalf("read %d saw %+v, not a whole cycle (%+v)", i, got, complete)
		}
		_, cycles, err := db.LastCycle(ctx)
		if err != nil {
			t.Fatalf("read %d: %v", i, err)
		}
		if i == 0 {
			first = cycles
		}
		last = cycles
	}
	t.Logf("reads saw cycles %d to %d, all whole", first, last)
}
