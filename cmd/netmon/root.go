package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/netmon-dev/netmon/pkg/config"
)

// loader loads the configuration for the command being run, once: flags
// of that command > NETMON_* environment > YAML file > defaults.
type loader func(cmd *cobra.Command) (config.Config, error)

// usageError marks errors in how netmon was called (bad flag, unknown
// command); they exit with status 2 and a hint to --help.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// configError marks a configuration error: one line naming the key, the
// value and where it was set, exit status 2.
type configError struct{ err error }

func (e configError) Error() string { return "config: " + e.err.Error() }
func (e configError) Unwrap() error { return e.err }

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
	root.SetFlagErrorFunc(flagError)

	load := func(cmd *cobra.Command) (config.Config, error) {
		c, err := loadConfig(cmd.Flags(), configFile, defaultConfigFile)
		if err == nil {
			err = checkPaths(cmd.Flags(), c)
		}
		if err != nil {
			return c, configError{err}
		}
		return c, nil
	}
	root.AddCommand(
		newPrintOutboundCmd(load),
		newIngestOnceCmd(load),
		newIngestLoopCmd(load),
		newServeCmd(load, info),
		newReportCmd(load),
		newDevicesCmd(load),
		newCommitCmd(load),
		newPasswdCmd(load),
		newGenDocsCmd(info),
		newTopCmd(load),
		newAlertsCmd(load),
	)
	completeFlagValues(root)
	return root
}

// flagError turns a flag that does not parse into a configuration error
// naming the key when the flag sets one (a duration without a unit says
// so, as it does from the file), else into a usage error.
func flagError(_ *cobra.Command, err error) error {
	var ive *pflag.InvalidValueError
	if !errors.As(err, &ive) {
		return usageError{err}
	}
	f := ive.GetFlag()
	key, ok := flagKey(f.Name, keyValues(config.Default()))
	if !ok {
		return usageError{err}
	}
	var fe *config.FieldError
	switch f.Value.Type() {
	case "duration":
		fe = durationProblem(key, ive.GetValue())
	case "int":
		fe = &config.FieldError{Key: key, Value: ive.GetValue(), Reason: "not a whole number"}
	case "bool":
		fe = &config.FieldError{Key: key, Value: ive.GetValue(), Reason: "not true or false"}
	}
	if fe == nil {
		return usageError{err}
	}
	fe.Source = "--" + f.Name
	return configError{fe}
}

// flagValues are the values the shells complete for flags that take one
// of a few words.
var flagValues = map[string][]string{
	"output":     {"table", "json"},
	"log-level":  {"debug", "info", "warn", "error"},
	"log-format": {"text", "json"},
}

// completeFlagValues registers flagValues on every command that has the
// flag.
func completeFlagValues(c *cobra.Command) {
	for name, words := range flagValues {
		if c.Flags().Lookup(name) != nil {
			_ = c.RegisterFlagCompletionFunc(name, cobra.FixedCompletions(words, cobra.ShellCompDirectiveNoFileComp))
		}
	}
	for _, sub := range c.Commands() {
		completeFlagValues(sub)
	}
}

// exitCode prints err as one line and maps it to the process status:
// 0 success, 2 usage or configuration error, 1 anything else.
func exitCode(stderr io.Writer, err error) int {
	if err == nil {
		return 0
	}
	fmt.Fprintf(stderr, "netmon: %v\n", err)
	var ce configError
	if errors.As(err, &ce) {
		return 2
	}
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
