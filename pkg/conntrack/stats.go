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
