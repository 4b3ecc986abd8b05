package store

import (
	"fmt"
	"testing"
	"time"

	"github.com/netmon-dev/netmon/pkg/conntrack"
)

// BenchmarkRecordStatus is a steady cycle with and without the ingest
// counters written in its transaction: what RecordStatus adds to a
// cycle (one UPDATE of one row).
func BenchmarkRecordStatus(b *testing.B) {
	const n = 1_000
	base := synthFlows(n, 0)
	st := IngestStatus{Cycles: 1, Durations: NewHistogram(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)}
	for _, record := range []bool{false, true} {
		b.Run(fmt.Sprintf("record=%v/%d", record, n), func(b *testing.B) {
			prime := func(b *testing.B, db *Live) {
				if record {
					db.RecordStatus(func() IngestStatus { st.Cycles++; return st })
				}
				reconcileOrFail(b, db, time.Unix(0, 0), base)
			}
			benchCycles(b, n, prime, func(int) []conntrack.Entry { return base }, false)
		})
	}
}
