package main

import (
	"log/slog"

	"github.com/netmon-dev/netmon/pkg/config"
	"github.com/netmon-dev/netmon/pkg/sysmetrics"
)

// accountingOff reports whether the kernel under cfg.FSRoot counts no
// conntrack bytes (nf_conntrack_acct=0), when that matters: a replay
// carries its own counters, and an unknown setting says nothing.
func accountingOff(cfg config.Config) bool {
	if cfg.InputFile != "" {
		return false
	}
	acct := sysmetrics.NewReader(sysmetrics.Options{Root: cfg.FSRoot}).Accounting()
	return acct != nil && !*acct
}

// accountingHint is what to do about it, in one sentence.
const accountingHint = "conntrack byte counting is off (" + sysmetrics.AccountingSysctl + "=0): every byte reads 0; run `" +
	sysmetrics.AccountingFix + "` (the netmon package sets it at boot in " + sysmetrics.AccountingSysctlFile + ")"

// warnAccounting says once, when ingest starts, that the kernel counts no
// bytes.
func warnAccounting(cfg config.Config, logger *slog.Logger) {
	if accountingOff(cfg) {
		logger.Warn(accountingHint, "sysctl", sysmetrics.AccountingSysctl, "fix", sysmetrics.AccountingFix)
	}
}

// accountingFooter is print-outbound's footer line about it ("" when
// accounting is on or unknown, or the table is replayed).
func accountingFooter(cfg config.Config) string {
	if !accountingOff(cfg) {
		return ""
	}
	return "\nwarning: " + accountingHint
}
