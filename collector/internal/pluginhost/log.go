package pluginhost

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"

	"github.com/hashicorp/go-hclog"

	"github.com/fleetprof/fleetprof/plugins/sdk"
)

// maxLogLine bounds one logged line of a plugin's output; the rest of a
// longer line is dropped.
const maxLogLine = 16 << 10

// hostLogger is the go-plugin client's logger: the SDK's slog adapter, with
// the loggers go-plugin derives for a plugin's stderr turned off. go-plugin
// then hands those lines unparsed to ClientConfig.Stderr (a lineLog), which
// parses them without trusting them: go-plugin's own parser panics, taking
// the host down, on a JSON line whose "@message" is not a string.
func hostLogger(l *slog.Logger) hclog.Logger {
	return offNamed{sdk.HCLogger(l)}
}

// offNamed is an hclog.Logger whose Named loggers are off, except go-plugin's
// "stdio" one.
type offNamed struct{ hclog.Logger }

// Named implements hclog.Logger.
func (o offNamed) Named(name string) hclog.Logger {
	if name == "stdio" {
		return o.Logger.Named(name)
	}
	return hclog.New(&hclog.LoggerOptions{Level: hclog.Off, Output: io.Discard})
}

// With implements hclog.Logger.
func (o offNamed) With(args ...any) hclog.Logger { return offNamed{o.Logger.With(args...)} }

// lineLog logs a plugin's output line by line: hclog JSON lines with their
// own level, message and attributes, other lines at level, or at Error from
// a Go panic's first line on.
type lineLog struct {
	log    *slog.Logger
	level  slog.Level
	stream string
	// mu guards the fields below.
	mu      sync.Mutex
	buf     []byte
	partial bool // buf was cut at maxLogLine; drop the rest of the line
	panic   bool
}

func newLineLog(log *slog.Logger, level slog.Level, stream string) *lineLog {
	return &lineLog{log: log, level: level, stream: stream}
}

// Write implements io.Writer.
func (w *lineLog) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		chunk := p
		if i >= 0 {
			chunk = p[:i]
		}
		if room := maxLogLine - len(w.buf); room > 0 {
			w.buf = append(w.buf, chunk[:min(room, len(chunk))]...)
		}
		if len(w.buf) >= maxLogLine {
			w.partial = true
		}
		if i < 0 {
			break
		}
		w.emit()
		p = p[i+1:]
	}
	return n, nil
}

// Close logs what is left of an unfinished line.
func (w *lineLog) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.emit()
	}
	return nil
}

// emit logs the buffered line and empties the buffer.
func (w *lineLog) emit() {
	line := strings.TrimRight(string(w.buf), "\r")
	truncated := w.partial
	w.buf, w.partial = w.buf[:0], false
	if strings.TrimSpace(line) == "" {
		return
	}
	ctx := context.Background()
	if level, msg, attrs, ok := parseHCLog(line); ok {
		if truncated {
			attrs = append(attrs, slog.Bool("truncated", true))
		}
		w.log.LogAttrs(ctx, level, msg, attrs...)
		return
	}
	if strings.HasPrefix(line, "panic: ") || strings.HasPrefix(line, "fatal error: ") {
		w.panic = true
	}
	level := w.level
	if w.panic {
		level = slog.LevelError
	}
	attrs := []slog.Attr{slog.String("stream", w.stream), slog.String("line", line)}
	if truncated {
		attrs = append(attrs, slog.Bool("truncated", true))
	}
	w.log.LogAttrs(ctx, level, "plugin output", attrs...)
}

// parseHCLog reads one hclog JSON line: "@level", "@message", optional
// "@module" and "@timestamp", and attributes. Anything else is not one.
func parseHCLog(line string) (slog.Level, string, []slog.Attr, bool) {
	if !strings.HasPrefix(line, "{") {
		return 0, "", nil, false
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		return 0, "", nil, false
	}
	msg, ok1 := m["@message"].(string)
	lv, ok2 := m["@level"].(string)
	if !ok1 || !ok2 {
		return 0, "", nil, false
	}
	var level slog.Level
	switch lv {
	case "trace":
		level = sdk.LevelTrace
	case "debug":
		level = slog.LevelDebug
	case "info":
		level = slog.LevelInfo
	case "warn":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	default:
		return 0, "", nil, false
	}
	var attrs []slog.Attr
	if mod, ok := m["@module"].(string); ok && mod != "" {
		attrs = append(attrs, slog.String("module", mod))
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		if !strings.HasPrefix(k, "@") {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		attrs = append(attrs, slog.Any(k, m[k]))
	}
	return level, msg, attrs, true
}
