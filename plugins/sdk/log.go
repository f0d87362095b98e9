package sdk

import (
	"context"
	"io"
	"log"
	"log/slog"
	"strings"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"
)

// This file is fleetprof's one bridge between log/slog and go-plugin's hclog:
// HCLogger lets go-plugin (host and plugin side) log through a *slog.Logger,
// and PluginLogger writes slog records to a plugin's stderr as the JSON lines
// hclog writes, which the host parses and logs with their levels.

// LevelTrace is the slog level hclog's Trace maps to.
const LevelTrace = slog.LevelDebug - 4

// PluginLogger returns a logger that writes hclog JSON lines ("@level",
// "@message", "@timestamp", "@module" and the attributes) to w, at level and
// above. A plugin's w is its stderr: the host reads those lines and logs them
// as its own, under the plugin's name.
func PluginLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) > 0 {
				return a
			}
			switch a.Key {
			case slog.TimeKey:
				return slog.String("@timestamp", a.Value.Time().Format(hclog.TimeFormatJSON))
			case slog.LevelKey:
				return slog.String("@level", hclogLevel(a.Value.Any().(slog.Level)).String())
			case slog.MessageKey:
				return slog.Attr{Key: "@message", Value: a.Value}
			case "logger":
				return slog.Attr{Key: "@module", Value: a.Value}
			}
			return a
		},
	}))
}

// HCLogger returns an hclog.Logger that logs through l: hclog's levels map to
// slog's (Trace to LevelTrace), its key-value pairs become attributes and its
// name the "logger" attribute. A nil l discards everything.
func HCLogger(l *slog.Logger) hclog.Logger {
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	lv := new(atomic.Int32)
	lv.Store(int32(hclog.Trace))
	return &hcAdapter{root: l, l: l, level: lv}
}

// hcAdapter is an hclog.Logger over a *slog.Logger.
type hcAdapter struct {
	// root is the logger HCLogger was given; l is root with the name and the
	// implied arguments.
	root, l *slog.Logger
	name    string
	implied []any
	// level is hclog's own floor, shared with the loggers derived from this
	// one (SetLevel affects them all, as hclog's documentation asks).
	level *atomic.Int32
}

// slogLevel maps an hclog level to slog.
func slogLevel(l hclog.Level) slog.Level {
	switch l {
	case hclog.Trace:
		return LevelTrace
	case hclog.Debug:
		return slog.LevelDebug
	case hclog.Warn:
		return slog.LevelWarn
	case hclog.Error:
		return slog.LevelError
	}
	return slog.LevelInfo
}

// hclogLevel maps a slog level to hclog.
func hclogLevel(l slog.Level) hclog.Level {
	switch {
	case l < slog.LevelDebug:
		return hclog.Trace
	case l < slog.LevelInfo:
		return hclog.Debug
	case l < slog.LevelWarn:
		return hclog.Info
	case l < slog.LevelError:
		return hclog.Warn
	}
	return hclog.Error
}

func (a *hcAdapter) enabled(l hclog.Level) bool {
	if l == hclog.Off || l < hclog.Level(a.level.Load()) {
		return false
	}
	return a.l.Enabled(context.Background(), slogLevel(l))
}

// Log implements hclog.Logger.
func (a *hcAdapter) Log(level hclog.Level, msg string, args ...any) {
	if level == hclog.NoLevel {
		level = hclog.Info
	}
	if !a.enabled(level) {
		return
	}
	a.l.Log(context.Background(), slogLevel(level), msg, args...)
}

// Trace implements hclog.Logger.
func (a *hcAdapter) Trace(msg string, args ...any) { a.Log(hclog.Trace, msg, args...) }

// Debug implements hclog.Logger.
func (a *hcAdapter) Debug(msg string, args ...any) { a.Log(hclog.Debug, msg, args...) }

// Info implements hclog.Logger.
func (a *hcAdapter) Info(msg string, args ...any) { a.Log(hclog.Info, msg, args...) }

// Warn implements hclog.Logger.
func (a *hcAdapter) Warn(msg string, args ...any) { a.Log(hclog.Warn, msg, args...) }

// Error implements hclog.Logger.
func (a *hcAdapter) Error(msg string, args ...any) { a.Log(hclog.Error, msg, args...) }

// IsTrace implements hclog.Logger.
func (a *hcAdapter) IsTrace() bool { return a.enabled(hclog.Trace) }

// IsDebug implements hclog.Logger.
func (a *hcAdapter) IsDebug() bool { return a.enabled(hclog.Debug) }

// IsInfo implements hclog.Logger.
func (a *hcAdapter) IsInfo() bool { return a.enabled(hclog.Info) }

// IsWarn implements hclog.Logger.
func (a *hcAdapter) IsWarn() bool { return a.enabled(hclog.Warn) }

// IsError implements hclog.Logger.
func (a *hcAdapter) IsError() bool { return a.enabled(hclog.Error) }

// ImpliedArgs implements hclog.Logger.
func (a *hcAdapter) ImpliedArgs() []any { return a.implied }

// With implements hclog.Logger.
func (a *hcAdapter) With(args ...any) hclog.Logger {
	b := *a
	b.l = a.l.With(args...)
	b.implied = append(append([]any(nil), a.implied...), args...)
	return &b
}

// Name implements hclog.Logger.
func (a *hcAdapter) Name() string { return a.name }

// Named implements hclog.Logger.
func (a *hcAdapter) Named(name string) hclog.Logger {
	if a.name != "" {
		name = a.name + "." + name
	}
	return a.ResetNamed(name)
}

// ResetNamed implements hclog.Logger. The name replaces the "logger"
// attribute rather than adding a second one.
func (a *hcAdapter) ResetNamed(name string) hclog.Logger {
	b := *a
	b.name = name
	b.l = a.root
	if name != "" {
		b.l = b.l.With("logger", name)
	}
	b.l = b.l.With(a.implied...)
	return &b
}

// SetLevel implements hclog.Logger: it sets a floor below which nothing is
// logged, in addition to the slog handler's own level.
func (a *hcAdapter) SetLevel(level hclog.Level) { a.level.Store(int32(level)) }

// GetLevel implements hclog.Logger: the lowest level that would be logged.
func (a *hcAdapter) GetLevel() hclog.Level {
	for _, l := range []hclog.Level{hclog.Trace, hclog.Debug, hclog.Info, hclog.Warn, hclog.Error} {
		if a.enabled(l) {
			return l
		}
	}
	return hclog.Off
}

// StandardLogger implements hclog.Logger.
func (a *hcAdapter) StandardLogger(opts *hclog.StandardLoggerOptions) *log.Logger {
	return log.New(a.StandardWriter(opts), "", 0)
}

// StandardWriter implements hclog.Logger: each line written is logged at
// opts.ForceLevel, or at the level its "[ERROR]"-style prefix names when
// opts.InferLevels is set, or at Info.
func (a *hcAdapter) StandardWriter(opts *hclog.StandardLoggerOptions) io.Writer {
	if opts == nil {
		opts = &hclog.StandardLoggerOptions{}
	}
	return &stdWriter{a: a, opts: *opts}
}

// stdWriter logs the lines written to it.
type stdWriter struct {
	a    *hcAdapter
	opts hclog.StandardLoggerOptions
}

// Write implements io.Writer.
func (w *stdWriter) Write(p []byte) (int, error) {
	for line := range strings.Lines(string(p)) {
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			continue
		}
		level := hclog.Info
		switch {
		case w.opts.ForceLevel != hclog.NoLevel:
			level = w.opts.ForceLevel
		case w.opts.InferLevels:
			level, line = inferLevel(line)
		}
		w.a.Log(level, line)
	}
	return len(p), nil
}

// inferLevel reads a "[LEVEL] " prefix, as hclog's standard writer does.
func inferLevel(line string) (hclog.Level, string) {
	for _, p := range []struct {
		prefix string
		level  hclog.Level
	}{
		{"[TRACE]", hclog.Trace}, {"[DEBUG]", hclog.Debug}, {"[INFO]", hclog.Info},
		{"[WARN]", hclog.Warn}, {"[ERROR]", hclog.Error}, {"[ERR]", hclog.Error},
	} {
		if rest, ok := strings.CutPrefix(line, p.prefix); ok {
			return p.level, strings.TrimSpace(rest)
		}
	}
	return hclog.Info, line
}
