package server

import (
	"io"
	"log/slog"
)

// logLevel maps redis.conf's loglevel names to slog levels: debug,
// verbose (between debug and info), notice (info) and warning.
func logLevel(name string) slog.Level {
	switch name {
	case "debug":
		return slog.LevelDebug
	case "verbose":
		return slog.LevelDebug + 2
	case "warning":
		return slog.LevelWarn
	}
	return slog.LevelInfo
}

// levelHandler is a text handler whose level CONFIG SET loglevel changes.
type levelHandler struct {
	*slog.TextHandler
	level *slog.LevelVar
}

// NewLogger returns a text logger writing to w at the level redis.conf's
// loglevel names (debug, verbose, notice, warning). Its level can be
// changed later with SetLogLevel.
func NewLogger(w io.Writer, level string) *slog.Logger {
	lv := new(slog.LevelVar)
	lv.Set(logLevel(level))
	return slog.New(levelHandler{slog.NewTextHandler(w, &slog.HandlerOptions{Level: lv}), lv})
}

// SetLogLevel changes the level of a logger made by NewLogger and reports
// whether it could; other loggers are left alone.
func SetLogLevel(l *slog.Logger, level string) bool {
	h, ok := l.Handler().(levelHandler)
	if ok {
		h.level.Set(logLevel(level))
	}
	return ok
}
