package main

import (
	"github.com/spf13/pflag"

	"github.com/netmon-dev/netmon/pkg/config"
	"github.com/netmon-dev/netmon/pkg/ingest"
	"github.com/netmon-dev/netmon/pkg/source"
)

// addSourceFlags adds the flags that choose where snapshots come from.
func addSourceFlags(fs *pflag.FlagSet) {
	def := config.Default()
	fs.String("input-file", "", "replay a conntrack capture (file, .gz, or directory replayed one file per cycle) instead of running conntrack (env CONNTRACK_INPUT_FILE)")
	fs.StringSlice("local-subnets", def.LocalSubnets, "LAN prefixes, comma separated (env NETMON_LOCAL_SUBNETS)")
	fs.String("conntrack-path", def.ConntrackPath, "conntrack command to run")
	fs.Duration("conntrack-timeout", def.ConntrackTimeout, "how long one conntrack run may take")
}

// addStoreFlags adds the database flags.
func addStoreFlags(fs *pflag.FlagSet) {
	def := config.Default()
	fs.String("db", def.DBPath, "SQLite database file (env NETMON_DB; /var/lib/netmon/netmon.db on a router)")
	fs.Duration("retention", def.Retention, "how long closed connections are kept")
}

// newSource returns the snapshot source the configuration asks for: a
// replayed file, or the conntrack command.
func newSource(cfg config.Config) ingest.Source {
	if cfg.InputFile != "" {
		return &source.File{Path: cfg.InputFile}
	}
	return &source.Conntrack{Command: cfg.ConntrackPath, Timeout: cfg.ConntrackTimeout}
}

// addLogFlags adds --log-level and --log-format to long-running commands.
func addLogFlags(fs *pflag.FlagSet) {
	fs.String("log-level", config.Default().LogLevel, "log level: debug, info, warn or error")
	fs.String("log-format", config.Default().LogFormat, "log format: text or json")
}
