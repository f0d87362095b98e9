package pluginhost

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
)

func TestLineLog(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{
		Level: slog.LevelDebug,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
	w := newLineLog(log, slog.LevelInfo, "stderr")
	for _, s := range []string{
		`{"@level":"warn","@message":"disk low","@module":"top_ops","@timestamp":"2026-01-01T00:00:00.000000Z","free":3}` + "\n",
		"plain ", "text in two writes\n",
		`{"@message":1,"@level":"info"}` + "\n", // not hclog: logged as text
		`{"@message":"m","@level":"loud"}` + "\n",
		"\n",
		"panic: oh no\n", "goroutine 1 [running]:\n",
		strings.Repeat("x", maxLogLine+10) + "\n",
		"unfinished",
	} {
		if _, err := w.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	got := strings.Split(strings.TrimSpace(buf.String()), "\n")
	want := []string{
		`level=WARN msg="disk low" module=top_ops free=3`,
		`level=INFO msg="plugin output" stream=stderr line="plain text in two writes"`,
		`level=INFO msg="plugin output" stream=stderr line="{\"@message\":1,\"@level\":\"info\"}"`,
		`level=INFO msg="plugin output" stream=stderr line="{\"@message\":\"m\",\"@level\":\"loud\"}"`,
		`level=ERROR msg="plugin output" stream=stderr line="panic: oh no"`,
		`level=ERROR msg="plugin output" stream=stderr line="goroutine 1 [running]:"`,
		`level=ERROR msg="plugin output" stream=stderr line=` + strings.Repeat("x", maxLogLine) + ` truncated=true`,
		`level=ERROR msg="plugin output" stream=stderr line=unfinished`,
	}
	if len(got) != len(want) {
		t.Fatalf("got %d lines, want %d:\n%s", len(got), len(want), buf.String())
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d = %.200s\nwant     %.200s", i, got[i], want[i])
		}
	}
}

func TestHostLoggerNamedOff(t *testing.T) {
	l := hostLogger(slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil)))
	if got := l.Named("/path/to/plugin").GetLevel(); got != hclog.Off {
		t.Errorf("Named(plugin).GetLevel() = %v, want Off", got)
	}
	if got := l.With("a", 1).Named("x").GetLevel(); got != hclog.Off {
		t.Errorf("With().Named().GetLevel() = %v, want Off", got)
	}
	if got := l.Named("stdio").GetLevel(); got != hclog.Info {
		t.Errorf("Named(stdio).GetLevel() = %v, want Info", got)
	}
}
