// Package web serves netmon's live dashboard and its JSON and Prometheus
// endpoints over the stdlib net/http.
//
// It reads the database through the small Store interface declared here
// (it never sees *sql.DB), the in-process ingest loop through Health (nil
// when a separate process ingests: health is then derived from the
// database's last cycle), and the router's own figures through
// SystemMetrics. Templates, JavaScript and CSS are embedded and parsed
// once; the page's script polls the JSON endpoints and rebuilds only the
// table body, with textContent, never by pasting data into HTML.
package web

import (
	"cmp"
	"context"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/netmon-dev/netmon/pkg/flows"
	"github.com/netmon-dev/netmon/pkg/history"
	"github.com/netmon-dev/netmon/pkg/sysmetrics"
)

// Store is what the web server reads from the database. *store.Live
// implements it.
type Store interface {
	// ActiveConnections returns at most limit active connections (all
	// when limit <= 0), biggest total bytes first, ties by key, and the
	// number of active connections in all.
	ActiveConnections(ctx context.Context, limit int) ([]flows.Connection, int, error)
	// EachActiveConnection walks the same rows in the same order inside
	// one read transaction, holding one at a time: start gets the number
	// of active connections in all before the first row, then fn gets
	// each row (the *Connection is reused between calls). An error from
	// start or fn, or ctx done, stops the walk; start's or fn's error is
	// returned unchanged.
	EachActiveConnection(ctx context.Context, limit int, start func(total int) error, fn func(*flows.Connection) error) error
	// ActiveByProto counts active connections per protocol name.
	ActiveByProto(ctx context.Context) (map[string]int, error)
	// RemoteHostCount is the number of remote hosts ever seen.
	RemoteHostCount(ctx context.Context) (int, error)
	// LocalHosts returns the cumulative traffic of every LAN address.
	LocalHosts(ctx context.Context) ([]flows.Host, error)
	// LastCycle returns when the last reconcile cycle ran (zero if none)
	// and how many cycles have run.
	LastCycle(ctx context.Context) (time.Time, int64, error)
}

// SystemMetrics reads the router's load, memory, interfaces and conntrack
// fill. *sysmetrics.Reader implements it.
type SystemMetrics interface {
	Read(ctx context.Context) (sysmetrics.Snapshot, error)
}

// Health reports the state of an ingest loop running in this process.
type Health interface {
	IngestStatus() IngestStatus
}

// HealthFunc adapts a function to Health, so cmd/netmon can wrap the
// ingest loop's own status type without this package importing it.
type HealthFunc func() IngestStatus

// IngestStatus implements Health.
func (f HealthFunc) IngestStatus() IngestStatus { return f() }

// IngestStatus is what the web server needs to know about the ingest loop.
type IngestStatus struct {
	LastOK  time.Time // end of the last successful cycle; zero before the first
	LastErr error     // error of the last cycle, nil when it succeeded
	Cycles  int64     // cycles run, successful or not
	Errors  int64     // cycles that failed
	// LastDuration and LastSkipped describe the last successful cycle:
	// how long it took and how many snapshot lines it could not parse.
	// The metrics read Options.Counters instead.
	LastDuration time.Duration
	LastSkipped  int
}

// IngestCounters are the ingest process's counters since it started:
// what /metrics exports of ingest, whether the loop runs in this process
// or another one records them in the live state. They reset only when
// the ingest process restarts.
type IngestCounters struct {
	Cycles       int64 // cycles run, successful or failed
	FailedCycles int64
	Overruns     int64     // cycles that took longer than their interval
	SkippedLines int64     // conntrack lines that could not be parsed
	Durations    Histogram // cycle durations, in seconds
	Commits      int64     // commits to the durable record
	CommitErrors int64
	LastCommit   time.Time
	Events       EventCounters
}

// Histogram is a histogram with fixed upper bounds: Counts[i] is the
// observations <= Bounds[i] (cumulative), Count all of them, Sum their
// total.
type Histogram struct {
	Bounds []float64
	Counts []uint64
	Count  uint64
	Sum    float64
}

// EventCounters is what the conntrack DESTROY events did; the metrics
// export them only when Enabled.
type EventCounters struct {
	Enabled, Listening                                             bool
	Received, Kept, Folded, Overruns, Dropped, Undecoded, Restarts uint64
}

// Counters reads the ingest counters.
type Counters interface {
	IngestCounters(ctx context.Context) (IngestCounters, error)
}

// CountersFunc adapts a function to Counters.
type CountersFunc func(ctx context.Context) (IngestCounters, error)

// IngestCounters implements Counters.
func (f CountersFunc) IngestCounters(ctx context.Context) (IngestCounters, error) { return f(ctx) }

// Devices reads every device's running lifetime totals, by device id
// (Device, Name and the Usage of each), for the per-device series.
// *store.Live implements it.
type Devices interface {
	DeviceTotals(ctx context.Context) ([]history.Total, error)
}

// Defaults for the zero values of Options.
const (
	DefaultInterval      = time.Second
	DefaultNewHostWindow = 60 * time.Second
	DefaultTopN          = 200
	// MaxLimit bounds ?limit= so a typo cannot ask for a billion rows.
	MaxLimit = 1_000_000
	// MaxHostSeries caps the per-LAN-host Prometheus series.
	MaxHostSeries = 256
)

// Options configure New.
type Options struct {
	Store   Store         // required
	Metrics SystemMetrics // required
	// Health is the in-process ingest loop, or nil when another process
	// ingests; health then comes from Store.LastCycle.
	Health Health
	// Interval is the ingest interval: /healthz fails after 3 intervals
	// without a successful cycle. 0 means DefaultInterval.
	Interval time.Duration
	// NewHostWindow is how long a remote host's connections carry the NEW
	// badge after the host was first seen. 0 means DefaultNewHostWindow.
	NewHostWindow time.Duration
	// TopN is how many rows the dashboard shows. 0 means DefaultTopN.
	TopN int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives server-side errors; nil discards them.
	Logger *slog.Logger
	// Access says who may read the dashboard (auth.go). nil: anyone who
	// reaches the port, with any Host header; cmd/netmon always sets it.
	Access *Access
	// Build is what netmon_build_info reports.
	Build BuildInfo
	// Registry, when set, receives netmon's collector and is what /metrics
	// serves, so the caller can add its own collectors. nil: a fresh
	// registry with netmon's collector and the Go and process collectors.
	Registry *prometheus.Registry
	// History is the durable record the /api routes read (nil: they answer
	// 503); Calendar places its buckets and Keep says which are kept (nil:
	// history.DefaultKeep).
	History  History
	Calendar history.Calendar
	Keep     history.Keep
	// Rates is the live rates (nil: connection rows carry null rates,
	// ?sort=rate and /api/now answer 503); RateUnit how to show them,
	// "bits" or "bytes" ("": bits), handed to the page in /api/now.
	Rates    Rates
	RateUnit string
	// Alerts is the alert outbox GET /api/alerts and netmon_alerts_total
	// read (nil: 503, and no such series).
	Alerts Alerts
	// Counters is the ingest process's counters (nil: /metrics has only
	// the health and last success of ingest).
	Counters Counters
	// Devices is the devices' totals (nil: the per-device series are the
	// Store's LAN addresses, as devices "ip:ADDR").
	Devices Devices
}

// server holds the handlers' dependencies.
type server struct {
	store    Store
	metrics  SystemMetrics
	health   Health
	interval time.Duration
	window   time.Duration
	topN     int
	now      func() time.Time
	log      *slog.Logger
	page     *template.Template
	registry *prometheus.Registry
	history  History
	cal      history.Calendar
	keep     history.Keep
	// guard enforces Options.Access; nil when it was nil (auth.go).
	guard     *guard
	loginPage *template.Template
	build     BuildInfo
	rates     Rates
	rateUnit  string
	alerts    Alerts
	counters  Counters
	devices   Devices
	// ingestOnly: the ingest process's own /metrics (NewIngestMetrics):
	// no store, no system figures.
	ingestOnly bool
	// fullList admits one unlimited /connections.json at a time: it
	// streams in bounded memory, but holds a read transaction (the WAL
	// cannot be reset meanwhile) and a CPU for as long as the client
	// takes to read tens of MB.
	fullList chan struct{}
}

// New returns the web handler: every route of routes.go behind the
// security headers.
func New(opts Options) (http.Handler, error) {
	s, err := newServer(opts)
	if err != nil {
		return nil, err
	}
	return s.routes(), nil
}

// newServer checks opts, fills defaults and parses the template.
func newServer(opts Options) (*server, error) {
	switch {
	case opts.Store == nil:
		return nil, errors.New("web options: store is required")
	case opts.Metrics == nil:
		return nil, errors.New("web options: metrics is required")
	case opts.Interval < 0:
		return nil, errors.New("web options: interval: must be >= 0")
	case opts.NewHostWindow < 0:
		return nil, errors.New("web options: new host window: must be >= 0")
	case opts.TopN < 0 || opts.TopN > MaxLimit:
		return nil, errors.New("web options: top n: must be between 0 and 1000000")
	case opts.RateUnit != "" && opts.RateUnit != "bits" && opts.RateUnit != "bytes":
		return nil, errors.New("web options: rate unit: must be bits or bytes")
	}
	s := &server{
		store:    opts.Store,
		metrics:  opts.Metrics,
		health:   opts.Health,
		interval: cmp.Or(opts.Interval, DefaultInterval),
		window:   cmp.Or(opts.NewHostWindow, DefaultNewHostWindow),
		topN:     cmp.Or(opts.TopN, DefaultTopN),
		now:      opts.Now,
		log:      opts.Logger,
		registry: opts.Registry,
		history:  opts.History,
		cal:      opts.Calendar,
		keep:     opts.Keep,
		build:    opts.Build,
		rates:    opts.Rates,
		rateUnit: cmp.Or(opts.RateUnit, "bits"),
		alerts:   opts.Alerts,
		counters: opts.Counters,
		devices:  opts.Devices,
		fullList: make(chan struct{}, 1),
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.keep == nil {
		s.keep = history.DefaultKeep
	}
	var err error
	if s.page, err = parsePage(); err != nil {
		return nil, err
	}
	if s.loginPage, err = parseLogin(); err != nil {
		return nil, err
	}
	if opts.Access != nil {
		if s.guard, err = newGuard(opts.Access, s.now); err != nil {
			return nil, err
		}
	}
	if err := s.register(); err != nil {
		return nil, err
	}
	return s, nil
}
