package web

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"

	"github.com/netmon-dev/netmon/pkg/alert"
	"github.com/netmon-dev/netmon/pkg/rates"
)

// assets holds the pages' templates, scripts and style sheets (a page
// added later needs only its route) and the vendored uPlot the Device,
// Remote host and History pages chart with (assets/vendor/uplot/README.md).
//
//go:embed assets/*.tmpl assets/*.js assets/*.css
//go:embed assets/vendor/uplot/uPlot.iife.min.js assets/vendor/uplot/uPlot.min.css assets/vendor/uplot/LICENSE
var assets embed.FS

// parsePage parses the dashboard template once, at construction.
func parsePage() (*template.Template, error) {
	t, err := template.New("index.html.tmpl").ParseFS(assets, "assets/index.html.tmpl")
	if err != nil {
		return nil, fmt.Errorf("parse dashboard template: %w", err)
	}
	return t, nil
}

// static serves one embedded file from memory, with its ETag and gzip
// form computed here, once, when the routes are built.
func (s *server) static(name, contentType string) http.HandlerFunc {
	b, err := assets.ReadFile("assets/" + name)
	if err != nil {
		return func(w http.ResponseWriter, r *http.Request) { s.serverError(w, r, err) }
	}
	return newAsset(b, contentType).serve
}

// DashboardAlerts is how many of the newest alerts the page lists.
const DashboardAlerts = 5

// pageData is the page's JSON block: the script's settings and the first
// answers of the endpoints it polls, which it renders with the same code
// as every later answer. The server formats nothing for display.
type pageData struct {
	// Limit is the ?limit= the script asks /api/now (or, without rates,
	// /connections.json) for.
	Limit int `json:"limit"`
	// NewHostWindowSeconds is how long a new remote host keeps its "new"
	// badge, for the column's explanation.
	NewHostWindowSeconds float64 `json:"new_host_window_seconds"`
	// AlertsLimit is the ?limit= the script asks /api/alerts for.
	AlertsLimit int `json:"alerts_limit"`
	// Logout is true when the login is on: the page offers a logout link.
	Logout bool `json:"logout"`
	// Now is the /api/now?limit=Limit answer (whole sparklines); nil when
	// the server reads no rates, and Connections holds the rows instead.
	Now *nowJSON `json:"now"`
	// Connections is the /connections.json?limit=Limit answer, only
	// without rates (else the rows are in Now).
	Connections *connectionsData `json:"connections"`
	// Metrics is the /metrics.json body, nil when the reading failed
	// (where /metrics.json answers 500).
	Metrics *metricsJSON `json:"metrics"`
	// Alerts is the /api/alerts?limit=DashboardAlerts body; nil when the
	// server reads no alerts (the page then has no alert list) or the
	// reading failed (logged).
	Alerts *AlertsJSON `json:"alerts"`
}

// connectionsData is one /connections.json answer: the body as rows and
// its two headers.
type connectionsData struct {
	Rows       []connectionJSON `json:"rows"`
	Total      int              `json:"total"`       // X-Total-Count
	ServerTime string           `json:"server_time"` // X-Server-Time
}

// dashboard serves GET /[?limit=N]: a static page whose JSON block holds
// the first data, which app.js renders and then keeps fresh.
func (s *server) dashboard(w http.ResponseWriter, r *http.Request) {
	limit, err := parseLimit(r)
	if err != nil {
		s.writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if limit == 0 {
		limit = s.topN
	}
	if s.rates != nil {
		limit = min(limit, MaxNowLimit)
	}
	ctx := r.Context()
	now := s.now()
	newSince := now.Add(-s.window)
	data := pageData{
		Limit:                limit,
		NewHostWindowSeconds: s.window.Seconds(),
		AlertsLimit:          DashboardAlerts,
		Logout:               s.guard != nil && s.guard.loginOn(),
	}
	if s.rates != nil {
		rn, err := s.rates.RatesNow(ctx, rates.Query{Remotes: DefaultNowRemotes})
		if err != nil {
			s.serverError(w, r, err)
			return
		}
		nj := newNowJSON(rn, now, s.rateUnit)
		if err := s.nowConnections(ctx, &nj, limit, rates.ByBytes, newSince); err != nil {
			s.serverError(w, r, err)
			return
		}
		data.Now = &nj
	} else {
		conns, total, err := s.store.ActiveConnections(ctx, limit)
		if err != nil {
			s.serverError(w, r, err)
			return
		}
		cd := connectionsData{Rows: make([]connectionJSON, len(conns)), Total: total, ServerTime: formatTime(now)}
		for i := range conns {
			cd.Rows[i] = toConnectionJSON(&conns[i], newSince)
		}
		data.Connections = &cd
	}
	if snap, err := s.metrics.Read(ctx); err != nil {
		s.log.Warn("dashboard: read system metrics", "err", err)
	} else {
		data.Metrics = &metricsJSON{Snapshot: snap, Ingest: s.ingestState(ctx)}
	}
	if s.alerts != nil {
		data.Alerts = s.recentAlerts(ctx)
	}
	page, err := s.renderPage(&data)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(page)
}

// recentAlerts is what /api/alerts?limit=DashboardAlerts answers, nil
// (logged) when the outbox cannot be read: the page then shows no list
// rather than no page.
func (s *server) recentAlerts(ctx context.Context) *AlertsJSON {
	entries, err := s.alerts.RecentAlerts(ctx, DashboardAlerts)
	if err != nil {
		s.log.Warn("dashboard: read alerts", "err", err)
		return nil
	}
	pending, err := s.alerts.PendingAlerts(ctx)
	if err != nil {
		s.log.Warn("dashboard: read pending alerts", "err", err)
		return nil
	}
	if entries == nil {
		entries = []alert.Entry{}
	}
	return &AlertsJSON{Alerts: entries, Pending: pending}
}

// renderPage writes the page with data in its JSON block. json.Marshal
// escapes <, >, & (and U+2028, U+2029), so no text in the data can end
// the block or open markup; html/template treats an application/json
// script as JavaScript and inserts the template.JS as it is. The page is
// rendered to a buffer so an error is a clean 500, not half a page.
func (s *server) renderPage(data *pageData) ([]byte, error) {
	js, err := json.Marshal(data)
	if err != nil {
		return nil, fmt.Errorf("encode dashboard data: %w", err)
	}
	var buf bytes.Buffer
	if err := s.page.Execute(&buf, template.JS(js)); err != nil {
		return nil, fmt.Errorf("render dashboard: %w", err)
	}
	return buf.Bytes(), nil
}
