package ingest

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// Ticker starts a periodic tick of period d and returns its channel and a
// function that stops it. Loop takes one so tests can tick by hand.
type Ticker func(d time.Duration) (ticks <-chan time.Time, stop func())

// RealTicker is the production Ticker, a time.Ticker: when a cycle takes
// longer than the period, the ticks it missed are dropped, not queued.
func RealTicker(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTicker(d)
	return t.C, t.Stop
}

// Loop runs a cycle at once and then one per tick until ctx is done, and
// returns nil then. Cycles never overlap: they run one after another in
// this goroutine, so a slow cycle delays the next. A failed cycle is logged
// (see reporter: once per change of error, not every cycle) and the loop
// goes on, waiting twice as many ticks after each further failure, up to
// a minute. With a History it commits every CommitInterval (the same
// Ticker), on every value from CommitNow, and once more when it stops. On
// cancel, Loop returns after the running cycle has committed or rolled
// back (see ReconcileSnapshot) and the final commit. tick nil means
// RealTicker.
//
// With Events set, Loop starts listening first and waits (up to 5 s) for
// the subscription, so the first read misses no event; a source that
// cannot listen (no CAP_NET_ADMIN) is said once, and polling goes on
// alone. With PollCPUBudget set, the interval stretches beyond interval
// when the last cycles' CPU (conntrack's and netmon's) over the interval
// would exceed the budget, and shrinks back as the table does. A cycle
// that takes longer than its interval is counted (Status.Overruns) and
// logged when it starts a run of such cycles.
func (in *Ingester) Loop(ctx context.Context, interval time.Duration, tick Ticker) error {
	if interval <= 0 {
		return errors.New("ingest loop: interval must be > 0")
	}
	if tick == nil {
		tick = RealTicker
	}
	log := in.Logger
	if log == nil {
		log = slog.Default()
	}
	if in.listenWait == nil {
		in.listenWait = in.listen(ctx, log)
	}
	defer in.listenWait()
	p := pace{base: interval, budget: in.PollCPUBudget}
	current := interval
	in.mu.Lock()
	in.status.Interval = current
	in.mu.Unlock()
	ticks, stop := tick(current)
	defer func() { stop() }()
	rep := newReporter(log, in.now)
	in.mu.Lock()
	rep.started = in.status.Cycles > 0 // First ran and logged the first cycle
	in.mu.Unlock()
	commits, stopCommits := in.commitTicks(tick)
	defer stopCommits()
	defer in.finalCommit(ctx, log)
	var losses eventLosses
	overrunning := false
	for {
		if ctx.Err() != nil {
			return nil
		}
		sum, err := in.ReconcileSnapshot(ctx)
		if err != nil && ctx.Err() != nil {
			log.Info("ingest cycle interrupted by shutdown", slog.String("err", err.Error()))
			return nil
		}
		rep.cycle(sum, err)
		if sum.Took > current {
			in.mu.Lock()
			in.status.Overruns++
			in.mu.Unlock()
			// Said when a run of overruns starts: with a fixed interval a
			// table too big for it overruns every cycle, and
			// Status.Overruns counts them all.
			if !overrunning {
				log.Warn("ingest cycle took longer than the interval", slog.Duration("took", sum.Took), slog.Duration("interval", current))
			}
		}
		overrunning = sum.Took > current
		losses.check(log, in.Status().Events)
		if next := p.observe(sum.CPU); changed(next, current) {
			log.Info("poll interval changed to keep polling within its CPU budget",
				slog.Duration("interval", next), slog.Duration("cycle_cpu", sum.CPU), slog.Float64("budget", in.PollCPUBudget))
			stop()
			current = next
			ticks, stop = tick(current)
			in.mu.Lock()
			in.status.Interval = current
			in.mu.Unlock()
		}
		// After failures, wait more ticks: a broken database or conntrack
		// is not retried every interval for ever. Commits go on meanwhile.
		for range rep.backoff(current) {
		wait:
			for {
				select {
				case <-ctx.Done():
					return nil
				case <-ticks:
					break wait
				case <-commits:
					in.commitLogged(ctx, log)
				case <-in.CommitNow:
					in.commitLogged(ctx, log)
				}
			}
		}
	}
}

// changed reports whether the interval moved by more than a tenth, which
// is worth restarting the ticker for.
func changed(next, current time.Duration) bool {
	d := next - current
	return d > current/10 || -d > current/10
}
