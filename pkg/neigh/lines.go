package neigh

import (
	"bufio"
	"bytes"
	"io"

	"github.com/netmon-dev/netmon/pkg/device"
)

// maxLine bounds one line of a table's text; a longer one is skipped as
// malformed, the rest of the input still read.
const maxLine = 4096

// eachLine calls fn with each line of r (without its end of line and a
// trailing CR) and its 1-based number; an over-long line is passed as
// nil. It stops at the first read error.
func eachLine(r io.Reader, fn func(n int, line []byte)) error {
	br := bufio.NewReaderSize(r, maxLine)
	n := 0
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 || err == nil {
			n++
			if err == bufio.ErrBufferFull {
				for err == bufio.ErrBufferFull {
					_, err = br.ReadSlice('\n')
				}
				fn(n, nil)
				if err == io.EOF {
					return nil
				}
				if err != nil {
					return err
				}
				continue
			}
			fn(n, bytes.TrimRight(line, "\r\n"))
		}
		if err == io.EOF {
			return nil
		}
		if err != nil && err != bufio.ErrBufferFull {
			return err
		}
	}
}

// eachNeighbour reads a table of one neighbour a line and counts what it
// saw in st (which may be nil). parse is given every line that is not
// blank and does not start with header (the table's column titles; nil
// for none), and says whether the line is a machine (ok) and whether it
// is well formed (good): a well-formed line that is no machine is
// counted as ignored, a malformed one as skipped. An over-long line is
// skipped. It returns the first read error.
func eachNeighbour(r io.Reader, st *Stats, header []byte, parse func(line []byte) (n device.Neighbour, ok, good bool)) ([]device.Neighbour, error) {
	if st == nil {
		st = new(Stats)
	}
	var out []device.Neighbour
	err := eachLine(r, func(n int, line []byte) {
		if line == nil {
			st.Lines++
			st.skip(n)
			return
		}
		if len(bytes.TrimSpace(line)) == 0 || len(header) > 0 && bytes.HasPrefix(line, header) {
			return
		}
		st.Lines++
		nb, ok, good := parse(line)
		switch {
		case !good:
			st.skip(n)
		case !ok:
			st.Ignored++
		default:
			st.Entries++
			out = append(out, nb)
		}
	})
	return out, err
}

// fields splits line at spaces and tabs into dst, without allocating
// when dst has room.
func fields(dst [][]byte, line []byte) [][]byte {
	dst = dst[:0]
	for i := 0; i < len(line); {
		for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
			i++
		}
		j := i
		for j < len(line) && line[j] != ' ' && line[j] != '\t' {
			j++
		}
		if j > i {
			dst = append(dst, line[i:j])
		}
		i = j
	}
	return dst
}
