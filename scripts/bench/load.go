package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// LoadResult is what a load run saw.
type LoadResult struct {
	// Latencies holds one sorted duration per successful request, from
	// sending it to reading the last byte of the body.
	Latencies []time.Duration
	// Errors counts failed requests (transport error or status not 200);
	// FirstErr is the first of them.
	Errors   int
	FirstErr error
	// Bytes is the body size of the last successful response.
	Bytes int64
	// Wall is the time the whole run took.
	Wall time.Duration
}

// P returns the p-th percentile latency.
func (r LoadResult) P(p float64) time.Duration { return percentile(r.Latencies, p) }

// load sends workers*perWorker GET requests to url from workers
// concurrent goroutines, each waiting for its previous response (a closed
// loop, as browsers polling a dashboard do). It stops early when ctx ends.
func load(ctx context.Context, client *http.Client, url string, workers, perWorker int) LoadResult {
	var (
		mu  sync.Mutex
		res LoadResult
		wg  sync.WaitGroup
	)
	start := time.Now()
	for range workers {
		wg.Go(func() {
			for range perWorker {
				if ctx.Err() != nil {
					return
				}
				d, n, err := get(ctx, client, url)
				mu.Lock()
				if err != nil {
					res.Errors++
					if res.FirstErr == nil {
						res.FirstErr = err
					}
				} else {
					res.Latencies = append(res.Latencies, d)
					res.Bytes = n
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	res.Wall = time.Since(start)
	sortDurations(res.Latencies)
	return res
}

// get fetches url and reads the whole body, returning the time taken and
// the body size.
func get(ctx context.Context, client *http.Client, url string) (time.Duration, int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, 0, fmt.Errorf("new request: %w", err)
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return 0, 0, fmt.Errorf("get %s: %w", url, err)
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	d := time.Since(start)
	if err != nil {
		return 0, 0, fmt.Errorf("read %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return 0, 0, fmt.Errorf("get %s: status %d", url, resp.StatusCode)
	}
	return d, n, nil
}
