package alert

import (
	"fmt"
	"strconv"
	"time"

	"github.com/dustin/go-humanize"
)

// Usage is the input "a device's usage so far": its bytes (uplink plus
// downlink) in the current local day and billing period, as the history
// counts them. Device is a device id, or LAN for the whole LAN. Tally
// keeps these figures from the ingest loop's deltas.
type Usage struct {
	Device  string
	At      time.Time
	Day     Volume
	Billing Volume
}

// Volume is the bytes of one period so far.
type Volume struct {
	Start time.Time // the period's first instant; zero: not known
	Bytes uint64
}

// UsageSeen is the input "usage so far": every quota rule of the device
// (or of the LAN) whose period volume passed a warn level it has not
// warned about in this period raises one alert, for the highest level
// passed (a jump past 80% and 100% at once says 100%). It never blocks.
func (e *Engine) UsageSeen(u Usage) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i := range e.rules.Quotas {
		r := &e.rules.Quotas[i]
		if r.Scope != u.Device || r.Limit == 0 {
			continue
		}
		v := u.Day
		if r.Period == Billing {
			v = u.Billing
		}
		if v.Start.IsZero() {
			continue
		}
		var (
			fresh []Memory
			top   = -1
		)
		for _, level := range r.Warn {
			if !passed(v.Bytes, r.Limit, level) {
				break
			}
			k := quotaKey(r.Name, r.Scope, v.Start, level)
			if e.warned[k] {
				continue
			}
			fresh = append(fresh, Memory{Kind: MemQuota, Key: k, At: u.At})
			top = level
		}
		if top < 0 || !e.room(len(fresh)+1) {
			continue
		}
		for _, m := range fresh {
			e.warned[m.Key] = true
		}
		e.raise(e.quotaAlert(r, u, v, top), e.rules.sinksOr(r.Sinks), fresh...)
	}
}

// passed reports whether used is at least level percent of limit,
// without overflow.
func passed(used, limit uint64, level int) bool {
	return float64(used)*100 >= float64(limit)*float64(level)
}

func quotaKey(rule, scope string, start time.Time, level int) string {
	return rule + "|" + scope + "|" + strconv.FormatInt(start.Unix(), 10) + "|" + strconv.Itoa(level)
}

// quotaAlert builds the alert for rule r passing level. Call with mu held.
func (e *Engine) quotaAlert(r *QuotaRule, u Usage, v Volume, level int) Alert {
	who, sev := "The LAN", Warning
	var dev *Device
	if r.Scope != LAN {
		d := e.seen[r.Scope]
		d.ID = r.Scope
		d.Destinations = nil
		dev, who = &d, d.Label()
	}
	if level >= 100 {
		sev = Critical
	}
	when := "today"
	if r.Period == Billing {
		when = "this billing period"
	}
	return Alert{
		ID:       idOf(Quota, quotaKey(r.Name, r.Scope, v.Start, level)),
		Kind:     Quota,
		Severity: sev,
		At:       u.At,
		Title:    fmt.Sprintf("Quota %s: %s used %d%% of %s %s", r.Name, who, level, humanize.Bytes(r.Limit), when),
		Message: fmt.Sprintf("%s used %s of its %s quota %s (since %s): %d%% passed.",
			who, humanize.Bytes(v.Bytes), humanize.Bytes(r.Limit), when, v.Start.Format(time.RFC3339), level),
		Device: dev,
		Quota: &QuotaState{Rule: r.Name, Scope: r.Scope, Period: r.Period, PeriodStart: v.Start,
			LimitBytes: r.Limit, UsedBytes: v.Bytes, Percent: level},
	}
}
