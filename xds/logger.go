package xds

import (
	"context"
	"fmt"
	"log/slog"
)

// cpLogger adapts slog to go-control-plane's logger. Its Info messages are
// per-watch chatter, so they go to Debug.
type cpLogger struct{ l *slog.Logger }

func (c cpLogger) Debugf(format string, args ...any) { c.log(slog.LevelDebug, format, args) }
func (c cpLogger) Infof(format string, args ...any)  { c.log(slog.LevelDebug, format, args) }
func (c cpLogger) Warnf(format string, args ...any)  { c.log(slog.LevelWarn, format, args) }
func (c cpLogger) Errorf(format string, args ...any) { c.log(slog.LevelError, format, args) }

func (c cpLogger) log(level slog.Level, format string, args []any) {
	if c.l.Enabled(context.Background(), level) {
		c.l.Log(context.Background(), level, fmt.Sprintf(format, args...), "component", "go-control-plane")
	}
}
