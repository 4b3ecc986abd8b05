// Package source reads the Linux connection-tracking table: Conntrack runs
// `conntrack -L -o extended` through an injectable Runner, File replays
// saved output (a file, a .gz file, or a directory replayed one file per
// read). Both hand the entries over as a sequence to range over while the
// listing streams in, parsed by pkg/conntrack, so a table is never held in
// memory whole. Reading the table is I/O; this package keeps it apart from
// the vocabulary and the parser.
package source
