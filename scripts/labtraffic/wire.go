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
// "GET <n> <rate>\n" asks for the n bytes paced at rate bytes per second
// (labtraffic pace).

// MaxDownload bounds what one request may ask for (1 GiB).
const MaxDownload = 1 << 30

// maxRequestLine is the longest request line a server reads.
const maxRequestLine = 32

// errBadRequest is wrapped by every parseRequest error.
var errBadRequest = errors.New("bad download request")

// requestLine returns the request for n bytes, newline included.
func requestLine(n uint64) []byte { return fmt.Appendf(nil, "GET %d\n", n) }

// pacedRequestLine returns the request for n bytes at rate bytes per
// second, newline included.
func pacedRequestLine(n, rate uint64) []byte { return fmt.Appendf(nil, "GET %d %d\n", n, rate) }

// parseRequest parses one request line without its newline.
func parseRequest(line []byte) (uint64, error) {
	n, _, err := parseDownload(line)
	return n, err
}

// parseDownload parses one request line without its newline: the size
// and the pace (0: as fast as it goes).
func parseDownload(line []byte) (n, rate uint64, err error) {
	rest, ok := bytes.CutPrefix(line, []byte("GET "))
	if !ok {
		return 0, 0, fmt.Errorf("%w: %q: want \"GET <bytes>\"", errBadRequest, line)
	}
	size, pace, paced := bytes.Cut(rest, []byte(" "))
	n, err = strconv.ParseUint(string(size), 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("%w: size %q: %w", errBadRequest, size, err)
	}
	if n > MaxDownload {
		return 0, 0, fmt.Errorf("%w: size %d above %d", errBadRequest, n, MaxDownload)
	}
	if !paced {
		return n, 0, nil
	}
	if rate, err = strconv.ParseUint(string(pace), 10, 64); err != nil || rate == 0 {
		return 0, 0, fmt.Errorf("%w: rate %q: want a positive number of bytes per second", errBadRequest, pace)
	}
	return n, rate, nil
}
