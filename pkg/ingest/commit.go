package ingest

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"time"

	"github.com/netmon-dev/netmon/pkg/flows"
	"github.com/netmon-dev/netmon/pkg/history"
)

// Committer writes a batch of accumulated history to the durable record,
// all of it or nothing, with whatever else it records (devices, names);
// the batch is nil when no growth is pending. cmd/netmon adapts
// *store.Record.
type Committer interface {
	Commit(ctx context.Context, now time.Time, b *history.Batch) error
}

// CommitFunc adapts a function to Committer.
type CommitFunc func(ctx context.Context, now time.Time, b *history.Batch) error

// Commit implements Committer.
func (f CommitFunc) Commit(ctx context.Context, now time.Time, b *history.Batch) error {
	return f(ctx, now, b)
}

// observe hands a successful cycle's delta, read at now, to the history
// and to Observe.
func (in *Ingester) observe(now time.Time, d *flows.Delta) {
	if in.History != nil {
		if in.Baseline && !in.baselineDone {
			// The first read's counters may have been counted before a
			// restart that lost the live state: they are the baseline.
			in.baselineDone = true
		} else {
			in.History.Add(now, d, in.device)
		}
	}
	if in.Observe != nil {
		in.Observe(now, d)
	}
}

// device names the device of a LAN address: Device, or "ip:ADDR".
func (in *Ingester) device(a netip.Addr) string {
	if in.Device != nil {
		return in.Device(a)
	}
	return "ip:" + a.String()
}

// Commit writes the history accumulated since the last commit (a nil
// batch when there is none: the Committer may still have devices or names
// to record). A failed commit writes nothing and keeps the batch, which
// the next commit writes with what came since: nothing is lost, nothing
// counted twice. Without History or Committer it does nothing.
func (in *Ingester) Commit(ctx context.Context) error {
	if in.History == nil || in.Committer == nil {
		return nil
	}
	in.commitMu.Lock()
	defer in.commitMu.Unlock()
	b := in.History.Take()
	now := in.now()
	err := in.Committer.Commit(ctx, now, b)
	in.mu.Lock()
	defer in.mu.Unlock()
	if err != nil {
		in.History.Return(b)
		in.status.CommitErrors++
		in.status.LastCommitErr = err
		return err
	}
	in.status.Commits++
	in.status.LastCommitAt = now
	in.status.LastCommitErr = nil
	return nil
}

// commitLogged commits and logs a failure; a commit that follows failures
// and succeeds is logged too.
func (in *Ingester) commitLogged(ctx context.Context, log *slog.Logger) {
	failing := in.Status().LastCommitErr != nil
	if err := in.Commit(ctx); err != nil {
		log.Error("commit to the record failed; the growth is kept for the next commit", "err", err)
	} else if failing {
		log.Info("commit to the record recovered")
	}
}

// finalCommit commits once more when the loop stops, on a context that
// the shutdown does not cancel but CommitTimeout bounds.
func (in *Ingester) finalCommit(ctx context.Context, log *slog.Logger) {
	if in.History == nil || in.Committer == nil {
		return
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), in.commitTimeout())
	defer cancel()
	if err := in.Commit(cctx); err != nil && !errors.Is(err, context.Canceled) {
		log.Error("final commit to the record failed: the growth since the last commit is lost", "err", err)
		return
	}
	log.Info("committed to the record")
}

// commitTicks returns the commit ticker's channel (nil, never firing,
// without an interval or a history) and its stop.
func (in *Ingester) commitTicks(tick Ticker) (<-chan time.Time, func()) {
	if in.CommitInterval <= 0 || in.History == nil || in.Committer == nil {
		return nil, func() {}
	}
	return tick(in.CommitInterval)
}
