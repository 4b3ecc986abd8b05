package alert

import (
	"fmt"
	"time"
)

// HealthReport is the input "ingest health": OK, or failing since a
// time with an error. The integrator (cmd/netmon) reports the ingest
// loop's status every interval; reports that repeat cost nothing.
type HealthReport struct {
	At           time.Time
	OK           bool
	FailingSince time.Time // the first failure after the last success (when !OK)
	Err          string    // the last error (when !OK)
}

// failState is the health rule's memory: the failure an IngestFailing
// was raised for.
type failState struct {
	since   time.Time
	alerted bool
}

// HealthSeen is the input "ingest health": a failure that lasted the
// rule's After raises IngestFailing once; the first report of health
// after it (in this process or, remembered, after a restart) raises
// IngestRecovered. It never blocks.
func (e *Engine) HealthSeen(h HealthReport) {
	e.mu.Lock()
	defer e.mu.Unlock()
	r := &e.rules.Health
	if !r.Enabled {
		return
	}
	switch {
	case h.OK && e.failing.alerted:
		if !e.room(2) {
			return
		}
		since := e.failing.since
		e.failing = failState{}
		e.queue.Forget = append(e.queue.Forget, Memory{Kind: MemHealth, Key: "failing"})
		e.raise(Alert{
			ID:       idOf(IngestRecovered, since.UTC().Format(time.RFC3339Nano)),
			Kind:     IngestRecovered,
			Severity: Info,
			At:       h.At,
			Title:    "netmon ingest recovered",
			Message: fmt.Sprintf("Ingest works again, after failing from %s to %s (%s).",
				since.Format(time.RFC3339), h.At.Format(time.RFC3339), h.At.Sub(since).Round(time.Second)),
			Health: &HealthState{FailingSince: since},
		}, e.rules.sinksOr(r.Sinks))
	case !h.OK && !e.failing.alerted && !h.FailingSince.IsZero() && h.At.Sub(h.FailingSince) >= r.After:
		if !e.room(2) {
			return
		}
		e.failing = failState{since: h.FailingSince, alerted: true}
		e.raise(Alert{
			ID:       idOf(IngestFailing, h.FailingSince.UTC().Format(time.RFC3339Nano)),
			Kind:     IngestFailing,
			Severity: Critical,
			At:       h.At,
			Title:    "netmon ingest failing since " + h.FailingSince.Format(time.DateTime),
			Message: fmt.Sprintf("Ingest has failed for %s (since %s); the traffic meanwhile is not recorded. Last error: %s",
				h.At.Sub(h.FailingSince).Round(time.Second), h.FailingSince.Format(time.RFC3339), h.Err),
			Health: &HealthState{FailingSince: h.FailingSince, Error: h.Err},
		}, e.rules.sinksOr(r.Sinks), Memory{Kind: MemHealth, Key: "failing", At: h.FailingSince})
	}
}
