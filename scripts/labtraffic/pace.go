package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/netip"
	"os"
	"time"
)

// A paced download (`labtraffic pace`) is a download whose server sends at
// a fixed rate, so that the lab knows what rate netmon must show: the
// server paces itself (a client reading slowly would let the first
// socket buffers' worth arrive at once).

// pacedChunk bounds one write of a paced download.
const pacedChunk = 16 << 10

// sendPaced writes n zero bytes to w, at rate bytes per second (0: as
// fast as w takes them), each chunk when the schedule from the start
// says it is due, so the pace does not drift with the writes' latency.
func sendPaced(ctx context.Context, w io.Writer, n, rate uint64) error {
	if rate == 0 {
		_, err := io.CopyN(w, zeros{}, int64(n))
		return err
	}
	chunk := min(pacedChunk, max(rate/100, 1))
	buf := make([]byte, chunk)
	start := time.Now()
	t := time.NewTimer(0)
	defer t.Stop()
	for sent := uint64(0); sent < n; {
		m := min(chunk, n-sent)
		if _, err := w.Write(buf[:m]); err != nil {
			return err
		}
		sent += m
		due := start.Add(time.Duration(float64(sent) / float64(rate) * float64(time.Second)))
		if wait := time.Until(due); wait > 0 {
			t.Reset(wait)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-t.C:
			}
		}
	}
	return nil
}

// runPace downloads rate × duration bytes from -to, paced by the server
// at rate bytes per second, from the address -from, and closes.
func runPace(ctx context.Context, args []string, logger *log.Logger, stderr io.Writer) error {
	fs := flag.NewFlagSet("pace", flag.ContinueOnError)
	fs.SetOutput(stderr)
	from := fs.String("from", "", "local address to download from (required)")
	to := fs.String("to", "", "download server host:port (required)")
	rate := fs.Uint64("rate", 2_000_000, "bytes per second")
	duration := fs.Duration("duration", 20*time.Second, "how long the download lasts")
	timeout := fs.Duration("timeout", 5*time.Second, "bound on the dial and on each read")
	ready := fs.String("ready", "", "file to create once the first bytes arrived")
	if err := fs.Parse(args); err != nil {
		return err
	}
	src, err := netip.ParseAddr(*from)
	if err != nil {
		return fmt.Errorf("%w: pace needs -from ADDR: %w", errUsage, err)
	}
	dst, err := netip.ParseAddrPort(*to)
	if err != nil {
		return fmt.Errorf("%w: pace needs -to HOST:PORT: %w", errUsage, err)
	}
	if *rate == 0 || *duration <= 0 || *timeout <= 0 {
		return fmt.Errorf("rate, duration and timeout: must be > 0")
	}
	size := uint64(float64(*rate) * duration.Seconds())
	if size > MaxDownload {
		return fmt.Errorf("rate × duration: %d bytes, more than %d", size, MaxDownload)
	}
	d := net.Dialer{Timeout: *timeout, LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(src, 0))}
	conn, err := d.DialContext(ctx, "tcp", dst.String())
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	if _, err := conn.Write(pacedRequestLine(size, *rate)); err != nil {
		return fmt.Errorf("send request: %w", err)
	}
	logger.Printf("%s -> %s: %d bytes at %d B/s", conn.LocalAddr(), dst, size, *rate)
	start := time.Now()
	buf := make([]byte, 64<<10)
	var got uint64
	for got < size {
		if err := conn.SetReadDeadline(time.Now().Add(*timeout)); err != nil {
			return fmt.Errorf("set deadline: %w", err)
		}
		n, err := conn.Read(buf)
		if got == 0 && n > 0 && *ready != "" {
			if err := os.WriteFile(*ready, []byte(conn.LocalAddr().String()+"\n"), 0o644); err != nil {
				return fmt.Errorf("write ready file: %w", err)
			}
		}
		got += uint64(n)
		if err != nil {
			if ctx.Err() != nil {
				logger.Printf("told to stop after %d bytes", got)
				return nil
			}
			if errors.Is(err, io.EOF) {
				break
			}
			return fmt.Errorf("read: %w", err)
		}
	}
	took := time.Since(start)
	if got != size {
		return fmt.Errorf("read %d of %d bytes", got, size)
	}
	logger.Printf("read %d bytes in %s: %.0f B/s", got, took.Round(time.Millisecond), float64(got)/took.Seconds())
	return nil
}
