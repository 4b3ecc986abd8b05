package web

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/netmon-dev/netmon/pkg/flows"
	"github.com/netmon-dev/netmon/pkg/history"
	"github.com/netmon-dev/netmon/pkg/rates"
	"github.com/netmon-dev/netmon/pkg/store"
)

var (
	_ Rates = (*store.Live)(nil)
	_ Rates = (*fakeRates)(nil)
)

// fakeRates answers from fixed values and records what it was asked.
type fakeRates struct {
	conns []flows.Connection
	reads []rates.Reading // per conn
	now   rates.Now
	err   error

	order   rates.Order
	limit   int
	queries []rates.Query
}

func (f *fakeRates) EachActiveConnectionRate(_ context.Context, limit int, order rates.Order, start func(int) error,
	fn func(*flows.Connection, rates.Reading) error) error {
	f.order, f.limit = order, limit
	if f.err != nil {
		return f.err
	}
	if err := start(len(f.conns)); err != nil {
		return err
	}
	var c flows.Connection
	for i := range f.conns {
		if limit > 0 && i == limit {
			break
		}
		c = f.conns[i]
		if err := fn(&c, f.reads[i]); err != nil {
			return err
		}
	}
	return nil
}

func (f *fakeRates) RatesNow(_ context.Context, q rates.Query) (*rates.Now, error) {
	f.queries = append(f.queries, q)
	if f.err != nil {
		return nil, f.err
	}
	n := f.now
	if q.Remotes > 0 && len(n.Remotes) > q.Remotes {
		n.Remotes = n.Remotes[:q.Remotes]
	}
	return &n, nil
}

func bytesPS(upBits, downBits int64) rates.Reading {
	return rates.Reading{Known: true, Window: rates.FromBps(upBits, downBits), Last: rates.FromBps(upBits/2, downBits/2)}
}

func sampleRates() *fakeRates {
	conns := sampleConns()
	reads := make([]rates.Reading, len(conns))
	reads[0] = bytesPS(16000, 1600000)
	reads[2] = bytesPS(0, 0)
	a := netip.MustParseAddr
	t1 := now.Add(-2 * time.Second)
	t2 := now.Add(-time.Second)
	return &fakeRates{conns: conns, reads: reads, now: rates.Now{
		At: t2, Cycles: 9, Window: 10 * time.Second, Total: bytesPS(16000, 1600000),
		Ticks: []time.Time{t1, t2}, TotalSpark: []rates.Rate{rates.FromBps(8000, 800000), rates.FromBps(16000, 1600000)},
		Devices: []rates.Device{
			{ID: "ip:10.0.0.6", Addrs: []netip.Addr{a("10.0.0.6")}, Reading: bytesPS(16000, 1600000),
				Spark: []rates.Rate{rates.FromBps(8000, 800000), rates.FromBps(16000, 1600000)}},
			{ID: "aa:bb:cc:dd:ee:ff", Name: "anna-laptop", Addrs: []netip.Addr{a("fd00::5"), a("10.0.0.5")}, Reading: bytesPS(0, 0), Spark: []rates.Rate{{}, {}}},
			{ID: "ip:10.0.0.9", Spark: []rates.Rate{{}, {}}},
		},
		Remotes: []rates.Remote{{Addr: a("203.0.113.80"), Reading: bytesPS(16000, 1600000)}, {Addr: a("2001:db8::80"), Reading: bytesPS(8, 8)}},
	}}
}

func rateServer(t *testing.T, fr *fakeRates, edit func(*Options)) http.Handler {
	t.Helper()
	h, _ := testServer(t, func(o *Options) {
		if fr != nil {
			o.Rates = fr
		}
		if edit != nil {
			edit(o)
		}
	})
	return h
}

func ptr(v int64) *int64 { return &v }

// TestConnectionsRates: /connections.json rows carry the window rates,
// null where there is none, and ?sort= reaches the store.
func TestConnectionsRates(t *testing.T) {
	fr := sampleRates()
	h := rateServer(t, fr, nil)
	res := do(t, h, http.MethodGet, "/connections.json?sort=rate&limit=3")
	checkResponse(t, res, http.StatusOK, "application/json; charset=utf-8")
	var got []connectionJSON
	if err := json.NewDecoder(res.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	want := wantConns()[:3]
	want[0].RateJSON = RateJSON{UplinkBps: ptr(16000), DownlinkBps: ptr(1600000)}
	want[2].RateJSON = RateJSON{UplinkBps: ptr(0), DownlinkBps: ptr(0)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
	if fr.order != rates.ByRate || fr.limit != 3 {
		t.Errorf("store asked for %s, limit %d", fr.order, fr.limit)
	}
	raw := body(t, do(t, h, http.MethodGet, "/connections.json?limit=2"))
	if !strings.Contains(raw, `"uplink_bps":16000,"downlink_bps":1600000`) || !strings.Contains(raw, `"uplink_bps":null,"downlink_bps":null`) {
		t.Errorf("wire form of the rates:\n%s", raw)
	}
	if fr.order != rates.ByBytes {
		t.Errorf("no sort asked the store for %s", fr.order)
	}
}

func TestConnectionsSort(t *testing.T) {
	tests := []struct {
		name   string
		rates  bool
		target string
		status int
	}{
		{"bytes without rates", false, "/connections.json?sort=bytes", http.StatusOK},
		{"rate without rates", false, "/connections.json?sort=rate", http.StatusServiceUnavailable},
		{"bad sort", true, "/connections.json?sort=speed", http.StatusBadRequest},
		{"sort twice", true, "/connections.json?sort=rate&sort=bytes", http.StatusBadRequest},
		{"unknown parameter", true, "/connections.json?order=rate", http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var fr *fakeRates
			if tt.rates {
				fr = sampleRates()
			}
			res := do(t, rateServer(t, fr, nil), http.MethodGet, tt.target)
			checkResponse(t, res, tt.status, "application/json; charset=utf-8")
		})
	}
}

// TestAPINow pins /api/now's shape for the dashboard.
func TestAPINow(t *testing.T) {
	fr := sampleRates()
	h := rateServer(t, fr, func(o *Options) { o.RateUnit = "bytes" })
	res := do(t, h, http.MethodGet, "/api/now?remotes=1")
	checkResponse(t, res, http.StatusOK, "application/json; charset=utf-8")
	t1, t2 := now.Add(-2*time.Second).UnixMilli(), now.Add(-time.Second).UnixMilli()
	want := `{"time":"2026-11-25T17:30:00.000Z","at":"2026-11-25T17:29:59.000Z","window_seconds":10,"unit":"bytes",` +
		`"ticks":[` + itoa(t1) + `,` + itoa(t2) + `],` +
		`"total":{"uplink_bps":16000,"downlink_bps":1600000,"last_uplink_bps":8000,"last_downlink_bps":800000,"spark_up":[8000,16000],"spark_down":[800000,1600000]},` +
		`"devices":[{"device":"ip:10.0.0.6","name":"","addrs":["10.0.0.6"],"uplink_bps":16000,"downlink_bps":1600000,"last_uplink_bps":8000,"last_downlink_bps":800000,"spark_up":[8000,16000],"spark_down":[800000,1600000]},` +
		`{"device":"aa:bb:cc:dd:ee:ff","name":"anna-laptop","addrs":["fd00::5","10.0.0.5"],"uplink_bps":0,"downlink_bps":0,"last_uplink_bps":0,"last_downlink_bps":0,"spark_up":[0,0],"spark_down":[0,0]},` +
		`{"device":"ip:10.0.0.9","name":"","addrs":[],"uplink_bps":null,"downlink_bps":null,"last_uplink_bps":null,"last_downlink_bps":null,"spark_up":[0,0],"spark_down":[0,0]}],` +
		`"remotes":[{"remote":"203.0.113.80","uplink_bps":16000,"downlink_bps":1600000}]}` + "\n"
	if diff := cmp.Diff(want, body(t, res)); diff != "" {
		t.Errorf("body (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]rates.Query{{Remotes: 1}}, fr.queries); diff != "" {
		t.Errorf("queries (-want +got):\n%s", diff)
	}
}

func itoa(v int64) string { b, _ := json.Marshal(v); return string(b) }

func TestAPINowQuery(t *testing.T) {
	tests := []struct {
		target string
		status int
		query  rates.Query
		conns  int // rows in "connections", -1: none
	}{
		{"/api/now", http.StatusOK, rates.Query{Remotes: DefaultNowRemotes}, -1},
		{"/api/now?since=1764620940998", http.StatusOK, rates.Query{Remotes: DefaultNowRemotes, Since: time.UnixMilli(1764620940998)}, -1},
		{"/api/now?remotes=0", http.StatusOK, rates.Query{Remotes: 1}, -1},
		{"/api/now?limit=2&sort=rate", http.StatusOK, rates.Query{Remotes: DefaultNowRemotes}, 2},
		{"/api/now?limit=200", http.StatusOK, rates.Query{Remotes: DefaultNowRemotes}, 5},
		{"/api/now?since=-1", http.StatusBadRequest, rates.Query{}, -1},
		{"/api/now?since=soon", http.StatusBadRequest, rates.Query{}, -1},
		{"/api/now?remotes=1001", http.StatusBadRequest, rates.Query{}, -1},
		{"/api/now?limit=0", http.StatusBadRequest, rates.Query{}, -1},
		{"/api/now?limit=10001", http.StatusBadRequest, rates.Query{}, -1},
		{"/api/now?sort=fast", http.StatusBadRequest, rates.Query{}, -1},
		{"/api/now?devices=3", http.StatusBadRequest, rates.Query{}, -1},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			fr := sampleRates()
			res := do(t, rateServer(t, fr, nil), http.MethodGet, tt.target)
			checkResponse(t, res, tt.status, "application/json; charset=utf-8")
			if tt.status != http.StatusOK {
				if len(fr.queries) > 0 {
					t.Errorf("rates read despite a bad query: %+v", fr.queries)
				}
				return
			}
			if diff := cmp.Diff([]rates.Query{tt.query}, fr.queries); diff != "" {
				t.Errorf("queries (-want +got):\n%s", diff)
			}
			var got struct {
				Remotes          []json.RawMessage `json:"remotes"`
				Connections      *[]connectionJSON `json:"connections"`
				ConnectionsTotal *int              `json:"connections_total"`
			}
			if err := json.NewDecoder(res.Body).Decode(&got); err != nil {
				t.Fatal(err)
			}
			if tt.conns < 0 {
				if got.Connections != nil || got.ConnectionsTotal != nil {
					t.Errorf("connections without ?limit")
				}
			} else if got.Connections == nil || len(*got.Connections) != tt.conns || got.ConnectionsTotal == nil || *got.ConnectionsTotal != 5 {
				t.Errorf("connections: %v of %v, want %d of 5", got.Connections, got.ConnectionsTotal, tt.conns)
			}
			if strings.Contains(tt.target, "remotes=0") && len(got.Remotes) != 0 {
				t.Errorf("remotes=0 gave %d remote hosts", len(got.Remotes))
			}
		})
	}
}

func TestAPINowErrors(t *testing.T) {
	res := do(t, rateServer(t, nil, nil), http.MethodGet, "/api/now")
	checkResponse(t, res, http.StatusServiceUnavailable, "application/json; charset=utf-8")
	fr := sampleRates()
	fr.err = errors.New("database is locked: /secret/live.db")
	res = do(t, rateServer(t, fr, nil), http.MethodGet, "/api/now")
	checkResponse(t, res, http.StatusInternalServerError, "application/json; charset=utf-8")
	if strings.Contains(body(t, res), "secret") {
		t.Error("the 500 leaks the error")
	}
	empty := &fakeRates{}
	raw := body(t, do(t, rateServer(t, empty, nil), http.MethodGet, "/api/now"))
	if !strings.Contains(raw, `"at":null`) || !strings.Contains(raw, `"devices":[]`) || !strings.Contains(raw, `"ticks":[]`) {
		t.Errorf("no rates yet: %s", raw)
	}
}

// TestHistoryRowsRates: /api/devices and /api/remotes rows carry the
// current rates, null for those without one; CSV stays as it was.
func TestHistoryRowsRates(t *testing.T) {
	fh := &fakeHistory{
		devices: []history.Total{{Device: "ip:10.0.0.6", Usage: use(1, 2)}, {Device: "aa:bb:cc:dd:ee:00", Usage: use(3, 4)}},
		remotes: []history.Total{{Remote: netip.MustParseAddr("203.0.113.80"), Usage: use(5, 6)}, {Remote: netip.MustParseAddr("198.51.100.1"), Usage: use(7, 8)}},
	}
	fr := sampleRates()
	h := rateServer(t, fr, func(o *Options) { o.History = fh })
	type row struct {
		Device, Remote *string
		RateJSON
	}
	for _, tt := range []struct {
		target string
		want   []RateJSON
	}{
		{"/api/devices", []RateJSON{{UplinkBps: ptr(16000), DownlinkBps: ptr(1600000)}, {}}},
		{"/api/remotes", []RateJSON{{UplinkBps: ptr(16000), DownlinkBps: ptr(1600000)}, {}}},
	} {
		var got []row
		if err := json.Unmarshal([]byte(body(t, do(t, h, http.MethodGet, tt.target))), &got); err != nil {
			t.Fatal(err)
		}
		var rs []RateJSON
		for _, r := range got {
			rs = append(rs, r.RateJSON)
		}
		if diff := cmp.Diff(tt.want, rs); diff != "" {
			t.Errorf("%s rates (-want +got):\n%s", tt.target, diff)
		}
	}
	if q := fr.queries[0]; !q.NoSpark {
		t.Errorf("history rows asked for sparklines: %+v", q)
	}
	if csv := body(t, do(t, h, http.MethodGet, "/api/devices?format=csv")); strings.Contains(csv, "bps") {
		t.Errorf("CSV gained rates: %s", csv)
	}
}
