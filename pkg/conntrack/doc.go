// Package conntrack is netmon's vocabulary for the Linux connection-tracking
// table and its parser: the typed Entry, Tuple, FlowKey, Proto, Status,
// Event and Counters every other layer uses and formats through (a key's
// text, a protocol's name, a flag set), and a hand-written lexer and parser
// for the text conntrack-tools 1.4.7 prints (`conntrack -L -o extended`,
// plain `conntrack -L`, `conntrack -E` events and /proc/net/nf_conntrack).
//
// It is pure: ParseLine and Parse touch no file, process or clock, and the
// package knows nothing of SQL, HTTP, configuration or logging. Running
// conntrack and replaying captures live in pkg/source.
package conntrack
