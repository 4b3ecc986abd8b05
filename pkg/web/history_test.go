package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/netmon-dev/netmon/pkg/conntrack"
	"github.com/netmon-dev/netmon/pkg/history"
)

var _ History = (*fakeHistory)(nil)

// fakeHistory answers from fixed rows and records the spans it was asked.
type fakeHistory struct {
	devices, remotes, pairs []history.Total
	points                  []history.Point
	tiles                   []history.Tile
	span                    history.Span
	res                     history.Res
	device                  string
}

func (f *fakeHistory) DeviceTotals(_ context.Context, tiles []history.Tile) ([]history.Total, error) {
	f.tiles = tiles
	return f.devices, nil
}
func (f *fakeHistory) DeviceHistory(_ context.Context, d string, r history.Res, s history.Span) ([]history.Point, error) {
	f.device, f.res, f.span = d, r, s
	return f.points, nil
}
func (f *fakeHistory) DeviceRemotes(_ context.Context, d string, s history.Span) ([]history.Total, error) {
	f.device, f.span = d, s
	return f.pairs, nil
}
func (f *fakeHistory) RemoteTotals(_ context.Context, s history.Span) ([]history.Total, error) {
	f.span = s
	return f.remotes, nil
}
func (f *fakeHistory) RemoteDevices(context.Context, netip.Addr, history.Span) ([]history.Total, error) {
	return nil, nil
}
func (f *fakeHistory) RemoteHistory(context.Context, netip.Addr, history.Span) ([]history.Point, error) {
	return nil, nil
}

func use(up, down uint64) history.Usage {
	return history.Usage{Counters: conntrack.Counters{UplinkBytes: up, DownlinkBytes: down, UplinkPackets: 2, DownlinkPackets: 3}, Connections: 4}
}

func historyServer(t *testing.T, fh *fakeHistory) http.Handler {
	t.Helper()
	h, _ := testServer(t, func(o *Options) { o.History = fh })
	return h
}

func TestAPIDevices(t *testing.T) {
	fh := &fakeHistory{devices: []history.Total{{Device: "aa:bb:cc:dd:ee:01", Name: "phone", Usage: use(100, 900)}}}
	h := historyServer(t, fh)
	res := do(t, h, "GET", "/api/devices?period=yesterday")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("%d %s", res.StatusCode, body(t, res))
	}
	got := body(t, res)
	want := `[{"device":"aa:bb:cc:dd:ee:01","name":"phone","uplink_bytes":100,"downlink_bytes":900,"total_bytes":1000,"uplink_packets":2,"downlink_packets":3,"connections":4,"uplink_bps":null,"downlink_bps":null}]` + "\n"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("body (-want +got):\n%s", diff)
	}
	day := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	if diff := cmp.Diff([]history.Tile{{Res: history.Day, Span: history.Span{From: day, To: day.Add(24 * time.Hour)}}}, fh.tiles); diff != "" {
		t.Errorf("tiles asked (-want +got):\n%s", diff)
	}

	csvRes := do(t, h, "GET", "/api/devices?period=today&format=csv")
	if ct := csvRes.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
		t.Errorf("Content-Type %q", ct)
	}
	wantCSV := "device,remote,start,name,uplink_bytes,downlink_bytes,total_bytes,uplink_packets,downlink_packets,connections\n" +
		"aa:bb:cc:dd:ee:01,,,phone,100,900,1000,2,3,4\n"
	if diff := cmp.Diff(wantCSV, body(t, csvRes)); diff != "" {
		t.Errorf("CSV (-want +got):\n%s", diff)
	}
	req := httptest.NewRequest("GET", "/api/remotes", nil)
	req.Header.Set("Accept", "text/csv")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/csv") {
		t.Errorf("Accept: text/csv gave %q", rec.Header().Get("Content-Type"))
	}
}

func TestAPIDeviceHistory(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 16, 0, 0, 0, time.UTC)
	fh := &fakeHistory{points: []history.Point{{Start: t0, Usage: use(1, 2)}, {Start: t0.Add(time.Hour), Usage: use(3, 4)}}}
	h := historyServer(t, fh)
	res := do(t, h, "GET", "/api/devices/aa:bb:cc:dd:ee:01/history?by=hour&from=2026-11-25T00:00:00Z&to=2026-11-26")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("%d %s", res.StatusCode, body(t, res))
	}
	var cols columnsJSON
	if err := json.Unmarshal([]byte(body(t, res)), &cols); err != nil {
		t.Fatal(err)
	}
	want := columnsJSON{T: []int64{t0.Unix(), t0.Add(time.Hour).Unix()}, UplinkBytes: []uint64{1, 3}, DownlinkBytes: []uint64{2, 4}, Connections: []uint64{4, 4}}
	if diff := cmp.Diff(want, cols); diff != "" {
		t.Errorf("columns (-want +got):\n%s", diff)
	}
	wantSpan := history.Span{From: time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)}
	if fh.device != "aa:bb:cc:dd:ee:01" || fh.res != history.Hour || !fh.span.From.Equal(wantSpan.From) || !fh.span.To.Equal(wantSpan.To) {
		t.Errorf("asked %s %v %v, want the device, hours, %v (to includes its whole day)", fh.device, fh.res, fh.span, wantSpan)
	}
}

func TestAPIBadParameters(t *testing.T) {
	h := historyServer(t, &fakeHistory{})
	tests := []struct {
		target, names string
	}{
		{"/api/devices?period=fortnight", "period"},
		{"/api/devices?period=today&from=2026-11-25", "period"},
		{"/api/devices?from=yesterday", "from"},
		{"/api/devices?from=2026-11-25&to=2026-11-20", "to"},
		{"/api/devices/x/history?by=week", "by"},
		{"/api/devices?colour=red", "colour"},
	}
	for _, tc := range tests {
		res := do(t, h, "GET", tc.target)
		b := body(t, res)
		if res.StatusCode != http.StatusBadRequest || !strings.Contains(b, tc.names) {
			t.Errorf("%s: %d %s; want 400 naming %s", tc.target, res.StatusCode, b, tc.names)
		}
	}
}

func TestAPIWithoutHistory(t *testing.T) {
	h, _ := testServer(t, nil)
	if res := do(t, h, "GET", "/api/devices"); res.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("without a record: %d, want 503", res.StatusCode)
	}
}

func TestAPIDevice(t *testing.T) {
	fh := &fakeHistory{
		devices: []history.Total{{Device: "ip:10.0.0.5", Usage: use(5, 50)}},
		pairs:   []history.Total{{Remote: netip.MustParseAddr("203.0.113.80"), Usage: use(4, 40)}, {Usage: use(1, 10)}},
	}
	h := historyServer(t, fh)
	res := do(t, h, "GET", "/api/devices/ip:10.0.0.5?period=7d")
	var got struct {
		Device  string `json:"device"`
		Total   uint64 `json:"total_bytes"`
		Remotes []struct {
			Remote string `json:"remote"`
			Total  uint64 `json:"total_bytes"`
		} `json:"remotes"`
	}
	if err := json.Unmarshal([]byte(body(t, res)), &got); err != nil {
		t.Fatal(err)
	}
	if got.Device != "ip:10.0.0.5" || got.Total != 55 || len(got.Remotes) != 2 || got.Remotes[0].Remote != "203.0.113.80" || got.Remotes[1].Remote != "" {
		t.Errorf("device: %+v", got)
	}
	if res := do(t, historyServer(t, &fakeHistory{}), "GET", "/api/devices/nobody"); res.StatusCode != http.StatusNotFound {
		t.Errorf("unknown device: %d, want 404", res.StatusCode)
	}
}
