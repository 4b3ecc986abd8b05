// Package sysmetrics reads the router's own health figures: load average,
// memory, per-interface traffic counters and the conntrack table fill.
//
// Everything is read under an injectable filesystem root ("/" in
// production, a fixture tree such as fixtures/hosts/router in tests).
// Methods read files; pure functions parse their bytes. A Reader's only
// state is the previous interface reading, kept to turn counters into
// rates; a Sampler reads on a ticker of its own and shares the latest
// Snapshot, so readers do not shorten each other's rate intervals.
package sysmetrics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// maxFileSize bounds every read: the files read here are a few hundred
// bytes (meminfo about 1.5 KiB), so anything larger is not what we expect.
const maxFileSize = 64 << 10

// DefaultInterfaces are the interfaces of the reference router, read
// when neither Interfaces nor Detect says which; netmon itself detects.
func DefaultInterfaces() []string { return []string{"enp2s0", "enp3s0"} }

// Snapshot is one reading of the system figures.
type Snapshot struct {
	At         time.Time   `json:"at"`
	Load       LoadAvg     `json:"load"`
	Memory     Memory      `json:"memory"`
	Interfaces []Interface `json:"interfaces"`
	// Conntrack is nil when the kernel exposes no conntrack sysctls (the
	// module is not loaded, or the files are not readable).
	Conntrack *Conntrack `json:"conntrack,omitempty"`
}

// Options configure a Reader.
type Options struct {
	// Root is the filesystem root under which proc/ and sys/ are read;
	// "" means "/".
	Root string
	// Interfaces to report. Empty: with Detect, the router's own, found
	// again at every Read (see LANInterfaces): those of the default
	// routes and those carrying LAN, a found one that is gone by the time
	// it is read left out rather than reported as an error; without
	// Detect, DefaultInterfaces().
	Interfaces []string
	// Detect finds the interfaces when none are named; LAN is the local
	// subnets it looks for.
	Detect bool
	LAN    []netip.Prefix
	// Now is the clock used to stamp readings and compute rates; nil
	// means time.Now.
	Now func() time.Time
}

// Reader reads Snapshots. It is safe for concurrent use.
type Reader struct {
	root   string
	ifaces []string // nil: detected
	lan    []netip.Prefix
	now    func() time.Time

	mu   sync.Mutex
	prev map[string]ifaceSample // last counters per interface, for rates
}

// ifaceSample is an interface's counters at a point in time.
type ifaceSample struct {
	at      time.Time
	rxBytes uint64
	txBytes uint64
}

// NewReader returns a Reader for opts.
func NewReader(opts Options) *Reader {
	r := &Reader{
		root:   opts.Root,
		ifaces: slices.Clone(opts.Interfaces),
		lan:    slices.Clone(opts.LAN),
		now:    opts.Now,
		prev:   make(map[string]ifaceSample),
	}
	if r.root == "" {
		r.root = "/"
	}
	switch {
	case len(r.ifaces) > 0:
	case opts.Detect:
		r.ifaces = nil
	default:
		r.ifaces = DefaultInterfaces()
	}
	if r.now == nil {
		r.now = time.Now
	}
	return r
}

// Interfaces returns the names of the configured interfaces, nil when
// they are detected.
func (r *Reader) Interfaces() []string { return slices.Clone(r.ifaces) }

// Read takes one Snapshot. Its rates span the time since the previous
// Read of this Reader, whoever made it: where several consumers read the
// figures, they share a Sampler instead. It fails only when /proc/loadavg or
// /proc/meminfo cannot be read or parsed (or ctx is done). A missing or
// unreadable interface is reported in its own Interface entry, unreadable
// conntrack sysctls in Conntrack.Error, and missing ones leave Conntrack
// nil: one broken source does not blank the others.
func (r *Reader) Read(ctx context.Context) (Snapshot, error) {
	if err := ctx.Err(); err != nil {
		return Snapshot{}, err
	}
	// The rates use now itself: UTC would drop the monotonic reading, and
	// a router without a battery clock steps its wall clock at boot.
	now := r.now()
	s := Snapshot{At: now.UTC()}
	var err error
	if s.Load, err = r.readLoadAvg(); err != nil {
		return Snapshot{}, err
	}
	if s.Memory, err = r.readMemory(); err != nil {
		return Snapshot{}, err
	}
	s.Conntrack = r.readConntrack()
	s.Interfaces = r.readInterfaces(now)
	return s, nil
}

// path joins the root and a slash-separated absolute path.
func (r *Reader) path(p string) string {
	return filepath.Join(r.root, filepath.FromSlash(p))
}

// readFile reads a small file whole, refusing anything over maxFileSize.
func readFile(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if len(b) > maxFileSize {
		return nil, fmt.Errorf("read %s: %w", name, errTooLarge)
	}
	return b, nil
}

// errTooLarge is returned for a file larger than any file this package
// expects to read.
var errTooLarge = errors.New("file too large")

// isNotExist reports whether err means the file is not there.
func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
