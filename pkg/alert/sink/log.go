package sink

import (
	"context"
	"log/slog"

	"github.com/netmon-dev/netmon/pkg/alert"
)

// Log writes each alert as one structured line (slog quotes and escapes
// every value, so a name cannot start a line of its own).
type Log struct {
	Logger *slog.Logger
}

// Send implements alert.Sink.
func (l *Log) Send(ctx context.Context, a alert.Alert) error {
	level := slog.LevelInfo
	switch a.Severity {
	case alert.Warning:
		level = slog.LevelWarn
	case alert.Critical:
		level = slog.LevelError
	}
	attrs := []slog.Attr{
		slog.String("id", a.ID), slog.String("kind", string(a.Kind)), slog.String("severity", string(a.Severity)),
		slog.Time("at", a.At), slog.String("title", a.Title),
	}
	if d := a.Device; d != nil {
		attrs = append(attrs, slog.String("device", d.ID), slog.String("name", d.Name), slog.String("vendor", d.Vendor))
		if d.Addr.IsValid() {
			attrs = append(attrs, slog.String("addr", d.Addr.String()))
		}
	}
	if q := a.Quota; q != nil {
		attrs = append(attrs, slog.String("rule", q.Rule), slog.Uint64("used_bytes", q.UsedBytes),
			slog.Uint64("limit_bytes", q.LimitBytes), slog.Int("percent", q.Percent))
	}
	if d := a.Destination; d != nil {
		attrs = append(attrs, slog.String("network", d.Network.String()), slog.String("remote", d.Remote.String()))
	}
	if h := a.Health; h != nil && h.Error != "" {
		attrs = append(attrs, slog.String("error", h.Error))
	}
	if f := a.Folded; f != nil {
		attrs = append(attrs, slog.Int("folded", f.Count))
	}
	l.Logger.LogAttrs(ctx, level, "alert", attrs...)
	return nil
}
