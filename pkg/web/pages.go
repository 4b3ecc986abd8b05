package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"

	"github.com/netmon-dev/netmon/pkg/device"
	"github.com/netmon-dev/netmon/pkg/flows"
	"github.com/netmon-dev/netmon/pkg/history"
	"github.com/netmon-dev/netmon/pkg/rates"
)

// Directory is what the pages read of the record beside the history:
// who a device or a remote host is. *store.Record implements it; a
// History that does not is used without it (the pages then show ids and
// addresses only, and no unknown id is a 404).
type Directory interface {
	// Device returns the device with the id; found is false when the
	// record knows none.
	Device(ctx context.Context, id string) (d device.Device, found bool, err error)
	// Remote returns what the record knows of a remote host; found is
	// false when it knows none.
	Remote(ctx context.Context, addr netip.Addr) (h history.Remote, found bool, err error)
}

// pageConnections is how many of a device's active connections its page
// lists.
const pageConnections = 100

// pagesTemplate is the pages' template, parsed once; it is embedded, so
// a parse error shows in every test run, never first on a router.
var pagesTemplate = template.Must(template.New("pages.html.tmpl").ParseFS(assets, "assets/pages.html.tmpl"))

// pages serves the Device, Remote host and History pages. Each page's
// JSON block holds the answers of the routes its script fetches, asked
// of mux (the server's routes, without the admission in front of them:
// the page's own request passed it).
type pages struct {
	*server
	mux http.Handler
}

// pagesData is a page's JSON block. The script fetches every URL in
// URLs and renders each answer; the block holds the first answer of each
// (Answers, by URL), taken from the very handlers that serve the URLs,
// so the first paint and every later fetch go through one renderer.
type pagesData struct {
	// Kind is "device", "remote" or "history".
	Kind string `json:"kind"`
	// Key is the device id or the remote host's address ("" for history).
	Key string `json:"key"`
	// Device is what the record knows of the device (device page only;
	// null without a Directory).
	Device *device.Device `json:"device,omitempty"`
	// URLs names the answers by role: "now", "connections", "hour",
	// "day30", "day400", "month", "today", "yesterday", "7d" (device);
	// "today", "7d", "30d", "days" (remote); "devices" (history).
	URLs map[string]string `json:"urls"`
	// Answers holds the answer of each URL at the page's time.
	Answers map[string]answerJSON `json:"answers"`
	// Periods are the History page's choices (history page only).
	Periods []periodJSON `json:"periods,omitempty"`
	// Period is the chosen one.
	Period string `json:"period,omitempty"`
	// Unit is rate_unit, "bits" or "bytes", as /api/now says it.
	Unit string `json:"unit"`
}

// answerJSON is one answer of an endpoint: its status, its JSON body
// and, for /connections.json, X-Total-Count.
type answerJSON struct {
	Status int             `json:"status"`
	Body   json.RawMessage `json:"body"`
	Total  *int            `json:"total,omitempty"`
}

// periodJSON is a choice of the History page's period picker: the
// ?period= name, its label, its span when the page was made, the
// devices' totals and their CSV.
type periodJSON struct {
	Period string `json:"period"`
	Label  string `json:"label"`
	From   string `json:"from"`
	To     string `json:"to"`
	URL    string `json:"url"`
	CSV    string `json:"csv"`
}

// historyPeriods are the History page's choices, in the picker's order.
var historyPeriods = []periodJSON{
	{Period: "today", Label: "today"},
	{Period: "yesterday", Label: "yesterday"},
	{Period: "7d", Label: "7 days"},
	{Period: "30d", Label: "30 days"},
	{Period: "billing", Label: "this billing month"},
	{Period: "last-billing", Label: "last billing month"},
}

// answer asks the server's own routes for target, as the page's script
// would, and keeps the answer. The request carries no Accept-Encoding:
// the body is plain JSON.
func (s *pages) answer(ctx context.Context, target string) (answerJSON, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return answerJSON{}, fmt.Errorf("ask %s: %w", target, err)
	}
	rec := &recorder{header: http.Header{}, status: http.StatusOK}
	s.mux.ServeHTTP(rec, req)
	out := answerJSON{Status: rec.status, Body: bytes.TrimSpace(rec.body.Bytes())}
	if !json.Valid(out.Body) {
		return answerJSON{}, fmt.Errorf("ask %s: status %d, not JSON", target, rec.status)
	}
	if t := rec.header.Get("X-Total-Count"); t != "" {
		n, err := strconv.Atoi(t)
		if err != nil {
			return answerJSON{}, fmt.Errorf("ask %s: X-Total-Count %q", target, t)
		}
		out.Total = &n
	}
	return out, nil
}

// recorder is the http.ResponseWriter of answer.
type recorder struct {
	header http.Header
	status int
	wrote  bool
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if !r.wrote {
		r.status, r.wrote = status, true
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.body.Write(b)
}

// pageView is what the template gets: the page's kind and JSON block, or
// an error's status and message.
type pageView struct {
	Kind   string
	Data   template.JS
	Status int
	Error  string
}

// writePage answers with the page of v and data (nil: an error page),
// first asking every URL of data for its answer. Like renderPage: json.Marshal escapes <, >, & and U+2028/9, so nothing in
// the data can end the block; rendered to a buffer so an error is a clean
// 500.
func (s *pages) writePage(w http.ResponseWriter, r *http.Request, status int, v pageView, data *pagesData) {
	if data != nil {
		for role, u := range data.URLs {
			if _, ok := data.Answers[u]; ok {
				continue
			}
			a, err := s.answer(r.Context(), u)
			if err != nil {
				s.serverError(w, r, fmt.Errorf("page %s: %s: %w", r.URL.Path, role, err))
				return
			}
			data.Answers[u] = a
		}
		data.Unit = s.rateUnit
		js, err := json.Marshal(data)
		if err != nil {
			s.serverError(w, r, fmt.Errorf("encode page data: %w", err))
			return
		}
		v.Kind, v.Data = data.Kind, template.JS(js)
	}
	var buf bytes.Buffer
	if err := pagesTemplate.Execute(&buf, v); err != nil {
		s.serverError(w, r, fmt.Errorf("render page: %w", err))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// errorPage answers a page request with a readable page saying what is
// wrong: the template escapes msg.
func (s *pages) errorPage(w http.ResponseWriter, r *http.Request, status int, msg string) {
	s.writePage(w, r, status, pageView{Status: status, Error: msg}, nil)
}

// pageQuery admits only the query parameters a page takes.
func (s *pages) query(w http.ResponseWriter, r *http.Request, allowed ...string) (url.Values, bool) {
	q, err := query(r, allowed...)
	if err != nil {
		s.errorPage(w, r, http.StatusBadRequest, err.Error())
		return nil, false
	}
	return q, true
}

// devicePage serves GET /devices/{id}: who the device is, its rate now,
// its history charts, its top remote hosts and its active connections.
func (s *pages) devicePage(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.query(w, r); !ok {
		return
	}
	id := r.PathValue("id")
	nid, err := device.ParseID(id)
	if err != nil {
		s.errorPage(w, r, http.StatusNotFound, fmt.Sprintf("No device %q: a device id is a MAC (aa:bb:cc:dd:ee:ff) or ip: and an address (ip:10.0.0.9).", truncate(id)))
		return
	}
	if string(nid) != id { // another spelling: the page has one address
		http.Redirect(w, r, "/devices/"+url.PathEscape(string(nid)), http.StatusMovedPermanently)
		return
	}
	if s.history == nil {
		s.errorPage(w, r, http.StatusServiceUnavailable, "No history: this server reads no record.")
		return
	}
	data := &pagesData{Kind: "device", Key: id, Answers: map[string]answerJSON{}}
	if dir, ok := s.history.(Directory); ok {
		d, found, err := dir.Device(r.Context(), id)
		if err != nil {
			s.serverError(w, r, err)
			return
		}
		if !found {
			s.errorPage(w, r, http.StatusNotFound, fmt.Sprintf("No device %s in the record: netmon has not seen it, or not yet committed it.", id))
			return
		}
		data.Device = &d
	}
	api := "/api/devices/" + url.PathEscape(id)
	data.URLs = map[string]string{
		"now":         "/api/now?remotes=0",
		"connections": "/connections.json?device=" + url.QueryEscape(id) + "&limit=" + strconv.Itoa(pageConnections),
		"hour":        api + "/history?by=hour&period=48h",
		"day30":       api + "/history?by=day&period=30d",
		"day400":      api + "/history?by=day&period=400d",
		"month":       api + "/history?by=month&period=1096d",
		"today":       api + "?period=today",
		"yesterday":   api + "?period=yesterday",
		"7d":          api + "?period=7d",
	}
	s.writePage(w, r, http.StatusOK, pageView{}, data)
}

// parseRemote reads a remote host's address from the path: an IPv4 or
// IPv6 address (an IPv4-mapped one as IPv4), without a zone.
func parseRemote(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("%q is not an IPv4 or IPv6 address", truncate(s))
	}
	return a.Unmap(), nil
}

// remotePage serves GET /remotes/{addr}: the host's name and first
// sight, the devices that talked to it and its daily history.
func (s *pages) remotePage(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.query(w, r); !ok {
		return
	}
	a, err := parseRemote(r.PathValue("addr"))
	if err != nil {
		s.errorPage(w, r, http.StatusBadRequest, "Bad remote host: "+err.Error()+".")
		return
	}
	if a.String() != r.PathValue("addr") { // another spelling: the page has one address
		http.Redirect(w, r, "/remotes/"+url.PathEscape(a.String()), http.StatusMovedPermanently)
		return
	}
	if s.history == nil {
		s.errorPage(w, r, http.StatusServiceUnavailable, "No history: this server reads no record.")
		return
	}
	if dir, ok := s.history.(Directory); ok {
		if _, found, err := dir.Remote(r.Context(), a); err != nil {
			s.serverError(w, r, err)
			return
		} else if !found {
			s.errorPage(w, r, http.StatusNotFound, fmt.Sprintf("No remote host %s in the record: no device talked to it, or not within the record's retention.", a))
			return
		}
	}
	api := "/api/remotes/" + url.PathEscape(a.String())
	data := &pagesData{Kind: "remote", Key: a.String(), Answers: map[string]answerJSON{}, URLs: map[string]string{
		"today": api + "?period=today",
		"7d":    api + "?period=7d",
		"30d":   api + "?period=30d",
		"days":  api + "/history?period=400d",
	}}
	s.writePage(w, r, http.StatusOK, pageView{}, data)
}

// historyPage serves GET /history[?period=P]: every device's totals for
// one of historyPeriods, and their CSV.
func (s *pages) historyPage(w http.ResponseWriter, r *http.Request) {
	q, ok := s.query(w, r, "period")
	if !ok {
		return
	}
	if s.history == nil {
		s.errorPage(w, r, http.StatusServiceUnavailable, "No history: this server reads no record.")
		return
	}
	period := q.Get("period")
	if period == "" {
		period = "today"
	}
	data := &pagesData{Kind: "history", Answers: map[string]answerJSON{}, URLs: map[string]string{}, Period: period}
	t := s.now()
	for _, p := range historyPeriods {
		sp, err := s.cal.Period(p.Period, t)
		if err != nil {
			s.serverError(w, r, err)
			return
		}
		p.From, p.To = formatTime(sp.From), formatTime(sp.To)
		p.URL = "/api/devices?period=" + p.Period
		p.CSV = p.URL + "&format=csv"
		data.Periods = append(data.Periods, p)
		if p.Period == period {
			data.URLs["devices"] = p.URL
		}
	}
	if data.URLs["devices"] == "" {
		s.errorPage(w, r, http.StatusBadRequest, fmt.Sprintf("period: %q is not one of today, yesterday, 7d, 30d, billing, last-billing.", truncate(period)))
		return
	}
	s.writePage(w, r, http.StatusOK, pageView{}, data)
}

// remoteJSON is /api/remotes/{addr}: what the record knows of the host
// and the devices that talked to it over the period.
type remoteJSON struct {
	Remote     string      `json:"remote"`
	Name       string      `json:"name"`
	NameSource string      `json:"name_source"`
	FirstSeen  string      `json:"first_seen_at"`
	Devices    []TotalJSON `json:"devices"`
	Total      TotalJSON   `json:"total"`
}

// remoteQuery parses a remote host's request: the {addr} in its path and
// its period. On a bad one it answers 400 and reports false.
func (s *server) remoteQuery(w http.ResponseWriter, r *http.Request) (netip.Addr, history.Span, bool) {
	a, err := parseRemote(r.PathValue("addr"))
	if err != nil {
		s.writeError(w, http.StatusBadRequest, "addr: "+err.Error())
		return netip.Addr{}, history.Span{}, false
	}
	sp, err := s.spanQuery(r)
	if err != nil {
		s.writeError(w, http.StatusBadRequest, err.Error())
		return netip.Addr{}, history.Span{}, false
	}
	return a, sp, true
}

// apiRemote serves GET /api/remotes/{addr}?period=...: the host, and its
// traffic per device over the days of the period. 404 when the record
// knows neither the host nor traffic of it in the period.
func (s *server) apiRemote(w http.ResponseWriter, r *http.Request) {
	a, sp, ok := s.remoteQuery(w, r)
	if !ok {
		return
	}
	out := remoteJSON{Remote: a.String()}
	found := false
	if dir, ok := s.history.(Directory); ok {
		h, ok, err := dir.Remote(r.Context(), a)
		if err != nil {
			s.serverError(w, r, err)
			return
		}
		if found = ok; ok {
			out.Name, out.NameSource = h.Name, h.NameSource
			out.FirstSeen = formatTime(h.FirstSeen)
		}
	}
	ts, err := s.history.RemoteDevices(r.Context(), a, s.cal.Days(sp))
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	if !found && len(ts) == 0 {
		s.writeError(w, http.StatusNotFound, "no remote host "+a.String()+" in the record")
		return
	}
	out.Devices = NewTotalsJSON(ts, false)
	var sum history.Usage
	for _, t := range ts {
		sum.Add(t.Usage)
	}
	out.Total = usageJSON(sum)
	s.writeJSON(w, http.StatusOK, out)
}

// apiRemoteHistory serves GET /api/remotes/{addr}/history?period=...:
// the host's days as columns (like /api/devices/{id}/history), or as CSV
// rows.
func (s *server) apiRemoteHistory(w http.ResponseWriter, r *http.Request) {
	a, sp, ok := s.remoteQuery(w, r)
	if !ok {
		return
	}
	pts, err := s.history.RemoteHistory(r.Context(), a, s.cal.Days(sp))
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	s.writePoints(w, r, pts)
}

// writePoints answers with a history's buckets as columns, or as CSV
// rows when asked.
func (s *server) writePoints(w http.ResponseWriter, r *http.Request, pts []history.Point) {
	if wantsCSV(r) {
		s.writeRows(w, r, "history", NewPointsJSON(pts, s.cal.Loc))
		return
	}
	cols := columnsJSON{T: []int64{}, UplinkBytes: []uint64{}, DownlinkBytes: []uint64{}, Connections: []uint64{}}
	for _, p := range pts {
		cols.T = append(cols.T, p.Start.Unix())
		cols.UplinkBytes = append(cols.UplinkBytes, p.UplinkBytes)
		cols.DownlinkBytes = append(cols.DownlinkBytes, p.DownlinkBytes)
		cols.Connections = append(cols.Connections, p.Connections)
	}
	s.writeJSON(w, http.StatusOK, cols)
}

// DeviceConnections is what a device's page reads of the live rates when
// they have it (*store.Live does): one device's active connections, so
// the store filters them instead of this server reading every one.
type DeviceConnections interface {
	// EachDeviceConnectionRate walks the device's active connections like
	// Rates.EachActiveConnectionRate; start gets their number.
	EachDeviceConnectionRate(ctx context.Context, device string, limit int, order rates.Order,
		start func(total int) error, fn func(*flows.Connection, rates.Reading) error) error
}

// deviceConnections answers /connections.json?device=ID: the device's
// active connections in the list's order, at most limit (0: all), with
// their count in X-Total-Count. Without DeviceConnections it walks every
// active connection and keeps the device's.
func (s *server) deviceConnections(w http.ResponseWriter, r *http.Request, id string, limit int, order rates.Order) {
	now := s.now()
	newSince := now.Add(-s.window)
	rows := []connectionJSON{}
	total := 0
	var err error
	if dc, ok := s.rates.(DeviceConnections); ok {
		err = dc.EachDeviceConnectionRate(r.Context(), id, limit, order, func(n int) error { total = n; return nil },
			func(c *flows.Connection, rd rates.Reading) error {
				rows = append(rows, toRatedConnectionJSON(c, rd, newSince))
				return nil
			})
	} else {
		err = s.eachConnection(r.Context(), 0, order, newSince, func(int) error { return nil }, func(c *connectionJSON) error {
			if c.Device != id {
				return nil
			}
			total++
			if limit <= 0 || len(rows) < limit {
				rows = append(rows, *c)
			}
			return nil
		})
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	w.Header().Set("X-Total-Count", strconv.Itoa(total))
	w.Header().Set("X-Server-Time", formatTime(now))
	s.writeJSON(w, http.StatusOK, rows)
}
