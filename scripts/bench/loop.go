package main

import (
	"context"
	"fmt"
	"time"
)

// loop runs `ingest-loop --interval 1s` over a capture of 10,000 outbound
// flows into db (already holding them, so every cycle is steady state) and
// measures its CPU and writes over a window that starts after two cycles.
func (e *env) loop(ctx context.Context, capture, db string) ([]Row, error) {
	d, err := startDaemon([]string{e.Netmon, "ingest-loop", "--db", db, "--input-file", capture, "--interval", "1s"})
	if err != nil {
		return nil, err
	}
	a, b, err := e.loopWindow2(ctx, d)
	if stopErr := d.stop(); err == nil {
		err = stopErr
	}
	if err != nil {
		return nil, fmt.Errorf("ingest-loop: %w", err)
	}
	return loopRows(a, b), nil
}

// loopWindow2 returns samples at the start and end of the window.
func (e *env) loopWindow2(ctx context.Context, d *daemon) (procSample, procSample, error) {
	if err := d.waitCycles(ctx, 2, 30*time.Second); err != nil {
		return procSample{}, procSample{}, err
	}
	a, err := d.sample()
	if err != nil {
		return a, a, err
	}
	select {
	case <-ctx.Done():
		return a, a, ctx.Err()
	case <-time.After(e.loopWindow):
	}
	b, err := d.sample()
	return a, b, err
}

// loopRows turns the window's two samples into a row.
func loopRows(a, b procSample) []Row {
	share := cpuShare(a, b)
	cycles := b.Cycles - a.Cycles
	perCycle := int64(0)
	if cycles > 0 {
		perCycle = int64(b.IO.Sub(a.IO).WChar) / int64(cycles)
	}
	return []Row{{
		What: fmt.Sprintf("ingest-loop --interval 1s, 10,000 active flows replayed, %s window", b.At.Sub(a.At).Round(time.Second)),
		Netmon: fmt.Sprintf("%.2f%% of one core; %d cycles; wchar %s/cycle; RSS %s at the end",
			100*share, cycles, size(perCycle), size(b.RSS)),
		Ratio:   fmt.Sprintf("%.2f of the 5%% budget", share/0.05),
		PeakRSS: size(b.HWM),
		Target:  "< 5% of one core",
		Result:  verdict(share < 0.05 && cycles > 0),
	}}
}
