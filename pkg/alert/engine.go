package alert

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Store is the durable side of the rules: what they remember and the
// outbox alerts go to. *store.Record implements it.
type Store interface {
	// Memory returns everything remembered.
	Memory(ctx context.Context) ([]Memory, error)
	// Save writes ch in ONE transaction: each alert with a pending
	// delivery per sink (an alert whose id is stored already is left as
	// it is: the event was raised before), what to remember (an entry
	// already there gets the new time) and what to forget.
	Save(ctx context.Context, now time.Time, ch Changes) error
}

// Changes are what the engine writes in one transaction.
type Changes struct {
	Alerts   []Outgoing
	Remember []Memory
	Forget   []Memory // by Kind and Key
}

func (c *Changes) empty() bool {
	return len(c.Alerts) == 0 && len(c.Remember) == 0 && len(c.Forget) == 0
}

func (c *Changes) len() int { return len(c.Alerts) + len(c.Remember) + len(c.Forget) }

// Outgoing is an alert for the outbox and the sinks it goes to.
type Outgoing struct {
	Alert Alert
	Sinks []string
}

// Memory is one thing a rule remembers, by kind and key.
type Memory struct {
	Kind MemoryKind
	Key  string
	At   time.Time
}

// MemoryKind says which rule remembers an entry and what its key is.
type MemoryKind string

// The kinds of memory.
const (
	MemStart      MemoryKind = "start"       // key "": netmon's first start
	MemDevice     MemoryKind = "device"      // key a device id: known
	MemGroup      MemoryKind = "group"       // key a randomised group (its name): known
	MemQuota      MemoryKind = "quota"       // key rule|scope|period start|level: warned
	MemDest       MemoryKind = "dest"        // key device|network: used; At refreshed now and then
	MemDestDevice MemoryKind = "dest_device" // key a device id: first contact the rule saw
	MemHealth     MemoryKind = "health"      // key "failing": an IngestFailing was sent for the failure since At
)

// MaxQueue bounds the changes waiting to be written. When the record
// cannot be written for long (or a LAN floods new MACs), inputs are
// ignored instead of growing memory: each input is a state that comes
// again (a device is seen every cycle it talks), so it is decided again
// once there is room.
const MaxQueue = 10000

// Engine evaluates the rules. Its input methods are safe for concurrent
// use and never block on I/O: they decide in memory under a mutex and
// queue what to write; Run writes the queue. Create it with NewEngine.
type Engine struct {
	rules  Rules
	store  Store
	now    func() time.Time
	log    *slog.Logger
	notify func()
	direct func(Outgoing)

	mu         sync.Mutex
	firstStart time.Time
	known      map[string]bool // MemDevice and MemGroup keys, by memKey
	seen       map[string]Device
	held       map[string]*held
	warned     map[string]bool
	dests      map[string]time.Time
	destDevs   map[string]time.Time
	destDay    map[string]dayCount
	failing    failState
	queue      Changes
	ignored    int64 // inputs ignored for a full queue
	wake       chan struct{}
	writeFails int
	handed     map[string]bool // alerts given to Direct while unwritten
}

// Options configure NewEngine.
type Options struct {
	Rules Rules
	Store Store
	// Now is the clock for what is not an input's own time (held alerts
	// falling due, the first start); nil: time.Now.
	Now func() time.Time
	// Notify is called after alerts were written (the Dispatcher's
	// Notify): nil for none.
	Notify func()
	// Direct, when set, gets each alert whose first write to the outbox
	// failed, once, to deliver from memory at once (the Dispatcher's
	// Direct): the record that cannot be written may be what the alert
	// is about. The alert stays queued; once written it is delivered
	// from the outbox too, under the same id.
	Direct func(Outgoing)
	Logger *slog.Logger // nil: discard
}

// NewEngine loads what the rules remember and records the first start
// when this is it. Forgotten on load: quota warnings of periods over 62
// days ago, destinations not used for forgetDest.
func NewEngine(ctx context.Context, opts Options) (*Engine, error) {
	if opts.Store == nil {
		return nil, errors.New("alert engine: store is required")
	}
	e := &Engine{
		rules: opts.Rules, store: opts.Store, now: opts.Now, log: opts.Logger, notify: opts.Notify, direct: opts.Direct,
		handed: map[string]bool{},
		known:  map[string]bool{}, seen: map[string]Device{}, held: map[string]*held{}, warned: map[string]bool{},
		dests: map[string]time.Time{}, destDevs: map[string]time.Time{}, destDay: map[string]dayCount{},
		wake: make(chan struct{}, 1),
	}
	if e.now == nil {
		e.now = time.Now
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.notify == nil {
		e.notify = func() {}
	}
	mem, err := e.store.Memory(ctx)
	if err != nil {
		return nil, fmt.Errorf("load alert memory: %w", err)
	}
	now := e.now()
	for _, m := range mem {
		switch m.Kind {
		case MemStart:
			e.firstStart = m.At
		case MemDevice, MemGroup:
			e.known[memKey(m.Kind, m.Key)] = true
		case MemQuota:
			if now.Sub(m.At) > forgetQuota {
				e.queue.Forget = append(e.queue.Forget, m)
				continue
			}
			e.warned[m.Key] = true
		case MemDest:
			if now.Sub(m.At) > forgetDest {
				e.queue.Forget = append(e.queue.Forget, m)
				continue
			}
			e.dests[m.Key] = m.At
		case MemDestDevice:
			e.destDevs[m.Key] = m.At
		case MemHealth:
			e.failing = failState{since: m.At, alerted: true}
		}
	}
	if e.firstStart.IsZero() {
		e.firstStart = now
		e.queue.Remember = append(e.queue.Remember, Memory{Kind: MemStart, At: now})
	}
	return e, nil
}

// Forgetting: a quota's warnings outlive their period by a month; a
// network a device has not used for half a year is new again.
const (
	forgetQuota = 62 * 24 * time.Hour
	forgetDest  = 183 * 24 * time.Hour
)

// memKey is the key of the known map.
func memKey(k MemoryKind, key string) string { return string(k) + "\x00" + key }

// FirstStart is netmon's first start, from which the learning period runs.
func (e *Engine) FirstStart() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.firstStart
}

// learning reports whether t is inside the learning period.
func (e *Engine) learning(t time.Time) bool {
	return t.Before(e.firstStart.Add(e.rules.LearningPeriod))
}

// room reports whether the queue may take n more changes, counting an
// input ignored when not. Call with mu held.
func (e *Engine) room(n int) bool {
	if e.queue.len()+n <= MaxQueue {
		return true
	}
	e.ignored++
	return false
}

// raise queues an alert and what its rule remembers with it: they are
// written together, so a crash leaves both or neither, and the event is
// raised again (with the same id) only if neither was written. Call with
// mu held.
func (e *Engine) raise(a Alert, sinks []string, remember ...Memory) {
	e.queue.Alerts = append(e.queue.Alerts, Outgoing{Alert: a, Sinks: sinks})
	e.queue.Remember = append(e.queue.Remember, remember...)
	e.poke()
}

// remember queues memory without an alert. Call with mu held.
func (e *Engine) remember(m ...Memory) {
	e.queue.Remember = append(e.queue.Remember, m...)
	e.poke()
}

func (e *Engine) poke() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Ignored is how many inputs were ignored because the queue was full.
func (e *Engine) Ignored() int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.ignored
}

// Run writes the queue until ctx is done: at once when something was
// queued, and every second for held alerts that fell due. A failed write
// keeps the queue and is retried with backoff (1 s doubling to 1 min),
// logged once per failure and once on recovery. When ctx is done it
// sends the held alerts without waiting for their delay and writes one
// last time, on a context of its own bounded by 10 s, and returns.
func (e *Engine) Run(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var retry <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			if err := e.Close(fctx); err != nil {
				e.log.Error("alerts: last write failed; what was queued is raised again at the next sighting", "err", err)
			}
			return
		case <-e.wake:
		case <-tick.C:
		case <-retry:
			retry = nil
		}
		if retry != nil {
			continue // backing off
		}
		if err := e.Flush(ctx); err != nil && ctx.Err() == nil {
			e.mu.Lock()
			n := e.writeFails
			e.mu.Unlock()
			retry = time.After(min(time.Second<<min(n-1, 6), time.Minute))
		}
	}
}

// Flush sends the held alerts that are due at Now and writes the queue
// in one transaction. On error the queue is kept for the next Flush.
func (e *Engine) Flush(ctx context.Context) error {
	return e.flush(ctx, false)
}

// Close sends every held alert at once and writes the queue: for a
// shutdown, so that no held alert is lost.
func (e *Engine) Close(ctx context.Context) error {
	return e.flush(ctx, true)
}

func (e *Engine) flush(ctx context.Context, all bool) error {
	e.mu.Lock()
	e.releaseHeld(e.now(), all)
	ch := e.queue
	e.queue = Changes{}
	e.mu.Unlock()
	if ch.empty() {
		return nil
	}
	err := e.store.Save(ctx, e.now(), ch)
	e.mu.Lock()
	defer e.mu.Unlock()
	if err != nil {
		// Put it back in front of what came meanwhile, keeping the order.
		e.queue.Alerts = append(ch.Alerts, e.queue.Alerts...)
		e.queue.Remember = append(ch.Remember, e.queue.Remember...)
		e.queue.Forget = append(ch.Forget, e.queue.Forget...)
		if e.writeFails == 0 {
			e.log.Error("alerts: writing to the outbox failed; kept in memory, retrying", "err", err, "queued", e.queue.len())
		}
		e.writeFails++
		if e.direct != nil {
			for _, o := range ch.Alerts {
				if !e.handed[o.Alert.ID] {
					e.handed[o.Alert.ID] = true
					e.direct(o)
				}
			}
		}
		return err
	}
	clear(e.handed)
	if e.writeFails > 0 {
		e.log.Info("alerts: writing to the outbox recovered", "failures", e.writeFails)
	}
	e.writeFails = 0
	if len(ch.Alerts) > 0 {
		for _, o := range ch.Alerts {
			e.log.Info("alert raised", "id", o.Alert.ID, "kind", string(o.Alert.Kind), "title", o.Alert.Title)
		}
		e.notify()
	}
	return nil
}
