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
// concurrent goroutines, each waiting for its previous response. With
// every = 0 each worker sends its next request at once (a closed loop that
// saturates the server: latency is then mostly time spent queueing behind
// the other workers). With every > 0 each worker sends one request per
// interval, like a dashboard polling, the workers' schedules spread evenly
// over the interval; a request sent late because the previous one was slow
// is timed from when it should have been sent, so a stall is not hidden
// by the requests it delayed. It stops early when ctx ends.
func load(ctx context.Context, client *http.Client, url string, workers, perWorker int, every time.Duration) LoadResult {
	var (
		mu  sync.Mutex
		res LoadResult
		wg  sync.WaitGroup
	)
	start := time.Now()
	for w := range workers {
		wg.Go(func() {
			offset := every * time.Duration(w) / time.Duration(workers)
			for i := range perWorker {
				due := start.Add(offset + every*time.Duration(i))
				if wait := time.Until(due); wait > 0 {
					select {
					case <-ctx.Done():
					case <-time.After(wait):
					}
				}
				if ctx.Err() != nil {
					return
				}
				if every == 0 {
					due = time.Now()
				}
				d, n, err := get(ctx, client, url, due)
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

// get fetches url and reads the whole body, returning the time from
// start to the last byte and the body size.
func get(ctx context.Context, client *http.Client, url string, start time.Time) (time.Duration, int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, 0, fmt.Errorf("new request: %w", err)
	}
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
