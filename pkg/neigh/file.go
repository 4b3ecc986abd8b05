package neigh

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"

	"github.com/netmon-dev/netmon/pkg/device"
)

// maxFile bounds what File reads: a neighbours file larger than this is
// not a neighbour table.
const maxFile = 16 << 20

// File replays a neighbour table saved as text, re-read on every Read:
// `ip neigh show` output or the /proc/net/arp format, detected from the
// content (--neighbours-file, NETMON_NEIGHBOURS_FILE).
type File struct {
	Path string
	// Stats of the latest Read.
	Stats Stats
}

// Read reads and parses the file.
func (f *File) Read(ctx context.Context) ([]device.Neighbour, error) {
	fh, err := os.Open(f.Path)
	if err != nil {
		return nil, fmt.Errorf("read neighbours file: %w", err)
	}
	defer fh.Close()
	if fi, err := fh.Stat(); err == nil && !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("read neighbours file %s: not a regular file", f.Path)
	}
	f.Stats = Stats{}
	ns, err := Parse(io.LimitReader(fh, maxFile), &f.Stats)
	if err != nil {
		return nil, fmt.Errorf("read neighbours file %s: %w", f.Path, err)
	}
	return ns, nil
}

// Parse reads either text format, telling them apart by the first
// non-empty line: the /proc/net/arp header, or a line whose second and
// third fields are hex numbers (0x1 0x2), is the arp format; anything
// else is `ip neigh show`.
func Parse(r io.Reader, st *Stats) ([]device.Neighbour, error) {
	br := bufio.NewReaderSize(r, maxLine)
	if isProcARP(br) {
		return ParseProcARP(br, st)
	}
	return ParseIPNeigh(br, st)
}

func isProcARP(br *bufio.Reader) bool {
	head, _ := br.Peek(maxLine)
	for line := range bytes.Lines(head) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		if bytes.HasPrefix(line, []byte("IP address")) {
			return true
		}
		var buf [8][]byte
		f := fields(buf[:0], line)
		return len(f) >= 3 && bytes.HasPrefix(f[1], []byte("0x")) && bytes.HasPrefix(f[2], []byte("0x"))
	}
	return false
}
