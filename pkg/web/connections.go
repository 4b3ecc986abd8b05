package web

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/netmon-dev/netmon/pkg/store"
)

// FlowJSON is the JSON form of one connection: the names and values that
// `netmon print-outbound --output json` prints and every element of
// /connections.json starts with. Counters are exact integers; Flags is
// never null.
type FlowJSON struct {
	Key             string   `json:"key"`
	Proto           string   `json:"proto"`
	SrcIP           string   `json:"src_ip"`
	SrcPort         uint16   `json:"src_port"`
	DstIP           string   `json:"dst_ip"`
	DstPort         uint16   `json:"dst_port"`
	State           string   `json:"state"`
	Flags           []string `json:"flags"`
	UplinkPackets   uint64   `json:"uplink_packets"`
	UplinkBytes     uint64   `json:"uplink_bytes"`
	DownlinkPackets uint64   `json:"downlink_packets"`
	DownlinkBytes   uint64   `json:"downlink_bytes"`
	TotalBytes      uint64   `json:"total_bytes"`
}

// NewFlowJSON returns the JSON form of f.
func NewFlowJSON(f *store.Flow) FlowJSON {
	return FlowJSON{
		Key:             flowKey(f),
		Proto:           f.Proto,
		SrcIP:           addrText(f.SrcIP),
		SrcPort:         f.SrcPort,
		DstIP:           addrText(f.DstIP),
		DstPort:         f.DstPort,
		State:           f.State,
		Flags:           splitFlags(f.Flags),
		UplinkPackets:   f.UplinkPackets,
		UplinkBytes:     f.UplinkBytes,
		DownlinkPackets: f.DownlinkPackets,
		DownlinkBytes:   f.DownlinkBytes,
		TotalBytes:      f.TotalBytes(),
	}
}

// connectionJSON is one element of /connections.json: FlowJSON plus the
// endpoints as text, the times and seen_before.
type connectionJSON struct {
	FlowJSON
	// Source and Destination are the endpoints as the dashboard shows
	// them, from endpoints.
	Source      string `json:"source"`
	Destination string `json:"destination"`
	FirstSeenAt string `json:"first_seen_at"`
	LastSeenAt  string `json:"last_seen_at"`
	// SeenBefore is true when the remote host was first seen before the
	// new-host window: the dashboard's SEEN badge (else NEW).
	SeenBefore bool `json:"seen_before"`
}

// timeFormat is RFC 3339 in UTC with milliseconds.
const timeFormat = "2006-01-02T15:04:05.000Z07:00"

// formatTime writes t as RFC 3339 UTC with milliseconds.
func formatTime(t time.Time) string { return t.UTC().Format(timeFormat) }

// flowKey is the text key of a flow, "proto|src|sport|dst|dport", the
// same text as conntrack.FlowKey.String for the flow it came from.
func flowKey(f *store.Flow) string {
	b := make([]byte, 0, 64)
	b = append(b, f.Proto...)
	b = append(b, '|')
	b = f.SrcIP.AppendTo(b)
	b = append(b, '|')
	b = strconv.AppendUint(b, uint64(f.SrcPort), 10)
	b = append(b, '|')
	b = f.DstIP.AppendTo(b)
	b = append(b, '|')
	b = strconv.AppendUint(b, uint64(f.DstPort), 10)
	return string(b)
}

// splitFlags turns the stored "ASSURED,UNREPLIED" into a list; never nil.
func splitFlags(s string) []string {
	if s == "" {
		return []string{}
	}
	return strings.Split(s, ",")
}

// toConnectionJSON converts a stored connection; newSince is the start of
// the new-host window.
func toConnectionJSON(c *store.Connection, newSince time.Time) connectionJSON {
	src, dst := endpoints(&c.Flow)
	return connectionJSON{
		FlowJSON:    NewFlowJSON(&c.Flow),
		Source:      src,
		Destination: dst,
		FirstSeenAt: formatTime(c.FirstSeenAt),
		LastSeenAt:  formatTime(c.LastSeenAt),
		SeenBefore:  c.HostFirstSeenAt.Before(newSince),
	}
}

// endpoints is f's source and destination as text: "10.0.0.5:51234",
// "[2001:db8::80]:443", or the bare address for a protocol whose port
// fields hold no ports (ICMP's id and type, GRE's keys). It is the one
// place in pkg/web that knows which protocols have ports, so that the
// dashboard's script needs no protocol knowledge.
func endpoints(f *store.Flow) (src, dst string) {
	ports := false
	switch f.Proto {
	case "tcp", "udp", "udplite", "sctp", "dccp":
		ports = true
	}
	text := func(a netip.Addr, port uint16) string {
		if !ports || !a.IsValid() {
			return addrText(a)
		}
		return netip.AddrPortFrom(a, port).String()
	}
	return text(f.SrcIP, f.SrcPort), text(f.DstIP, f.DstPort)
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

// connections serves GET /connections.json[?limit=N]: the active
// connections, biggest first (all of them without a limit, one such
// request at a time: another gets 429); the count of all active
// connections is in X-Total-Count and the server's clock in X-Server-Time
// (the page shows ages against it, not against the browser's clock).
//
// The rows go out as the store reads them, one at a time, so memory does
// not grow with the number of rows. The 200
// and the headers are sent with the first row (or the empty array): a
// store error before that is a plain JSON 500. After it the status is
// out, so a failure cuts the connection (http.ErrAbortHandler) rather
// than end a short list the client would take for the whole table.
func (s *server) connections(w http.ResponseWriter, r *http.Request) {
	limit, err := parseLimit(r)
	if err != nil {
		s.writeError(w, http.StatusBadRequest, err.Error())
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
	err = s.store.EachActiveConnection(r.Context(), limit,
		func(n int) error { total = n; return nil },
		func(c *store.Connection) error {
			if body == nil {
				begin()
			}
			return body.add(toConnectionJSON(c, newSince))
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
