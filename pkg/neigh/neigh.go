// Package neigh reads the kernel's neighbour table (ARP for IPv4, NDP for
// IPv6) into device.Neighbour values: through netlink (a dump, then the
// kernel's updates), from /proc/net/arp when netlink is not there (IPv4
// only), or from a file for replay without root (the text of `ip neigh
// show` or the /proc/net/arp format, told apart by their look).
//
// A Refresher reads the table on its own ticker and when the kernel says
// it changed, and hands each reading to a callback (the device
// registry's Observe); the ingest cycle never waits for it.
//
// Every reader leaves out what is not a machine: entries whose resolution
// failed or is incomplete, entries without a link-layer address, and the
// zero and multicast MACs.
package neigh

import (
	"context"
	"errors"
	"fmt"

	"github.com/netmon-dev/netmon/pkg/device"
)

// Reader reads the whole neighbour table.
type Reader interface {
	Read(ctx context.Context) ([]device.Neighbour, error)
}

// Watcher tells when the table may have changed: a value on the channel
// asks for a new Read. The channel closes when ctx ends or the watch
// breaks (a Refresher then relies on its ticker).
type Watcher interface {
	Changes(ctx context.Context) (<-chan struct{}, error)
}

// Stats counts what a parse of a table's text saw.
type Stats struct {
	Lines   int // non-empty lines read, a header excluded
	Entries int // lines that gave a neighbour
	Ignored int // well-formed lines that are no machine (FAILED, INCOMPLETE, no or zero MAC)
	Skipped int // malformed lines
	// FirstSkip is the 1-based line number of the first malformed line (0: none).
	FirstSkip int
}

func (s *Stats) skip(line int) {
	s.Skipped++
	if s.FirstSkip == 0 {
		s.FirstSkip = line
	}
}

// ErrEmpty is returned by Open's probe when no table source works.
var ErrEmpty = errors.New("no neighbour table source")

// Config chooses the source Open returns.
type Config struct {
	// File, when set, is replayed instead of the kernel's table
	// (--neighbours-file, NETMON_NEIGHBOURS_FILE).
	File string
	// Root is where /proc is looked for ("/" in production, a fixture
	// tree in tests).
	Root string
	// noNetlink is for tests: skip the netlink probe.
	noNetlink bool
}

// Open returns the reader for cfg, and a watcher when the source has one:
// the file when cfg.File is set; else netlink when cfg.Root is / and a
// dump works; else /proc/net/arp under cfg.Root. It says which through
// the reader's type.
func Open(ctx context.Context, cfg Config) (Reader, Watcher, error) {
	if cfg.File != "" {
		return &File{Path: cfg.File}, nil, nil
	}
	// Netlink reads this namespace's kernel; a Root other than / (tests,
	// the demo's bundled tree) means /proc is read from there instead.
	if !cfg.noNetlink && (cfg.Root == "" || cfg.Root == "/") {
		nl := &Netlink{}
		if _, err := nl.Read(ctx); err == nil {
			return nl, nl, nil
		}
	}
	p := &ProcARP{Root: cfg.Root}
	if _, err := p.Read(ctx); err != nil {
		return nil, nil, fmt.Errorf("%w: netlink and %w", ErrEmpty, err)
	}
	return p, nil, nil
}

// usable reports whether a parsed entry is a machine.
func usable(n device.Neighbour) bool { return n.Addr.IsValid() && n.MAC.Valid() }
