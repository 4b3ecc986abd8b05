package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// The fetch and udp commands make the traffic of the end-of-flow scenarios
// (scripts/e2e-events.sh): many short downloads from chosen source ports,
// closed by FIN or RST, reset mid-transfer, paced; and many short UDP
// exchanges. Every count, size and duration is bounded by its flag.

// fetchPlan is what `labtraffic fetch` does.
type fetchPlan struct {
	src     netip.Addr
	dst     netip.AddrPort
	n       int           // downloads
	size    uint64        // bytes asked for each
	ports   portPicker    // source port of each
	rst     bool          // close with RST (SO_LINGER 0) instead of FIN
	resetAt uint64        // close (RST) after this many bytes; 0: read all
	rate    int64         // bytes/s to read at; 0: as fast as possible
	gap     time.Duration // between two downloads of one worker
	spread  time.Duration // spread the starts evenly over this long
	workers int
	timeout time.Duration
}

// portPicker picks each download's source port: 0 (the kernel's choice),
// one fixed port, or random ones from a range (so tuples come back, as
// with clients that bind first or randomise ports).
type portPicker struct {
	lo, hi uint16
}

// parsePorts reads "any", "40001" or "random:40000-40029".
func parsePorts(s string) (portPicker, error) {
	switch {
	case s == "any":
		return portPicker{}, nil
	case strings.HasPrefix(s, "random:"):
		lo, hi, ok := strings.Cut(strings.TrimPrefix(s, "random:"), "-")
		a, err1 := strconv.ParseUint(lo, 10, 16)
		b, err2 := strconv.ParseUint(hi, 10, 16)
		if !ok || err1 != nil || err2 != nil || a == 0 || b < a {
			return portPicker{}, fmt.Errorf("ports %q: want random:LO-HI", s)
		}
		return portPicker{uint16(a), uint16(b)}, nil
	}
	p, err := strconv.ParseUint(s, 10, 16)
	if err != nil || p == 0 {
		return portPicker{}, fmt.Errorf("ports %q: want any, a port, or random:LO-HI", s)
	}
	return portPicker{uint16(p), uint16(p)}, nil
}

func (p portPicker) pick(r *rand.Rand) uint16 {
	if p.lo == 0 {
		return 0
	}
	return p.lo + uint16(r.IntN(int(p.hi-p.lo)+1))
}

// fetchResult sums what the downloads carried (payload, not IP bytes).
type fetchResult struct {
	mu          sync.Mutex
	ok, failed  int
	read        uint64
	firstErrors []string
}

func (r *fetchResult) add(n uint64, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.read += n
	if err != nil {
		r.failed++
		if len(r.firstErrors) < 3 {
			r.firstErrors = append(r.firstErrors, err.Error())
		}
		return
	}
	r.ok++
}

func runFetch(ctx context.Context, args []string, logger *log.Logger, stderr io.Writer) error {
	fs := flag.NewFlagSet("fetch", flag.ContinueOnError)
	fs.SetOutput(stderr)
	src := fs.String("src", "", "LAN source address (required)")
	dst := fs.String("dst", "", "server host:port (required)")
	n := fs.Int("n", 1, "downloads (at most 10000)")
	size := fs.Uint64("size", 100_000, "bytes per download")
	ports := fs.String("ports", "any", "source ports: any, PORT, or random:LO-HI")
	closeBy := fs.String("close", "fin", "how the client closes: fin or rst")
	resetAt := fs.Uint64("reset-after", 0, "reset (RST) after reading this many bytes; 0 reads everything")
	rate := fs.Int64("rate", 0, "read at most this many bytes/s per download (0: unpaced)")
	gap := fs.Duration("gap", 0, "pause between two downloads of a worker")
	spread := fs.Duration("spread", 0, "spread the starts evenly over this long")
	workers := fs.Int("workers", 1, "downloads at once (at most 64)")
	timeout := fs.Duration("timeout", 30*time.Second, "bound on one download")
	if err := fs.Parse(args); err != nil {
		return err
	}
	p := fetchPlan{n: *n, size: *size, rst: *closeBy == "rst", resetAt: *resetAt, rate: *rate,
		gap: *gap, spread: *spread, workers: *workers, timeout: *timeout}
	var err error
	if p.src, err = netip.ParseAddr(*src); err != nil {
		return fmt.Errorf("%w: -src: %v", errUsage, err)
	}
	if p.dst, err = netip.ParseAddrPort(*dst); err != nil {
		return fmt.Errorf("%w: -dst: %v", errUsage, err)
	}
	if p.ports, err = parsePorts(*ports); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	switch {
	case p.n < 1 || p.n > 10000, p.workers < 1 || p.workers > 64, p.size > MaxDownload, p.timeout <= 0:
		return fmt.Errorf("%w: fetch needs 1-10000 downloads, 1-64 workers, a size up to %d and a timeout", errUsage, MaxDownload)
	case *closeBy != "fin" && *closeBy != "rst":
		return fmt.Errorf("%w: -close is fin or rst", errUsage)
	}
	res := p.run(ctx)
	logger.Printf("fetch %s -> %s: %d ok, %d failed, %d bytes read %v", p.src, p.dst, res.ok, res.failed, res.read, res.firstErrors)
	if res.ok == 0 {
		return fmt.Errorf("no download succeeded: %v", res.firstErrors)
	}
	return nil
}

// run makes the downloads; failures are counted, not fatal (a reset
// transfer, a port still in use).
func (p fetchPlan) run(ctx context.Context) *fetchResult {
	res := &fetchResult{}
	jobs := make(chan int)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range p.workers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), uint64(start.UnixNano())))
			for i := range jobs {
				if p.spread > 0 {
					at := start.Add(p.spread * time.Duration(i) / time.Duration(p.n))
					if !sleepCtx(ctx, time.Until(at)) {
						return
					}
				}
				n, err := p.one(ctx, p.ports.pick(r))
				res.add(n, err)
				if p.gap > 0 && !sleepCtx(ctx, p.gap) {
					return
				}
			}
		})
	}
	for i := range p.n {
		select {
		case jobs <- i:
		case <-ctx.Done():
		}
	}
	close(jobs)
	wg.Wait()
	return res
}

// one makes one download from source port sport (0: any) and returns the
// payload bytes it read.
func (p fetchPlan) one(ctx context.Context, sport uint16) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	d := net.Dialer{
		LocalAddr: &net.TCPAddr{IP: p.src.AsSlice(), Port: int(sport)},
		// Bind a port another download just released.
		Control: func(_, _ string, c syscall.RawConn) error {
			var serr error
			err := c.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
				if serr == nil && p.rate > 0 {
					// A small window makes the server follow the pace.
					serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 32<<10)
				}
			})
			return errors.Join(err, serr)
		},
	}
	conn, err := d.DialContext(ctx, "tcp", p.dst.String())
	if err != nil {
		return 0, fmt.Errorf("dial from port %d: %w", sport, err)
	}
	tc := conn.(*net.TCPConn)
	defer func() {
		if p.rst || p.resetAt > 0 {
			tc.SetLinger(0) // close sends RST
		}
		tc.Close()
	}()
	stop := context.AfterFunc(ctx, func() { tc.SetDeadline(time.Now()) })
	defer stop()
	if _, err := tc.Write(requestLine(p.size)); err != nil {
		return 0, fmt.Errorf("send request: %w", err)
	}
	want := p.size
	if p.resetAt > 0 && p.resetAt < want {
		want = p.resetAt
	}
	return p.read(ctx, tc, want)
}

// read reads want bytes, paced at p.rate.
func (p fetchPlan) read(ctx context.Context, r io.Reader, want uint64) (uint64, error) {
	buf := make([]byte, 16<<10)
	var got uint64
	start := time.Now()
	for got < want {
		chunk := buf[:min(uint64(len(buf)), want-got)]
		n, err := r.Read(chunk)
		got += uint64(n)
		if err != nil {
			return got, fmt.Errorf("read after %d of %d bytes: %w", got, want, err)
		}
		if p.rate > 0 {
			due := start.Add(time.Duration(float64(got) / float64(p.rate) * float64(time.Second)))
			if !sleepCtx(ctx, time.Until(due)) {
				return got, ctx.Err()
			}
		}
	}
	return got, nil
}

// sleepCtx sleeps d (nothing if d <= 0); false if ctx ended first.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func runUDP(ctx context.Context, args []string, logger *log.Logger, stderr io.Writer) error {
	fs := flag.NewFlagSet("udp", flag.ContinueOnError)
	fs.SetOutput(stderr)
	src := fs.String("src", "", "LAN source address (required)")
	dst := fs.String("dst", "", "echo server host:port (required)")
	n := fs.Int("n", 1, "flows, each from its own source port (at most 10000)")
	count := fs.Int("datagrams", 3, "datagrams per flow, each answered (at most 100)")
	size := fs.Int("size", 500, "bytes per datagram (at most 1400)")
	spread := fs.Duration("spread", 0, "spread the flows evenly over this long")
	timeout := fs.Duration("timeout", 2*time.Second, "bound on one answer")
	if err := fs.Parse(args); err != nil {
		return err
	}
	s, err1 := netip.ParseAddr(*src)
	d, err2 := netip.ParseAddrPort(*dst)
	if err1 != nil || err2 != nil || *n < 1 || *n > 10000 || *count < 1 || *count > 100 || *size < 1 || *size > 1400 {
		return fmt.Errorf("%w: udp needs -src, -dst, 1-10000 flows of 1-100 datagrams of 1-1400 bytes", errUsage)
	}
	c := &client{timeout: *timeout}
	start := time.Now()
	ok, failed := 0, 0
	for i := range *n {
		if *spread > 0 && !sleepCtx(ctx, time.Until(start.Add(*spread*time.Duration(i)/time.Duration(*n)))) {
			break
		}
		if _, err := c.echo(ctx, s, d, *size, *count); err != nil {
			failed++
			continue
		}
		ok++
	}
	logger.Printf("udp %s -> %s: %d flows ok, %d failed", s, d, ok, failed)
	if ok == 0 {
		return errors.New("no UDP flow was answered")
	}
	return nil
}
