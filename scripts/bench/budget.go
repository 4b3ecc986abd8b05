package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/dustin/go-humanize"
	"golang.org/x/sys/unix"
	_ "modernc.org/sqlite" // reads the record's bookkeeping row, read-only
)

// Issue 14's flash budget, in decimal units as the issue states it.
const (
	budgetBusy = 50e6 // bytes a day, the home profile at the default commit interval
	budgetIdle = 1e6  // bytes a day, the same table with nothing changing
	// defaultCommit is netmon's default commit_interval, the figure's
	// interval (pkg/config's Default; the row says which it measured).
	defaultCommit = 10 * time.Minute
	day           = 24 * time.Hour
)

// budgetSpec is one ingest-loop daemon of the budget rows.
type budgetSpec struct {
	name   string
	netmon string
	input  string
	// commit is the commit interval; 0 for the version before the split,
	// which has none and writes every cycle to --db.
	commit  time.Duration
	idle    bool          // the table never changes
	margin  time.Duration // from the start to the window's start
	window  time.Duration // commits whole commit intervals (or any length for the version before)
	commits int           // ticker commits inside the window
}

// budgetWindow returns the window for commit interval c: whole intervals
// covering about target (at least one), starting a quarter interval (at
// most 30 s) after the start. The loop's commit ticker starts with the
// process, so (start+margin, start+margin+k*c] holds exactly the ticker
// commits k of them, and the warm-up commit (sent at once) lies before it.
func budgetWindow(c, target time.Duration) (margin, window time.Duration, k int) {
	k = max(1, int(math.Round(float64(target)/float64(c))))
	return min(c/4, 30*time.Second), time.Duration(k) * c, k
}

// budgetResult is what one daemon did over its window.
type budgetResult struct {
	budgetSpec
	a, b     procSample
	written  int64 // commits that wrote (record_state.commits), -1 for the version before
	growth   int64 // db + WAL growth over the window
	dbSize   int64 // db + WAL at the end
	liveSize int64 // the live state's files (tmpfs) at the end
	gen      homeStats
	remotes  int // remote hosts the table moved traffic with in the window
	outbound int64
}

// perDay scales bytes written over window w to a day.
func perDay(bytes int64, w time.Duration) float64 { return float64(bytes) * float64(day) / float64(w) }

// budget runs the flash-budget daemons side by side on the home profile
// (one generator, rewriting a table on tmpfs once a second): ingest-loop
// at each commit interval of the plan, the same table idle at the default
// (the smoke interval in quick mode), and, given the version before the
// split, that version busy and idle. Each has its own state directory
// (tmpfs) and database (disk); write_bytes is per process, so they do not
// disturb each other's figure.
func (e *env) budget(ctx context.Context) ([]Row, error) {
	if err := e.checkDisks(); err != nil {
		return nil, err
	}
	h := newHome(1)
	busy, idle := filepath.Join(e.State, "home.txt"), filepath.Join(e.State, "home-idle.txt")
	dayTable := ""
	if e.dayWarm {
		// A day of the profile, so that the record starts as it is late
		// in a day: every device, remote host and pair of the day in the
		// day's buckets (the rows every commit of that day updates).
		for range int(day / time.Second) {
			h.Step()
		}
		dayTable = filepath.Join(e.State, "home-day.txt")
		_, now, _ := h.Stats(0)
		if err := os.WriteFile(dayTable, h.RenderDay(nil, now-int64(day/time.Second)), 0o644); err != nil {
			return nil, fmt.Errorf("write a day's table: %w", err)
		}
	}
	if _, err := writeHome(h, idle, nil); err != nil {
		return nil, err
	}
	if _, err := writeHome(h, busy, nil); err != nil {
		return nil, err
	}
	var specs []budgetSpec
	for _, c := range e.commitIntervals {
		m, w, k := budgetWindow(c, e.budgetTarget)
		specs = append(specs, budgetSpec{name: "busy-" + c.String(), netmon: e.Netmon, input: busy, commit: c, margin: m, window: w, commits: k})
	}
	idleCommit := defaultCommit
	if e.smoke {
		idleCommit = e.commitIntervals[0]
	}
	m, w, k := budgetWindow(idleCommit, e.budgetTarget)
	specs = append(specs, budgetSpec{name: "idle", netmon: e.Netmon, input: idle, commit: idleCommit, idle: true, margin: m, window: w, commits: k})
	if e.Before != "" {
		for _, s := range []budgetSpec{{name: "before-busy", input: busy}, {name: "before-idle", input: idle, idle: true}} {
			s.netmon, s.margin, s.window = e.Before, 15*time.Second, e.beforeWindow
			specs = append(specs, s)
		}
	}
	gctx, stopGen := context.WithCancel(ctx)
	genErr := make(chan error, 1)
	go func() { genErr <- runHome(gctx, h, busy) }()
	results := make([]budgetResult, len(specs))
	errs := make([]error, len(specs))
	var wg sync.WaitGroup
	for i, s := range specs {
		wg.Go(func() { results[i], errs[i] = e.budgetRun(ctx, h, s, dayTable) })
	}
	wg.Wait()
	stopGen()
	if err := errors.Join(append(errs, <-genErr)...); err != nil {
		return nil, err
	}
	return budgetRows(results, e.smoke), nil
}

// checkDisks refuses a run whose figures would mean nothing: the state
// directory must be a tmpfs (live state there costs no flash), the work
// directory (the databases) must not be (write_bytes is 0 on tmpfs).
func (e *env) checkDisks() error {
	if ok, err := tmpfs(e.State); err != nil || !ok {
		return errors.Join(err, fmt.Errorf("-state %s: not a tmpfs (use a directory in /dev/shm)", e.State))
	}
	if t, err := tmpfs(e.Work); err != nil || t {
		return errors.Join(err, fmt.Errorf("-work %s: a tmpfs, where nothing reaches a block device (use a directory on disk)", e.Work))
	}
	return nil
}

// tmpfs reports whether dir is on a tmpfs.
func tmpfs(dir string) (bool, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return false, fmt.Errorf("statfs %s: %w", dir, err)
	}
	return st.Type == unix.TMPFS_MAGIC, nil
}

// budgetRun runs one daemon of the budget and samples its window. Given
// a day's table, ingest-once reads it into the record first, with a
// live state of its own (the loop's then starts empty: its first read is
// the baseline, as after a restart that lost /run).
func (e *env) budgetRun(ctx context.Context, h *home, s budgetSpec, dayTable string) (budgetResult, error) {
	r := budgetResult{budgetSpec: s, written: -1}
	state, db := filepath.Join(e.State, s.name), filepath.Join(e.Work, s.name+".db")
	lan := strings.Join(homeLAN, ",")
	args := []string{s.netmon, "ingest-loop", "--interval", "1s", "--db", db, "--input-file", s.input, "--local-subnets", lan}
	if s.commit > 0 {
		// A cycle's line is at DEBUG (the window counts cycles); stderr
		// is a pipe, so it costs no flash.
		args = append(args, "--state-dir", state, "--commit-interval", s.commit.String(), "--log-level", "debug")
		if dayTable != "" {
			out, err := exec.CommandContext(ctx, s.netmon, "ingest-once", "--input-file", dayTable, "--local-subnets", lan,
				"--db", db, "--state-dir", state+"-day").CombinedOutput()
			if sum := summary(string(out)); err != nil || sum["skipped"] != 0 || sum["outbound"] != sum["entries"] {
				return r, fmt.Errorf("%s: ingest-once of a day's table: %v: %s", s.name, err, out)
			}
		}
	}
	start := time.Now()
	d, err := startDaemon(args...)
	if err != nil {
		return r, err
	}
	err = r.sample(ctx, d, h, start, state, db)
	if stopErr := d.stop(); err == nil {
		err = stopErr
	}
	if err != nil {
		return r, fmt.Errorf("%s: %w", s.name, err)
	}
	return r, nil
}

// sample waits for the first cycle, commits it at once (SIGUSR1, as
// `netmon commit` does: the record then knows the devices and remote hosts
// of the table, as it does after the first day), and takes the daemon's
// counters at both ends of the window.
func (r *budgetResult) sample(ctx context.Context, d *daemon, h *home, start time.Time, state, db string) error {
	if _, _, err := d.window(ctx, 1, 0); err != nil {
		return err
	}
	var c0 int64
	if r.commit > 0 {
		if err := d.cmd.Process.Signal(syscall.SIGUSR1); err != nil {
			return fmt.Errorf("ask for a commit: %w", err)
		}
	}
	if err := sleep(ctx, time.Until(start.Add(r.margin))); err != nil {
		return err
	}
	var err error
	if r.a, err = d.sample(); err != nil {
		return err
	}
	if r.commit > 0 {
		if c0, err = recordCommits(db); err == nil && c0 == 0 {
			err = errors.New("the warm-up commit has not written the record by the window's start")
		}
		if err != nil {
			return err
		}
	}
	g0, since, _ := h.Stats(0)
	size0 := dbSize(db)
	if err := sleep(ctx, time.Until(start.Add(r.margin+r.window))); err != nil {
		return err
	}
	if r.b, err = d.sample(); err != nil {
		return err
	}
	if r.commit > 0 {
		c1, err := recordCommits(db)
		if err != nil {
			return err
		}
		r.written = c1 - c0
		r.liveSize = filesSize(filepath.Join(state, "live.db"))
	}
	r.dbSize = dbSize(db)
	r.growth = r.dbSize - size0
	g1, _, remotes := h.Stats(since)
	r.gen = homeStats{g1.Steps - g0.Steps, g1.Opened - g0.Opened, g1.Closed - g0.Closed, g1.Grown - g0.Grown, g1.Bytes - g0.Bytes}
	if r.idle {
		r.gen, remotes = homeStats{}, 0
	}
	r.remotes = remotes
	d.mu.Lock()
	skipped, failed, out := d.skipped, d.failed, d.last["outbound"]
	d.mu.Unlock()
	r.outbound = out
	switch {
	case skipped > 0 || failed > 0:
		return fmt.Errorf("%d cycles failed, up to %d lines skipped: the generator's table must parse whole: %s", failed, skipped, d.stderr())
	case out < homeFlows*9/10:
		return fmt.Errorf("the last cycle saw %d outbound flows, want about %d", out, homeFlows)
	case r.commit > 0 && !r.idle && r.written != int64(r.commits):
		return fmt.Errorf("%d commits wrote the record in the window, want %d (one per commit interval)", r.written, r.commits)
	}
	return nil
}

// recordCommits reads how many commits have written the record at db,
// from its bookkeeping row, read-only (never a write to the file).
func recordCommits(db string) (int64, error) {
	sdb, err := sql.Open("sqlite", "file:"+db+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		return 0, fmt.Errorf("open record: %w", err)
	}
	defer sdb.Close()
	var n int64
	if err := sdb.QueryRow(`SELECT commits FROM record_state WHERE id = 1`).Scan(&n); err != nil {
		return 0, fmt.Errorf("read record state of %s: %w", db, err)
	}
	return n, nil
}

// filesSize is the size of an SQLite file with its WAL and shared memory.
func filesSize(db string) int64 {
	var n int64
	for _, p := range []string{db, db + "-wal", db + "-shm"} {
		if fi, err := os.Stat(p); err == nil {
			n += fi.Size()
		}
	}
	return n
}

// budgetRows makes the rows: one per commit interval of the busy table,
// the idle one, each with the version before the split beside it.
func budgetRows(rs []budgetResult, smoke bool) []Row {
	var before, beforeIdle *budgetResult
	for i := range rs {
		switch rs[i].name {
		case "before-busy":
			before = &rs[i]
		case "before-idle":
			beforeIdle = &rs[i]
		}
	}
	var rows []Row
	for _, r := range rs {
		if r.commit == 0 {
			continue
		}
		b := before
		if r.idle {
			b = beforeIdle
		}
		rows = append(rows, budgetRow(r, b, smoke))
	}
	return rows
}

// mb formats a byte count in decimal units, as the budget is stated.
func mb(n float64) string { return humanize.Bytes(uint64(max(n, 0))) }

// budgetRow is the row of one busy or idle daemon.
func budgetRow(r budgetResult, before *budgetResult, smoke bool) Row {
	wb := r.b.WriteBytes - r.a.WriteBytes
	w := r.b.At.Sub(r.a.At)
	cycles := r.b.Cycles - r.a.Cycles
	daily := perDay(wb, w)
	profile := fmt.Sprintf("home profile: %d devices (%d with IPv6 too), %s flows", homeDevices, len(homeV6), count(r.outbound))
	if r.idle {
		profile += ", nothing changing"
	} else {
		steps := float64(max(r.gen.Steps, 1))
		profile += fmt.Sprintf(", %.0f growing, %.1f opened and %.1f closed a second, %s remote hosts moving traffic, %.0f Mbit/s",
			float64(r.gen.Grown)/steps, float64(r.gen.Opened)/steps, float64(r.gen.Closed)/steps, count(r.remotes),
			float64(r.gen.Bytes)*8/steps/1e6)
	}
	what := fmt.Sprintf("flash writes, ingest-loop --interval 1s, commit every %s, %s; %s window (%d commit intervals)",
		r.commit, profile, w.Round(time.Second), r.commits)
	if r.commit == time.Hour {
		what += "; a run of over an hour (--big)"
	}
	perCommit := "no commit wrote anything"
	if r.written > 0 {
		perCommit = fmt.Sprintf("%s per commit", mb(float64(wb)/float64(r.commits)))
	}
	row := Row{
		What: what,
		Netmon: fmt.Sprintf("%s/day write_bytes (%s in the window, %s; %d commits wrote); record db+WAL %s, grew %s; wchar %s/cycle, to the live state on tmpfs (%s); %d cycles",
			mb(daily), mb(float64(wb)), perCommit, max(r.written, 0), size(r.dbSize), size(r.growth),
			size((r.b.WChar-r.a.WChar)/int64(max(cycles, 1))), size(r.liveSize), cycles),
		PeakRSS: size(r.b.HWM),
	}
	if before != nil {
		bw := before.b.WriteBytes - before.a.WriteBytes
		bc := before.b.Cycles - before.a.Cycles
		row.Baseline = fmt.Sprintf("before the split (d4cbfe9, every cycle to --db): %s/day (%s/cycle over %s)",
			mb(perDay(bw, before.b.At.Sub(before.a.At))), mb(float64(bw)/float64(max(bc, 1))), before.b.At.Sub(before.a.At).Round(time.Second))
		if wb > 0 {
			row.Ratio = fmt.Sprintf("%s less", ratio(perDay(bw, before.b.At.Sub(before.a.At)), daily))
		} else {
			row.Ratio = "nothing written"
		}
	}
	switch {
	case smoke:
		row.What = "SMOKE RUN, not the budget figure (commit every " + r.commit.String() + " to finish in seconds): " + what
		row.Target = "runs; every line parses"
		row.Result = "ok"
	case r.idle:
		row.Target = "< 1 MB/day"
		row.Result = verdict(daily < budgetIdle)
	case r.commit == defaultCommit:
		row.Target = "<= 50 MB/day at the default commit interval"
		row.Result = verdict(daily <= budgetBusy)
	}
	return row
}
