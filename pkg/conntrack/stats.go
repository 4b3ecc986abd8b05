package conntrack

import (
	"errors"
	"fmt"
)

// ErrMalformed is wrapped by every ParseError, for errors.Is.
var ErrMalformed = errors.New("malformed conntrack line")

// ParseError describes a line that produced no entry.
type ParseError struct {
	Line   int    // 1-based line number in the input (0 from ParseLine)
	Column int    // 1-based byte column where the problem starts
	Field  string // the field at fault ("src", "sport", "bytes", ...), or "" for the line as a whole
	Reason string // what is wrong, lower case
}

func (e *ParseError) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("line %d col %d: %s: %s", e.Line, e.Column, e.Field, e.Reason)
	}
	return fmt.Sprintf("line %d col %d: %s", e.Line, e.Column, e.Reason)
}

// Unwrap lets errors.Is(err, ErrMalformed) match.
func (e *ParseError) Unwrap() error { return ErrMalformed }

// MaxKeptErrors bounds Stats.Errors so hostile input cannot grow memory.
const MaxKeptErrors = 10

// Stats counts what a parse of a whole snapshot saw.
type Stats struct {
	Lines   int // non-empty lines read, the trailer excluded
	Entries int // lines that produced an entry
	Skipped int // malformed lines (no entry)
	// Errors holds the first MaxKeptErrors parse errors.
	Errors []*ParseError
	// Reported is N from the stderr trailer "... N flow entries have been
	// shown.", or -1 when no trailer was seen.
	Reported int
}

// TrailerMismatch reports whether conntrack's own count disagrees with
// the number of lines read.
func (s *Stats) TrailerMismatch() bool { return s.Reported >= 0 && s.Reported != s.Lines }

// ListenStats counts what a listener for conntrack events (pkg/source)
// received and lost since it started. Losses are never hidden: every way
// an event can go missing has its counter.
type ListenStats struct {
	// Listening is true while the listener is subscribed.
	Listening bool
	// Buffer is the receive buffer the kernel gave the subscribed socket,
	// in bytes (it reports twice what was asked), 0 while not subscribed.
	Buffer int
	// Received counts the DESTROY events received; Kept those handed on
	// (the rest were not flows the consumer keeps, such as router-local
	// ones).
	Received, Kept uint64
	// Overruns counts the times the socket's buffer overflowed (ENOBUFS):
	// the kernel dropped events, how many it does not say.
	Overruns uint64
	// Dropped counts kept events thrown away because the buffer between
	// two cycles was full.
	Dropped uint64
	// Undecoded counts messages that could not be decoded.
	Undecoded uint64
	// Restarts counts the times the socket failed and was opened again;
	// events may be lost meanwhile.
	Restarts uint64
	// LastError is why the listener last failed ("" if it never did).
	LastError string
}

// Lost reports whether events may have been lost.
func (s ListenStats) Lost() bool {
	return s.Overruns > 0 || s.Dropped > 0 || s.Undecoded > 0 || s.Restarts > 0
}
