package web

import (
	"cmp"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// IngestMetricsOptions configure NewIngestMetrics.
type IngestMetricsOptions struct {
	Health   Health   // required: the ingest loop of this process
	Counters Counters // required: its counters
	// Interval is the ingest interval, for /healthz (0: DefaultInterval).
	Interval time.Duration
	Build    BuildInfo
	// Registry as in Options: nil is a fresh one with the Go and process
	// collectors.
	Registry *prometheus.Registry
	Now      func() time.Time // nil: time.Now
	Logger   *slog.Logger     // nil: discard
}

// NewIngestMetrics is the ingest process's own small server
// (`ingest-loop --metrics-bind`): GET /metrics with the ingest series and
// netmon_build_info (the same series as serve's /metrics, none of the
// database's or the system's) and GET /healthz. It has no login and no
// Host check, and shows no private data (no device, no address): bind it
// to loopback.
func NewIngestMetrics(opts IngestMetricsOptions) (http.Handler, error) {
	if opts.Health == nil || opts.Counters == nil {
		return nil, errors.New("ingest metrics options: health and counters are required")
	}
	s := &server{
		health:     opts.Health,
		counters:   opts.Counters,
		interval:   cmp.Or(opts.Interval, DefaultInterval),
		now:        opts.Now,
		log:        opts.Logger,
		build:      opts.Build,
		registry:   opts.Registry,
		ingestOnly: true,
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if err := s.register(); err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", s.prometheus())
	mux.HandleFunc("GET /healthz", s.healthz)
	return mux, nil
}
