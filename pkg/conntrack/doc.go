// Package conntrack reads the Linux connection-tracking table as printed by
// conntrack-tools 1.4.7 (`conntrack -L -o extended`, plain `conntrack -L`,
// `conntrack -E` events and /proc/net/nf_conntrack) and turns each line into
// a typed Entry.
//
// The package is pure vocabulary and parsing (ParseLine, Parse, over a
// small hand-written lexer) plus two sources of whole tables: Snapshot runs
// the conntrack command through an injectable Runner, FileSource replays
// saved output. It knows nothing of SQL, HTTP, configuration or logging.
package conntrack
