package ingest

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/netmon-dev/netmon/pkg/conntrack"
	"github.com/netmon-dev/netmon/pkg/flows"
	"github.com/netmon-dev/netmon/pkg/history"
	"github.com/netmon-dev/netmon/pkg/store"
)

// Source lists the conntrack table once per call: it yields each entry
// (the pointer is reused, copy what you keep) and, when the read fails, a
// last (nil, err); when the sequence ends *st holds the parse's counts.
// source.Conntrack and source.File satisfy it.
type Source interface {
	List(ctx context.Context, st *conntrack.Stats) iter.Seq2[*conntrack.Entry, error]
}

// Classifier decides which entries are outbound flows. *filter.Filter
// satisfies it.
type Classifier interface {
	Outbound(*conntrack.Entry) bool
}

// Store records one read's outbound flows, ranging over them while its
// cycle is open (see store.Live.Reconcile): the read is never held in memory
// whole. An error the sequence yields must abort the cycle, write nothing,
// and come back unchanged. It returns what the cycle changed, valid until
// its next cycle. *store.Live satisfies it.
type Store interface {
	Reconcile(ctx context.Context, now time.Time, read iter.Seq2[*conntrack.Entry, error], retention time.Duration) (store.CycleResult, *flows.Delta, error)
}

// ErrUnusableSnapshot is wrapped by the error of a cycle whose snapshot
// was read without error but cannot be the table: not one of its lines
// parsed (garbage, a single huge line), or conntrack's own trailer counts
// more entries than lines were read (the listing was lost). Reconciling it
// would close every connection, so the cycle leaves the database alone.
var ErrUnusableSnapshot = errors.New("unusable snapshot")

// DefaultCommitTimeout bounds how long a cycle may take to write once its
// snapshot is read, when Ingester.CommitTimeout is zero.
const DefaultCommitTimeout = time.Minute

// Ingester runs reconcile cycles. Set the fields before the first cycle and
// do not change them afterwards; the methods are safe for concurrent use
// (Status from the web server while Loop runs).
type Ingester struct {
	Source Source
	Filter Classifier
	Store  Store
	// Now is the clock (time.Now when nil). Tests inject a fake.
	Now func() time.Time
	// Retention is how long closed connections are kept (<= 0: forever).
	Retention time.Duration
	// Logger receives one line per Loop cycle (slog.Default() when nil).
	Logger *slog.Logger
	// CommitTimeout bounds the write of a cycle, which runs detached from
	// cancellation (DefaultCommitTimeout when zero).
	CommitTimeout time.Duration
	// Observe, when set, receives what every successful cycle changed, at
	// the time of its read: the one place per-cycle consumers (history,
	// rates, metrics) plug in. now is the real time the read began, from
	// Now; cycles are as far apart as the adaptive interval makes them, so
	// a rate divides by the difference of two nows, never by the
	// configured interval. The delta is valid only during the call.
	Observe func(now time.Time, d *flows.Delta)

	// Events, when set, delivers the DESTROY events between two reads:
	// each cycle folds the outbound ones received up to the end of its
	// read into the same cycle, so a flow's last bytes and flows that came
	// and went between two reads are counted. Loop starts it before its
	// first read. Events never write on their own: they wait (at most
	// MaxEvents, DefaultMaxEvents when zero) for the next successful
	// cycle, so a failed cycle loses none and none is counted twice.
	Events    Events
	MaxEvents int
	// PollCPUBudget is the share of one core polling may take (0.10 is
	// 10%); Loop stretches its interval to stay under it (see pace). 0
	// keeps the interval fixed.
	PollCPUBudget float64
	// CPU returns the CPU netmon and its waited-for children have used so
	// far (nil: getrusage); tests inject a fake.
	CPU func() time.Duration

	cycleMu sync.Mutex        // one cycle at a time; guards waiting and cur
	waiting []conntrack.Entry // outbound DESTROY events not yet committed
	cur     running           // the cycle in progress, for CycleCounters

	listenWait func() // set once the events source listens (First or Loop): waits for it to stop

	// History, when set, folds every successful cycle's growth by device
	// (Device names a LAN address's device; nil: "ip:ADDR"); Committer
	// writes it to the durable record: Loop commits every CommitInterval,
	// on every value from CommitNow, and when it stops; Commit does it at
	// once. Baseline skips the growth of the first successful cycle.
	History        *history.Accumulator
	Committer      Committer
	Device         func(netip.Addr) string
	CommitInterval time.Duration
	CommitNow      <-chan struct{}
	Baseline       bool

	mu           sync.Mutex
	status       Status
	commitMu     sync.Mutex // serialises commits
	baselineDone bool
}

// Summary is what one cycle saw and did.
type Summary struct {
	Entries  int // entries the source produced
	Outbound int // entries the classifier kept: the flows reconciled
	Skipped  int // malformed lines the parser skipped
	Reported int // conntrack's own count from its stderr trailer, or -1
	// ParseErrors are the first few malformed lines (conntrack.MaxKeptErrors).
	ParseErrors []*conntrack.ParseError
	store.CycleResult
	// Destroys is how many DESTROY events the cycle folded; Whole how many
	// were flows no read saw, Late how many completed a flow an earlier
	// cycle closed (see flows.Change).
	Destroys, Whole, Late int
	Took                  time.Duration // from the start of the read to the commit
	// CPU is what the cycle cost in CPU: netmon's and conntrack's.
	CPU time.Duration
}

// String is the one-line form `netmon ingest-once` prints.
func (s Summary) String() string {
	reported := "none"
	if s.Reported >= 0 {
		reported = strconv.Itoa(s.Reported)
	}
	return fmt.Sprintf("entries=%d outbound=%d skipped=%d reported=%s new_hosts=%d opened=%d updated=%d closed=%d pruned=%d duplicates=%d rows_written=%d took=%s",
		s.Entries, s.Outbound, s.Skipped, reported, s.NewHosts, s.Opened, s.Updated, s.Closed,
		s.Pruned, s.Duplicates, s.RowsWritten, s.Took.Round(time.Microsecond))
}

// Status is the ingester's health: /healthz and the Prometheus metrics
// read it.
type Status struct {
	LastOK      time.Time // when the last successful cycle committed (zero: never)
	LastErr     error     // the last cycle's error, nil if it succeeded
	LastErrAt   time.Time // when the last failed cycle ended (zero: never failed)
	Cycles      int64     // successful cycles
	Errors      int64     // failed cycles
	LastSummary Summary   // the last successful cycle's summary
	// Interval is the interval Loop waits between two reads now: the
	// configured one, or longer to keep polling under its CPU budget.
	Interval time.Duration
	// Overruns counts the cycles Loop ran that took longer than the
	// interval they had.
	Overruns int64
	// Events is what the DESTROY events did: received, folded, lost.
	Events EventsStatus

	Commits       int64     // commits to the record that wrote something
	CommitErrors  int64     // commits that failed (their growth is kept)
	LastCommitAt  time.Time // when the last successful commit ran
	LastCommitErr error     // the last commit's error, nil if it succeeded

	// StartedAt is when the first cycle began; SkippedLines adds up the
	// successful cycles' Summary.Skipped; Durations holds every cycle's
	// Summary.Took, failed ones too, over CycleDurationBuckets.
	StartedAt    time.Time
	SkippedLines int64
	Durations    store.Histogram
}

// CycleDurationBuckets are the upper bounds, in seconds, of the
// cycle-duration histogram: from a small table on a fast router to a
// full table polled by a slow one.
var CycleDurationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// Status returns a copy of the current status, the events source's
// counts read now.
func (in *Ingester) Status() Status {
	in.mu.Lock()
	st := in.status
	st.Durations = st.Durations.Clone()
	in.mu.Unlock()
	if st.Durations.Bounds == nil {
		st.Durations = store.NewHistogram(CycleDurationBuckets...)
	}
	if in.Events != nil {
		st.Events.Enabled = true
		st.Events.Source = in.Events.Stats()
		if st.Events.Source.Listening {
			st.Events.Off = ""
		}
	}
	return st
}

// EventsStatus returns what the DESTROY events did so far (Status().Events):
// the accessor for the health endpoint and the metrics.
func (in *Ingester) EventsStatus() EventsStatus { return in.Status().Events }

func (in *Ingester) commitTimeout() time.Duration {
	if in.CommitTimeout <= 0 {
		return DefaultCommitTimeout
	}
	return in.CommitTimeout
}

func (in *Ingester) now() time.Time {
	if in.Now != nil {
		return in.Now()
	}
	return time.Now()
}

// ReconcileSnapshot runs one cycle: open the store's cycle, read the
// snapshot (cancellable through ctx), hand each outbound entry to the
// store as a flow while it is read, and commit. The snapshot is never held
// in memory whole. A failed read aborts the store's cycle before it writes
// anything, so the database stays exactly as it was; a successful empty
// snapshot is reconciled (and closes every connection), but one whose
// every line was malformed or whose trailer reports lines that never came
// is refused with ErrUnusableSnapshot.
// Once the snapshot is read, the write runs on a context detached from
// ctx's cancellation but bounded by CommitTimeout, so a shutdown waits for
// the cycle to commit or roll back instead of abandoning it halfway.
func (in *Ingester) ReconcileSnapshot(ctx context.Context) (Summary, error) {
	in.cycleMu.Lock()
	defer in.cycleMu.Unlock()
	sum := Summary{Reported: -1}
	cpu := in.CPU
	if cpu == nil {
		cpu = cpuTime
	}
	cpu0 := cpu()
	start := in.now()
	in.mu.Lock()
	if in.status.StartedAt.IsZero() {
		in.status.StartedAt = start
		in.status.Durations = store.NewHistogram(CycleDurationBuckets...)
	}
	in.mu.Unlock()
	err := in.cycle(ctx, &sum)
	sum.Took = in.now().Sub(start)
	sum.CPU = cpu() - cpu0
	in.mu.Lock()
	defer in.mu.Unlock()
	in.status.Durations.Observe(sum.Took.Seconds())
	if err != nil {
		in.status.Errors++
		in.status.LastErr = err
		in.status.LastErrAt = in.now()
		return sum, err
	}
	in.status.Cycles++
	in.status.SkippedLines += int64(sum.Skipped)
	in.status.LastErr = nil
	in.status.LastOK = in.now()
	in.status.LastSummary = sum
	return sum, nil
}

// running is what CycleCounters needs of the cycle in progress: its
// read's counts and the waiting events it folds.
type running struct {
	stats  *conntrack.Stats
	folded *int
}

// Counters are the status's counters as the live state keeps them
// (store.IngestStatus): what the metrics export.
func (in *Ingester) Counters() store.IngestStatus {
	return counters(in.Status())
}

// CycleCounters are the counters as they will stand once the cycle in
// progress commits: it counts as a successful cycle, with its skipped
// lines and folded events, but its duration joins the histogram only
// with the next cycle (it is not over yet). store.Live.RecordStatus calls
// it inside the cycle's transaction, on the cycle's goroutine; outside a
// cycle it is Counters.
func (in *Ingester) CycleCounters() store.IngestStatus {
	c := in.Counters()
	if in.cur.stats == nil {
		return c
	}
	c.Cycles++
	c.SkippedLines += int64(in.cur.stats.Skipped)
	c.Events.Folded += uint64(*in.cur.folded)
	c.LastSuccessAt = in.now()
	return c
}

// counters converts a status.
func counters(st Status) store.IngestStatus {
	ev := st.Events
	return store.IngestStatus{
		StartedAt:     st.StartedAt,
		Cycles:        st.Cycles + st.Errors,
		FailedCycles:  st.Errors,
		Overruns:      st.Overruns,
		SkippedLines:  st.SkippedLines,
		LastSuccessAt: st.LastOK,
		Durations:     st.Durations,
		Commits:       st.Commits,
		CommitErrors:  st.CommitErrors,
		LastCommitAt:  st.LastCommitAt,
		Events: store.EventCounters{
			Enabled:   ev.Enabled,
			Listening: ev.Source.Listening,
			Received:  ev.Source.Received,
			Kept:      ev.Source.Kept,
			Folded:    ev.Folded,
			Overruns:  ev.Source.Overruns,
			Dropped:   ev.Source.Dropped + ev.Dropped,
			Undecoded: ev.Source.Undecoded,
			Restarts:  ev.Source.Restarts,
		},
	}
}

func (in *Ingester) cycle(ctx context.Context, sum *Summary) error {
	if in.Source == nil || in.Filter == nil || in.Store == nil {
		return errors.New("ingest: Source, Filter and Store must be set")
	}
	timeout := in.commitTimeout()
	// The store's work runs on wctx, detached from ctx: once the read is
	// over, a cancel waits for the commit (bounded by timeout, counted
	// from the end of the read) instead of abandoning the cycle halfway.
	wctx, cancelWrite := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWrite()
	var (
		stats   conntrack.Stats
		readErr error
		timer   *time.Timer
		folded  int // waiting events the read handed over
	)
	fail := func(err error) error {
		readErr = fmt.Errorf("read conntrack: %w", err)
		return readErr
	}
	outbound := func(yield func(*conntrack.Entry, error) bool) {
		before := in.markBeforeRead()
		for e, err := range in.Source.List(ctx, &stats) {
			if err != nil {
				yield(nil, fail(err))
				return
			}
			sum.Entries++
			if in.Filter.Outbound(e) {
				sum.Outbound++
				if !yield(e, nil) {
					return
				}
			}
		}
		err := ctx.Err() // a source that ignores ctx must not be trusted after a cancel
		if err == nil {
			err = usable(stats)
		}
		if err == nil {
			// The events received up to the end of the read, after it:
			// see flows.Cycle.Add.
			err = in.drainEvents(before)
		}
		if err != nil {
			yield(nil, fail(err))
			return
		}
		for i := range in.waiting {
			if !yield(&in.waiting[i], nil) {
				return
			}
		}
		folded = len(in.waiting)
		timer = time.AfterFunc(timeout, cancelWrite)
	}
	now := in.now()
	in.cur = running{stats: &stats, folded: &folded}
	res, delta, err := in.Store.Reconcile(wctx, now, outbound, in.Retention)
	in.cur = running{}
	if timer != nil {
		timer.Stop()
	}
	sum.Skipped, sum.Reported, sum.ParseErrors = stats.Skipped, stats.Reported, stats.Errors
	switch {
	case readErr != nil:
		sum.Outbound = 0
		return readErr // the store rolled back: the database is as it was
	case err != nil:
		if errors.Is(err, flows.ErrInvalid) && folded > 0 {
			in.dropWaiting()
		}
		return fmt.Errorf("reconcile: %w", err)
	}
	in.eventsFolded(folded)
	sum.CycleResult = res
	if delta != nil {
		sum.Destroys, sum.Whole, sum.Late = delta.Destroys, delta.Whole, delta.Late
		in.observe(now, delta)
	}
	return nil
}

// usable returns an error wrapping ErrUnusableSnapshot when a snapshot
// read without error still cannot stand for the table.
func usable(st conntrack.Stats) error {
	switch {
	case st.Entries == 0 && st.Skipped > 0:
		first := ""
		if len(st.Errors) > 0 {
			first = " (first: " + st.Errors[0].Error() + ")"
		}
		return fmt.Errorf("%w: none of its %d lines parsed%s", ErrUnusableSnapshot, st.Skipped, first)
	case st.Reported > st.Lines:
		return fmt.Errorf("%w: conntrack reported %d entries but %d lines were read", ErrUnusableSnapshot, st.Reported, st.Lines)
	}
	return nil
}
