package names

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/netmon-dev/netmon/pkg/device"
)

// DefaultLeasePaths are looked for, under the root, when no list is
// configured: dnsmasq, OpenWrt, odhcpd, ISC dhcpd, Kea, static hosts and
// /etc/ethers. Files in /etc/dnsmasq.d are added by Leases.
var DefaultLeasePaths = []string{
	"/var/lib/misc/dnsmasq.leases",
	"/tmp/dhcp.leases",
	"/tmp/hosts/odhcpd",
	"/var/lib/dhcp/dhcpd.leases",
	"/var/lib/dhcpd/dhcpd.leases",
	"/var/lib/kea/kea-leases4.csv",
	"/var/lib/kea/kea-leases6.csv",
	"/etc/config/dhcp",
	"/etc/dnsmasq.conf",
	"/etc/ethers",
}

// maxLeaseFile bounds what one file may hold.
const maxLeaseFile = 32 << 20

// Leases reads lease and host files and re-reads a file when its
// modification time or size changed. Not safe for concurrent use: one
// refresher goroutine owns it.
type Leases struct {
	root  string
	paths []string // nil: the defaults that exist, looked for at each Refresh
	files map[string]*leaseFile
}

type leaseFile struct {
	format Format
	mtime  time.Time
	size   int64
	leases []Lease
	stats  Stats
	err    error
}

// NewLeases reads paths (the configured --leases list; each taken as it
// is, under no root) or, when paths is empty, the DefaultLeasePaths and
// /etc/dnsmasq.d/* that exist under root ("/" in production).
func NewLeases(root string, paths []string) *Leases {
	if root == "" {
		root = "/"
	}
	return &Leases{root: root, paths: slices.Clone(paths), files: map[string]*leaseFile{}}
}

// FileStatus describes one file after a Refresh.
type FileStatus struct {
	Path   string
	Format Format
	Leases int
	Stats  Stats
	Err    error // the file could not be read (the previous reading is kept)
}

// Update is the result of a Refresh: the names per source, ready for
// device.Registry.SetNames, and whether anything changed.
type Update struct {
	Changed bool
	Static  []device.Name // SourceStatic
	Leases  []device.Name // SourceLease
	Ethers  []device.Name // SourceEthers
	Files   []FileStatus
}

// Apply hands u's names to set (device.Registry.SetNames).
func (u Update) Apply(set func(device.NameSource, []device.Name)) {
	set(device.SourceStatic, u.Static)
	set(device.SourceLease, u.Leases)
	set(device.SourceEthers, u.Ethers)
}

// Refresh re-reads the files that changed and returns every file's names
// at time now (expired leases left out). A file that is gone or cannot
// be stat-ed names nothing and says why; one that cannot be read or
// parsed keeps its last reading and says why. Applying the names at
// every Refresh is cheap; Changed says whether a file was read anew.
func (l *Leases) Refresh(now time.Time) Update {
	var u Update
	paths := l.list()
	seen := map[string]bool{}
	for _, p := range paths {
		seen[p] = true
		fi, err := os.Stat(p)
		if err != nil {
			// Gone or unreadable: it names nothing now, and says why.
			f := l.files[p]
			if f == nil || f.err == nil {
				u.Changed = true
			}
			l.files[p] = &leaseFile{err: fmt.Errorf("read leases: %w", err)}
			continue
		}
		f := l.files[p]
		// Unchanged since the last reading, good or not (a file of no known
		// format stays so until it is written again).
		if f != nil && fi.ModTime().Equal(f.mtime) && fi.Size() == f.size {
			continue
		}
		if f == nil {
			f = &leaseFile{}
			l.files[p] = f
		}
		u.Changed = true
		if err := f.read(p, fi); err != nil {
			f.err, f.mtime, f.size = err, fi.ModTime(), fi.Size()
		}
	}
	for p := range l.files {
		if !seen[p] {
			delete(l.files, p)
			u.Changed = true
		}
	}
	for _, p := range paths {
		f := l.files[p]
		if f == nil {
			continue
		}
		u.Files = append(u.Files, FileStatus{Path: p, Format: f.format, Leases: len(f.leases), Stats: f.stats, Err: f.err})
		names := DeviceNames(f.leases, now)
		switch f.format.Source() {
		case device.SourceStatic:
			u.Static = append(u.Static, names...)
		case device.SourceEthers:
			u.Ethers = append(u.Ethers, names...)
		case device.SourceLease:
			u.Leases = append(u.Leases, names...)
		}
	}
	return u
}

func (f *leaseFile) read(path string, fi fs.FileInfo) error {
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("read leases %s: not a regular file", path)
	}
	fh, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("read leases: %w", err)
	}
	defer fh.Close()
	head := make([]byte, 4096)
	n, _ := io.ReadFull(fh, head)
	format := Detect(path, head[:n])
	if format == FormatUnknown {
		return fmt.Errorf("read leases %s: unknown format", path)
	}
	if _, err := fh.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("read leases %s: %w", path, err)
	}
	var st Stats
	ls, err := Parse(format, io.LimitReader(fh, maxLeaseFile), &st)
	if err != nil {
		return fmt.Errorf("read leases %s: %w", path, err)
	}
	*f = leaseFile{format: format, mtime: fi.ModTime(), size: fi.Size(), leases: ls, stats: st}
	return nil
}

// list is the paths to read now.
func (l *Leases) list() []string {
	if l.paths != nil {
		return l.paths
	}
	var out []string
	for _, p := range DefaultLeasePaths {
		full := filepath.Join(l.root, p)
		if _, err := os.Stat(full); err == nil {
			out = append(out, full)
		}
	}
	if ds, err := os.ReadDir(filepath.Join(l.root, "etc", "dnsmasq.d")); err == nil {
		for _, d := range ds {
			if d.Type().IsRegular() {
				out = append(out, filepath.Join(l.root, "etc", "dnsmasq.d", d.Name()))
			}
		}
	}
	return out
}
