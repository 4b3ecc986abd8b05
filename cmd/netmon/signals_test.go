package main

import (
	"bufio"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

func TestRestarts(t *testing.T) {
	root := newRootCmd(buildInfo{"test", "none", "never"})
	for _, c := range root.Commands() {
		want := c.Name() == "serve" || c.Name() == "ingest-loop"
		if got := restarts(c); got != want {
			t.Errorf("restarts(%s) = %v, want %v", c.Name(), got, want)
		}
	}
	if restarts(nil) || restarts(&cobra.Command{Use: "print-outbound"}) {
		t.Error("restarts a command it should not")
	}
}

// TestHangup runs the real binary's ingest-loop, sends it SIGHUP and
// checks that it stopped cleanly and started again in the same process,
// then that SIGTERM stops it with status 0.
func TestHangup(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildNetmon(t)
	db := filepath.Join(t.TempDir(), "netmon.db")
	cmd := netmonCmd(bin, "ingest-loop", "--input-file", fixture("replay"), "--db", db,
		"--state-dir", filepath.Join(t.TempDir(), "state"), "--interval", "100ms")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var seen []string
	waitLine := func(part string) {
		t.Helper()
		deadline := time.After(30 * time.Second)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("netmon exited before %q:\n%s", part, strings.Join(seen, "\n"))
				}
				seen = append(seen, l)
				if strings.Contains(l, part) {
					return
				}
			case <-deadline:
				t.Fatalf("no %q within 30 s:\n%s", part, strings.Join(seen, "\n"))
			}
		}
	}
	waitLine(`msg="ingest loop started"`)
	pid := cmd.Process.Pid
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitLine(`msg="ingest loop stopped"`)
	waitLine("SIGHUP: stopped cleanly; starting again")
	waitLine(`msg="ingest loop started"`)
	if cmd.Process.Pid != pid {
		t.Errorf("pid changed")
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitLine(`msg="ingest loop stopped"`)
	if err := cmd.Wait(); err != nil {
		t.Errorf("after SIGTERM: %v, want exit status 0", err)
	}
}
