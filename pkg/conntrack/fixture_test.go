package conntrack

import (
	"bytes"
	"compress/gzip"
	"flag"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// update rewrites the golden files: go test ./pkg/conntrack -update
var update = flag.Bool("update", false, "rewrite the golden files under fixtures/conntrack")

// fixtureDir is where the conntrack fixtures live, relative to this package
// (tests run in pkg/conntrack).
const fixtureDir = "../../fixtures/conntrack"

// fixturePath returns the path of the fixture called name.
func fixturePath(name string) string { return filepath.Join(fixtureDir, name) }

// readFixture returns the content of a fixture, decompressed when its
// name ends in .gz.
func readFixture(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(fixturePath(name))
	if err != nil {
		tb.Fatalf("read fixture: %v", err)
	}
	if filepath.Ext(name) != ".gz" {
		return b
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		tb.Fatalf("gunzip fixture %s: %v", name, err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		tb.Fatalf("gunzip fixture %s: %v", name, err)
	}
	return out
}

// fixtureLines returns the lines of every plain-text conntrack fixture,
// the seeds of the fuzz targets.
func fixtureLines(tb testing.TB) [][]byte {
	tb.Helper()
	names, err := filepath.Glob(fixturePath("*.txt"))
	if err != nil || len(names) == 0 {
		tb.Fatalf("list fixtures: %v (%d files)", err, len(names))
	}
	var lines [][]byte
	for _, n := range names {
		lines = append(lines, bytes.Split(readFixture(tb, filepath.Base(n)), []byte{'\n'})...)
	}
	return lines
}

// each adapts a function to Parse's yield, never stopping.
func each(fn func(*Entry)) func(*Entry) bool {
	return func(e *Entry) bool {
		fn(e)
		return true
	}
}
