package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/netmon-dev/netmon/pkg/conntrack"
	"github.com/netmon-dev/netmon/pkg/store"
)

// Source reads one whole snapshot of the conntrack table, calling fn for
// each entry (fn must not keep the pointer). conntrack.Snapshot and
// conntrack.FileSource satisfy it.
type Source interface {
	Read(ctx context.Context, fn func(*conntrack.Entry)) (conntrack.Stats, error)
}

// Classifier decides which entries are outbound flows. *filter.Filter
// satisfies it.
type Classifier interface {
	Outbound(*conntrack.Entry) bool
}

// Store records one snapshot's outbound flows, which read hands over
// while the store's cycle is open (see store.DB.ReconcileFunc): the
// snapshot is never held in memory whole. A read error must abort the
// cycle, write nothing, and come back unchanged. *store.DB satisfies it.
type Store interface {
	ReconcileFunc(ctx context.Context, now time.Time, read store.ReadFunc, retention time.Duration) (store.CycleResult, error)
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

	mu     sync.Mutex
	status Status
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
	Took time.Duration // from the start of the read to the commit
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
}

// Status returns a copy of the current status.
func (in *Ingester) Status() Status {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.status
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
	sum := Summary{Reported: -1}
	start := in.now()
	err := in.cycle(ctx, &sum)
	sum.Took = in.now().Sub(start)
	in.mu.Lock()
	defer in.mu.Unlock()
	if err != nil {
		in.status.Errors++
		in.status.LastErr = err
		in.status.LastErrAt = in.now()
		return sum, err
	}
	in.status.Cycles++
	in.status.LastErr = nil
	in.status.LastOK = in.now()
	in.status.LastSummary = sum
	return sum, nil
}

func (in *Ingester) cycle(ctx context.Context, sum *Summary) error {
	if in.Source == nil || in.Filter == nil || in.Store == nil {
		return errors.New("ingest: Source, Filter and Store must be set")
	}
	timeout := in.CommitTimeout
	if timeout <= 0 {
		timeout = DefaultCommitTimeout
	}
	// The store's work runs on wctx, detached from ctx: once the snapshot
	// is read, a cancel waits for the commit (bounded by timeout, counted
	// from the end of the read) instead of abandoning the cycle halfway.
	wctx, cancelWrite := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWrite()
	var (
		readErr error
		timer   *time.Timer
	)
	read := func(add func(*store.Flow)) error {
		var (
			f        store.Flow
			outbound int
		)
		stats, err := in.Source.Read(ctx, func(e *conntrack.Entry) {
			sum.Entries++
			if in.Filter.Outbound(e) {
				outbound++
				f = FlowOf(e)
				add(&f)
			}
		})
		sum.Skipped, sum.Reported, sum.ParseErrors = stats.Skipped, stats.Reported, stats.Errors
		if err == nil {
			err = ctx.Err() // a source that ignores ctx must not be trusted after a cancel
		}
		if err == nil {
			err = usable(stats)
		}
		if err != nil {
			readErr = fmt.Errorf("read conntrack: %w", err)
			return readErr
		}
		sum.Outbound = outbound
		timer = time.AfterFunc(timeout, cancelWrite)
		return nil
	}
	res, err := in.Store.ReconcileFunc(wctx, in.now(), read, in.Retention)
	if timer != nil {
		timer.Stop()
	}
	switch {
	case readErr != nil:
		return readErr // the store rolled back: the database is as it was
	case err != nil:
		return fmt.Errorf("reconcile: %w", err)
	}
	sum.CycleResult = res
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

// FlowOf converts a conntrack entry to the store's flow: the protocol by
// name (its number as text when conntrack has no name for it), the ports
// of conntrack.KeyOf (ICMP: echo id and type; GRE: keys), the status flags
// as text, uplink from the original direction and downlink from the reply.
func FlowOf(e *conntrack.Entry) store.Flow {
	k := conntrack.KeyOf(e)
	proto := conntrack.ProtoName(e.Proto)
	if proto == "unknown" {
		proto = strconv.Itoa(int(e.Proto))
	}
	return store.Flow{
		Proto:           proto,
		SrcIP:           k.Src,
		SrcPort:         k.SrcPort,
		DstIP:           k.Dst,
		DstPort:         k.DstPort,
		State:           e.State,
		Flags:           e.Status.String(),
		UplinkPackets:   e.Orig.Packets,
		UplinkBytes:     e.Orig.Bytes,
		DownlinkPackets: e.Reply.Packets,
		DownlinkBytes:   e.Reply.Bytes,
	}
}
