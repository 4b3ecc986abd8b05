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
	ticks, stop := tick(interval)
	defer stop()
	rep := newReporter(log, in.now)
	commits, stopCommits := in.commitTicks(tick)
	defer stopCommits()
	defer in.finalCommit(ctx, log)
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
		// After failures, wait more ticks: a broken database or conntrack
		// is not retried every interval for ever. Commits go on meanwhile.
		for range rep.backoff(interval) {
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
