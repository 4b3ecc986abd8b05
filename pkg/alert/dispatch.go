package alert

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
)

// Sink delivers an alert somewhere. Send must honour ctx (the Dispatcher
// bounds it with the sink's timeout) and return an error the sink may
// retry, or one wrapped by Permanent when retrying cannot help.
type Sink interface {
	Send(ctx context.Context, a Alert) error
}

// PermanentError marks a refusal that retrying cannot change (a webhook
// answering 400, an exec sink whose command does not exist).
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent wraps err as a PermanentError.
func Permanent(err error) error { return &PermanentError{Err: err} }

// RetryAfter is implemented by errors that say when to try again (an HTTP
// 429 or 503 with Retry-After).
type RetryAfter interface{ RetryAfter() time.Duration }

// Outbox is the delivery side of the durable record. *store.Record
// implements it. Every method is one small transaction.
type Outbox interface {
	// Due returns at most limit pending deliveries to sink whose next
	// attempt is at or before now, oldest alert first.
	Due(ctx context.Context, sink string, now time.Time, limit int) ([]Due, error)
	// NextDue returns the earliest next attempt of a pending delivery to
	// sink, and false when there is none.
	NextDue(ctx context.Context, sink string) (time.Time, bool, error)
	// Delivered records that sink accepted the alert.
	Delivered(ctx context.Context, id, sink string, at time.Time) error
	// Retry records a failed attempt and when to try again.
	Retry(ctx context.Context, id, sink string, at, next time.Time, msg string) error
	// GiveUp records a failed attempt after which no other follows.
	GiveUp(ctx context.Context, id, sink string, at time.Time, msg string) error
	// Fold marks the pending deliveries ids to sink folded into summary,
	// which it stores with one pending delivery, to sink only, due at.
	Fold(ctx context.Context, sink string, ids []string, summary Alert, at time.Time) error
}

// Due is a pending delivery.
type Due struct {
	Alert    Alert
	Sink     string
	Attempts int       // attempts so far
	Created  time.Time // when the alert was written to the outbox
}

// SinkConfig is one configured sink.
type SinkConfig struct {
	Name string
	Sink Sink
	// Timeout bounds one attempt (DefaultTimeout when 0).
	Timeout time.Duration
	// RateLimit is how many alerts a minute the sink gets at most; the
	// excess is folded into one summary (DefaultRateLimit when 0).
	RateLimit int
}

// Defaults of SinkConfig and Backoff.
const (
	DefaultTimeout   = 10 * time.Second
	DefaultRateLimit = 10
)

// Backoff is the retry policy: the n-th retry waits Base * 2^(n-1),
// at most Max; a delivery still failing GiveUpAfter after its alert was
// written is given up.
type Backoff struct {
	Base, Max, GiveUpAfter time.Duration
}

// DefaultBackoff retries after 10 s, 20 s, 40 s, ... up to every 30
// minutes, for two days (a sink down over a weekend still gets it).
var DefaultBackoff = Backoff{Base: 10 * time.Second, Max: 30 * time.Minute, GiveUpAfter: 48 * time.Hour}

// wait is how long to wait after the attempts-th failed attempt.
func (b Backoff) wait(attempts int) time.Duration {
	d := b.Base
	for i := 1; i < attempts && d < b.Max; i++ {
		d *= 2
	}
	return min(d, b.Max)
}

// Dispatcher delivers the outbox: one worker per sink, so a slow or dead
// sink delays only itself, never ingest and never the other sinks.
type Dispatcher struct {
	outbox  Outbox
	sinks   map[string]*worker
	order   []string
	now     func() time.Time
	log     *slog.Logger
	backoff Backoff
}

// worker is one sink's delivery state.
type worker struct {
	SinkConfig
	wake   chan struct{}
	direct chan Alert  // alerts to send from memory (see Direct)
	sent   []time.Time // sends within the last minute, oldest first
}

// directQueue bounds the alerts a sink's worker holds for Direct.
const directQueue = 64

// DispatcherOptions configure NewDispatcher.
type DispatcherOptions struct {
	Outbox  Outbox
	Sinks   []SinkConfig
	Now     func() time.Time // nil: time.Now
	Logger  *slog.Logger     // nil: discard
	Backoff Backoff          // zero: DefaultBackoff
}

// NewDispatcher returns a dispatcher of the sinks; Run starts it.
func NewDispatcher(opts DispatcherOptions) (*Dispatcher, error) {
	if opts.Outbox == nil {
		return nil, errors.New("alert dispatcher: outbox is required")
	}
	d := &Dispatcher{outbox: opts.Outbox, sinks: map[string]*worker{}, now: opts.Now, log: opts.Logger, backoff: opts.Backoff}
	if d.now == nil {
		d.now = time.Now
	}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if d.backoff == (Backoff{}) {
		d.backoff = DefaultBackoff
	}
	for _, sc := range opts.Sinks {
		if sc.Name == "" || sc.Sink == nil {
			return nil, fmt.Errorf("alert dispatcher: sink %q: name and sink are required", sc.Name)
		}
		if _, dup := d.sinks[sc.Name]; dup {
			return nil, fmt.Errorf("alert dispatcher: sink %q twice", sc.Name)
		}
		if sc.Timeout <= 0 {
			sc.Timeout = DefaultTimeout
		}
		if sc.RateLimit <= 0 {
			sc.RateLimit = DefaultRateLimit
		}
		d.sinks[sc.Name] = &worker{SinkConfig: sc, wake: make(chan struct{}, 1), direct: make(chan Alert, directQueue)}
		d.order = append(d.order, sc.Name)
	}
	return d, nil
}

// Notify wakes every sink's worker: new alerts are in the outbox. It
// never blocks.
func (d *Dispatcher) Notify() {
	for _, w := range d.sinks {
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
}

// Direct sends o to its sinks from memory, once each, at once and past
// the outbox: for an alert that could not be written to it (the record
// may be what failed). Nothing of it is recorded, and it is not retried:
// the outbox delivers it again once written, under the same id. It never
// blocks; a sink with directQueue alerts waiting drops more.
func (d *Dispatcher) Direct(o Outgoing) {
	for _, name := range o.Sinks {
		w, ok := d.sinks[name]
		if !ok {
			continue
		}
		select {
		case w.direct <- o.Alert:
		default:
			d.log.Warn("alerts: too many alerts waiting to be sent from memory; dropped one", "sink", name, "id", o.Alert.ID)
		}
	}
}

// Run delivers until ctx is done, one goroutine per sink, and returns
// when all have stopped. An attempt under way when ctx ends is abandoned
// and left pending: the next start sends it again, with its id.
func (d *Dispatcher) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, name := range d.order {
		wg.Go(func() { d.work(ctx, d.sinks[name]) })
	}
	wg.Wait()
}

// idle is how long a worker sleeps with nothing pending: a safety net,
// since Notify wakes it for new alerts.
const idle = time.Minute

func (d *Dispatcher) work(ctx context.Context, w *worker) {
	for ctx.Err() == nil {
		next, err := d.Pass(ctx, w.Name)
		wait := idle
		switch {
		case err != nil && ctx.Err() == nil:
			d.log.Error("alerts: reading the outbox failed", "sink", w.Name, "err", err)
			wait = 5 * time.Second
		case !next.IsZero():
			wait = min(max(next.Sub(d.now()), 10*time.Millisecond), idle)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
		case <-w.wake:
		case <-t.C:
		case a := <-w.direct:
			d.sendDirect(ctx, w, a)
		}
		t.Stop()
	}
}

// passBatch is how many due deliveries one pass reads.
const passBatch = 100

// Pass makes one round of deliveries to sink: every due one, as far as
// the rate limit lets; when more are due than it lets through, the
// excess is folded into one summary that takes the last place. It
// returns when the sink wants its next pass (zero: nothing pending).
// Run calls it; tests call it with a fake clock.
func (d *Dispatcher) Pass(ctx context.Context, sink string) (time.Time, error) {
	w, ok := d.sinks[sink]
	if !ok {
		return time.Time{}, fmt.Errorf("alert dispatcher: no sink %q", sink)
	}
	now := d.now()
	due, err := d.outbox.Due(ctx, sink, now, passBatch)
	if err != nil {
		return time.Time{}, err
	}
	room := w.room(now)
	if len(due) > room {
		if room == 0 {
			return w.sent[0].Add(time.Minute), nil
		}
		due, err = d.fold(ctx, w, due, room, now)
		if err != nil {
			return time.Time{}, err
		}
	}
	for _, u := range due {
		if ctx.Err() != nil {
			return time.Time{}, ctx.Err()
		}
		if err := d.attempt(ctx, w, u); err != nil {
			return time.Time{}, err
		}
	}
	next, ok, err := d.outbox.NextDue(ctx, sink)
	if err != nil || !ok {
		return time.Time{}, err
	}
	if len(w.sent) >= w.RateLimit {
		next = later(next, w.sent[0].Add(time.Minute))
	}
	return next, nil
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// room is how many more alerts the sink may get now.
func (w *worker) room(now time.Time) int {
	i := 0
	for i < len(w.sent) && now.Sub(w.sent[i]) >= time.Minute {
		i++
	}
	w.sent = w.sent[i:]
	return max(w.RateLimit-len(w.sent), 0)
}

// fold keeps room-1 of due (summaries first, then the oldest) and folds
// the rest into one new summary, which it returns last.
func (d *Dispatcher) fold(ctx context.Context, w *worker, due []Due, room int, now time.Time) ([]Due, error) {
	slices.SortStableFunc(due, func(a, b Due) int {
		switch {
		case a.Alert.Kind == Summary && b.Alert.Kind != Summary:
			return -1
		case a.Alert.Kind != Summary && b.Alert.Kind == Summary:
			return 1
		}
		return 0
	})
	keep, rest := due[:room-1], due[room-1:]
	f := &Folded{Sink: w.Name, Count: len(rest), Kinds: map[Kind]int{}}
	for _, u := range rest {
		f.Kinds[u.Alert.Kind]++
		f.IDs = append(f.IDs, u.Alert.ID)
	}
	var kinds []string
	for _, k := range Kinds {
		if n := f.Kinds[k]; n > 0 {
			kinds = append(kinds, fmt.Sprintf("%d %s", n, k))
		}
	}
	s := Alert{
		ID:       idOf(Summary, w.Name+"|"+strings.Join(f.IDs, ",")),
		Kind:     Summary,
		Severity: Warning,
		At:       now,
		Title:    fmt.Sprintf("%d more netmon alerts", len(rest)),
		Message: fmt.Sprintf("More than %d alerts a minute for %s: %d were folded into this one (%s). `netmon alerts` lists them.",
			w.RateLimit, w.Name, len(rest), strings.Join(kinds, ", ")),
		Folded: f,
	}
	if err := d.outbox.Fold(ctx, w.Name, f.IDs, s, now); err != nil {
		return nil, err
	}
	d.log.Warn("alerts: rate limit reached, folded into a summary", "sink", w.Name, "folded", len(rest), "summary", s.ID)
	return append(slices.Clip(keep), Due{Alert: s, Sink: w.Name, Created: now}), nil
}

// attempt sends one delivery and records how it went. Only a failure to
// record it is returned.
func (d *Dispatcher) attempt(ctx context.Context, w *worker, u Due) error {
	now := d.now()
	w.sent = append(w.sent, now)
	err := SendNow(ctx, w.SinkConfig, u.Alert)
	if ctx.Err() != nil {
		return ctx.Err() // shutting down: not the sink's failure
	}
	at := d.now()
	if err == nil {
		d.log.Info("alert delivered", "sink", w.Name, "id", u.Alert.ID, "kind", string(u.Alert.Kind), "attempts", u.Attempts+1)
		return d.outbox.Delivered(ctx, u.Alert.ID, w.Name, at)
	}
	msg := err.Error()
	var perm *PermanentError
	if errors.As(err, &perm) || at.Sub(u.Created) >= d.backoff.GiveUpAfter {
		d.log.Error("alert delivery failed, given up", "sink", w.Name, "id", u.Alert.ID, "attempts", u.Attempts+1, "err", msg)
		return d.outbox.GiveUp(ctx, u.Alert.ID, w.Name, at, msg)
	}
	wait := d.backoff.wait(u.Attempts + 1)
	var ra RetryAfter
	if errors.As(err, &ra) {
		wait = min(max(wait, ra.RetryAfter()), d.backoff.Max)
	}
	d.log.Warn("alert delivery failed, will retry", "sink", w.Name, "id", u.Alert.ID, "attempts", u.Attempts+1, "retry_in", wait, "err", msg)
	return d.outbox.Retry(ctx, u.Alert.ID, w.Name, at, at.Add(wait), msg)
}

// sendDirect makes Direct's one attempt.
func (d *Dispatcher) sendDirect(ctx context.Context, w *worker, a Alert) {
	w.sent = append(w.sent, d.now())
	if err := SendNow(ctx, w.SinkConfig, a); err != nil {
		d.log.Error("alert not written to the outbox, and sending it from memory failed", "sink", w.Name, "id", a.ID, "err", err)
		return
	}
	d.log.Info("alert delivered from memory (the outbox could not be written)", "sink", w.Name, "id", a.ID, "kind", string(a.Kind))
}

// SendNow sends a through the sink of sc, bounded by its timeout (what
// the dispatcher does per attempt, and `netmon alerts test`).
func SendNow(ctx context.Context, sc SinkConfig, a Alert) error {
	timeout := sc.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := sc.Sink.Send(ctx, a); err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			return fmt.Errorf("sink %s: no answer within %s: %w", sc.Name, timeout, err)
		}
		return fmt.Errorf("sink %s: %w", sc.Name, err)
	}
	return nil
}
