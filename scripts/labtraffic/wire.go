package main

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
)

// The download protocol: the client sends one line "GET <n>\n", the server
// answers with exactly n bytes and then waits for the client to close. A
// held connection is one whose client does not close after reading.

// MaxDownload bounds what one request may ask for (1 GiB).
const MaxDownload = 1 << 30

// maxRequestLine is the longest request line a server reads.
const maxRequestLine = 32

// errBadRequest is wrapped by every parseRequest error.
var errBadRequest = errors.New("bad download request")

// requestLine returns the request for n bytes, newline included.
func requestLine(n uint64) []byte { return fmt.Appendf(nil, "GET %d\n", n) }

// parseRequest parses one request line without its newline.
func parseRequest(line []byte) (uint64, error) {
	rest, ok := bytes.CutPrefix(line, []byte("GET "))
	if !ok {
		return 0, fmt.Errorf("%w: %q: want \"GET <bytes>\"", errBadRequest, line)
	}
	n, err := strconv.ParseUint(string(rest), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: size %q: %w", errBadRequest, rest, err)
	}
	if n > MaxDownload {
		return 0, fmt.Errorf("%w: size %d above %d", errBadRequest, n, MaxDownload)
	}
	return n, nil
}
