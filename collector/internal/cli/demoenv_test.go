package cli

import (
	"net"
	"os"
	"path/filepath"
	"testing"
)

func TestCollectorAddr(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	live := ln.Addr().String()
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.Addr().String()
	dead.Close()

	tests := []struct {
		name, flag, env, file, want string
	}{
		{name: "flag", flag: "10.0.0.1:7070", env: "127.0.0.1:1", file: live, want: "10.0.0.1:7070"},
		{name: "env", env: "127.0.0.1:1", file: live, want: "127.0.0.1:1"},
		{name: "running demo", file: live, want: live},
		{name: "stopped demo", file: deadAddr, want: defaultCollector},
		{name: "no demo", want: defaultCollector},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			sub := filepath.Join(root, "a", "b")
			if err := os.MkdirAll(sub, 0o755); err != nil {
				t.Fatal(err)
			}
			if tt.file != "" {
				if err := os.MkdirAll(filepath.Join(root, "demo-out"), 0o755); err != nil {
					t.Fatal(err)
				}
				body := "export FLEETPROF_COLLECTOR=" + tt.file + "\nexport FLEETPROF_WEB=http://127.0.0.1:1/\n"
				if err := os.WriteFile(filepath.Join(root, demoEnvFile), []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			t.Chdir(sub)
			t.Setenv(envCollector, tt.env)
			if got := collectorAddr(tt.flag); got != tt.want {
				t.Errorf("collectorAddr(%q) = %q, want %q", tt.flag, got, tt.want)
			}
		})
	}
}
