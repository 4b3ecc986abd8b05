package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"syscall"

	"github.com/spf13/cobra"
)

// restartOnHangup are the long-running commands that SIGHUP restarts.
var restartOnHangup = []string{"serve", "ingest-loop"}

// run executes the command tree for args until it ends or a signal stops
// it, and returns the exit status. SIGINT and SIGTERM stop a command
// cleanly: the running cycle commits or rolls back, the server drains.
// SIGHUP stops it the same way; serve and ingest-loop then start again in
// the same process (exec, so the PID systemd watches stays) and so read
// the whole configuration again: the YAML, the environment, the password
// and token files. A one-shot command just stops. (Without this, SIGHUP
// killed the process abruptly, exit status 129, no stop line.)
func run(args []string, stderr io.Writer, exec func() error) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, hungUp := onHangup(ctx)
	root := newRootCmd(currentBuild())
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if hungUp() && err == nil && restarts(cmd) {
		fmt.Fprintln(stderr, "netmon: SIGHUP: stopped cleanly; starting again to re-read the configuration")
		err = exec() // returns only when it failed
	}
	return exitCode(stderr, err)
}

// restarts reports whether SIGHUP restarts cmd.
func restarts(cmd *cobra.Command) bool {
	return cmd != nil && slices.Contains(restartOnHangup, cmd.Name())
}

// onHangup returns a context that SIGHUP cancels, and a func that
// reports whether it did.
func onHangup(parent context.Context) (context.Context, func() bool) {
	ctx, cancel := context.WithCancel(parent)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	got := make(chan struct{})
	go func() {
		select {
		case <-hup:
			close(got)
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, func() bool {
		signal.Stop(hup)
		select {
		case <-got:
			return true
		default:
			return false
		}
	}
}

// execSelf replaces the process with a fresh run of the same binary and
// arguments. After a package upgrade that is the new binary.
func execSelf() error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("restart: %w", err)
	}
	if err := syscall.Exec(exe, os.Args, os.Environ()); err != nil {
		return fmt.Errorf("restart %s: %w", exe, err)
	}
	return nil
}
