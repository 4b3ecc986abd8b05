// Package store keeps netmon's durable record in SQLite (modernc.org/sqlite,
// pure Go): the remote hosts LAN machines talk to, and every outbound
// connection with its counters, active or closed. It knows nothing of
// conntrack commands, exec or HTTP: a reconcile cycle takes the outbound
// flows of one snapshot as plain values.
package store
