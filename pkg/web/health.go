package web

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// healthFactor is how many ingest intervals may pass without a successful
// cycle before the server reports itself unhealthy.
const healthFactor = 3

// ingestJSON is the ingest loop's state as /healthz and /metrics.json
// show it.
type ingestJSON struct {
	Healthy bool   `json:"healthy"`
	Reason  string `json:"reason,omitempty"`
	// LastCycleAt is the last successful cycle ("" before the first).
	LastCycleAt string `json:"last_cycle_at,omitempty"`
	Cycles      int64  `json:"cycles"`
	// Errors is the failed cycles of the ingest process, known when it
	// runs in this process or records its counters (Options.Counters);
	// LastError only when it runs in this process.
	Errors    *int64 `json:"errors,omitempty"`
	LastError string `json:"last_error,omitempty"`
	InProcess bool   `json:"in_process"`
	// Events is what the DESTROY events beside the polls did, when they
	// are on and the counters are known. A loss does not make ingest
	// unhealthy (the next poll reconciles), but it is never hidden.
	Events *eventsJSON `json:"events,omitempty"`

	last time.Time // the last successful cycle, for Prometheus
	err  error     // why the database could not tell, for Prometheus
}

// eventsJSON is /healthz's and /metrics.json's view of the events.
type eventsJSON struct {
	Listening bool   `json:"listening"`
	Received  uint64 `json:"received"`
	Folded    uint64 `json:"folded"`
	// Lost counts the events that may be missing from the totals:
	// receive-buffer overruns (each may be many events), events dropped
	// while too many waited, and undecodable ones.
	Lost uint64 `json:"lost"`
}

func newEventsJSON(e EventCounters) *eventsJSON {
	if !e.Enabled {
		return nil
	}
	return &eventsJSON{Listening: e.Listening, Received: e.Received, Folded: e.Folded,
		Lost: e.Overruns + e.Dropped + e.Undecoded}
}

// ingestState says whether ingest is keeping up: the last successful cycle
// must be at most healthFactor intervals old. Without an in-process loop
// the database's last cycle stands in for it.
func (s *server) ingestState(ctx context.Context) ingestJSON {
	var (
		v    ingestJSON
		last time.Time
	)
	if s.health != nil {
		st := s.health.IngestStatus()
		last = st.LastOK
		errs := st.Errors
		v = ingestJSON{Cycles: st.Cycles, Errors: &errs, InProcess: true}
		if st.LastErr != nil {
			v.LastError = st.LastErr.Error()
		}
	} else {
		t, cycles, err := s.store.LastCycle(ctx)
		if err != nil {
			s.log.Error("health: read last cycle", "err", err)
			return ingestJSON{Reason: "cannot read the last ingest cycle from the database", err: err}
		}
		last, v.Cycles = t, cycles
		if s.counters != nil {
			if n, err := s.counters.IngestCounters(ctx); err == nil {
				v.Errors = &n.FailedCycles
				v.Events = newEventsJSON(n.Events)
			}
		}
	}
	if v.InProcess && s.counters != nil {
		if n, err := s.counters.IngestCounters(ctx); err == nil {
			v.Events = newEventsJSON(n.Events)
		}
	}
	if last.IsZero() {
		v.Reason = "no successful ingest cycle yet"
		return v
	}
	v.LastCycleAt, v.last = formatTime(last), last
	limit := healthFactor * s.interval
	if age := s.now().Sub(last); age > limit {
		v.Reason = fmt.Sprintf("last successful ingest cycle %s ago, more than %d intervals (%s)",
			age.Round(time.Millisecond), healthFactor, limit)
		if v.LastError != "" {
			v.Reason += "; last error: " + v.LastError
		}
		return v
	}
	v.Healthy = true
	return v
}

// healthJSON is the body of /healthz.
type healthJSON struct {
	Status string `json:"status"` // "ok" or "unhealthy"
	ingestJSON
}

// healthz serves GET /healthz: 200 while ingest keeps up, 503 with the
// reason otherwise.
func (s *server) healthz(w http.ResponseWriter, r *http.Request) {
	if _, err := query(r); err != nil {
		s.writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	v := s.ingestState(r.Context())
	if !v.Healthy {
		s.writeJSON(w, http.StatusServiceUnavailable, healthJSON{Status: "unhealthy", ingestJSON: v})
		return
	}
	s.writeJSON(w, http.StatusOK, healthJSON{Status: "ok", ingestJSON: v})
}
