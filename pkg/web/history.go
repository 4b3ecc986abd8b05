package web

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/netmon-dev/netmon/pkg/history"
)

// History is what the web server reads from the durable record.
// *store.Record implements it. See the methods' documentation there.
type History interface {
	DeviceTotals(ctx context.Context, tiles []history.Tile) ([]history.Total, error)
	DeviceHistory(ctx context.Context, device string, res history.Res, s history.Span) ([]history.Point, error)
	DeviceRemotes(ctx context.Context, device string, s history.Span) ([]history.Total, error)
	RemoteTotals(ctx context.Context, s history.Span) ([]history.Total, error)
	RemoteDevices(ctx context.Context, remote netip.Addr, s history.Span) ([]history.Total, error)
	RemoteHistory(ctx context.Context, remote netip.Addr, s history.Span) ([]history.Point, error)
}

// TotalJSON is the JSON form of a device's or a remote host's traffic
// over a span, the rows of /api/devices and /api/remotes and of `netmon
// report --output json`: "device" for a device, "remote" for a remote
// host ("" for a device's "other", the rest of its remote hosts), and
// "start" for a bucket.
type TotalJSON struct {
	Device          *string `json:"device,omitempty"`
	Remote          *string `json:"remote,omitempty"`
	Start           string  `json:"start,omitempty"`
	Name            string  `json:"name"`
	UplinkBytes     uint64  `json:"uplink_bytes"`
	DownlinkBytes   uint64  `json:"downlink_bytes"`
	TotalBytes      uint64  `json:"total_bytes"`
	UplinkPackets   uint64  `json:"uplink_packets"`
	DownlinkPackets uint64  `json:"downlink_packets"`
	Connections     uint64  `json:"connections"`
}

func usageJSON(u history.Usage) TotalJSON {
	return TotalJSON{UplinkBytes: u.UplinkBytes, DownlinkBytes: u.DownlinkBytes, TotalBytes: u.TotalBytes(),
		UplinkPackets: u.UplinkPackets, DownlinkPackets: u.DownlinkPackets, Connections: u.Connections}
}

// NewTotalsJSON returns the JSON rows of totals: remote hosts when remote
// is set, else devices. Never nil.
func NewTotalsJSON(ts []history.Total, remote bool) []TotalJSON {
	out := make([]TotalJSON, 0, len(ts))
	for _, t := range ts {
		j := usageJSON(t.Usage)
		j.Name = t.Name
		if remote {
			s := addrText(t.Remote)
			j.Remote = &s
		} else {
			d := t.Device
			j.Device = &d
		}
		out = append(out, j)
	}
	return out
}

// NewPointsJSON returns the JSON rows of a history's buckets, their
// starts in loc (nil: UTC). Never nil.
func NewPointsJSON(ps []history.Point, loc *time.Location) []TotalJSON {
	if loc == nil {
		loc = time.UTC
	}
	out := make([]TotalJSON, 0, len(ps))
	for _, p := range ps {
		j := usageJSON(p.Usage)
		j.Start = p.Start.In(loc).Format(time.RFC3339)
		out = append(out, j)
	}
	return out
}

// columnsJSON is a history as columns, for a chart to take as it is: t
// holds the buckets' starts in Unix seconds.
type columnsJSON struct {
	T             []int64  `json:"t"`
	UplinkBytes   []uint64 `json:"uplink_bytes"`
	DownlinkBytes []uint64 `json:"downlink_bytes"`
	Connections   []uint64 `json:"connections"`
}

// WriteTotalsCSV writes JSON rows as CSV with a header: one column per
// field, in the JSON's order.
func WriteTotalsCSV(w *csv.Writer, rows []TotalJSON) error {
	w.Write([]string{"device", "remote", "start", "name", "uplink_bytes", "downlink_bytes", "total_bytes",
		"uplink_packets", "downlink_packets", "connections"})
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	for _, r := range rows {
		w.Write([]string{str(r.Device), str(r.Remote), r.Start, r.Name,
			strconv.FormatUint(r.UplinkBytes, 10), strconv.FormatUint(r.DownlinkBytes, 10), strconv.FormatUint(r.TotalBytes, 10),
			strconv.FormatUint(r.UplinkPackets, 10), strconv.FormatUint(r.DownlinkPackets, 10), strconv.FormatUint(r.Connections, 10)})
	}
	w.Flush()
	return w.Error()
}

// spanQuery reads ?period= (default today) or ?from=&to= (RFC 3339, or a
// local date YYYY-MM-DD); an error names the parameter.
func (s *server) spanQuery(r *http.Request, params ...string) (history.Span, error) {
	q, err := query(r, append([]string{"period", "from", "to", "format"}, params...)...)
	if err != nil {
		return history.Span{}, err
	}
	return ParseSpan(s.cal, s.now(), q.Get("period"), q.Get("from"), q.Get("to"))
}

// ParseSpan is the span a report asks for: a period name (see
// history.Periods; "" is today) or from and to (RFC 3339, or a local date
// YYYY-MM-DD, which to includes whole). An error names the parameter.
func ParseSpan(cal history.Calendar, now time.Time, period, from, to string) (history.Span, error) {
	if from == "" && to == "" {
		if period == "" {
			period = "today"
		}
		sp, err := cal.Period(period, now)
		if err != nil {
			return sp, fmt.Errorf("period: %w", err)
		}
		return sp, nil
	}
	if period != "" {
		return history.Span{}, fmt.Errorf("period: give a period or from and to, not both")
	}
	parse := func(name, v string, end bool) (time.Time, error) {
		if v == "" {
			if end {
				return now, nil
			}
			return time.Time{}, fmt.Errorf("%s: missing (RFC 3339 or YYYY-MM-DD)", name)
		}
		if t, err := time.Parse(time.RFC3339, v); err == nil {
			return t, nil
		}
		loc := cal.Loc
		if loc == nil {
			loc = time.UTC
		}
		d, err := time.ParseInLocation(time.DateOnly, v, loc)
		if err != nil {
			return time.Time{}, fmt.Errorf("%s: %q is not RFC 3339 nor YYYY-MM-DD", name, truncate(v))
		}
		if end {
			d = cal.Next(history.Day, d)
		}
		return d, nil
	}
	f, err := parse("from", from, false)
	if err != nil {
		return history.Span{}, err
	}
	t, err := parse("to", to, true)
	if err != nil {
		return history.Span{}, err
	}
	if !f.Before(t) {
		return history.Span{}, fmt.Errorf("to: must be after from")
	}
	return history.Span{From: f, To: t}, nil
}

// wantsCSV tells whether the client asked for CSV: ?format=csv, or
// Accept: text/csv.
func wantsCSV(r *http.Request) bool {
	return r.URL.Query().Get("format") == "csv" || strings.Contains(r.Header.Get("Accept"), "text/csv")
}

// writeRows answers with rows as JSON, or as CSV when asked.
func (s *server) writeRows(w http.ResponseWriter, r *http.Request, name string, rows []TotalJSON) {
	if !wantsCSV(r) {
		s.writeJSON(w, http.StatusOK, rows)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="netmon-`+name+`.csv"`)
	if err := WriteTotalsCSV(csv.NewWriter(w), rows); err != nil {
		s.log.Warn("write csv", "err", err)
	}
}

// needHistory answers 503 for h's route when the server has no record.
func (s *server) needHistory(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.history == nil {
			s.writeError(w, http.StatusServiceUnavailable, "no history: this server reads no record")
			return
		}
		h(w, r)
	}
}

// deviceTotals reads a request's period and every device's traffic over
// it, from the tiles the retention keeps. On a bad period it answers 400,
// on a failed read 500, and reports false.
func (s *server) deviceTotals(w http.ResponseWriter, r *http.Request) (history.Span, []history.Total, bool) {
	sp, err := s.spanQuery(r)
	if err != nil {
		s.writeError(w, http.StatusBadRequest, err.Error())
		return history.Span{}, nil, false
	}
	ts, err := s.history.DeviceTotals(r.Context(), s.keep.Tiles(s.cal, sp, s.now()))
	if err != nil {
		s.serverError(w, r, err)
		return history.Span{}, nil, false
	}
	return sp, ts, true
}

// apiDevices serves GET /api/devices?period=...: every device's traffic.
func (s *server) apiDevices(w http.ResponseWriter, r *http.Request) {
	_, ts, ok := s.deviceTotals(w, r)
	if !ok {
		return
	}
	s.writeRatedRows(w, r, "devices", NewTotalsJSON(ts, false), false)
}

// apiRemotes serves GET /api/remotes?period=...: every remote host's
// traffic over the days of the period.
func (s *server) apiRemotes(w http.ResponseWriter, r *http.Request) {
	sp, err := s.spanQuery(r)
	if err != nil {
		s.writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	ts, err := s.history.RemoteTotals(r.Context(), s.cal.Days(sp))
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	s.writeRatedRows(w, r, "remotes", NewTotalsJSON(ts, true), true)
}

// deviceJSON is /api/devices/{id}: a device's traffic over the period and
// its remote hosts.
type deviceJSON struct {
	TotalJSON
	Remotes []TotalJSON `json:"remotes"`
}

// apiDevice serves GET /api/devices/{id}?period=...
func (s *server) apiDevice(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	sp, ts, ok := s.deviceTotals(w, r)
	if !ok {
		return
	}
	out := deviceJSON{TotalJSON: TotalJSON{Device: &id}}
	found := false
	for _, t := range ts {
		if t.Device == id {
			out.TotalJSON, found = NewTotalsJSON([]history.Total{t}, false)[0], true
		}
	}
	rem, err := s.history.DeviceRemotes(r.Context(), id, s.cal.Days(sp))
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	if !found && len(rem) == 0 {
		s.writeError(w, http.StatusNotFound, "no traffic of device "+truncate(id)+" in the period")
		return
	}
	out.Remotes = NewTotalsJSON(rem, true)
	s.writeJSON(w, http.StatusOK, out)
}

// apiDeviceHistory serves GET /api/devices/{id}/history?by=hour&from=&to=:
// the device's buckets as columns, or as CSV rows.
func (s *server) apiDeviceHistory(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	sp, err := s.spanQuery(r, "by")
	if err != nil {
		s.writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	res := history.Hour
	if by := r.URL.Query().Get("by"); by != "" {
		if res, err = history.ParseRes(by); err != nil {
			s.writeError(w, http.StatusBadRequest, "by: "+err.Error())
			return
		}
	}
	pts, err := s.history.DeviceHistory(r.Context(), id, res, sp)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	s.writePoints(w, r, pts)
}
