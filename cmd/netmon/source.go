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
	fs.Bool("events", def.Events, "listen to conntrack DESTROY events beside the polls, for the bytes a poll misses (env NETMON_EVENTS)")
	fs.String("events-file", "", "replay saved conntrack -E -o extended,id output as the events (file, or directory replayed one file per cycle) (env NETMON_EVENTS_FILE)")
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

// newEvents returns the DESTROY events source the configuration asks for:
// a replayed events file, the netlink listener, or none (events off, or a
// replayed capture, whose flows the live kernel's events do not match),
// with a note saying why there is none.
func newEvents(cfg config.Config) (ingest.Events, string) {
	switch {
	case cfg.EventsFile != "":
		return &source.EventFile{Path: cfg.EventsFile}, ""
	case !cfg.Events:
		return nil, ""
	case cfg.InputFile != "":
		return nil, "conntrack events off while replaying a capture (events_file replays events)"
	}
	return &source.Listener{Buffer: cfg.EventsBuffer}, ""
}

// addLogFlags adds --log-level and --log-format to long-running commands.
func addLogFlags(fs *pflag.FlagSet) {
	fs.String("log-level", config.Default().LogLevel, "log level: debug, info, warn or error")
	fs.String("log-format", config.Default().LogFormat, "log format: text or json")
}
