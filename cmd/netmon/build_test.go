package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// TestMain points the state directory of every command the tests run
// (in this process and in the binaries they start) at a directory of its
// own, so no test reads or writes this machine's /run/netmon, and removes
// it and the binary buildNetmon built once every test ran. A test that
// needs a state directory of its own still passes --state-dir.
func TestMain(m *testing.M) {
	state, err := os.MkdirTemp("", "netmon-test-state-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Setenv("NETMON_STATE_DIR", state)
	code := m.Run()
	os.RemoveAll(state)
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

// noTestStateDir undoes TestMain's NETMON_STATE_DIR for a test that
// compares a whole loaded config with config.Default (viper takes an
// empty variable as unset).
func noTestStateDir(t *testing.T) { t.Setenv("NETMON_STATE_DIR", "") }
