package sdk

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

func TestHCLogger(t *testing.T) {
	var buf bytes.Buffer
	l := HCLogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{
		Level:       slog.LevelDebug,
		ReplaceAttr: dropTime,
	})))
	l.Trace("not shown")
	l.Debug("debug line", "k", 1)
	l.Named("plugin").With("pid", 7).Named("stdio").Warn("warned", "err", "x")
	l.Log(hclog.NoLevel, "no level")
	l.Error("bad")
	want := `level=DEBUG msg="debug line" k=1
level=WARN msg=warned logger=plugin.stdio pid=7 err=x
level=INFO msg="no level"
level=ERROR msg=bad
`
	if got := buf.String(); got != want {
		t.Errorf("log =\n%s\nwant\n%s", got, want)
	}

	tests := []struct {
		set  hclog.Level
		want hclog.Level
	}{
		{hclog.Trace, hclog.Debug}, // the handler's own level wins
		{hclog.Info, hclog.Info},
		{hclog.Error, hclog.Error},
		{hclog.Off, hclog.Off},
	}
	for _, tt := range tests {
		l.SetLevel(tt.set)
		if got := l.GetLevel(); got != tt.want {
			t.Errorf("after SetLevel(%v): GetLevel() = %v, want %v", tt.set, got, tt.want)
		}
	}
	l.SetLevel(hclog.Warn)
	if l.IsInfo() || !l.IsWarn() || !l.Named("x").IsError() {
		t.Errorf("SetLevel(Warn) not honoured by Is* or by Named loggers")
	}
	if got := HCLogger(nil).GetLevel(); got != hclog.Off {
		t.Errorf("HCLogger(nil).GetLevel() = %v, want Off", got)
	}
}

func TestHCLoggerStandardWriter(t *testing.T) {
	var buf bytes.Buffer
	l := HCLogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{ReplaceAttr: dropTime})))
	w := l.StandardWriter(&hclog.StandardLoggerOptions{InferLevels: true})
	_, _ = w.Write([]byte("[WARN] careful\nplain\n\n"))
	l.StandardLogger(&hclog.StandardLoggerOptions{ForceLevel: hclog.Error}).Print("forced")
	want := "level=WARN msg=careful\nlevel=INFO msg=plain\nlevel=ERROR msg=forced\n"
	if got := buf.String(); got != want {
		t.Errorf("log =\n%s\nwant\n%s", got, want)
	}
}

func TestPluginLogger(t *testing.T) {
	var buf bytes.Buffer
	l := PluginLogger(&buf, slog.LevelDebug).With("logger", "top_ops")
	l.Debug("hello", "n", 3, slog.Group("g", "a", 1))
	l.Log(t.Context(), LevelTrace, "hidden")
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatalf("not one JSON line: %q: %v", buf.String(), err)
	}
	if m["@level"] != "debug" || m["@message"] != "hello" || m["@module"] != "top_ops" || m["n"] != 3.0 {
		t.Errorf("line = %v", m)
	}
	if g, ok := m["g"].(map[string]any); !ok || g["a"] != 1.0 {
		t.Errorf("group = %v", m["g"])
	}
	ts, _ := m["@timestamp"].(string)
	if _, err := time.Parse(hclog.TimeFormatJSON, ts); err != nil {
		t.Errorf("@timestamp %q does not parse as hclog's: %v", ts, err)
	}
	if strings.Count(buf.String(), "\n") != 1 {
		t.Errorf("trace line written below the level: %q", buf.String())
	}
}

func TestLevels(t *testing.T) {
	for _, tt := range []struct {
		env  string
		want slog.Level
	}{
		{"trace", LevelTrace}, {"DEBUG", slog.LevelDebug}, {"", slog.LevelInfo}, {"info", slog.LevelInfo},
		{"warn", slog.LevelWarn}, {"error", slog.LevelError}, {"nonsense", slog.LevelInfo},
	} {
		if got := levelFromEnv(tt.env); got != tt.want {
			t.Errorf("levelFromEnv(%q) = %v, want %v", tt.env, got, tt.want)
		}
		if tt.env != "" && tt.env != "nonsense" {
			if got := levelFromEnv(LevelName(tt.want)); got != tt.want {
				t.Errorf("levelFromEnv(LevelName(%v)) = %v", tt.want, got)
			}
		}
	}
}

func dropTime(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 && a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}
