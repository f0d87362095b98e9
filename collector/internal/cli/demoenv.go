package cli

import (
	"bufio"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fleetprof/fleetprof/plugins/transport"
)

// defaultCollector is the address used when neither --collector nor
// FLEETPROF_COLLECTOR is set and no running demo is found.
const defaultCollector = "127.0.0.1:7070"

// demoEnvFile is where `make demo` writes its collector address, relative
// to the directory it runs in (integration/demo/demo.sh).
var demoEnvFile = filepath.Join("demo-out", "env")

// collectorAddr picks the collector address: the --collector flag, else
// FLEETPROF_COLLECTOR, else the address of a running demo found in
// demo-out/env in the working directory or one of its parents, else
// 127.0.0.1:7070.
func collectorAddr(flag string) string {
	if flag != "" {
		return flag
	}
	if v := os.Getenv(envCollector); v != "" {
		return v
	}
	if a := runningDemo(); a != "" {
		return a
	}
	return defaultCollector
}

// runningDemo returns FLEETPROF_COLLECTOR from the nearest demo-out/env
// when something listens on it, else "".
func runningDemo() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for range 8 {
		if a := demoAddr(filepath.Join(dir, demoEnvFile)); a != "" {
			if c, err := net.DialTimeout("tcp", a, 300*time.Millisecond); err == nil {
				c.Close()
				return a
			}
			return ""
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	return ""
}

// demoAddr reads the loopback collector address from a demo's env file
// (lines of `export NAME=value`); "" when the file is missing or holds none.
func demoAddr(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimPrefix(strings.TrimSpace(sc.Text()), "export ")
		v, ok := strings.CutPrefix(line, envCollector+"=")
		if !ok {
			continue
		}
		v = strings.Trim(v, `"'`)
		if transport.Loopback(v) {
			return v
		}
	}
	return ""
}
