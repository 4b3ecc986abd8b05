package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"
)

// serve starts `serve --ingest=false` over db (holding 100,000 active
// flows) and loads /connections.json?limit=200 and the full list from
// concurrent loopback clients.
func (e *env) serve(ctx context.Context, db string) ([]Row, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	d, err := startDaemon([]string{e.Netmon, "serve", "--ingest=false", "--db", db, "--bind", addr})
	if err != nil {
		return nil, err
	}
	rows, err := e.loadServer(ctx, d, "http://"+addr)
	if stopErr := d.stop(); err == nil {
		err = stopErr
	}
	if err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	return rows, nil
}

// loadServer waits for the server, checks it holds 100,000 active flows,
// and runs the two loads.
func (e *env) loadServer(ctx context.Context, d *daemon, base string) ([]Row, error) {
	client := &http.Client{
		Timeout:   2 * time.Minute,
		Transport: &http.Transport{MaxIdleConnsPerHost: e.workers},
	}
	total, err := waitServer(ctx, client, base+"/connections.json?limit=1", 30*time.Second)
	if err != nil {
		return nil, err
	}
	if total != 100_000 {
		return nil, fmt.Errorf("server has %d active flows, want 100000", total)
	}
	small := base + "/connections.json?limit=200"
	load(ctx, client, small, e.workers, 2, 0) // warm the page cache and the connections
	before, err := d.sample()
	if err != nil {
		return nil, err
	}
	paced := load(ctx, client, small, e.workers, e.small, pollEvery)
	mid, err := d.sample()
	if err != nil {
		return nil, err
	}
	saturated := load(ctx, client, small, e.workers, e.small, 0)
	full := load(ctx, client, base+"/connections.json", e.fullWkrs, e.full, 0)
	after, err := d.sample()
	if err != nil {
		return nil, err
	}
	for _, r := range []LoadResult{paced, saturated, full} {
		if r.Errors > 0 {
			return nil, fmt.Errorf("%d failed requests, first: %w", r.Errors, r.FirstErr)
		}
	}
	return serveRows(paced, saturated, full, e.workers, e.fullWkrs, before, mid, after), nil
}

// pollEvery is how often each paced client asks for the dashboard's list:
// 8 clients at 20 Hz each is 160 requests/s, far more than the browsers a
// home router serves (one poll per second each).
const pollEvery = 50 * time.Millisecond

// serveRows turns the three loads into rows: the paced one carries the
// latency target; the saturated one shows throughput and what queueing
// does to latency when clients never pause.
func serveRows(paced, saturated, full LoadResult, workers, fullWorkers int, before, mid, after procSample) []Row {
	p99 := paced.P(99)
	return []Row{
		{
			What: fmt.Sprintf("serve /connections.json?limit=200, 100,000 active, %d clients each polling every %s, %d requests",
				workers, pollEvery, len(paced.Latencies)),
			Netmon: fmt.Sprintf("p50 %s, p99 %s, max %s; %s/response; server CPU %.0f%% of one core",
				ms(paced.P(50)), ms(p99), ms(paced.P(100)), size(paced.Bytes), 100*cpuShare(before, mid)),
			Ratio:   fmt.Sprintf("p99 %.2f of 20 ms", p99.Seconds()/0.020),
			PeakRSS: size(mid.HWM),
			Target:  "p99 < 20 ms",
			Result:  verdict(p99 < 20*time.Millisecond && len(paced.Latencies) > 0),
		},
		{
			What: fmt.Sprintf("serve /connections.json?limit=200, %d clients in a closed loop (saturated), %d requests", workers, len(saturated.Latencies)),
			Netmon: fmt.Sprintf("%.0f req/s; p50 %s, p99 %s (queueing behind %d clients)",
				float64(len(saturated.Latencies))/saturated.Wall.Seconds(), ms(saturated.P(50)), ms(saturated.P(99)), workers-1),
		},
		{
			What: fmt.Sprintf("serve /connections.json (all 100,000 rows), %d clients in a closed loop, %d requests", fullWorkers, len(full.Latencies)),
			Netmon: fmt.Sprintf("p50 %s, p99 %s; %s/response",
				ms(full.P(50)), ms(full.P(99)), size(full.Bytes)),
			PeakRSS: size(after.HWM),
		},
	}
}

// waitServer polls url until it answers 200 and returns its X-Total-Count.
func waitServer(ctx context.Context, client *http.Client, url string, timeout time.Duration) (int, error) {
	deadline := time.Now().Add(timeout)
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return 0, fmt.Errorf("new request: %w", err)
		}
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				n, err := strconv.Atoi(resp.Header.Get("X-Total-Count"))
				if err != nil {
					return 0, fmt.Errorf("X-Total-Count: %w", err)
				}
				return n, nil
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("server not ready after %s: %w", timeout, err)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// freeAddr returns a loopback address with a port nobody listens on now.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}
