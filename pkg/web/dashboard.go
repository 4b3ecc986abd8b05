package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/dustin/go-humanize"

	"github.com/netmon-dev/netmon/pkg/flows"
	"github.com/netmon-dev/netmon/pkg/sysmetrics"
)

// assets holds the page template, its script and its style sheet.
//
//go:embed assets/index.html.tmpl assets/app.js assets/style.css
var assets embed.FS

// parsePage parses the dashboard template once, at construction.
func parsePage() (*template.Template, error) {
	t, err := template.New("index.html.tmpl").ParseFS(assets, "assets/index.html.tmpl")
	if err != nil {
		return nil, fmt.Errorf("parse dashboard template: %w", err)
	}
	return t, nil
}

// static serves one embedded file.
func (s *server) static(name, contentType string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		b, err := assets.ReadFile("assets/" + name)
		if err != nil {
			s.serverError(w, r, err)
			return
		}
		w.Header().Set("Content-Type", contentType)
		w.Header().Set("Cache-Control", "no-cache")
		w.Write(b)
	}
}

// pageData is what the dashboard template renders.
type pageData struct {
	Rows       []rowView
	Total      int
	Limit      int
	WindowText string
	System     systemView
	Ingest     ingestView
}

// rowView is one connection as the table shows it. app.js builds the same
// cells from /connections.json; keep the two in step.
type rowView struct {
	Key                   string
	Proto                 string
	Source, Destination   string
	State, Flags          string
	Up, Down, Total       string
	UpTitle, DownTitle    string
	TotalTitle            string
	LastSeen, LastSeenISO string
	New                   bool
}

// systemView is the system tiles' text; "–" where nothing is known.
type systemView struct {
	Error      string // why there is no reading at all
	Load       string
	MemText    string
	MemUsed    uint64
	MemBarMax  uint64
	Interfaces []ifaceView
	Conntrack  conntrackView
}

// ifaceView is one interface tile.
type ifaceView struct {
	Name                 string
	Error                string
	Rx, Tx               string
	RxPackets, TxPackets string
	RxRate, TxRate       string
}

// conntrackView is the conntrack table fill tile, hidden unless Known.
type conntrackView struct {
	Known  bool
	Text   string
	Count  uint64
	BarMax uint64
	Error  string
}

// ingestView is the last-cycle tile.
type ingestView struct {
	Healthy bool
	Text    string
	Detail  string
}

// dashboard serves GET /: the first rows and tiles rendered here, then
// app.js keeps them fresh.
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
	data := pageData{
		Rows:       make([]rowView, len(conns)),
		Total:      total,
		Limit:      limit,
		WindowText: s.window.String(),
		Ingest:     toIngestView(s.ingestState(ctx), now),
	}
	newSince := now.Add(-s.window)
	for i := range conns {
		data.Rows[i] = toRowView(&conns[i], newSince, now)
	}
	if snap, err := s.metrics.Read(ctx); err != nil {
		s.log.Warn("dashboard: read system metrics", "err", err)
		data.System = noSystem("system figures unavailable")
	} else {
		data.System = toSystemView(&snap)
	}
	// Render to a buffer first so a template error is a clean 500, not
	// half a page.
	var buf bytes.Buffer
	if err := s.page.Execute(&buf, data); err != nil {
		s.serverError(w, r, fmt.Errorf("render dashboard: %w", err))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(buf.Bytes())
}

// toRowView formats one connection for the table.
func toRowView(c *flows.Connection, newSince, now time.Time) rowView {
	src, dst := c.Key.Endpoints()
	return rowView{
		Key:         c.Key.String(),
		Proto:       c.Key.Proto.String(),
		Source:      src,
		Destination: dst,
		State:       c.State,
		Flags:       c.Status.String(),
		Up:          humanBytes(c.UplinkBytes),
		Down:        humanBytes(c.DownlinkBytes),
		Total:       humanBytes(c.TotalBytes()),
		UpTitle:     counterTitle(c.UplinkBytes, c.UplinkPackets),
		DownTitle:   counterTitle(c.DownlinkBytes, c.DownlinkPackets),
		TotalTitle:  strconv.FormatUint(c.TotalBytes(), 10) + " bytes",
		LastSeen:    ago(now, c.LastSeenAt),
		LastSeenISO: formatTime(c.LastSeenAt),
		New:         !c.HostFirstSeenAt.Before(newSince),
	}
}

// counterTitle is the exact figures behind a human-readable size.
func counterTitle(bytes, packets uint64) string {
	return strconv.FormatUint(bytes, 10) + " bytes, " + strconv.FormatUint(packets, 10) + " packets"
}

// humanBytes is n in IEC units ("20 KiB", "1.5 MiB"), as app.js's
// humanBytes prints it.
func humanBytes(n uint64) string { return humanize.IBytes(n) }

// ago is how long before now t was, coarsely: "just now", "42 s ago",
// "5 min ago", "3 h ago", "2 d ago", as app.js's ago prints it.
func ago(now, t time.Time) string {
	d := now.Sub(t)
	switch {
	case d < time.Second:
		return "just now"
	case d < time.Minute:
		return strconv.Itoa(int(d/time.Second)) + " s ago"
	case d < time.Hour:
		return strconv.Itoa(int(d/time.Minute)) + " min ago"
	case d < 48*time.Hour:
		return strconv.Itoa(int(d/time.Hour)) + " h ago"
	}
	return strconv.Itoa(int(d/(24*time.Hour))) + " d ago"
}

// rate is a bytes-per-second figure, "–" when unknown.
func rate(v *float64) string {
	if v == nil {
		return "–"
	}
	return humanBytes(uint64(*v)) + "/s"
}

// noSystem is the tiles' content when the reading failed.
func noSystem(reason string) systemView {
	return systemView{Error: reason, Load: "–", MemText: "–", MemBarMax: 1,
		Conntrack: conntrackView{Text: "–", BarMax: 1}}
}

// comma prints a counter with thousands separators, as app.js's
// toLocaleString("en-US") does.
func comma(n uint64) string {
	if n > math.MaxInt64 {
		return strconv.FormatUint(n, 10)
	}
	return humanize.Comma(int64(n))
}

// toSystemView formats a system reading for the tiles.
func toSystemView(snap *sysmetrics.Snapshot) systemView {
	v := noSystem("")
	v.Load = fmt.Sprintf("%.2f  %.2f  %.2f", snap.Load.Load1, snap.Load.Load5, snap.Load.Load15)
	v.MemText = humanBytes(snap.Memory.UsedBytes) + " / " + humanBytes(snap.Memory.TotalBytes)
	v.MemUsed, v.MemBarMax = snap.Memory.UsedBytes, max(snap.Memory.TotalBytes, 1)
	for _, it := range snap.Interfaces {
		iv := ifaceView{Name: it.Name, Error: it.Error}
		if it.Error == "" {
			iv.Rx, iv.Tx = humanBytes(it.RxBytes), humanBytes(it.TxBytes)
			iv.RxPackets, iv.TxPackets = comma(it.RxPackets), comma(it.TxPackets)
			iv.RxRate, iv.TxRate = rate(it.RxRate), rate(it.TxRate)
		}
		v.Interfaces = append(v.Interfaces, iv)
	}
	if ct := snap.Conntrack; ct != nil {
		v.Conntrack = conntrackView{Known: true, Text: "–", BarMax: 1, Error: ct.Error}
		if ct.Error == "" {
			v.Conntrack.Text = comma(ct.Count) + " / " + comma(ct.Max)
			v.Conntrack.Count, v.Conntrack.BarMax = ct.Count, max(ct.Max, 1)
		}
	}
	return v
}

// toIngestView formats the ingest state for its tile.
func toIngestView(st ingestJSON, now time.Time) ingestView {
	v := ingestView{Healthy: st.Healthy, Detail: st.Reason}
	switch {
	case st.last.IsZero():
		v.Text = "no cycle yet"
	default:
		v.Text = ago(now, st.last) + " · " + humanize.Comma(st.Cycles) + " cycles"
	}
	return v
}
