package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// TestMain removes the binary buildNetmon built, once every test ran.
func TestMain(m *testing.M) {
	code := m.Run()
	if netmonBinary.dir != "" {
		os.RemoveAll(netmonBinary.dir)
	}
	os.Exit(code)
}

// netmonBinary is the binary the process tests run, built at most once
// per test binary into a directory of its own.
var netmonBinary struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// buildNetmon returns the path of the binary under test, building it on
// the first call; a failed build fails every test that asks for it.
func buildNetmon(t *testing.T) string {
	t.Helper()
	b := &netmonBinary
	b.once.Do(func() {
		b.dir, b.err = os.MkdirTemp("", "netmon-test-")
		if b.err != nil {
			return
		}
		bin := filepath.Join(b.dir, "netmon")
		if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
			b.err = fmt.Errorf("go build: %w\n%s", err, out)
			return
		}
		b.path = bin
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}
