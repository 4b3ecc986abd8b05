package ingest

import (
	"context"
	"log/slog"
	"time"
)

// SummaryEvery is how often the loop logs an INFO summary of its cycles.
const SummaryEvery = time.Minute

// maxBackoff bounds the wait between failing cycles.
const maxBackoff = time.Minute

// reporter turns the loop's cycles into log lines a person can leave
// running: every cycle at DEBUG; at INFO the first successful cycle, a
// summary every SummaryEvery and the recovery from failure; at ERROR a
// failure when it starts or its error changes, never the same error
// every second: its repeats are counted into the summary and the
// recovery line.
type reporter struct {
	log *slog.Logger
	now func() time.Time

	started  bool      // a cycle succeeded since the loop began
	failing  bool      // the last cycle failed
	lastErr  string    // its error
	failures int       // consecutive failed cycles
	since    time.Time // when the failing began
	repeats  int       // failures with lastErr since it was logged

	window     time.Time // start of the summary window
	ok, failed int       // cycles in the window
	opened     int
	closed     int
	maxTook    time.Duration
}

func newReporter(log *slog.Logger, now func() time.Time) *reporter {
	return &reporter{log: log, now: now, window: now()}
}

// cycle records one cycle's outcome and writes the lines it calls for.
func (r *reporter) cycle(s Summary, err error) {
	ctx := context.Background()
	now := r.now()
	r.log.LogAttrs(ctx, slog.LevelDebug, cycleMessage(err), cycleAttrs(s, err)...)
	if err != nil {
		r.failed++
		r.failures++
		msg := err.Error()
		switch {
		case !r.failing:
			r.failing, r.since, r.repeats = true, now, 0
			r.log.LogAttrs(ctx, slog.LevelError, "ingest failing", slog.String("err", msg), slog.Duration("took", s.Took))
		case msg != r.lastErr:
			r.log.LogAttrs(ctx, slog.LevelError, "ingest failing with another error", slog.String("err", msg),
				slog.String("previous_err", r.lastErr), slog.Int("previous_repeats", r.repeats))
			r.repeats = 0
		default:
			r.repeats++
		}
		r.lastErr = msg
	} else {
		r.ok++
		r.opened += s.Opened
		r.closed += s.Closed
		r.maxTook = max(r.maxTook, s.Took)
		switch {
		case r.failing:
			r.log.LogAttrs(ctx, slog.LevelInfo, "ingest recovered", slog.Int("failed_cycles", r.failures),
				slog.Duration("failing_for", now.Sub(r.since).Round(time.Millisecond)), slog.String("last_err", r.lastErr))
		case !r.started:
			r.log.LogAttrs(ctx, slog.LevelInfo, "first ingest cycle", cycleAttrs(s, nil)...)
		}
		r.started, r.failing, r.failures, r.lastErr = true, false, 0, ""
	}
	if now.Sub(r.window) >= SummaryEvery {
		r.summary(now)
	}
}

// summary writes the window's line and starts the next window.
func (r *reporter) summary(now time.Time) {
	attrs := []slog.Attr{
		slog.Int("cycles", r.ok+r.failed),
		slog.Int("failed", r.failed),
		slog.Int("opened", r.opened),
		slog.Int("closed", r.closed),
		slog.Duration("max_took", r.maxTook),
		slog.Duration("window", now.Sub(r.window).Round(time.Second)),
	}
	if r.failing {
		attrs = append(attrs, slog.String("state", "failing"), slog.String("err", r.lastErr), slog.Int("repeats", r.repeats))
	} else {
		attrs = append(attrs, slog.String("state", "ok"))
	}
	r.log.LogAttrs(context.Background(), slog.LevelInfo, "ingest summary", attrs...)
	r.window, r.ok, r.failed, r.opened, r.closed, r.maxTook = now, 0, 0, 0, 0, 0
}

// backoff is how many ticks to wait after a cycle: one, doubling with
// each consecutive failure up to maxBackoff.
func (r *reporter) backoff(interval time.Duration) int { return backoffTicks(r.failures, interval) }

// backoffTicks is the ticks to wait after failures consecutive failed
// cycles (0: the last cycle succeeded).
func backoffTicks(failures int, interval time.Duration) int {
	if failures <= 1 {
		return 1
	}
	limit := max(1, int(maxBackoff/interval))
	if failures > 20 {
		return limit
	}
	return min(limit, 1<<(failures-1))
}

func cycleMessage(err error) string {
	if err != nil {
		return "ingest cycle failed"
	}
	return "ingest cycle"
}

// cycleAttrs are a cycle's fields, named and valued as Summary.String
// (ingest-once) has them: reported is "none" when conntrack printed no
// count, never -1.
func cycleAttrs(s Summary, err error) []slog.Attr {
	attrs := []slog.Attr{
		slog.Int("entries", s.Entries),
		slog.Int("outbound", s.Outbound),
		slog.Int("skipped", s.Skipped),
	}
	if len(s.ParseErrors) > 0 {
		attrs = append(attrs, slog.String("first_parse_error", s.ParseErrors[0].Error()))
	}
	if err != nil {
		return append(attrs, slog.Duration("took", s.Took), slog.String("err", err.Error()))
	}
	if s.Destroys > 0 {
		attrs = append(attrs, slog.Int("destroys", s.Destroys), slog.Int("whole", s.Whole), slog.Int("late", s.Late))
	}
	reported := slog.String("reported", "none")
	if s.Reported >= 0 {
		reported = slog.Int("reported", s.Reported)
	}
	return append(attrs,
		reported,
		slog.Int("new_hosts", s.NewHosts),
		slog.Int("opened", s.Opened),
		slog.Int("updated", s.Updated),
		slog.Int("closed", s.Closed),
		slog.Int("pruned", s.Pruned),
		slog.Int("duplicates", s.Duplicates),
		slog.Int("rows_written", s.RowsWritten),
		slog.Duration("took", s.Took),
	)
}
