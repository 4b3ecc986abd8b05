package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestMainFails runs the command itself: without -netmon it must say so
// and exit 1, not panic.
func TestMainFails(t *testing.T) {
	if os.Getenv("BENCH_RUN_MAIN") == "1" {
		os.Args = []string{"bench", "-mode", "quick"}
		main()
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run", "^TestMainFails$")
	cmd.Env = append(os.Environ(), "BENCH_RUN_MAIN=1")
	out, err := cmd.CombinedOutput()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 1 {
		t.Fatalf("exit %v, want status 1; output %s", err, out)
	}
	if !strings.Contains(string(out), "bench: -netmon: required") {
		t.Errorf("output %q lacks the reason", out)
	}
}
