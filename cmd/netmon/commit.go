package main

import (
	"context"
	"fmt"
	"io"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/netmon-dev/netmon/pkg/config"
	"github.com/netmon-dev/netmon/pkg/store"
)

func newCommitCmd(load loader) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "commit",
		Short: "Make the running netmon commit its history to the database now",
		Long: `Ask the netmon process that writes the database (ingest-loop, or serve with
its own ingest loop) to commit the history it holds in memory to the
database now, instead of at the next commit_interval, and wait for it:
before a planned power-off, or to see the last minutes in 'netmon report'.
It sends that process SIGUSR1.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := load(cmd)
			if err != nil {
				return err
			}
			return runCommit(cmd.Context(), cfg, 10*time.Second, cmd.OutOrStdout())
		},
	}
	addStoreFlags(cmd.Flags())
	return cmd
}

// runCommit signals the database's writer and waits up to wait for a
// commit to land.
func runCommit(ctx context.Context, cfg config.Config, wait time.Duration, w io.Writer) error {
	pid, err := store.WriterPID(cfg.DBPath)
	if err != nil {
		return err
	}
	if pid == 0 {
		return fmt.Errorf("commit: no netmon process writes %s (nothing to commit)", cfg.DBPath)
	}
	rec, err := openRecordOnly(ctx, cfg)
	if err != nil {
		return err
	}
	defer rec.Close()
	before, err := rec.State(ctx)
	if err != nil {
		return err
	}
	if err := syscall.Kill(pid, syscall.SIGUSR1); err != nil {
		return fmt.Errorf("commit: signal netmon pid %d: %w", pid, err)
	}
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		st, err := rec.State(ctx)
		if err != nil {
			return err
		}
		if st.Commits > before.Commits {
			_, err = fmt.Fprintf(w, "netmon pid %d committed at %s\n", pid, st.LastCommitAt.Local().Format(time.DateTime))
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	_, err = fmt.Fprintf(w, "netmon pid %d had nothing new to commit (or is still committing)\n", pid)
	return err
}
