// Package source reads the Linux connection-tracking table: Conntrack runs
// `conntrack -L -o extended,id` through an injectable Runner, File replays
// saved output (a file, a .gz file, or a directory replayed one file per
// read). Both hand the entries over as a sequence to range over while the
// listing streams in, parsed by pkg/conntrack, so a table is never held in
// memory whole.
//
// Beside the listings, Listener receives the kernel's DESTROY events (a
// flow's final counters) over netlink, and EventFile replays saved
// `conntrack -E -o extended,id` output as the same events, parsed by the
// same tokenizer. Reading the table is I/O; this package keeps it apart
// from the vocabulary and the parser.
package source
