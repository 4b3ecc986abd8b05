package main

import (
	"context"
	"log/slog"
	"net/netip"
	"time"

	"github.com/spf13/pflag"

	"github.com/netmon-dev/netmon/pkg/config"
	"github.com/netmon-dev/netmon/pkg/flows"
	"github.com/netmon-dev/netmon/pkg/ingest"
	"github.com/netmon-dev/netmon/pkg/rates"
	"github.com/netmon-dev/netmon/pkg/store"
)

// addRateFlags adds the flags of the live rates.
func addRateFlags(fs *pflag.FlagSet) {
	def := config.Default()
	fs.Duration("rate-window", def.RateWindow, "rates are the mean over this span (env NETMON_RATE_WINDOW; at most 5m)")
	fs.String("rate-unit", def.RateUnit, "show rates in bits or bytes per second (env NETMON_RATE_UNIT)")
}

// rateUnit is cfg's rate unit; Validate has checked it.
func rateUnit(cfg config.Config) rates.Unit {
	u, _ := rates.ParseUnit(cfg.RateUnit)
	return u
}

// rateWriteTimeout bounds one cycle's write of the rates.
const rateWriteTimeout = 10 * time.Second

// observeRates makes every cycle of in feed a rates tracker and write its
// changes to the live state, after whatever in.Observe already did. A
// failed write is logged once (and its recovery once); the next write
// then stores everything again.
func observeRates(cfg config.Config, in *ingest.Ingester, live *store.Live, logger *slog.Logger) *rates.Tracker {
	tr := rates.New(cfg.RateWindow)
	prev := in.Observe
	failing := false
	in.Observe = func(now time.Time, d *flows.Delta) {
		if prev != nil {
			prev(now, d)
		}
		tr.Add(now, d, deviceOf(in))
		ctx, cancel := context.WithTimeout(context.Background(), rateWriteTimeout)
		defer cancel()
		switch err := live.WriteRates(ctx, tr.Changes()); {
		case err != nil:
			tr.Rewrite()
			if !failing {
				logger.Error("write rates (rates stay as they were until a write succeeds)", "err", err)
			}
			failing = true
		case failing:
			logger.Info("rates written again")
			failing = false
		}
	}
	return tr
}

// deviceOf is the ingester's device function (nil: the tracker's own,
// "ip:ADDR", the same as the ingester's default).
func deviceOf(in *ingest.Ingester) func(netip.Addr) string { return in.Device }
