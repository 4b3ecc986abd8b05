package ingest

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/netmon-dev/netmon/pkg/conntrack"
)

// Events delivers the kernel's conntrack DESTROY events (each a flow's
// final counters) between two cycles. source.Listener (netlink) and
// source.EventFile (a replayed `conntrack -E -o extended,id` capture)
// satisfy it.
type Events interface {
	// Listen subscribes and receives events until ctx ends, keeping those
	// keep accepts for Drain. It calls ready once: with nil as soon as it
	// is subscribed, or with the error of its first attempt. It returns
	// nil when ctx ends, or an error when it cannot listen at all (no
	// permission).
	Listen(ctx context.Context, keep func(*conntrack.Entry) bool, ready func(error)) error
	// Drain yields the kept events received since the last Drain, in the
	// order they came. The *Entry is valid only during the call.
	Drain(yield func(*conntrack.Entry)) error
	// Stats counts what was received and lost so far; it is safe to call
	// from any goroutine.
	Stats() conntrack.ListenStats
}

// DefaultMaxEvents bounds the outbound DESTROY events waiting for a
// successful cycle when Ingester.MaxEvents is zero.
const DefaultMaxEvents = 1 << 16

// readyTimeout bounds how long Loop waits for the events source to
// subscribe before its first read.
const readyTimeout = 5 * time.Second

// EventsStatus is what the events beside the polls did: for /healthz and
// the metrics. Any loss means the totals may miss what those events would
// have added; the polls still count what they saw.
type EventsStatus struct {
	// Enabled is set when the ingester has an events source.
	Enabled bool
	// Off says why no events are coming ("" while listening or before
	// Loop started): the source could not subscribe.
	Off string
	// Source is what the source counted (received, overruns, drops,
	// restarts, ...).
	Source conntrack.ListenStats
	// Waiting is the number of outbound DESTROY events drained from the
	// source and waiting for the next successful cycle (the database may
	// be locked); Dropped counts those thrown away because MaxEvents were
	// already waiting; Folded counts those committed by a cycle.
	Waiting int
	Dropped uint64
	Folded  uint64
}

// Lost reports whether events may have been lost, here or in the source.
func (s EventsStatus) Lost() bool { return s.Dropped > 0 || s.Source.Lost() }

// lossCount is every loss counter added up, to notice a new loss.
func (s EventsStatus) lossCount() uint64 {
	return s.Dropped + s.Source.Overruns + s.Source.Dropped + s.Source.Undecoded + s.Source.Restarts
}

// keep is the filter the events source applies: the outbound flows, as
// for the reads.
func (in *Ingester) keep(e *conntrack.Entry) bool { return in.Filter.Outbound(e) }

// pendingEvents is how many events the source holds for Drain, for a
// source that can tell (source.Listener; a replayed events file cannot,
// and its events count as received during the read).
func (in *Ingester) pendingEvents() int {
	if p, ok := in.Events.(interface{ Pending() int }); ok {
		return p.Pending()
	}
	return 0
}

// markBeforeRead marks the waiting events as received before the read
// that is about to start (see conntrack.Entry.BeforeRead) and returns how
// many of the source's events, which Drain yields first, are too.
func (in *Ingester) markBeforeRead() int {
	if in.Events == nil {
		return 0
	}
	for i := range in.waiting {
		in.waiting[i].BeforeRead = true
	}
	return in.pendingEvents()
}

// drainEvents moves the source's events into the waiting list, the
// outbound ones only (a source may not filter), bounded by MaxEvents,
// marking the first before of the source's events (counted before the
// read began) BeforeRead. It runs in the cycle, after the read.
func (in *Ingester) drainEvents(before int) error {
	if in.Events == nil {
		return nil
	}
	max := in.MaxEvents
	if max <= 0 {
		max = DefaultMaxEvents
	}
	var dropped uint64
	n := 0
	err := in.Events.Drain(func(e *conntrack.Entry) {
		n++
		if e.Event != conntrack.EventDestroy || !in.Filter.Outbound(e) {
			return
		}
		if len(in.waiting) >= max {
			dropped++
			return
		}
		in.waiting = append(in.waiting, *e)
		in.waiting[len(in.waiting)-1].BeforeRead = n <= before
	})
	in.mu.Lock()
	in.status.Events.Dropped += dropped
	in.status.Events.Waiting = len(in.waiting)
	in.mu.Unlock()
	return err
}

// eventsFolded forgets the waiting events a committed cycle folded.
func (in *Ingester) eventsFolded(n int) {
	in.waiting = in.waiting[:copy(in.waiting, in.waiting[n:])]
	if cap(in.waiting) > 4096 && len(in.waiting) < cap(in.waiting)/4 {
		in.waiting = append([]conntrack.Entry(nil), in.waiting...) // a burst is over: give its memory back
	}
	in.mu.Lock()
	in.status.Events.Folded += uint64(n)
	in.status.Events.Waiting = len(in.waiting)
	in.mu.Unlock()
}

// dropWaiting throws the waiting events away: they made a cycle fail as
// invalid, and would fail every later one.
func (in *Ingester) dropWaiting() {
	in.mu.Lock()
	in.status.Events.Dropped += uint64(len(in.waiting))
	in.status.Events.Waiting = 0
	in.mu.Unlock()
	in.waiting = in.waiting[:0]
}

// First runs the first cycle of a long-running command before its Loop:
// it subscribes the events source first (so no DESTROY falls between
// this read and the subscription; Loop, given the same ctx, keeps this
// subscription), then reads, and logs the cycle as Loop logs its first.
// Its error is the command's to end on (a permanent error at start-up).
func (in *Ingester) First(ctx context.Context) (Summary, error) {
	log := in.Logger
	if log == nil {
		log = slog.Default()
	}
	if in.listenWait == nil {
		in.listenWait = in.listen(ctx, log)
	}
	sum, err := in.ReconcileSnapshot(ctx)
	if err == nil {
		log.LogAttrs(ctx, slog.LevelInfo, "first ingest cycle", cycleAttrs(sum, nil)...)
	}
	return sum, err
}

// listen starts the events source for First or Loop and waits, at most
// readyTimeout, until it is subscribed, so that the first read misses no
// event. It returns a function that waits for the source to stop once ctx
// is done.
func (in *Ingester) listen(ctx context.Context, log *slog.Logger) (wait func()) {
	if in.Events == nil {
		return func() {}
	}
	ready := make(chan error, 1)
	done := make(chan error, 1)
	go func() {
		done <- in.Events.Listen(ctx, in.keep, func(err error) { ready <- err })
	}()
	var err error
	select {
	case err = <-ready:
	case err = <-done:
	case <-time.After(readyTimeout):
		err = errors.New("not subscribed after " + readyTimeout.String())
	case <-ctx.Done():
	}
	if err != nil {
		log.Warn("conntrack events unavailable: polling alone, bytes between two reads can be missed",
			slog.String("err", err.Error()))
		in.mu.Lock()
		in.status.Events.Off = err.Error()
		in.mu.Unlock()
	} else if ctx.Err() == nil {
		st := in.Events.Stats()
		log.Info("conntrack events: listening", slog.Int("buffer", st.Buffer))
	}
	return func() { <-done }
}

// eventLosses logs new losses once per burst: the first cycle that sees
// one after a cycle that saw none.
type eventLosses struct {
	last    uint64
	inBurst bool
	off     bool // the source stopped listening (logged once)
}

func (l *eventLosses) check(log *slog.Logger, st EventsStatus) {
	if !st.Enabled {
		return
	}
	n := st.lossCount()
	switch {
	case n > l.last && !l.inBurst:
		log.Warn("conntrack events lost: the next reads reconcile what they can",
			slog.Uint64("overruns", st.Source.Overruns), slog.Uint64("dropped", st.Source.Dropped+st.Dropped),
			slog.Uint64("undecoded", st.Source.Undecoded), slog.Uint64("restarts", st.Source.Restarts),
			slog.String("last_error", st.Source.LastError))
		l.inBurst = true
	case n == l.last:
		l.inBurst = false
	}
	l.last = n
	if st.Off == "" && !st.Source.Listening && !l.off {
		log.Warn("conntrack events: not listening; reopening", slog.String("last_error", st.Source.LastError))
		l.off = true
	} else if st.Source.Listening {
		l.off = false
	}
}
