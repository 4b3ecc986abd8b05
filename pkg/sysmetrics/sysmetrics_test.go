package sysmetrics

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// hostRoot returns the fixture tree fixtures/hosts/<name>.
func hostRoot(t *testing.T, name string) string {
	t.Helper()
	p := filepath.Join("..", "..", "fixtures", "hosts", name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("fixture tree: %v", err)
	}
	return p
}

// copyHost copies a fixture tree into a temporary directory that the test
// may change.
func copyHost(t *testing.T, name string) string {
	t.Helper()
	dst := t.TempDir()
	if err := os.CopyFS(dst, os.DirFS(hostRoot(t, name))); err != nil {
		t.Fatalf("copy fixture tree: %v", err)
	}
	return dst
}

// writeFile replaces a file of a copied tree.
func writeFile(t *testing.T, root, p, content string) {
	t.Helper()
	full := filepath.Join(root, filepath.FromSlash(p))
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// clock is a settable test clock.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

var t0 = time.Date(2026, 11, 25, 17, 0, 0, 0, time.UTC)

func TestReaderRead(t *testing.T) {
	tests := []struct {
		name   string
		host   string
		ifaces []string
		detect bool
		want   Snapshot
	}{
		{
			name: "router copied from a real machine",
			host: "router",
			want: Snapshot{
				At:     t0,
				Load:   LoadAvg{Load1: 0.57, Load5: 0.49, Load15: 0.21},
				Memory: Memory{TotalBytes: 24684084 * 1024, AvailableBytes: 24280888 * 1024, UsedBytes: (24684084 - 24280888) * 1024},
				Interfaces: []Interface{
					{Name: "enp2s0", RxBytes: 262630588, TxBytes: 709985, RxPackets: 10116, TxPackets: 7072},
					{Name: "enp3s0", RxBytes: 3193, TxBytes: 3193, RxPackets: 29, TxPackets: 29},
				},
				Conntrack: &Conntrack{Count: 0, Max: 262144},
			},
		},
		{
			name:   "minimal host without conntrack nor routes, detected: its interfaces",
			host:   "minimal",
			detect: true,
			want: Snapshot{
				At:     t0,
				Load:   LoadAvg{Load1: 0, Load5: 0.01, Load15: 0.05},
				Memory: Memory{TotalBytes: 262144 * 1024, AvailableBytes: 131072 * 1024, UsedBytes: 131072 * 1024},
				Interfaces: []Interface{
					{Name: "enp2s0", RxBytes: 1000, TxBytes: 2000, RxPackets: 10, TxPackets: 20},
				},
			},
		},
		{
			name: "minimal host without conntrack and without the default enp3s0",
			host: "minimal",
			want: Snapshot{
				At:     t0,
				Load:   LoadAvg{Load1: 0, Load5: 0.01, Load15: 0.05},
				Memory: Memory{TotalBytes: 262144 * 1024, AvailableBytes: 131072 * 1024, UsedBytes: 131072 * 1024},
				Interfaces: []Interface{
					{Name: "enp2s0", RxBytes: 1000, TxBytes: 2000, RxPackets: 10, TxPackets: 20},
					{Name: "enp3s0", Error: "interface enp3s0: no such interface"},
				},
			},
		},
		{
			name:   "configured interfaces, one with a hostile name",
			host:   "router",
			ifaces: []string{"enp3s0", "../../../etc"},
			want: Snapshot{
				At:     t0,
				Load:   LoadAvg{Load1: 0.57, Load5: 0.49, Load15: 0.21},
				Memory: Memory{TotalBytes: 24684084 * 1024, AvailableBytes: 24280888 * 1024, UsedBytes: (24684084 - 24280888) * 1024},
				Interfaces: []Interface{
					{Name: "enp3s0", RxBytes: 3193, TxBytes: 3193, RxPackets: 29, TxPackets: 29},
					{Name: "../../../etc", Error: `interface name "../../../etc": not a valid name`},
				},
				Conntrack: &Conntrack{Count: 0, Max: 262144},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &clock{t: t0}
			r := NewReader(Options{Root: hostRoot(t, tc.host), Interfaces: tc.ifaces, Detect: tc.detect, Now: c.now})
			got, err := r.Read(context.Background())
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Read mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReaderReadFails(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(t *testing.T, root string)
		isErr error // nil: any error
	}{
		{
			name:  "no loadavg",
			edit:  func(t *testing.T, root string) { os.Remove(filepath.Join(root, "proc", "loadavg")) },
			isErr: fs.ErrNotExist,
		},
		{
			name: "garbage loadavg",
			edit: func(t *testing.T, root string) { writeFile(t, root, "proc/loadavg", "\x00\xff garbage\n") },
		},
		{
			name:  "no meminfo",
			edit:  func(t *testing.T, root string) { os.Remove(filepath.Join(root, "proc", "meminfo")) },
			isErr: fs.ErrNotExist,
		},
		{
			name: "meminfo larger than any real one",
			edit: func(t *testing.T, root string) {
				writeFile(t, root, "proc/meminfo", string(make([]byte, maxFileSize+1)))
			},
			isErr: errTooLarge,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := copyHost(t, "minimal")
			tc.edit(t, root)
			_, err := NewReader(Options{Root: root}).Read(context.Background())
			if err == nil {
				t.Fatal("Read: want an error, got nil")
			}
			if tc.isErr != nil && !errors.Is(err, tc.isErr) {
				t.Errorf("Read error %v: want errors.Is %v", err, tc.isErr)
			}
		})
	}
}

func TestReaderReadCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := NewReader(Options{Root: hostRoot(t, "router")}).Read(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Read with a canceled context: got %v, want context.Canceled", err)
	}
}

func TestReaderRates(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	type step struct {
		advance time.Duration
		rx, tx  uint64 // enp2s0 counters to write; 0 and 0 removes the interface
		want    Interface
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{
			name: "steady growth",
			steps: []step{
				{advance: 0, rx: 1000, tx: 2000, want: Interface{Name: "enp2s0", RxBytes: 1000, TxBytes: 2000, RxPackets: 10, TxPackets: 20}},
				{advance: 2 * time.Second, rx: 3000, tx: 2500, want: Interface{Name: "enp2s0", RxBytes: 3000, TxBytes: 2500, RxPackets: 10, TxPackets: 20, RxRate: f(1000), TxRate: f(250)}},
				{advance: 500 * time.Millisecond, rx: 3000, tx: 2500, want: Interface{Name: "enp2s0", RxBytes: 3000, TxBytes: 2500, RxPackets: 10, TxPackets: 20, RxRate: f(0), TxRate: f(0)}},
			},
		},
		{
			name: "counter reset gives no rate, then rates resume",
			steps: []step{
				{advance: 0, rx: 5000, tx: 5000, want: Interface{Name: "enp2s0", RxBytes: 5000, TxBytes: 5000, RxPackets: 10, TxPackets: 20}},
				{advance: time.Second, rx: 100, tx: 6000, want: Interface{Name: "enp2s0", RxBytes: 100, TxBytes: 6000, RxPackets: 10, TxPackets: 20, TxRate: f(1000)}},
				{advance: time.Second, rx: 300, tx: 6000, want: Interface{Name: "enp2s0", RxBytes: 300, TxBytes: 6000, RxPackets: 10, TxPackets: 20, RxRate: f(200), TxRate: f(0)}},
			},
		},
		{
			name: "clock standing still gives no rate",
			steps: []step{
				{advance: 0, rx: 1, tx: 1, want: Interface{Name: "enp2s0", RxBytes: 1, TxBytes: 1, RxPackets: 10, TxPackets: 20}},
				{advance: 0, rx: 9, tx: 9, want: Interface{Name: "enp2s0", RxBytes: 9, TxBytes: 9, RxPackets: 10, TxPackets: 20}},
			},
		},
		{
			name: "interface vanishes and comes back without a stale rate",
			steps: []step{
				{advance: 0, rx: 1000, tx: 1000, want: Interface{Name: "enp2s0", RxBytes: 1000, TxBytes: 1000, RxPackets: 10, TxPackets: 20}},
				{advance: time.Second, want: Interface{Name: "enp2s0", Error: "interface enp2s0: no such interface"}},
				{advance: time.Second, rx: 9000, tx: 9000, want: Interface{Name: "enp2s0", RxBytes: 9000, TxBytes: 9000, RxPackets: 10, TxPackets: 20}},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := copyHost(t, "minimal")
			c := &clock{t: t0}
			r := NewReader(Options{Root: root, Interfaces: []string{"enp2s0"}, Now: c.now})
			dir := filepath.Join(root, "sys", "class", "net", "enp2s0")
			for i, s := range tc.steps {
				c.advance(s.advance)
				if s.rx == 0 && s.tx == 0 {
					if err := os.RemoveAll(dir); err != nil {
						t.Fatal(err)
					}
				} else {
					writeFile(t, root, "sys/class/net/enp2s0/statistics/rx_bytes", strconv.FormatUint(s.rx, 10)+"\n")
					writeFile(t, root, "sys/class/net/enp2s0/statistics/tx_bytes", strconv.FormatUint(s.tx, 10)+"\n")
					writeFile(t, root, "sys/class/net/enp2s0/statistics/rx_packets", "10\n")
					writeFile(t, root, "sys/class/net/enp2s0/statistics/tx_packets", "20\n")
				}
				got, err := r.Read(context.Background())
				if err != nil {
					t.Fatalf("step %d: Read: %v", i, err)
				}
				if diff := cmp.Diff([]Interface{s.want}, got.Interfaces); diff != "" {
					t.Errorf("step %d: interfaces mismatch (-want +got):\n%s", i, diff)
				}
			}
		})
	}
}

// TestReaderConcurrent is for -race: the rate state is shared.
func TestReaderConcurrent(t *testing.T) {
	var mu sync.Mutex
	now := t0
	tick := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(time.Millisecond)
		return now
	}
	r := NewReader(Options{Root: hostRoot(t, "router"), Now: tick})
	var wg sync.WaitGroup
	errs := make(chan error, 8*20)
	for range 8 {
		wg.Go(func() {
			for range 20 {
				if _, err := r.Read(context.Background()); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent Read: %v", err)
	}
}

func TestNewReaderDefaults(t *testing.T) {
	r := NewReader(Options{})
	if diff := cmp.Diff(DefaultInterfaces(), r.Interfaces()); diff != "" {
		t.Errorf("default interfaces (-want +got):\n%s", diff)
	}
	if got := NewReader(Options{Interfaces: []string{}, Detect: true}).Interfaces(); got != nil {
		t.Errorf("no interfaces configured, detected: %q, want nil", got)
	}
	if r.root != "/" {
		t.Errorf("default root = %q, want /", r.root)
	}
	in := []string{"eth0"}
	r = NewReader(Options{Interfaces: in})
	in[0] = "changed"
	if got := r.Interfaces(); got[0] != "eth0" {
		t.Errorf("Reader kept the caller's slice: got %q", got[0])
	}
}
