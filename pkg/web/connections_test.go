package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/netmon-dev/netmon/pkg/flows"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// wantConns is sampleConns as /connections.json must show them.
func wantConns() []connectionJSON {
	return []connectionJSON{
		{FlowJSON: FlowJSON{Key: "tcp|10.0.0.6|33857|203.0.113.80|443", Proto: "tcp", SrcIP: "10.0.0.6", SrcPort: 33857, DstIP: "203.0.113.80", DstPort: 443,
			State: "ESTABLISHED", Flags: []string{"ASSURED"}, UplinkPackets: 6, UplinkBytes: 330, DownlinkPackets: 5, DownlinkBytes: 20268, TotalBytes: 20598, Source: "10.0.0.6:33857", Destination: "203.0.113.80:443",
			Device: "da:a1:19:6e:0f:42", DeviceName: "kitchen <b>phone</b>", DstName: "video.example"},
			FirstSeenAt: "2026-11-25T17:20:00.000Z", LastSeenAt: "2026-11-25T17:29:58.000Z", SeenBefore: true},
		{FlowJSON: FlowJSON{Key: "tcp|fd00::5|47067|2001:db8::80|443", Proto: "tcp", SrcIP: "fd00::5", SrcPort: 47067, DstIP: "2001:db8::80", DstPort: 443,
			State: "ESTABLISHED", Flags: []string{"ASSURED"}, UplinkPackets: 4, UplinkBytes: 305, DownlinkPackets: 3, DownlinkBytes: 3224, TotalBytes: 3529, Source: "[fd00::5]:47067", Destination: "[2001:db8::80]:443", Device: "ip:fd00::5"},
			FirstSeenAt: "2026-11-25T17:29:30.000Z", LastSeenAt: "2026-11-25T17:30:00.000Z", SeenBefore: false},
		{FlowJSON: FlowJSON{Key: "tcp|10.0.0.5|58337|203.0.113.91|80", Proto: "tcp", SrcIP: "10.0.0.5", SrcPort: 58337, DstIP: "203.0.113.91", DstPort: 80,
			State: "<img src=x onerror=alert(1)>", Flags: []string{}, UplinkPackets: 4, UplinkBytes: 225, DownlinkPackets: 3, DownlinkBytes: 1164, TotalBytes: 1389, Source: "10.0.0.5:58337", Destination: "203.0.113.91:80", Device: "ip:10.0.0.5"},
			FirstSeenAt: "2026-11-25T17:29:55.000Z", LastSeenAt: "2026-11-25T17:29:59.000Z", SeenBefore: false},
		{FlowJSON: FlowJSON{Key: "udp|10.0.0.6|40061|203.0.113.87|9999", Proto: "udp", SrcIP: "10.0.0.6", SrcPort: 40061, DstIP: "203.0.113.87", DstPort: 9999,
			State: "<script>window.__netmonPwned=1</script>", Flags: []string{"UNREPLIED"}, UplinkPackets: 2, UplinkBytes: 184, TotalBytes: 184, Source: "10.0.0.6:40061", Destination: "203.0.113.87:9999", Device: "ip:10.0.0.6"},
			FirstSeenAt: "2026-11-25T14:30:00.000Z", LastSeenAt: "2026-11-25T17:28:30.000Z", SeenBefore: true},
		{FlowJSON: FlowJSON{Key: "icmp|10.0.0.5|4660|203.0.113.80|8", Proto: "icmp", SrcIP: "10.0.0.5", SrcPort: 4660, DstIP: "203.0.113.80", DstPort: 8,
			Flags: []string{}, UplinkPackets: 3, UplinkBytes: 252, DownlinkPackets: 3, TotalBytes: 252, Source: "10.0.0.5 id 4660", Destination: "203.0.113.80 type 8", Device: "ip:10.0.0.5"},
			FirstSeenAt: "2026-11-25T17:29:00.000Z", LastSeenAt: "2026-11-25T17:29:00.000Z", SeenBefore: true},
	}
}

func TestConnections(t *testing.T) {
	tests := []struct {
		name   string
		target string
		want   []connectionJSON
	}{
		{name: "all", target: "/connections.json", want: wantConns()},
		{name: "limit", target: "/connections.json?limit=2", want: wantConns()[:2]},
		{name: "limit above the count", target: "/connections.json?limit=1000000", want: wantConns()},
		{name: "empty limit is rejected", target: "/connections.json?limit", want: nil},
	}
	h, _ := testServer(t, nil)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := do(t, h, http.MethodGet, tc.target)
			if tc.want == nil {
				checkResponse(t, res, http.StatusBadRequest, "application/json; charset=utf-8")
				return
			}
			checkResponse(t, res, http.StatusOK, "application/json; charset=utf-8")
			var got []connectionJSON
			if err := json.NewDecoder(res.Body).Decode(&got); err != nil {
				t.Fatalf("decode: %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("connections (-want +got):\n%s", diff)
			}
			if total := res.Header.Get("X-Total-Count"); total != "5" {
				t.Errorf("X-Total-Count = %q, want 5", total)
			}
			if st := res.Header.Get("X-Server-Time"); st != "2026-11-25T17:30:00.000Z" {
				t.Errorf("X-Server-Time = %q", st)
			}
		})
	}
}

// TestConnectionsGolden pins the bytes of /connections.json, headers
// and body, full and limited, so a change in how the array is written
// (it is streamed row by row) cannot change what a client reads.
func TestConnectionsGolden(t *testing.T) {
	tests := []struct {
		name, target string
		empty        bool
	}{
		{name: "connections-all.golden.json", target: "/connections.json"},
		{name: "connections-limit2.golden.json", target: "/connections.json?limit=2"},
		{name: "connections-empty.golden.json", target: "/connections.json", empty: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, fs := testServer(t, nil)
			if tc.empty {
				fs.conns = nil
			}
			res := do(t, h, http.MethodGet, tc.target)
			var b strings.Builder
			fmt.Fprintf(&b, "%d\n", res.StatusCode)
			for _, k := range slices.Sorted(maps.Keys(res.Header)) {
				fmt.Fprintf(&b, "%s: %s\n", k, strings.Join(res.Header[k], ", "))
			}
			b.WriteString("\n" + body(t, res))
			golden(t, tc.name, b.String())
		})
	}
}

// TestConnectionsRawJSON checks the wire form: exact integers, [] for
// no flags, and HTML metacharacters escaped so the JSON is inert even
// if a browser were tricked into reading it as HTML.
func TestConnectionsRawJSON(t *testing.T) {
	h, _ := testServer(t, nil)
	raw := body(t, do(t, h, http.MethodGet, "/connections.json"))
	for _, want := range []string{`"flags":[]`, `"total_bytes":20598`, `"state":"\u003cimg src=x onerror=alert(1)\u003e"`, `"\u003cscript\u003ewindow.__netmonPwned=1\u003c/script\u003e"`} {
		if !strings.Contains(raw, want) {
			t.Errorf("JSON lacks %s", want)
		}
	}
	for _, bad := range []string{"<img", "<script", `"flags":null`} {
		if strings.Contains(raw, bad) {
			t.Errorf("JSON holds %q", bad)
		}
	}
}

func TestConnectionsEmptyIsArray(t *testing.T) {
	h, fs := testServer(t, nil)
	fs.conns = nil
	res := do(t, h, http.MethodGet, "/connections.json")
	if got := strings.TrimSpace(body(t, res)); got != "[]" {
		t.Errorf("empty body = %q, want []", got)
	}
	if total := res.Header.Get("X-Total-Count"); total != "0" {
		t.Errorf("X-Total-Count = %q, want 0", total)
	}
}

func TestConnectionsBadLimit(t *testing.T) {
	for _, v := range []string{"-1", "0", "abc", "1.5", "1e3", "0x10", "99999999999999999999999", "1000001", "%20", "2%00"} {
		t.Run(v, func(t *testing.T) {
			h, fs := testServer(t, nil)
			called := false
			fs.active = func(context.Context, int) ([]flows.Connection, int, error) {
				called = true
				return nil, 0, nil
			}
			res := do(t, h, http.MethodGet, "/connections.json?limit="+v)
			checkResponse(t, res, http.StatusBadRequest, "application/json; charset=utf-8")
			var e errorBody
			if err := json.NewDecoder(res.Body).Decode(&e); err != nil || !strings.HasPrefix(e.Error, "limit: ") {
				t.Errorf("error body = %+v (%v), want a limit error", e, err)
			}
			if called {
				t.Error("the store was asked despite the bad limit")
			}
		})
	}
}

func TestConnectionsPassesLimit(t *testing.T) {
	tests := []struct {
		name   string
		target string
		want   int
	}{
		{name: "no limit asks for all", target: "/connections.json", want: 0},
		{name: "limit", target: "/connections.json?limit=200", want: 200},
		{name: "dashboard asks for top n", target: "/", want: 7},
		{name: "dashboard with limit", target: "/?limit=3", want: 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, fs := testServer(t, func(o *Options) { o.TopN = 7 })
			got := -1
			fs.active = func(_ context.Context, limit int) ([]flows.Connection, int, error) {
				got = limit
				return nil, 0, nil
			}
			do(t, h, http.MethodGet, tc.target)
			if got != tc.want {
				t.Errorf("store asked for limit %d, want %d", got, tc.want)
			}
		})
	}
}

func TestConnectionsStoreError(t *testing.T) {
	h, fs := testServer(t, nil)
	fs.err = errors.New("database is locked: /secret/path.db")
	res := do(t, h, http.MethodGet, "/connections.json")
	checkResponse(t, res, http.StatusInternalServerError, "application/json; charset=utf-8")
	if b := body(t, res); strings.Contains(b, "secret") {
		t.Errorf("500 body leaks the error: %s", b)
	}
}

func TestSeenBeforeWindow(t *testing.T) {
	tests := []struct {
		name      string
		hostFirst time.Duration // before now
		window    time.Duration
		want      bool
	}{
		{name: "inside the window", hostFirst: 59 * time.Second, window: time.Minute, want: false},
		{name: "exactly at the edge is still new", hostFirst: time.Minute, window: time.Minute, want: false},
		{name: "before the window", hostFirst: 61 * time.Second, window: time.Minute, want: true},
		{name: "short test window", hostFirst: 3 * time.Second, window: 2 * time.Second, want: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := flows.Connection{HostFirstSeenAt: now.Add(-tc.hostFirst)}
			if got := toConnectionJSON(&c, now.Add(-tc.window)).SeenBefore; got != tc.want {
				t.Errorf("seen_before = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestFullListOneAtATime holds one unlimited listing inside the store and
// checks that a second one is turned away with 429 while a limited request
// and, afterwards, another unlimited one are served.
func TestFullListOneAtATime(t *testing.T) {
	entered := make(chan struct{})
	release := make(chan struct{})
	h, fs := testServer(t, nil)
	all := fs.conns
	fs.active = func(_ context.Context, limit int) ([]flows.Connection, int, error) {
		if limit == 0 {
			entered <- struct{}{}
			<-release
			return all, len(all), nil
		}
		return all[:min(limit, len(all))], len(all), nil
	}
	first := make(chan *http.Response, 1)
	go func() { first <- do(t, h, http.MethodGet, "/connections.json") }()
	<-entered

	tests := []struct {
		name, target string
		want         int
	}{
		{"second full listing", "/connections.json", http.StatusTooManyRequests},
		{"limited listing", "/connections.json?limit=2", http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := do(t, h, http.MethodGet, tc.target)
			checkResponse(t, res, tc.want, "application/json; charset=utf-8")
		})
	}
	close(release)
	checkResponse(t, <-first, http.StatusOK, "application/json; charset=utf-8")
	go func() { <-entered }()
	checkResponse(t, do(t, h, http.MethodGet, "/connections.json"), http.StatusOK, "application/json; charset=utf-8")
}

// walkRows returns an EachActiveConnection over n rows made on the fly
// from sampleConns, handed through one reused Connection and checking ctx
// at every row, as the real store does; after the n rows it returns end.
func walkRows(n int, end error) func(context.Context, int, func(int) error, func(*flows.Connection) error) error {
	return func(ctx context.Context, _ int, start func(int) error, fn func(*flows.Connection) error) error {
		if err := start(n); err != nil {
			return err
		}
		samples := sampleConns()
		var c flows.Connection
		for i := range n {
			if err := ctx.Err(); err != nil {
				return err
			}
			c = samples[i%len(samples)]
			c.Key.SrcPort = uint16(i)
			if err := fn(&c); err != nil {
				return err
			}
		}
		return end
	}
}

// logLines hands each line the server logs to the test, from whichever
// goroutine logs it.
type logLines chan string

func (c logLines) Write(p []byte) (int, error) {
	c <- string(p)
	return len(p), nil
}

// count drains the lines logged so far and counts those holding s.
func (c logLines) count(s string) (n int, all string) {
	for {
		select {
		case line := <-c:
			all += line
			if strings.Contains(line, s) {
				n++
			}
		default:
			return n, all
		}
	}
}

// TestConnectionsStoreErrorBeforeFirstRow: until the first row the status
// is not out, so a store failure is still a JSON 500, logged once.
func TestConnectionsStoreErrorBeforeFirstRow(t *testing.T) {
	errDB := errors.New("database disk image is malformed")
	tests := []struct {
		name  string
		limit string
		each  func(context.Context, int, func(int) error, func(*flows.Connection) error) error
	}{
		{name: "count fails", each: func(context.Context, int, func(int) error, func(*flows.Connection) error) error {
			return errDB
		}},
		{name: "rows query fails after the count", each: walkRows(0, errDB)},
		{name: "limited listing", limit: "?limit=5", each: walkRows(0, errDB)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs strings.Builder
			h, fs := testServer(t, func(o *Options) { o.Logger = newTextLogger(&logs) })
			fs.each = tc.each
			res := do(t, h, http.MethodGet, "/connections.json"+tc.limit)
			checkResponse(t, res, http.StatusInternalServerError, "application/json; charset=utf-8")
			if diff := cmp.Diff(`{"error":"internal error"}`+"\n", body(t, res)); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
			if v := res.Header.Get("X-Total-Count"); v != "" {
				t.Errorf("X-Total-Count = %q on an error", v)
			}
			if n := strings.Count(logs.String(), errDB.Error()); n != 1 {
				t.Errorf("error logged %d times, want once:\n%s", n, logs.String())
			}
		})
	}
}

// TestConnectionsAbortMidStream: a store failure after rows went out cuts
// the connection, so the client gets an error and never a valid array
// shorter than the table; it is logged once, and the next full listing is
// served.
func TestConnectionsAbortMidStream(t *testing.T) {
	errDB := errors.New("database disk image is malformed")
	tests := []struct {
		name string
		rows int  // rows handed over before the error
		sent bool // whether they outgrow the 32 KiB buffer: the 200 is on the wire
	}{
		{name: "error after one row", rows: 1, sent: false},
		{name: "error after rows went out", rows: 1000, sent: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int32
			logs := make(logLines, 16)
			h, fs := testServer(t, func(o *Options) { o.Logger = newTextLogger(logs) })
			fs.each = func(ctx context.Context, limit int, start func(int) error, fn func(*flows.Connection) error) error {
				if calls.Add(1) == 1 {
					return walkRows(tc.rows, errDB)(ctx, limit, start, fn)
				}
				return walkRows(3, nil)(ctx, limit, start, fn)
			}
			srv := httptest.NewServer(h)
			defer srv.Close()

			res, err := srv.Client().Get(srv.URL + "/connections.json")
			var got []byte
			if err == nil {
				checkResponse(t, res, http.StatusOK, "application/json; charset=utf-8")
				got, err = io.ReadAll(res.Body)
				res.Body.Close()
			}
			if gotSent := res != nil; gotSent != tc.sent {
				t.Errorf("response headers reached the client: %v, want %v (err %v)", gotSent, tc.sent, err)
			}
			if tc.sent && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("reading the body: %v, want an unexpected EOF", err)
			}
			if err == nil || json.Valid(got) {
				t.Errorf("the client read a complete response (%d bytes, err %v)", len(got), err)
			}
			// Logged before the connection was cut: the line is there.
			if n, all := logs.count(errDB.Error()); n != 1 {
				t.Errorf("error logged %d times, want once:\n%s", n, all)
			}

			res, err = srv.Client().Get(srv.URL + "/connections.json")
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			var next []connectionJSON
			if err := json.NewDecoder(res.Body).Decode(&next); err != nil || len(next) != 3 {
				t.Errorf("next full listing: status %d, %d rows, %v; want 200 and 3 rows", res.StatusCode, len(next), err)
			}
		})
	}
}

// TestConnectionsClientGoneStopsWalk: a client that hangs up early in a
// long listing ends the store's walk (through the failed write or the
// request's ctx), which releases its read transaction.
func TestConnectionsClientGoneStopsWalk(t *testing.T) {
	// 200,000 rows are 70 MB of JSON, more than the sockets between the
	// two ends hold, so a streaming handler is stopped well before the
	// end; a handler that collected them first would finish the walk
	// (and fail), not collect without end.
	errWalkedAll := errors.New("walked every row")
	h, fs := testServer(t, nil)
	walkEnded := make(chan error, 1)
	fs.each = func(ctx context.Context, limit int, start func(int) error, fn func(*flows.Connection) error) error {
		err := walkRows(200_000, errWalkedAll)(ctx, limit, start, fn)
		walkEnded <- err
		return err
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	res, err := srv.Client().Get(srv.URL + "/connections.json")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(res.Body, make([]byte, 256<<10)); err != nil {
		t.Fatal(err)
	}
	res.Body.Close() // unread body: the client closes the connection
	select {
	case err := <-walkEnded:
		if err == nil || errors.Is(err, errWalkedAll) {
			t.Errorf("the walk ended with %v, want it stopped by the hang-up", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the walk went on 10 s after the client hung up")
	}
}

// countingWriter is a ResponseRecorder that counts the body and keeps
// none of it.
type countingWriter struct {
	*httptest.ResponseRecorder
	n int
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.n += len(p)
	return len(p), nil
}

// TestConnectionsStreams lists 200,000 rows made on the fly and checks,
// when the store hands over the last one, that all but the last buffer of
// the response is already out: the handler writes as it reads, and holds
// neither the rows nor their JSON, whatever their number.
func TestConnectionsStreams(t *testing.T) {
	const (
		rows       = 200_000
		maxPending = 32<<10 + 1<<10 // the write buffer and one row
	)
	h, fs := testServer(t, nil)
	w := &countingWriter{ResponseRecorder: httptest.NewRecorder()}
	var outBeforeLast int
	fs.each = func(ctx context.Context, limit int, start func(int) error, fn func(*flows.Connection) error) error {
		i := 0
		return walkRows(rows, nil)(ctx, limit, start, func(c *flows.Connection) error {
			if i++; i == rows {
				outBeforeLast = w.n
			}
			return fn(c)
		})
	}
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/connections.json", nil))
	if w.Code != http.StatusOK || w.Header().Get("X-Total-Count") != strconv.Itoa(rows) {
		t.Fatalf("status %d, X-Total-Count %q", w.Code, w.Header().Get("X-Total-Count"))
	}
	if w.n < rows*300 {
		t.Fatalf("response of %d bytes for %d rows", w.n, rows)
	}
	if pending := w.n - outBeforeLast; pending > maxPending {
		t.Errorf("%d of %d bytes were still held when the store handed over the last row; want at most %d",
			pending, w.n, maxPending)
	}
}
