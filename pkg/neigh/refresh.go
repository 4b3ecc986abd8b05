package neigh

import (
	"context"
	"log/slog"
	"time"

	"github.com/netmon-dev/netmon/pkg/device"
)

// Defaults of Refresher's zero fields.
const (
	DefaultInterval = 30 * time.Second
	DefaultDebounce = time.Second
)

// Refresher reads the table when it starts, every Interval, and (with a
// Watcher) Debounce after the kernel reports a change, and hands every
// successful reading to Observe. It runs on its own goroutine, never in
// the ingest cycle.
type Refresher struct {
	Reader  Reader
	Watcher Watcher // optional
	// Observe receives each reading; typically a closure over
	// device.Registry.Observe that also passes the merges on.
	Observe  func(ns []device.Neighbour, now time.Time)
	Interval time.Duration
	Debounce time.Duration
	Now      func() time.Time // time.Now when nil
	Logger   *slog.Logger     // slog.Default() when nil
}

// Run refreshes until ctx ends, then returns nil. Read errors are logged
// when they start and when they stop, not on every tick.
func (r *Refresher) Run(ctx context.Context) error {
	interval := r.Interval
	if interval <= 0 {
		interval = DefaultInterval
	}
	debounce := r.Debounce
	if debounce <= 0 {
		debounce = DefaultDebounce
	}
	now := r.Now
	if now == nil {
		now = time.Now
	}
	log := r.Logger
	if log == nil {
		log = slog.Default()
	}
	var changes <-chan struct{}
	if r.Watcher != nil {
		ch, err := r.Watcher.Changes(ctx)
		if err != nil {
			log.Warn("neighbour updates unavailable; refreshing on the ticker only", "err", err)
		} else {
			changes = ch
		}
	}
	failing := false
	refresh := func() {
		ns, err := r.Reader.Read(ctx)
		if err != nil {
			if !failing && ctx.Err() == nil {
				log.Warn("read neighbour table", "err", err)
			}
			failing = true
			return
		}
		if failing {
			log.Info("neighbour table readable again", "entries", len(ns))
			failing = false
		}
		r.Observe(ns, now())
	}
	refresh()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	var soon <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			refresh()
		case _, ok := <-changes:
			if !ok {
				changes = nil
				continue
			}
			if soon == nil {
				soon = time.After(debounce)
			}
		case <-soon:
			soon = nil
			refresh()
		}
	}
}
