// Package ingest runs netmon's reconcile cycle: read one conntrack snapshot
// from a Source, keep the outbound flows a Classifier picks, and hand them
// to a Store one by one as they are read, inside the store's cycle. Loop repeats the cycle on a ticker without ever
// overlapping two cycles, logs one line per cycle, and keeps a Status for
// health checks and metrics.
//
// The package knows nothing of SQL or HTTP: Source, Classifier and Store are
// small interfaces declared here, satisfied by conntrack.Snapshot or
// conntrack.FileSource, *filter.Filter and *store.DB.
package ingest
