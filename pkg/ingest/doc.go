// Package ingest runs netmon's reconcile cycle: list the conntrack table
// once from a Source, keep the outbound entries a Classifier picks, and
// let the Store range over them while its cycle is open, so a read is never
// held in memory whole. With an Events source, the DESTROY events received
// up to the end of the read follow it in the same cycle (one writer, one
// transaction per cycle). The store returns what the cycle changed (a
// flows.Delta) and the cycle hands it to Observe, where per-cycle
// consumers plug in. Loop repeats the cycle without ever overlapping two
// cycles, stretching its interval to keep polling within a CPU budget,
// logs one line per cycle, and keeps a Status for health checks and
// metrics.
//
// The package knows nothing of SQL or HTTP: Source, Events, Classifier and
// Store are small interfaces declared here, satisfied by source.Conntrack
// or source.File, source.Listener or source.EventFile, *filter.Filter and
// *store.Live.
package ingest
