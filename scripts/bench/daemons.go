package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"
)

// loop runs `ingest-loop --interval 1s` over a capture of 10,000 outbound
// flows into st (already holding them, so every cycle is steady state)
// and measures its CPU and writes over a window that starts after two
// cycles. The window is shorter than the commit interval.
func (e *env) loop(ctx context.Context, capture string, st stores) ([]Row, error) {
	if st.db == "" {
		return nil, errors.New("needs the stores of ingest-once 10000")
	}
	d, err := startDaemon(append([]string{e.Netmon, "ingest-loop", "--input-file", capture, "--interval", "1s", "--log-level", "debug"}, st.args()...)...)
	if err != nil {
		return nil, err
	}
	a, b, err := d.window(ctx, 2, e.window)
	if stopErr := d.stop(); err == nil {
		err = stopErr
	}
	if err != nil {
		return nil, fmt.Errorf("ingest-loop: %w", err)
	}
	share, cycles := cpuShare(a, b), b.Cycles-a.Cycles
	return []Row{{
		What: fmt.Sprintf("ingest-loop --interval 1s, 10,000 active flows replayed, state on tmpfs, %s window", b.At.Sub(a.At).Round(time.Second)),
		Netmon: fmt.Sprintf("%.2f%% of one core; %d cycles; wchar %s/cycle (live state), flash (write_bytes) %s in all; RSS %s at the end",
			100*share, cycles, size((b.WChar-a.WChar)/int64(max(cycles, 1))), size(b.WriteBytes-a.WriteBytes), size(b.RSS)),
		Ratio:   fmt.Sprintf("%.2f of the 5%% budget", share/0.05),
		PeakRSS: size(b.HWM),
		Target:  "< 5% of one core",
		Result:  verdict(share < 0.05 && cycles > 0),
	}}, nil
}

// Serve load: clients concurrent loopback clients; in the paced load each
// asks for the dashboard's list every pollEvery: 8 clients at 20 Hz each
// is 160 requests/s, far more than the browsers a home router serves (one
// poll per second each). Serve admits one unlimited listing at a time, so
// the full list has one client.
const (
	clients   = 8
	pollEvery = 50 * time.Millisecond
)

// serve starts `serve --ingest=false` over st (its live state holding
// 100,000 active flows) and loads /connections.json?limit=200, paced and
// saturated, and the full list, from concurrent loopback clients.
func (e *env) serve(ctx context.Context, st stores) (rows []Row, err error) {
	if st.db == "" {
		return nil, errors.New("needs the stores of ingest-once 100000")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("find a free port: %w", err)
	}
	addr := l.Addr().String()
	l.Close()
	d, err := startDaemon(append([]string{e.Netmon, "serve", "--ingest=false", "--bind", addr}, st.args()...)...)
	if err != nil {
		return nil, err
	}
	defer func() {
		if stopErr := d.stop(); err == nil && stopErr != nil {
			err = fmt.Errorf("serve: %w", stopErr)
		}
	}()
	client := &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	base := "http://" + addr + "/connections.json"
	if n, err := waitServer(ctx, client, base+"?limit=1"); err != nil || n != "100000" {
		return nil, fmt.Errorf("server has %q active flows, want 100000: %w", n, err)
	}
	small := base + "?limit=200"
	load(ctx, client, small, clients, 2, 0) // warm the page cache and the connections
	var s [3]procSample
	var res [3]LoadResult
	for i, l := range []struct {
		url             string
		workers, perWkr int
		every           time.Duration
	}{{small, clients, e.polls, pollEvery}, {small, clients, e.polls, 0}, {base, 1, e.full, 0}} {
		if s[i], err = d.sample(); err != nil {
			return nil, err
		}
		if res[i] = load(ctx, client, l.url, l.workers, l.perWkr, l.every); res[i].Errors > 0 {
			return nil, fmt.Errorf("%d failed requests, first: %w", res[i].Errors, res[i].FirstErr)
		}
	}
	after, err := d.sample()
	if err != nil {
		return nil, err
	}
	paced, sat, full := res[0], res[1], res[2]
	p99 := paced.P(99)
	return []Row{
		{
			What: fmt.Sprintf("serve --ingest=false /connections.json?limit=200, 100,000 active in the live state (tmpfs), %d clients each polling every %s, %d requests",
				clients, pollEvery, len(paced.Latencies)),
			Netmon: fmt.Sprintf("p50 %s, p99 %s, max %s; %s/response; server CPU %.0f%% of one core",
				ms(paced.P(50)), ms(p99), ms(paced.P(100)), size(paced.Bytes), 100*cpuShare(s[0], s[1])),
			Ratio:   fmt.Sprintf("p99 %.2f of 20 ms", p99.Seconds()/0.020),
			PeakRSS: size(s[1].HWM),
			Target:  "p99 < 20 ms",
			Result:  verdict(p99 < 20*time.Millisecond && len(paced.Latencies) > 0),
		},
		{
			What: fmt.Sprintf("serve /connections.json?limit=200, %d clients in a closed loop (saturated), %d requests", clients, len(sat.Latencies)),
			Netmon: fmt.Sprintf("%.0f req/s; p50 %s, p99 %s (queueing behind %d clients)",
				float64(len(sat.Latencies))/sat.Wall.Seconds(), ms(sat.P(50)), ms(sat.P(99)), clients-1),
		},
		{
			What:    fmt.Sprintf("serve /connections.json (all 100,000 rows), 1 clients in a closed loop, %d requests", len(full.Latencies)),
			Netmon:  fmt.Sprintf("p50 %s, p99 %s; %s/response", ms(full.P(50)), ms(full.P(99)), size(full.Bytes)),
			PeakRSS: size(after.HWM),
		},
	}, nil
}

// waitServer polls url for up to 30 s until it answers 200 and returns
// its X-Total-Count header.
func waitServer(ctx context.Context, client *http.Client, url string) (string, error) {
	for deadline := time.Now().Add(30 * time.Second); ; {
		_, h, err := get(ctx, client, url)
		if err == nil {
			return h.Get("X-Total-Count"), nil
		}
		if time.Now().After(deadline) || sleep(ctx, 100*time.Millisecond) != nil {
			return "", fmt.Errorf("wait for the server: %w", err)
		}
	}
}

// LoadResult is what a load run saw.
type LoadResult struct {
	// Latencies holds one sorted duration per successful request, from
	// when it was due to the last byte of the body.
	Latencies []time.Duration
	// Errors counts failed requests (transport error or status not 200);
	// FirstErr is the first of them.
	Errors   int
	FirstErr error
	Bytes    int64         // body size of the last successful response
	Wall     time.Duration // time the whole run took
}

// P returns the nearest-rank p-th percentile latency (0 < p <= 100), or 0
// for none.
func (r LoadResult) P(p float64) time.Duration {
	if len(r.Latencies) == 0 {
		return 0
	}
	rank := int(p/100*float64(len(r.Latencies)) + 0.999999999)
	return r.Latencies[min(max(rank, 1), len(r.Latencies))-1]
}

// load sends workers*perWorker GET requests to url from workers
// concurrent goroutines, each waiting for its previous response. With
// every = 0 each worker sends its next request at once (a closed loop that
// saturates the server: latency is then mostly time spent queueing behind
// the other workers). With every > 0 each worker sends one request per
// interval, like a dashboard polling, the workers' schedules spread evenly
// over the interval; a request sent late because the previous one was slow
// is timed from when it was due, so a stall is not hidden by the requests
// it delayed. It stops early when ctx ends.
func load(ctx context.Context, client *http.Client, url string, workers, perWorker int, every time.Duration) LoadResult {
	var (
		mu  sync.Mutex
		res LoadResult
		wg  sync.WaitGroup
	)
	start := time.Now()
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				due := start.Add(every*time.Duration(w)/time.Duration(workers) + every*time.Duration(i))
				if sleep(ctx, time.Until(due)) != nil {
					return
				}
				if every == 0 {
					due = time.Now()
				}
				n, _, err := get(ctx, client, url)
				d := time.Since(due)
				mu.Lock()
				if err != nil {
					res.Errors++
					res.FirstErr = cmp.Or(res.FirstErr, err)
				} else {
					res.Latencies, res.Bytes = append(res.Latencies, d), n
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	res.Wall = time.Since(start)
	slices.Sort(res.Latencies)
	return res
}

// get fetches url and reads the whole body, returning its size.
func get(ctx context.Context, client *http.Client, url string) (int64, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, fmt.Errorf("new request: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("get %s: %w", url, err)
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("status %d", resp.StatusCode)
	}
	if err != nil {
		return 0, nil, fmt.Errorf("get %s: %w", url, err)
	}
	return n, resp.Header, nil
}
