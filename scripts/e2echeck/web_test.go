package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// sysTree writes /sys/class/net/<name>/statistics files under a temp root.
func sysTree(t *testing.T, ifaces map[string]ifCounters) string {
	t.Helper()
	root := t.TempDir()
	for name, c := range ifaces {
		dir := filepath.Join(root, "sys", "class", "net", name, "statistics")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for file, v := range map[string]uint64{"rx_bytes": c.RxBytes, "tx_bytes": c.TxBytes, "rx_packets": c.RxPackets, "tx_packets": c.TxPackets} {
			if err := os.WriteFile(filepath.Join(dir, file), []byte(jsonNum(v)+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return root
}

func jsonNum(v uint64) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestReadIfCounters(t *testing.T) {
	want := ifCounters{RxBytes: 1234567, TxBytes: 89, RxPackets: 1000, TxPackets: 3}
	root := sysTree(t, map[string]ifCounters{"rl0": want})
	got, err := readIfCounters(root, "rl0")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("readIfCounters (-want +got):\n%s", diff)
	}
	if _, err := readIfCounters(root, "eth9"); err == nil {
		t.Error("readIfCounters on a missing interface succeeded")
	}
	bad := filepath.Join(root, "sys", "class", "net", "rl0", "statistics", "tx_bytes")
	if err := os.WriteFile(bad, []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readIfCounters(root, "rl0"); err == nil || !strings.Contains(err.Error(), "rl0/tx_bytes") {
		t.Errorf("readIfCounters on a bad file = %v, want an error naming rl0/tx_bytes", err)
	}
}

func TestCheckMetricsJSON(t *testing.T) {
	before := map[string]ifCounters{"rl0": {100, 200, 1, 2}, "rw0": {300, 400, 3, 4}}
	after := map[string]ifCounters{"rl0": {150, 200, 2, 2}, "rw0": {300, 400, 3, 4}}
	want := []string{"rw0", "rl0"}
	tests := []struct {
		name string
		body string
		want []string
	}{
		{"counters between the readings", `{"interfaces":[{"name":"rl0","rx_bytes":120,"tx_bytes":200,"rx_packets":1,"tx_packets":2},{"name":"rw0","rx_bytes":300,"tx_bytes":400,"rx_packets":3,"tx_packets":4}],"load":{}}`, nil},
		{"counter above the later reading", `{"interfaces":[{"name":"rl0","rx_bytes":151,"tx_bytes":200,"rx_packets":1,"tx_packets":2},{"name":"rw0","rx_bytes":300,"tx_bytes":400,"rx_packets":3,"tx_packets":4}]}`, []string{"rl0: rx_bytes 151, but sysfs read 100 before and 150 after"}},
		{"interface with an error", `{"interfaces":[{"name":"rl0","error":"no such interface"},{"name":"rw0","rx_bytes":300,"tx_bytes":400,"rx_packets":3,"tx_packets":4}]}`, []string{`rl0: error "no such interface"`}},
		{"interface missing", `{"interfaces":[{"name":"rw0","rx_bytes":300,"tx_bytes":400,"rx_packets":3,"tx_packets":4}]}`, []string{"interfaces [rw0], want [rl0 rw0]"}},
		{"extra interface", `{"interfaces":[{"name":"rl0","rx_bytes":100,"tx_bytes":200,"rx_packets":1,"tx_packets":2},{"name":"rw0","rx_bytes":300,"tx_bytes":400,"rx_packets":3,"tx_packets":4},{"name":"lo"}]}`, []string{"interfaces [lo rl0 rw0]"}},
		{"no interfaces key", `{"load":{}}`, []string{"interfaces [], want [rl0 rw0]"}},
		{"not json", `<html>`, []string{"decode"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := checkMetricsJSON([]byte(tt.body), want, before, after)
			wantProblems(t, got, tt.want)
		})
	}
}

// promBody is /metrics as netmon serves it for the test manifest (three
// remote hosts), with the given number of active connections.
func promBody(active int) string {
	return fmt.Sprintf(`# HELP netmon_active_connections Active outbound connections.
# TYPE netmon_active_connections gauge
netmon_active_connections{proto="tcp"} %d
netmon_active_connections{proto="udp"} 1
# HELP netmon_remote_hosts Remote hosts ever seen.
# TYPE netmon_remote_hosts gauge
netmon_remote_hosts 3
# HELP netmon_interface_receive_bytes_total Bytes received.
# TYPE netmon_interface_receive_bytes_total counter
netmon_interface_receive_bytes_total{interface="rl0"} 12345
netmon_interface_receive_bytes_total{interface="rw0"} 1.39515e+06
`, active-1)
}

func TestCheckPrometheus(t *testing.T) {
	exp := promExpect{ifaces: []string{"rl0", "rw0"}, active: 4, remoteHosts: 3}
	tests := []struct {
		name     string
		body     string
		want     []string
		exp      promExpect
		problems []string
	}{
		{"as expected", promBody(4), []string{"netmon_active_connections", "netmon_interface_receive_bytes_total"}, exp, nil},
		{"family missing", promBody(4), []string{"netmon_lan_hosts"}, exp, []string{"no samples of netmon_lan_hosts"}},
		{"interface missing", promBody(4), nil, promExpect{ifaces: []string{"rl0", "rl2"}, active: 4, remoteHosts: 3}, []string{`no sample for interface "rl2"`}},
		{"active count differs", promBody(5), nil, exp, []string{"netmon_active_connections sums to 5 (present: true), want 4"}},
		{"remote hosts differ", promBody(4), nil, promExpect{ifaces: exp.ifaces, active: 4, remoteHosts: 8}, []string{"netmon_remote_hosts is 3 (present: true), want 8"}},
		{"lab families absent", "# TYPE go_goroutines gauge\ngo_goroutines 7\n", nil, promExpect{active: 0, remoteHosts: 0}, []string{"netmon_active_connections sums to 0 (present: false)", "netmon_remote_hosts is 0 (present: false)"}},
		{"not the text format", "netmon_x{ 1\n", nil, exp, []string{"not Prometheus text"}},
		{"empty body", "", nil, exp, []string{"no metric families"}},
		{"json instead", `{"a":1}`, nil, exp, []string{"not Prometheus text"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := checkPrometheus([]byte(tt.body), tt.want, tt.exp)
			wantProblems(t, got, tt.problems)
		})
	}
}

// fakeServe answers like netmon serve with the given bodies.
func fakeServe(t *testing.T, bodies map[string]string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ok := bodies[r.URL.Path]
		if !ok {
			http.Error(w, `{"error":"not found"}`, http.StatusNotFound)
			return
		}
		w.Write([]byte(b))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestWebCheck(t *testing.T) {
	m := testManifest()
	conns, err := json.Marshal(correct(m, false))
	if err != nil {
		t.Fatal(err)
	}
	root := sysTree(t, map[string]ifCounters{"rl0": {10, 20, 1, 2}})
	metrics := `{"interfaces":[{"name":"rl0","rx_bytes":10,"tx_bytes":20,"rx_packets":1,"tx_packets":2}]}`
	tests := []struct {
		name     string
		bodies   map[string]string
		closed   bool
		wantErr  string
		problems []string
	}{
		{"all good", map[string]string{"/connections.json": string(conns), "/metrics.json": metrics, "/metrics": promBody(4)}, false, "", nil},
		{"closed flows still listed", map[string]string{"/connections.json": string(conns), "/metrics.json": metrics, "/metrics": promBody(3)}, true, "", []string{"/connections.json: still lists held"}},
		{"no /metrics", map[string]string{"/connections.json": string(conns), "/metrics.json": metrics}, false, "status 404", nil},
		{"connections not an array", map[string]string{"/connections.json": `{}`}, false, "/connections.json: want a JSON array", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			save := t.TempDir()
			w := webCheck{base: fakeServe(t, tt.bodies), ifaces: []string{"rl0"}, metrics: []string{"netmon_active_connections"},
				sysRoot: root, saveDir: save, closed: tt.closed}
			_, problems, err := w.run(context.Background(), m)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("run = %v, want error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			wantProblems(t, problems, tt.problems)
			saved, err := os.ReadFile(filepath.Join(save, "connections_json.out"))
			if err != nil || string(saved) != string(conns) {
				t.Errorf("saved /connections.json = %q, %v", saved, err)
			}
		})
	}
}

// TestWebCheckSettles: serve's ingest loop drops the closed flows a cycle
// later; the check waits for that within -settle, and only that long.
func TestWebCheckSettles(t *testing.T) {
	m := testManifest()
	before, err := json.Marshal(correct(m, false))
	if err != nil {
		t.Fatal(err)
	}
	after, err := json.Marshal(correct(m, true))
	if err != nil {
		t.Fatal(err)
	}
	root := sysTree(t, map[string]ifCounters{"rl0": {10, 20, 1, 2}})
	tests := []struct {
		name         string
		staleAnswers int // requests answered with the old listing
		settle       time.Duration
		problems     []string
	}{
		{"matches at once", 0, 0, nil},
		{"catches up within settle", 3, 5 * time.Second, nil},
		{"never catches up", 1000, 600 * time.Millisecond, []string{"/connections.json: still lists held"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			served := 0
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch r.URL.Path {
				case "/connections.json":
					mu.Lock()
					served++
					stale := served <= tt.staleAnswers
					mu.Unlock()
					if stale {
						w.Write(before)
					} else {
						w.Write(after)
					}
				case "/metrics.json":
					io.WriteString(w, `{"interfaces":[{"name":"rl0","rx_bytes":10,"tx_bytes":20,"rx_packets":1,"tx_packets":2}]}`)
				case "/metrics":
					io.WriteString(w, promBody(3))
				}
			}))
			defer srv.Close()
			wc := webCheck{base: srv.URL, ifaces: []string{"rl0"}, sysRoot: root, closed: true, settle: tt.settle}
			_, problems, err := wc.run(context.Background(), m)
			if err != nil {
				t.Fatal(err)
			}
			wantProblems(t, problems, tt.problems)
		})
	}
}
