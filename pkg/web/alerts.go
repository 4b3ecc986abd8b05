package web

import (
	"context"
	"fmt"
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/netmon-dev/netmon/pkg/alert"
)

// Alerts is what the web server reads of the alert outbox in the durable
// record. *store.Record implements it.
type Alerts interface {
	// RecentAlerts returns the newest limit alerts, newest first, with
	// their deliveries.
	RecentAlerts(ctx context.Context, limit int) ([]alert.Entry, error)
	// AlertCounts returns the deliveries by kind, sink and outcome.
	AlertCounts(ctx context.Context) ([]alert.Count, error)
	// PendingAlerts returns how many deliveries wait, by sink.
	PendingAlerts(ctx context.Context) (map[string]int, error)
}

// Alert list bounds of GET /api/alerts.
const (
	DefaultAlertLimit = 100
	MaxAlertLimit     = 1000
)

// AlertsJSON is the body of GET /api/alerts: the newest alerts (the form
// `netmon alerts --output json` prints, one alert.Entry each: the alert
// as the sinks get it, when it was recorded, its deliveries by sink) and
// the deliveries waiting, by sink.
type AlertsJSON struct {
	Alerts  []alert.Entry  `json:"alerts"`
	Pending map[string]int `json:"pending"`
}

// apiAlerts serves GET /api/alerts[?limit=N].
func (s *server) apiAlerts(w http.ResponseWriter, r *http.Request) {
	if s.alerts == nil {
		s.writeError(w, http.StatusServiceUnavailable, "no alerts: this server reads no record")
		return
	}
	q, err := query(r, "limit")
	if err != nil {
		s.writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	limit := DefaultAlertLimit
	if q.Has("limit") {
		limit, err = strconv.Atoi(q.Get("limit"))
		if err != nil || limit < 1 || limit > MaxAlertLimit {
			s.writeError(w, http.StatusBadRequest, fmt.Sprintf("limit: must be an integer from 1 to %d, got %q", MaxAlertLimit, truncate(q.Get("limit"))))
			return
		}
	}
	entries, err := s.alerts.RecentAlerts(r.Context(), limit)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	pending, err := s.alerts.PendingAlerts(r.Context())
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	if entries == nil {
		entries = []alert.Entry{}
	}
	s.writeJSON(w, http.StatusOK, AlertsJSON{Alerts: entries, Pending: pending})
}

// alertCollector exports the outbox's figures at scrape time. Its labels
// are bounded: kinds are alert.Kinds, sinks the configured ones (and
// those configured before), outcomes alert's four.
type alertCollector struct {
	alerts         Alerts
	total, pending *prometheus.Desc
}

func newAlertCollector(a Alerts) *alertCollector {
	return &alertCollector{
		alerts: a,
		total: prometheus.NewDesc("netmon_alerts_total",
			"Alert deliveries by alert kind, sink and outcome: delivered, retried (an attempt failed, another follows), failed (given up), folded (into a rate limit's summary).",
			[]string{"kind", "sink", "outcome"}, nil),
		pending: prometheus.NewDesc("netmon_alerts_pending", "Alert deliveries waiting for their next attempt, by sink.", []string{"sink"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *alertCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.total
	ch <- c.pending
}

// Collect implements prometheus.Collector.
func (c *alertCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	counts, err := c.alerts.AlertCounts(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.total, fmt.Errorf("read alert counts: %w", err))
	}
	for _, n := range counts {
		ch <- prometheus.MustNewConstMetric(c.total, prometheus.CounterValue, float64(n.N), string(n.Kind), n.Sink, string(n.Outcome))
	}
	pending, err := c.alerts.PendingAlerts(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.pending, fmt.Errorf("read pending alerts: %w", err))
	}
	for sink, n := range pending {
		ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(n), sink)
	}
}
