package web

import (
	"net/http"

	"github.com/netmon-dev/netmon/pkg/sysmetrics"
)

// metricsJSON is the body of /metrics.json: the system reading with the
// ingest state beside it, for the dashboard's tiles.
type metricsJSON struct {
	sysmetrics.Snapshot
	Ingest ingestJSON `json:"ingest"`
}

// systemMetrics serves GET /metrics.json.
func (s *server) systemMetrics(w http.ResponseWriter, r *http.Request) {
	if _, err := query(r); err != nil {
		s.writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	snap, err := s.metrics.Read(r.Context())
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, metricsJSON{Snapshot: snap, Ingest: s.ingestState(r.Context())})
}
