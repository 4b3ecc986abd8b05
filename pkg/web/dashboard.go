package web

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
)

// assets holds the page template, its script and its style sheet.
//
//go:embed assets/index.html.tmpl assets/common.js assets/app.js assets/style.css
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

// pageData is the page's JSON block: the script's settings and the first
// answers of the two endpoints it polls, which it renders with the same
// code as every later answer. The server formats nothing for display.
type pageData struct {
	// Limit is the ?limit= the script asks /connections.json for.
	Limit int `json:"limit"`
	// NewHostWindowSeconds is how long a new remote host keeps its NEW
	// badge, for the footer.
	NewHostWindowSeconds float64         `json:"new_host_window_seconds"`
	Connections          connectionsData `json:"connections"`
	// Metrics is the /metrics.json body, nil when the reading failed
	// (where /metrics.json answers 500).
	Metrics *metricsJSON `json:"metrics"`
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
	ctx := r.Context()
	conns, total, err := s.store.ActiveConnections(ctx, limit)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	now := s.now()
	newSince := now.Add(-s.window)
	data := pageData{
		Limit:                limit,
		NewHostWindowSeconds: s.window.Seconds(),
		Connections: connectionsData{
			Rows:       make([]connectionJSON, len(conns)),
			Total:      total,
			ServerTime: formatTime(now),
		},
	}
	for i := range conns {
		data.Connections.Rows[i] = toConnectionJSON(&conns[i], newSince)
	}
	if snap, err := s.metrics.Read(ctx); err != nil {
		s.log.Warn("dashboard: read system metrics", "err", err)
	} else {
		data.Metrics = &metricsJSON{Snapshot: snap, Ingest: s.ingestState(ctx)}
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
