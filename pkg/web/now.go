package web

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/netmon-dev/netmon/pkg/flows"
	"github.com/netmon-dev/netmon/pkg/rates"
)

// Rates is what the web server reads of the live rates, which the ingest
// process writes after every cycle. *store.Live implements it; see its
// methods for the rules.
type Rates interface {
	// EachActiveConnectionRate walks the active connections like
	// Store.EachActiveConnection, by bytes or by rate, each with its
	// rates (a connection's Last is not kept: zero).
	EachActiveConnectionRate(ctx context.Context, limit int, order rates.Order, start func(total int) error,
		fn func(*flows.Connection, rates.Reading) error) error
	// RatesNow returns the router's, the devices' and the remote hosts'
	// rates and the sparklines.
	RatesNow(ctx context.Context, q rates.Query) (*rates.Now, error)
}

// Limits of /api/now's parameters.
const (
	// MaxNowLimit bounds /api/now?limit=: the connections of a view, not
	// a listing (that is /connections.json).
	MaxNowLimit = 10_000
	// DefaultNowRemotes is how many remote hosts /api/now lists unless
	// ?remotes= says.
	DefaultNowRemotes = 10
	// MaxNowRemotes bounds ?remotes=.
	MaxNowRemotes = 1000
)

// GET /api/now is the "Now" view in one answer, small enough to poll
// every second:
//
//	{
//	  "time": "2026-12-01T20:30:00.123Z",  // the server's clock
//	  "at": "2026-12-01T20:29:59.998Z",    // the cycle the rates are of (null: none yet)
//	  "window_seconds": 10,                 // rate_window
//	  "unit": "bits",                       // rate_unit: show bits/s or bytes/s
//	  "ticks": [1764620940998, ...],        // sparkline sample times, unix ms, oldest first
//	  "total": {"uplink_bps": 1200, "downlink_bps": 16000000,
//	            "last_uplink_bps": 1100, "last_downlink_bps": 15800000,
//	            "spark_up": [...], "spark_down": [...]},
//	  "devices": [{"device": "ip:10.0.0.5", "name": "anna-laptop", "addrs": ["10.0.0.5", "fd00::5"],
//	               "uplink_bps": ..., "downlink_bps": ..., "last_uplink_bps": ..., "last_downlink_bps": ...,
//	               "spark_up": [...], "spark_down": [...]}, ...],
//	  "remotes": [{"remote": "203.0.113.80", "uplink_bps": ..., "downlink_bps": ...}, ...],
//	  "connections": [...], "connections_total": 812    // only with ?limit=N
//	}
//
// Every rate is an integer in bits per second; uplink is what the LAN
// sent, downlink what it received. "uplink_bps"/"downlink_bps" are the
// mean over the window, "last_*" the last cycle's; all of them are null
// when there is no rate yet (a device's first reading, or the ingest
// process's first cycle) and 0 for an idle one. spark_up and spark_down
// hold one value per element of "ticks" (about one a second, five
// minutes back). Devices are those with traffic or a first reading in
// the last five minutes, highest window rate (up + down) first, then
// those with none yet, ties by id; a device id is "aa:bb:cc:dd:ee:ff" or
// "ip:10.0.0.9" (the id the history API uses), its addrs the LAN
// addresses its flows came from, most recent first. Remotes are the
// remote hosts with traffic in the window, highest rate first.
//
// Parameters:
//   - since=MS: only the ticks after MS (unix ms; a poller passes the last
//     element of the ticks it has, and appends): the sparkline arrays
//     then hold only the new points, so a poll carries a few bytes per
//     device instead of five minutes of them. A device new to the poller
//     has only the new points too; a poller that wants its history
//     again asks without since;
//   - remotes=N: how many remote hosts (default 10, 0 to 1000);
//   - limit=N and sort=rate|bytes: also the first N active connections
//     (1 to 10000) as /connections.json rows, in "connections", with the
//     count of all active ones in "connections_total".
type nowJSON struct {
	Time             string            `json:"time"`
	At               *string           `json:"at"`
	WindowSeconds    float64           `json:"window_seconds"`
	Unit             string            `json:"unit"`
	Ticks            []int64           `json:"ticks"`
	Total            nowTotalJSON      `json:"total"`
	Devices          []nowDeviceJSON   `json:"devices"`
	Remotes          []nowRemoteJSON   `json:"remotes"`
	Connections      *[]connectionJSON `json:"connections,omitempty"`
	ConnectionsTotal *int              `json:"connections_total,omitempty"`
}

// lastJSON is the last cycle's rate, null when there is none yet.
type lastJSON struct {
	LastUplinkBps   *int64 `json:"last_uplink_bps"`
	LastDownlinkBps *int64 `json:"last_downlink_bps"`
}

func newLastJSON(r rates.Reading) lastJSON {
	up, down := knownBps(r, r.Last)
	return lastJSON{LastUplinkBps: up, LastDownlinkBps: down}
}

// sparkJSON is a sparkline: a value per tick, in bits per second.
type sparkJSON struct {
	SparkUp   []int64 `json:"spark_up"`
	SparkDown []int64 `json:"spark_down"`
}

func newSparkJSON(points []rates.Rate) sparkJSON {
	s := sparkJSON{SparkUp: make([]int64, len(points)), SparkDown: make([]int64, len(points))}
	for i, p := range points {
		s.SparkUp[i], s.SparkDown[i] = p.Bps()
	}
	return s
}

type nowTotalJSON struct {
	RateJSON
	lastJSON
	sparkJSON
}

type nowDeviceJSON struct {
	Device string   `json:"device"`
	Name   string   `json:"name"` // "" when the device has none
	Addrs  []string `json:"addrs"`
	RateJSON
	lastJSON
	sparkJSON
}

type nowRemoteJSON struct {
	Remote string `json:"remote"`
	RateJSON
}

// newNowJSON is the body of /api/now for now, at the server's time t
// with the rates shown in unit, without connections.
func newNowJSON(now *rates.Now, t time.Time, unit string) nowJSON {
	out := nowJSON{
		Time: formatTime(t), WindowSeconds: now.Window.Seconds(), Unit: unit,
		Ticks:   make([]int64, len(now.Ticks)),
		Total:   nowTotalJSON{RateJSON: NewRateJSON(now.Total), lastJSON: newLastJSON(now.Total), sparkJSON: newSparkJSON(now.TotalSpark)},
		Devices: make([]nowDeviceJSON, 0, len(now.Devices)),
		Remotes: make([]nowRemoteJSON, 0, len(now.Remotes)),
	}
	if !now.At.IsZero() {
		at := formatTime(now.At)
		out.At = &at
	}
	for i, tk := range now.Ticks {
		out.Ticks[i] = tk.UnixMilli()
	}
	for _, d := range now.Devices {
		addrs := make([]string, len(d.Addrs))
		for i, a := range d.Addrs {
			addrs[i] = a.String()
		}
		out.Devices = append(out.Devices, nowDeviceJSON{Device: d.ID, Name: d.Name, Addrs: addrs,
			RateJSON: NewRateJSON(d.Reading), lastJSON: newLastJSON(d.Reading), sparkJSON: newSparkJSON(d.Spark)})
	}
	for _, r := range now.Remotes {
		out.Remotes = append(out.Remotes, nowRemoteJSON{Remote: r.Addr.String(), RateJSON: NewRateJSON(r.Reading)})
	}
	return out
}

// nowQuery is /api/now's parameters.
type nowQuery struct {
	q     rates.Query
	limit int
	order rates.Order
}

func parseNowQuery(r *http.Request) (nowQuery, error) {
	v, err := query(r, "since", "remotes", "limit", "sort")
	if err != nil {
		return nowQuery{}, err
	}
	nq := nowQuery{q: rates.Query{Remotes: DefaultNowRemotes}}
	number := func(name string, lo, hi int64) (int64, error) {
		s := v.Get(name)
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < lo || n > hi {
			return 0, fmt.Errorf("%s: must be an integer from %d to %d, got %q", name, lo, hi, truncate(s))
		}
		return n, nil
	}
	if v.Has("since") {
		ms, err := number("since", 0, 1<<53)
		if err != nil {
			return nq, err
		}
		nq.q.Since = time.UnixMilli(ms)
	}
	if v.Has("remotes") {
		n, err := number("remotes", 0, MaxNowRemotes)
		if err != nil {
			return nq, err
		}
		if nq.q.Remotes = int(n); n == 0 {
			nq.q.Remotes = -1 // none
		}
	}
	if v.Has("limit") {
		n, err := number("limit", 1, MaxNowLimit)
		if err != nil {
			return nq, err
		}
		nq.limit = int(n)
	}
	if nq.order, err = rates.ParseOrder(v.Get("sort")); err != nil {
		return nq, fmt.Errorf("sort: must be rate or bytes, got %q", truncate(v.Get("sort")))
	}
	return nq, nil
}

// apiNow serves GET /api/now (see nowJSON).
func (s *server) apiNow(w http.ResponseWriter, r *http.Request) {
	if s.rates == nil {
		s.writeError(w, http.StatusServiceUnavailable, "no rates: this server reads no live rates")
		return
	}
	nq, err := parseNowQuery(r)
	if err != nil {
		s.writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	q := nq.q
	if q.Remotes < 0 { // none: read the least
		q.Remotes = 1
	}
	now, err := s.rates.RatesNow(r.Context(), q)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	if nq.q.Remotes < 0 {
		now.Remotes = nil
	}
	t := s.now()
	out := newNowJSON(now, t, s.rateUnit)
	if nq.limit > 0 {
		if err := s.nowConnections(r.Context(), &out, nq.limit, nq.order, t.Add(-s.window)); err != nil {
			s.serverError(w, r, err)
			return
		}
	}
	s.writeJSON(w, http.StatusOK, out)
}

// nowConnections sets out's "connections" to the first limit (> 0)
// active connections in order, as /connections.json rows (newSince is
// the start of the new-host window), and "connections_total" to the count
// of all of them: for /api/now?limit= and the dashboard's first paint.
func (s *server) nowConnections(ctx context.Context, out *nowJSON, limit int, order rates.Order, newSince time.Time) error {
	conns := make([]connectionJSON, 0, limit)
	var total int
	err := s.eachConnection(ctx, limit, order, newSince,
		func(n int) error { total = n; return nil },
		func(c *connectionJSON) error { conns = append(conns, *c); return nil })
	if err != nil {
		return err
	}
	out.Connections, out.ConnectionsTotal = &conns, &total
	return nil
}

// ratedTotalJSON is a row of /api/devices or /api/remotes: its traffic
// over the period and its rate now (null when it has none: idle for five
// minutes, or no rate yet).
type ratedTotalJSON struct {
	TotalJSON
	RateJSON
}

// withRates adds the current rates to rows of devices or (remote) of
// remote hosts. Without rates, or when they cannot be read (logged),
// every rate is null.
func (s *server) withRates(ctx context.Context, rows []TotalJSON, remote bool) []ratedTotalJSON {
	out := make([]ratedTotalJSON, len(rows))
	for i := range rows {
		out[i].TotalJSON = rows[i]
	}
	if s.rates == nil || len(rows) == 0 {
		return out
	}
	now, err := s.rates.RatesNow(ctx, rates.Query{NoSpark: true})
	if err != nil {
		s.log.Warn("read rates for the history rows", "err", err)
		return out
	}
	byKey := map[string]rates.Reading{}
	if remote {
		for _, r := range now.Remotes {
			byKey[r.Addr.String()] = r.Reading
		}
	} else {
		for _, d := range now.Devices {
			byKey[d.ID] = d.Reading
		}
	}
	for i, row := range rows {
		k := row.Device
		if remote {
			k = row.Remote
		}
		if k != nil {
			out[i].RateJSON = NewRateJSON(byKey[*k])
		}
	}
	return out
}

// writeRatedRows answers with history rows and their current rates as
// JSON, or as CSV (without rates) when asked.
func (s *server) writeRatedRows(w http.ResponseWriter, r *http.Request, name string, rows []TotalJSON, remote bool) {
	if wantsCSV(r) {
		s.writeRows(w, r, name, rows)
		return
	}
	s.writeJSON(w, http.StatusOK, s.withRates(r.Context(), rows, remote))
}
