package store

// CycleResult counts what one reconcile cycle changed.
type CycleResult struct {
	NewHosts int // remote hosts seen for the first time
	Opened   int // connections inserted or reopened (a tuple that came back, or whose counters went down)
	Updated  int // active connections whose counters or state changed
	Closed   int // connections that left the table this cycle
	Pruned   int // closed connections deleted for being older than the retention
	// Duplicates counts flows of the snapshot whose tuple an earlier flow
	// of the same snapshot already had (conntrack zones); they were merged
	// into it by summing counters.
	Duplicates int
	// RowsWritten is the number of rows inserted, updated or deleted: the
	// flash-wear figure (0 for a repeated identical snapshot but for the
	// one bookkeeping row).
	RowsWritten int
}
