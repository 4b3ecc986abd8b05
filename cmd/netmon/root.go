package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/netmon-dev/netmon/pkg/config"
)

type buildInfo struct{ version, commit, date string }

func (b buildInfo) String() string {
	return fmt.Sprintf("%s (commit %s, built %s)", b.version, b.commit, b.date)
}

// loader loads the configuration for the command being run, once: flags
// of that command > NETMON_* environment > YAML file > defaults.
type loader func(cmd *cobra.Command) (config.Config, error)

// usageError marks errors in how netmon was called (bad flag, bad config
// value); they exit with status 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func newRootCmd(info buildInfo) *cobra.Command {
	var configFile string
	root := &cobra.Command{
		Use:   "netmon",
		Short: "See which LAN machines talk to which internet hosts, how much, and since when",
		Long: `netmon runs on a Linux router. It reads the kernel's connection-tracking
table (conntrack -L -o extended), keeps the outbound connections (from a LAN
host to a public address), records them in SQLite and shows them live.

Reading the live table needs root or CAP_NET_ADMIN and conntrack-tools.
Every command can replay a capture instead (--input-file or
CONNTRACK_INPUT_FILE), which needs neither.

Configuration: flags, then NETMON_* environment variables, then the YAML
file (--config, else /etc/netmon/netmon.yaml if present), then defaults.
configs/netmon.yaml documents every key.`,
		Version:       info.String(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&configFile, "config", "", "YAML configuration file (default /etc/netmon/netmon.yaml if it exists)")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })

	load := func(cmd *cobra.Command) (config.Config, error) {
		c, err := loadConfig(cmd.Flags(), configFile, defaultConfigFile)
		if err != nil {
			return c, usageError{fmt.Errorf("config: %w", err)}
		}
		return c, nil
	}
	root.AddCommand(
		newPrintOutboundCmd(load),
		newIngestOnceCmd(load),
		newIngestLoopCmd(load),
		newServeCmd(load, info),
		newReportCmd(load),
		newCommitCmd(load),
		newAlertsCmd(load),
	)
	return root
}

// exitCode prints err as one line and maps it to the process status:
// 0 success, 2 usage or configuration error, 1 anything else.
func exitCode(stderr io.Writer, err error) int {
	if err == nil {
		return 0
	}
	fmt.Fprintf(stderr, "netmon: %v\n", err)
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintln(stderr, "Run 'netmon --help' for usage.")
		return 2
	}
	return 1
}

// noArgs rejects positional arguments as a usage error (exit status 2).
func noArgs(cmd *cobra.Command, args []string) error {
	if err := cobra.NoArgs(cmd, args); err != nil {
		return usageError{err}
	}
	return nil
}
