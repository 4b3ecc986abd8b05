package source

import (
	"context"
	"iter"

	"github.com/netmon-dev/netmon/pkg/conntrack"
)

// Slice is a listing held in memory: List yields a copy of each entry in
// order, for tests and tools that build entries themselves.
type Slice []conntrack.Entry

// List yields the entries; *st counts them as lines and entries.
func (s Slice) List(_ context.Context, st *conntrack.Stats) iter.Seq2[*conntrack.Entry, error] {
	return func(yield func(*conntrack.Entry, error) bool) {
		n := 0
		defer func() {
			if st != nil {
				*st = conntrack.Stats{Lines: n, Entries: n, Reported: -1}
			}
		}()
		for i := range s {
			e := s[i] // a copy: the consumer must not keep the pointer
			n++
			if !yield(&e, nil) {
				return
			}
		}
	}
}
