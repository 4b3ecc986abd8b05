package sysmetrics

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// setCounters writes the byte counters of enp2s0 in a copied tree.
func setCounters(t *testing.T, root string, rx, tx uint64) {
	t.Helper()
	writeFile(t, root, "sys/class/net/enp2s0/statistics/rx_bytes", strconv.FormatUint(rx, 10)+"\n")
	writeFile(t, root, "sys/class/net/enp2s0/statistics/tx_bytes", strconv.FormatUint(tx, 10)+"\n")
}

// testSampler is a Sampler on a copy of the minimal host, monitoring
// enp2s0, with a test clock and a ticker the test drives: tick returns
// once the sample of that tick has been taken.
type testSampler struct {
	*Sampler
	root  string
	clock *clock
	tick  func()
}

func newTestSampler(t *testing.T) *testSampler {
	t.Helper()
	root := copyHost(t, "minimal")
	c := &clock{t: t0}
	s := NewSampler(Options{Root: root, Interfaces: []string{"enp2s0"}, Now: c.now})
	ticks := make(chan time.Time)
	done := make(chan struct{})
	s.sampled = func() { done <- struct{}{} }
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		s.run(ctx, ticks)
	}()
	t.Cleanup(func() {
		cancel()
		<-stopped
	})
	return &testSampler{Sampler: s, root: root, clock: c, tick: func() {
		ticks <- c.t // the value is ignored: the sample is stamped by the clock
		<-done
	}}
}

func TestSamplerRates(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	// One step moves the clock, optionally sets enp2s0's byte counters,
	// then either ticks or reads (and compares the reading's At and rates).
	type step struct {
		advance time.Duration
		rx, tx  uint64 // counters to write; 0 and 0 writes nothing
		tick    bool
		reader  string // who reads, for the failure message
		wantAt  time.Duration
		wantRx  *float64
		wantTx  *float64
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{
			name: "a scrape just before a dashboard poll leaves the poll the ticker's rate",
			steps: []step{
				{rx: 1000, tx: 1000, tick: true},
				{advance: time.Second, rx: 3000, tx: 1500, tick: true},
				{advance: 900 * time.Millisecond, rx: 3200, tx: 1600, reader: "prometheus", wantAt: time.Second, wantRx: f(2000), wantTx: f(500)},
				{advance: 10 * time.Millisecond, reader: "dashboard", wantAt: time.Second, wantRx: f(2000), wantTx: f(500)},
				{advance: 5 * time.Millisecond, reader: "prometheus", wantAt: time.Second, wantRx: f(2000), wantTx: f(500)},
				{advance: 85 * time.Millisecond, tick: true},
				{reader: "dashboard", wantAt: 2 * time.Second, wantRx: f(200), wantTx: f(100)},
				{advance: time.Millisecond, reader: "prometheus", wantAt: 2 * time.Second, wantRx: f(200), wantTx: f(100)},
			},
		},
		{
			name: "the rate spans the time that really passed between the ticks",
			steps: []step{
				{rx: 1000, tx: 1000, tick: true},
				// The ticker runs every second, but this tick came 1.5 s late.
				{advance: 2500 * time.Millisecond, rx: 6000, tx: 1000, tick: true},
				{reader: "dashboard", wantAt: 2500 * time.Millisecond, wantRx: f(2000), wantTx: f(0)},
				{advance: 250 * time.Millisecond, rx: 6500, tx: 1100, tick: true},
				{reader: "dashboard", wantAt: 2750 * time.Millisecond, wantRx: f(2000), wantTx: f(400)},
			},
		},
		{
			name: "before the first tick one Read samples and the others share it",
			steps: []step{
				{rx: 1000, tx: 1000, reader: "dashboard", wantAt: 0},
				{advance: 300 * time.Millisecond, rx: 2000, tx: 2000, reader: "prometheus", wantAt: 0},
				{advance: 700 * time.Millisecond, rx: 3000, tx: 1500, tick: true},
				{reader: "dashboard", wantAt: time.Second, wantRx: f(2000), wantTx: f(500)},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestSampler(t)
			for i, st := range tc.steps {
				s.clock.advance(st.advance)
				if st.rx != 0 || st.tx != 0 {
					setCounters(t, s.root, st.rx, st.tx)
				}
				if st.tick {
					s.tick()
					continue
				}
				got, err := s.Read(context.Background())
				if err != nil {
					t.Fatalf("step %d (%s): Read: %v", i, st.reader, err)
				}
				if want := t0.Add(st.wantAt); !got.At.Equal(want) {
					t.Errorf("step %d (%s): At = %v, want %v", i, st.reader, got.At, want)
				}
				if len(got.Interfaces) != 1 {
					t.Fatalf("step %d (%s): interfaces %+v", i, st.reader, got.Interfaces)
				}
				it := got.Interfaces[0]
				if diff := cmp.Diff([]*float64{st.wantRx, st.wantTx}, []*float64{it.RxRate, it.TxRate}); diff != "" {
					t.Errorf("step %d (%s): rx, tx rates (-want +got):\n%s", i, st.reader, diff)
				}
			}
		})
	}
}

// TestSamplerConcurrentReaders has readers poll as fast as they can while
// the ticker samples counters that grow 1000 bytes a second: whatever the
// interleaving, every rate they see is the ticker's. Run with -race: a
// reader that sampled would also race with the test writing the counters.
func TestSamplerConcurrentReaders(t *testing.T) {
	s := newTestSampler(t)
	setCounters(t, s.root, 1000, 1000)
	if _, err := s.Read(context.Background()); err != nil {
		t.Fatal(err)
	}
	const ticks = 50
	var (
		stop   = make(chan struct{})
		wg     sync.WaitGroup
		mu     sync.Mutex
		seen   = map[float64]int{}
		errs   []error
		record = func(v float64, err error) {
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			seen[v]++
		}
	)
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				snap, err := s.Read(context.Background())
				if err == nil && snap.Interfaces[0].RxRate != nil {
					record(*snap.Interfaces[0].RxRate, nil)
				} else if err != nil {
					record(0, err)
				}
			}
		})
	}
	for i := range ticks {
		s.clock.advance(time.Second)
		setCounters(t, s.root, uint64(2000+1000*i), 1000)
		s.tick()
	}
	close(stop)
	wg.Wait()
	for _, err := range errs {
		t.Errorf("Read: %v", err)
	}
	for v, n := range seen {
		if v != 1000 {
			t.Errorf("%d reads saw %v B/s, want only 1000 B/s", n, v)
		}
	}
	t.Logf("rates seen: %v", seen)
}

func TestSamplerFailedSample(t *testing.T) {
	s := newTestSampler(t)
	setCounters(t, s.root, 1000, 1000)
	s.tick()
	loadavg := filepath.Join(s.root, "proc", "loadavg")
	good, err := os.ReadFile(loadavg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(loadavg); err != nil {
		t.Fatal(err)
	}
	s.clock.advance(time.Second)
	s.tick()
	if _, err := s.Read(context.Background()); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Read after a failed sample: err = %v, want the sample's not-exist error", err)
	}
	// The next good sample takes its rate from the last good one.
	if err := os.WriteFile(loadavg, good, 0o644); err != nil {
		t.Fatal(err)
	}
	s.clock.advance(time.Second)
	setCounters(t, s.root, 5000, 1000)
	s.tick()
	got, err := s.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ptr(2000.0), got.Interfaces[0].RxRate); diff != "" {
		t.Errorf("rx rate after recovery (-want +got):\n%s", diff)
	}
}

func TestSamplerReadCanceled(t *testing.T) {
	s := newTestSampler(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Read(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Read with a canceled context: err = %v, want context.Canceled", err)
	}
	// A tick that lands as Run's context ends reads nothing either.
	if err := s.take(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("take with a canceled context: err = %v, want context.Canceled", err)
	}
	// Neither left a sample behind: the next Read takes its own.
	s.clock.advance(time.Second)
	got, err := s.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want := t0.Add(time.Second); !got.At.Equal(want) {
		t.Errorf("At = %v, want %v", got.At, want)
	}
}

// TestSamplerRun runs the real ticker on the real clock until a tick gave
// a rate (over the first Read's sample or an earlier tick's), then stops
// it.
func TestSamplerRun(t *testing.T) {
	s := NewSampler(Options{Root: hostRoot(t, "router"), Interfaces: []string{"enp2s0"}})
	if err := s.Run(context.Background(), 0); err == nil {
		t.Error("Run with a zero period: want an error")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, time.Millisecond) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		snap, err := s.Read(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if snap.Interfaces[0].RxRate != nil {
			break // the fixture does not grow: 0 B/s over two ticker samples
		}
		if time.Now().After(deadline) {
			t.Fatal("no rate from the ticker within 10 s")
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run after cancel: %v", err)
	}
}
