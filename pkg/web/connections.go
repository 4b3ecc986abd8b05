package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"time"

	"github.com/netmon-dev/netmon/pkg/conntrack"
	"github.com/netmon-dev/netmon/pkg/flows"
	"github.com/netmon-dev/netmon/pkg/rates"
)

// FlowJSON is the JSON form of one connection: the names and values that
// `netmon print-outbound --output json` prints and every element of
// /connections.json starts with. Counters are exact integers; Flags is
// never null.
type FlowJSON struct {
	Key     string `json:"key"`
	Proto   string `json:"proto"`
	SrcIP   string `json:"src_ip"`
	SrcPort uint16 `json:"src_port"`
	DstIP   string `json:"dst_ip"`
	DstPort uint16 `json:"dst_port"`
	// Source and Destination are the endpoints as people read them
	// (conntrack.FlowKey.Endpoints), so no reader of the JSON needs to
	// know which protocols have ports.
	Source          string   `json:"source"`
	Destination     string   `json:"destination"`
	State           string   `json:"state"`
	Flags           []string `json:"flags"`
	UplinkPackets   uint64   `json:"uplink_packets"`
	UplinkBytes     uint64   `json:"uplink_bytes"`
	DownlinkPackets uint64   `json:"downlink_packets"`
	DownlinkBytes   uint64   `json:"downlink_bytes"`
	TotalBytes      uint64   `json:"total_bytes"`
	// Device is the LAN end's device id (its MAC, or "ip:ADDR" while no
	// MAC is known), DeviceName its name and DstName the name the client
	// looked up for the remote end; "" when there is none. Names are as
	// their source gave them: a renderer escapes them.
	Device     string `json:"device"`
	DeviceName string `json:"device_name"`
	DstName    string `json:"dst_name"`
}

// WithNames sets f's device and names; an empty device is "ip:SRC".
func (f FlowJSON) WithNames(device, deviceName, dstName string) FlowJSON {
	if device == "" && f.SrcIP != "" {
		device = "ip:" + f.SrcIP
	}
	f.Device, f.DeviceName, f.DstName = device, deviceName, dstName
	return f
}

// NewFlowJSON returns the JSON form of a flow.
func NewFlowJSON(k conntrack.FlowKey, state string, status conntrack.Status, c conntrack.Counters) FlowJSON {
	src, dst := k.Endpoints()
	return FlowJSON{
		Source:          src,
		Destination:     dst,
		Key:             k.String(),
		Proto:           k.Proto.String(),
		SrcIP:           addrText(k.Src),
		SrcPort:         k.SrcPort,
		DstIP:           addrText(k.Dst),
		DstPort:         k.DstPort,
		State:           state,
		Flags:           status.Flags(),
		UplinkPackets:   c.UplinkPackets,
		UplinkBytes:     c.UplinkBytes,
		DownlinkPackets: c.DownlinkPackets,
		DownlinkBytes:   c.DownlinkBytes,
		TotalBytes:      c.TotalBytes(),
	}
}

// RateJSON is a rate's mean over the window in bits per second (integers),
// null when there is none yet (a connection's first reading, or before
// the ingest process's second cycle): the uplink_bps and downlink_bps
// of /connections.json, /api/now, /api/devices, /api/remotes and
// `netmon print-outbound --rate --output json`.
type RateJSON struct {
	UplinkBps   *int64 `json:"uplink_bps"`
	DownlinkBps *int64 `json:"downlink_bps"`
}

// NewRateJSON returns the JSON form of a reading's window mean.
func NewRateJSON(r rates.Reading) RateJSON {
	up, down := knownBps(r, r.Window)
	return RateJSON{UplinkBps: up, DownlinkBps: down}
}

// knownBps is rate, one of r's, in bits per second, both nil while r has
// no reading yet: the rule of every rate pair in the JSON.
func knownBps(r rates.Reading, rate rates.Rate) (up, down *int64) {
	if !r.Known {
		return nil, nil
	}
	u, d := rate.Bps()
	return &u, &d
}

// connectionJSON is one element of /connections.json: FlowJSON plus the
// times, seen_before and the rates.
type connectionJSON struct {
	FlowJSON
	FirstSeenAt string `json:"first_seen_at"`
	LastSeenAt  string `json:"last_seen_at"`
	// SeenBefore is true when the remote host was first seen before the
	// new-host window: the dashboard's "seen before" badge (else "new").
	SeenBefore bool `json:"seen_before"`
	RateJSON
}

// timeFormat is RFC 3339 in UTC with milliseconds.
const timeFormat = "2006-01-02T15:04:05.000Z07:00"

// formatTime writes t as RFC 3339 UTC with milliseconds.
func formatTime(t time.Time) string { return t.UTC().Format(timeFormat) }

// toConnectionJSON converts a stored connection; newSince is the start of
// the new-host window.
func toConnectionJSON(c *flows.Connection, newSince time.Time) connectionJSON {
	return connectionJSON{
		FlowJSON:    NewFlowJSON(c.Key, c.State, c.Status, c.Counters).WithNames(c.Device, c.DeviceName, c.DstName),
		FirstSeenAt: formatTime(c.FirstSeenAt),
		LastSeenAt:  formatTime(c.LastSeenAt),
		SeenBefore:  c.HostFirstSeenAt.Before(newSince),
	}
}

// errNoRates is the answer to ?sort=rate from a server without rates.
var errNoRates = errors.New("sort: no rates: this server reads no live rates")

// eachConnection walks the active connections in order (at most limit,
// <= 0: all) as /connections.json rows, with their rates when the server
// has them: the one place a connection row is built, for every endpoint
// that lists them.
func (s *server) eachConnection(ctx context.Context, limit int, order rates.Order, newSince time.Time,
	start func(total int) error, fn func(*connectionJSON) error) error {
	var row connectionJSON
	if s.rates == nil {
		if order == rates.ByRate {
			return errNoRates
		}
		return s.store.EachActiveConnection(ctx, limit, start, func(c *flows.Connection) error {
			row = toConnectionJSON(c, newSince)
			return fn(&row)
		})
	}
	return s.rates.EachActiveConnectionRate(ctx, limit, order, start, func(c *flows.Connection, r rates.Reading) error {
		row = toRatedConnectionJSON(c, r, newSince)
		return fn(&row)
	})
}

// toRatedConnectionJSON is toConnectionJSON with the connection's rates.
func toRatedConnectionJSON(c *flows.Connection, r rates.Reading, newSince time.Time) connectionJSON {
	row := toConnectionJSON(c, newSince)
	row.RateJSON = NewRateJSON(r)
	return row
}

// addrText is a's text, "" for the zero Addr.
func addrText(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

// parseLimit reads ?limit=: absent means 0 (all); otherwise an integer
// from 1 to MaxLimit.
func parseLimit(r *http.Request) (int, error) {
	q, err := query(r, "limit")
	if err != nil {
		return 0, err
	}
	return limitOf(q)
}

// parseList reads the ?limit= and ?sort=rate|bytes of a connection list.
func parseList(r *http.Request) (int, rates.Order, error) {
	q, err := query(r, "limit", "sort", "device")
	if err != nil {
		return 0, 0, err
	}
	limit, err := limitOf(q)
	if err != nil {
		return 0, 0, err
	}
	order, err := rates.ParseOrder(q.Get("sort"))
	if err != nil {
		return 0, 0, fmt.Errorf("sort: must be rate or bytes, got %q", truncate(q.Get("sort")))
	}
	return limit, order, nil
}

// limitOf is parseLimit of parsed parameters.
func limitOf(q url.Values) (int, error) {
	if !q.Has("limit") {
		return 0, nil
	}
	v := q.Get("limit")
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > MaxLimit {
		return 0, fmt.Errorf("limit: must be an integer from 1 to %d, got %q", MaxLimit, truncate(v))
	}
	return n, nil
}

// connections serves GET /connections.json[?limit=N][&sort=rate|bytes][&device=ID]:
// the active connections, biggest total bytes first, or with sort=rate
// highest window rate first and those without traffic in the window
// after them by bytes (all of them without a limit, one such request at
// a time: another gets 429); the count of all active connections is in
// X-Total-Count and the server's clock in X-Server-Time (the page shows
// ages against it, not against the browser's clock). Each row carries
// uplink_bps and downlink_bps: the window mean, null before the second
// reading (see RateJSON). With device=ID only that device's connections
// are listed and counted (deviceConnections, pages.go).
//
// The rows go out as the store reads them, one at a time, so memory does
// not grow with the number of rows. The 200
// and the headers are sent with the first row (or the empty array): a
// store error before that is a plain JSON 500. After it the status is
// out, so a failure cuts the connection (http.ErrAbortHandler) rather
// than end a short list the client would take for the whole table.
func (s *server) connections(w http.ResponseWriter, r *http.Request) {
	limit, order, err := parseList(r)
	if err == nil && order == rates.ByRate && s.rates == nil {
		s.writeError(w, http.StatusServiceUnavailable, errNoRates.Error())
		return
	}
	if err != nil {
		s.writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if id := r.URL.Query().Get("device"); id != "" {
		s.deviceConnections(w, r, id, limit, order) // pages.go
		return
	}
	if limit == 0 {
		select {
		case s.fullList <- struct{}{}:
			defer func() { <-s.fullList }()
		default:
			w.Header().Set("Retry-After", "1")
			s.writeError(w, http.StatusTooManyRequests, "another request is listing every connection; retry, or ask for ?limit=N")
			return
		}
	}
	now := s.now()
	newSince := now.Add(-s.window)
	var (
		total int
		body  *jsonArray // nil until the first row
	)
	begin := func() {
		w.Header().Set("X-Total-Count", strconv.Itoa(total))
		w.Header().Set("X-Server-Time", formatTime(now))
		body = startJSONArray(w, http.StatusOK)
	}
	err = s.eachConnection(r.Context(), limit, order, newSince,
		func(n int) error { total = n; return nil },
		func(c *connectionJSON) error {
			if body == nil {
				begin()
			}
			return body.add(c)
		})
	if err == nil {
		if body == nil {
			begin()
		}
		err = body.end()
	}
	switch {
	case err == nil:
	case body == nil:
		s.serverError(w, r, err)
	default:
		level := slog.LevelError
		if body.err != nil || r.Context().Err() != nil {
			level = slog.LevelWarn // the client went away
		}
		s.log.Log(r.Context(), level, "request cut short", "path", r.URL.Path, "rows", body.n, "err", err)
		panic(http.ErrAbortHandler)
	}
}
