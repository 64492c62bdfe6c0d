package server

import (
	"io"
	"log/slog"
)

// NewLogger returns a text logger at the level redis.conf's loglevel
// names: debug, verbose (info), notice (info), warning.
func NewLogger(w io.Writer, level string) *slog.Logger {
	l := slog.LevelInfo
	switch level {
	case "debug":
		l = slog.LevelDebug
	case "warning":
		l = slog.LevelWarn
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}
