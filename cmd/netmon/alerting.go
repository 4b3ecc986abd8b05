package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/netmon-dev/netmon/pkg/alert"
	"github.com/netmon-dev/netmon/pkg/alert/sink"
	"github.com/netmon-dev/netmon/pkg/config"
	"github.com/netmon-dev/netmon/pkg/device"
	"github.com/netmon-dev/netmon/pkg/flows"
	"github.com/netmon-dev/netmon/pkg/ingest"
	"github.com/netmon-dev/netmon/pkg/store"
)

// startAlerts runs the alert engine and its delivery beside the ingest
// loop in: it feeds the engine from every cycle's delta (in.Observe) and
// from the loop's health, writes alerts to the record's outbox and
// delivers them to the configured sinks, each in goroutines of its own,
// so neither a slow sink nor the record's disk ever delays a cycle.
// Call the returned stop after the loop has returned: it writes what is
// queued (held new-device alerts at once) and stops the delivery (an
// attempt under way is repeated at the next start, under its id).
// Alerts failing to start is logged, not fatal: ingest goes on.
func startAlerts(ctx context.Context, cfg config.Config, st *stores, in *ingest.Ingester, logger *slog.Logger) (stop func()) {
	a, err := newAlerting(ctx, cfg, st.record, logger)
	if err != nil {
		logger.Error("alerts are off: they could not start", "err", err)
		return func() {}
	}
	a.seed(ctx, cfg, st.record, time.Now())
	f := &feeder{engine: a.engine, tally: a.tally, device: in.Device, skip: in.Baseline, destinations: cfg.Alerts.NewDestination.Enabled}
	if st.names != nil {
		f.describe = st.names.describe
		st.names.hearMerges(func(m device.Merge) {
			a.engine.Merged(string(m.From), st.names.describe(string(m.To), netip.Addr{}), time.Now())
		})
	}
	prev := in.Observe
	in.Observe = func(now time.Time, d *flows.Delta) {
		if prev != nil {
			prev(now, d)
		}
		f.observe(now, d)
	}
	actx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() { a.engine.Run(actx) })
	wg.Go(func() { a.dispatcher.Run(actx) })
	wg.Go(func() { watchHealth(actx, in.Status, a.engine, cfg.Interval, time.Now) })
	logger.Info("alerts started", "sinks", len(cfg.Alerts.Sinks), "first_start", a.engine.FirstStart().Format(time.RFC3339),
		"learning_until", a.engine.FirstStart().Add(cfg.Alerts.LearningPeriod).Format(time.RFC3339))
	return func() {
		cancel()
		wg.Wait()
	}
}

// alerting is the engine and the dispatcher over the record.
type alerting struct {
	engine     *alert.Engine
	dispatcher *alert.Dispatcher
	tally      *alert.Tally
}

func newAlerting(ctx context.Context, cfg config.Config, rec *store.Record, logger *slog.Logger) (*alerting, error) {
	sink.UserAgent = "netmon/" + version
	sinks, err := alertSinks(cfg, logger)
	if err != nil {
		return nil, err
	}
	d, err := alert.NewDispatcher(alert.DispatcherOptions{Outbox: rec, Sinks: sinks, Logger: logger})
	if err != nil {
		return nil, err
	}
	e, err := alert.NewEngine(ctx, alert.Options{Rules: alertRules(cfg.Alerts), Store: rec, Notify: d.Notify, Direct: d.Direct, Logger: logger})
	if err != nil {
		return nil, err
	}
	return &alerting{engine: e, dispatcher: d, tally: &alert.Tally{Cal: calendar(cfg)}}, nil
}

// seed starts the tally at what the record holds of today and the
// billing period, so a quota counts what was used before this start.
func (a *alerting) seed(ctx context.Context, cfg config.Config, rec *store.Record, now time.Time) {
	cal, keep := calendar(cfg), retention(cfg).Device
	totals := func(period string) map[string]uint64 {
		sp, _ := cal.Period(period, now)
		ts, err := rec.DeviceTotals(ctx, keep.Tiles(cal, sp, now))
		if err != nil {
			return nil
		}
		out := map[string]uint64{}
		for _, t := range ts {
			out[t.Device] = t.TotalBytes()
		}
		return out
	}
	a.tally.Seed(now, totals("today"), totals("billing"))
}

// alertRules translates the validated alerts section for the engine.
func alertRules(c config.Alerts) alert.Rules {
	r := alert.Rules{
		LearningPeriod: c.LearningPeriod,
		NewDevice:      alert.NewDeviceRule{Enabled: c.NewDevice.Enabled, Randomized: c.NewDevice.Randomized, Delay: c.NewDevice.Delay, Sinks: c.NewDevice.Sinks},
		NewDestination: alert.NewDestinationRule{Enabled: c.NewDestination.Enabled, LearningPeriod: c.NewDestination.LearningPeriod,
			PerDevicePerDay: c.NewDestination.PerDevicePerDay, Sinks: c.NewDestination.Sinks},
		Health: alert.HealthRule{Enabled: c.Health.Enabled, After: c.Health.After, Sinks: c.Health.Sinks},
	}
	for _, s := range c.Sinks {
		r.Sinks = append(r.Sinks, s.Name)
	}
	for _, p := range c.NewDestination.Allow {
		if pp, err := netip.ParsePrefix(p); err == nil {
			r.NewDestination.Allow = append(r.NewDestination.Allow, pp.Masked())
		}
	}
	for _, q := range c.Quotas {
		limit, _ := config.ParseBytes(q.Limit)
		scope, _ := config.ParseDevice(q.Device)
		r.Quotas = append(r.Quotas, alert.QuotaRule{Name: q.RuleName(), Scope: scope, Period: alert.Period(q.Period),
			Limit: limit, Warn: q.WarnLevels(), Sinks: q.Sinks})
	}
	return r
}

// alertSinks builds the configured sinks.
func alertSinks(cfg config.Config, logger *slog.Logger) ([]alert.SinkConfig, error) {
	var out []alert.SinkConfig
	for _, s := range cfg.Alerts.Sinks {
		sc := alert.SinkConfig{Name: s.Name, Timeout: s.Timeout, RateLimit: s.RateLimit}
		switch s.Type {
		case "webhook":
			sc.Sink = sink.NewWebhook(s.URL, s.Secret)
		case "ntfy":
			sc.Sink = sink.NewNtfy(s.URL, s.Token)
		case "log":
			sc.Sink = &sink.Log{Logger: logger.With("sink", s.Name)}
		case "exec":
			sc.Sink = &sink.Exec{Command: s.Command}
		default:
			return nil, fmt.Errorf("alerts: sink %s: unknown type %q", s.Name, s.Type)
		}
		out = append(out, sc)
	}
	return out, nil
}

// feeder turns each cycle's delta into the engine's inputs, in the
// ingest goroutine (every input only queues: nothing here waits).
//
// A device is what Ingester.Device names (the registry's id: its MAC,
// or "ip:ADDR" while none is known), described by the registry (namer.
// describe: MAC, name, vendor, randomised flag); the registry's merges of
// ip: devices into MACs reach the engine as they happen (Engine.Merged).
type feeder struct {
	engine *alert.Engine
	tally  *alert.Tally
	device func(netip.Addr) string // nil: "ip:ADDR"
	// describe says what is known of the device at a LAN address (nil:
	// its id and address only).
	describe func(id string, addr netip.Addr) alert.Device
	skip     bool // the first delta is the baseline (Ingester.Baseline): not usage
	// destinations says the new-destination rule is on: only then is
	// every opened flow a Contact (new devices' first destinations ride
	// on their sightings).
	destinations bool

	seen     map[string]*alert.Device
	contacts []alert.Contact
	ids      map[netip.Addr]string // device ids by address, for a cycle's many flows of one device
}

func (f *feeder) observe(now time.Time, d *flows.Delta) {
	if f.seen == nil {
		f.seen = map[string]*alert.Device{}
	}
	clear(f.seen)
	f.contacts = f.contacts[:0]
	// A device's id may change between cycles (the registry learns a
	// MAC): the cache holds for one cycle.
	if f.ids == nil {
		f.ids = map[netip.Addr]string{}
	}
	clear(f.ids)
	skip := f.skip
	f.skip = false
	for c := range d.All() {
		id := f.id(c.Key.Src)
		if !skip {
			f.tally.Add(now, id, c.Growth.TotalBytes())
		}
		if c.Kind != flows.Opened {
			continue
		}
		dev, ok := f.seen[id]
		if !ok {
			dv := f.describeOf(id, c.Key.Src)
			dev = &dv
			f.seen[id] = dev
		}
		if len(dev.Destinations) < alert.MaxDestinations && !slices.Contains(dev.Destinations, c.Key.Dst) {
			dev.Destinations = append(dev.Destinations, c.Key.Dst)
		}
		if f.destinations {
			f.contacts = append(f.contacts, alert.Contact{Device: id, Remote: c.Key.Dst, At: now})
		}
	}
	for _, dev := range f.seen {
		f.engine.DeviceSeen(alert.Sighting{Device: *dev, At: now})
	}
	for _, c := range f.contacts {
		f.engine.Contacted(c)
	}
	if cap(f.contacts) > releaseAbove {
		f.contacts = nil // a cold start's 100,000 opened flows need not stay allocated
	}
	for _, u := range f.tally.Take(now) {
		f.engine.UsageSeen(u)
	}
}

// releaseAbove is the capacity past which a cycle's scratch space is
// released rather than kept for the next cycle.
const releaseAbove = 4096

func (f *feeder) id(a netip.Addr) string {
	if id, ok := f.ids[a]; ok {
		return id
	}
	id := "ip:" + a.String()
	if f.device != nil {
		id = f.device(a)
	}
	f.ids[a] = id
	return id
}

func (f *feeder) describeOf(id string, a netip.Addr) alert.Device {
	if f.describe != nil {
		return f.describe(id, a)
	}
	return alert.Device{ID: id, Addr: a}
}

// watchHealth reports the ingest loop's health to the engine every
// interval until ctx is done: failing while the last cycle or the last
// commit to the record failed, since the first failure seen after the
// last success.
func watchHealth(ctx context.Context, status func() ingest.Status, e *alert.Engine, interval time.Duration, now func() time.Time) {
	t := time.NewTicker(interval)
	defer t.Stop()
	var since time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		since = reportHealth(e, status(), since, now())
	}
}

// reportHealth reports one status, given when the current failure began
// (zero: none), and returns when it began now.
func reportHealth(e *alert.Engine, st ingest.Status, since, now time.Time) time.Time {
	err := st.LastErr
	if err == nil {
		err = st.LastCommitErr
	}
	switch {
	case err == nil && st.LastOK.IsZero():
		return since // no cycle yet
	case err == nil:
		e.HealthSeen(alert.HealthReport{At: now, OK: true})
		return time.Time{}
	}
	if since.IsZero() {
		since = now
		if st.LastErr != nil && !st.LastErrAt.IsZero() && st.LastErrAt.Before(now) && st.LastErrAt.After(st.LastOK) {
			since = st.LastErrAt
		}
	}
	e.HealthSeen(alert.HealthReport{At: now, FailingSince: since, Err: err.Error()})
	return since
}
