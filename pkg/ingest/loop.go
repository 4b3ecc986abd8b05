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
// and the loop goes on. With a History it commits every CommitInterval
// (the same Ticker), on every value from CommitNow, and once more when it
// stops. On cancel, Loop returns after the running cycle has committed or
// rolled back (see ReconcileSnapshot) and the final commit. tick nil
// means RealTicker.
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
		logCycle(log, sum, err)
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

// logCycle writes the one line a cycle gets, with its counts and duration.
func logCycle(log *slog.Logger, s Summary, err error) {
	attrs := []slog.Attr{
		slog.Int("entries", s.Entries),
		slog.Int("outbound", s.Outbound),
		slog.Int("skipped", s.Skipped),
	}
	if len(s.ParseErrors) > 0 {
		attrs = append(attrs, slog.String("first_parse_error", s.ParseErrors[0].Error()))
	}
	if err != nil {
		attrs = append(attrs, slog.Duration("took", s.Took), slog.String("err", err.Error()))
		log.LogAttrs(context.Background(), slog.LevelError, "ingest cycle failed", attrs...)
		return
	}
	attrs = append(attrs,
		slog.Int("reported", s.Reported),
		slog.Int("new_hosts", s.NewHosts),
		slog.Int("opened", s.Opened),
		slog.Int("updated", s.Updated),
		slog.Int("closed", s.Closed),
		slog.Int("pruned", s.Pruned),
		slog.Int("duplicates", s.Duplicates),
		slog.Int("rows_written", s.RowsWritten),
		slog.Duration("took", s.Took),
	)
	log.LogAttrs(context.Background(), slog.LevelInfo, "ingest cycle", attrs...)
}
