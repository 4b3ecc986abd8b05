// Package ingest runs netmon's reconcile cycle: list the conntrack table
// once from a Source, keep the outbound entries a Classifier picks, and
// let the Store range over them while its cycle is open, so a read is never
// held in memory whole. The store returns what the cycle changed (a
// flows.Delta) and the cycle hands it to Observe, where per-cycle
// consumers plug in. Loop repeats the cycle on a ticker without ever
// overlapping two cycles, logs one line per cycle, and keeps a Status for
// health checks and metrics.
//
// The package knows nothing of SQL or HTTP: Source, Classifier and Store are
// small interfaces declared here, satisfied by source.Conntrack or
// source.File, *filter.Filter and *store.Live.
package ingest
