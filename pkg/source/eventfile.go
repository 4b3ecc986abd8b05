package source

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/netmon-dev/netmon/pkg/conntrack"
)

// EventFile replays saved `conntrack -E -o extended,id` output instead of
// listening to the kernel: its DESTROY lines, parsed by the same tokenizer
// as the listings, are the events, and the Entry values are the ones the
// netlink Listener makes of the same events. Other lines (NEW, UPDATE,
// listings) are skipped. A file (or .gz file) is replayed whole at the
// first Drain; a directory one file per Drain in name order (the files
// File would replay), so that the events of a test fall between the
// snapshots they belong to. It does not loop: after the last file, Drain
// yields nothing.
//
// An EventFile is safe for concurrent use; it must not be copied after the
// first Drain.
type EventFile struct {
	Path string
	// MaxBytes bounds the bytes one Drain takes from a file, after
	// decompression (0: DefaultMaxBytes).
	MaxBytes int64

	mu    sync.Mutex
	next  int
	keep  func(*conntrack.Entry) bool
	stats conntrack.ListenStats
}

// Listen calls ready(nil) and returns when ctx ends: a file needs no
// subscription. Drain keeps only the events keep accepts (nil: all).
func (f *EventFile) Listen(ctx context.Context, keep func(*conntrack.Entry) bool, ready func(error)) error {
	f.mu.Lock()
	f.keep, f.stats.Listening = keep, true
	f.mu.Unlock()
	if ready != nil {
		ready(nil)
	}
	<-ctx.Done()
	f.mu.Lock()
	f.stats.Listening = false
	f.mu.Unlock()
	return nil
}

// Drain yields the DESTROY events of the next file to replay. A file that
// cannot be read is an error naming it, and is tried again by the next
// Drain; malformed lines are skipped and counted as undecoded.
func (f *EventFile) Drain(yield func(*conntrack.Entry)) error {
	path, ok, err := f.pick()
	if err != nil || !ok {
		return err
	}
	r, closeFile, err := openReplay(path, f.MaxBytes)
	if err != nil {
		return err
	}
	defer closeFile()
	f.mu.Lock()
	keep := f.keep
	f.mu.Unlock()
	var received, kept uint64
	st, err := conntrack.Parse(r, func(e *conntrack.Entry) bool {
		if e.Event != conntrack.EventDestroy {
			return true
		}
		received++
		if keep == nil || keep(e) {
			kept++
			yield(e)
		}
		return true
	})
	if r.exceeded {
		err = fmt.Errorf("replay %s: %w (more than %d bytes)", path, ErrTooLarge, r.max())
	} else if err != nil {
		err = fmt.Errorf("replay %s: %w", path, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stats.Received += received
	f.stats.Kept += kept
	f.stats.Undecoded += uint64(st.Skipped)
	if err == nil {
		f.next++
	}
	return err
}

// pick returns the file the next Drain replays; ok is false when every
// file was replayed.
func (f *EventFile) pick() (path string, ok bool, err error) {
	fi, err := os.Stat(f.Path)
	if err != nil {
		return "", false, fmt.Errorf("replay conntrack events: %w", err)
	}
	f.mu.Lock()
	next := f.next
	f.mu.Unlock()
	if !fi.IsDir() {
		if !fi.Mode().IsRegular() {
			return "", false, fmt.Errorf("replay %s: %w", f.Path, errNotRegular)
		}
		return f.Path, next == 0, nil
	}
	names, err := replayNames(f.Path)
	if err != nil || next >= len(names) {
		return "", false, err
	}
	return filepath.Join(f.Path, names[next]), true, nil
}

// Stats returns what the replay delivered so far.
func (f *EventFile) Stats() conntrack.ListenStats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stats
}
