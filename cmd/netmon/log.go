package main

import (
	"io"
	"log/slog"

	"github.com/netmon-dev/netmon/pkg/config"
)

// newLogger returns the logger of a long-running command: log_format
// text (logfmt-style key=value) or json, at log_level. Both name the same
// fields the same way; durations are text in both ("took=12.5ms",
// "took":"12.5ms"), as people read them, where slog's JSON default would
// print nanoseconds.
func newLogger(w io.Writer, cfg config.Config) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		l = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: l, ReplaceAttr: durationText}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// durationText writes durations as text (1.5s) in every format.
func durationText(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		a.Value = slog.StringValue(a.Value.Duration().String())
	}
	return a
}
