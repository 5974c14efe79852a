// Package logging builds the zap loggers that every subsystem names from.
package logging

import (
	"fmt"
	"io"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Formats accepted by New.
const (
	FormatConsole = "console" // human-readable, the default
	FormatJSON    = "json"
)

// New returns a logger writing to w at level ("debug", "info", "warn",
// "error") in format (FormatConsole or FormatJSON).
func New(w io.Writer, level, format string) (*zap.Logger, error) {
	if err := CheckLevel(level); err != nil {
		return nil, err
	}
	if err := CheckFormat(format); err != nil {
		return nil, err
	}
	lvl, _ := zapcore.ParseLevel(level)
	ec := zap.NewProductionEncoderConfig()
	ec.EncodeTime = zapcore.ISO8601TimeEncoder
	var enc zapcore.Encoder
	switch format {
	case FormatConsole, "":
		ec.EncodeLevel = zapcore.CapitalLevelEncoder
		ec.ConsoleSeparator = "  "
		enc = zapcore.NewConsoleEncoder(ec)
	default:
		enc = zapcore.NewJSONEncoder(ec)
	}
	core := zapcore.NewCore(enc, zapcore.Lock(zapcore.AddSync(w)), lvl)
	return zap.New(core), nil
}

// CheckLevel rejects a level that New does not accept.
func CheckLevel(level string) error {
	switch level {
	case "debug", "info", "warn", "error":
		return nil
	}
	return fmt.Errorf("log level %q: want debug, info, warn or error", level)
}

// CheckFormat rejects a format that New does not accept.
func CheckFormat(format string) error {
	switch format {
	case FormatConsole, FormatJSON, "":
		return nil
	}
	return fmt.Errorf("log format %q: want console or json", format)
}
