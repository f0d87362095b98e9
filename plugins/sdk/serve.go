package sdk

import (
	"log/slog"
	"os"
	"strings"

	"github.com/hashicorp/go-plugin"

	"github.com/fleetprof/fleetprof/plugins/sdk/capture/fpcap"
)

// Serve runs a as a plugin: it performs go-plugin's handshake with the host
// on stdout, serves the analyzer over gRPC until the host is done, and then
// returns (main should simply return after it). It is a plugin binary's
// whole main:
//
//	func main() { sdk.Serve(myAnalyzer{}) }
//
// Run by hand, outside a host, the binary says it is a plugin and exits 1.
//
// A plugin must never write to stdout: stdout is the handshake channel.
// Logs go to stderr, as hclog JSON lines the host logs under the plugin's
// name; an analyzer gets a logger for them in Input.Log.
func Serve(a Analyzer) {
	plugin.Serve(ServeConfig(a, PluginLogger(os.Stderr, levelFromEnv(os.Getenv(LogLevelEnv)))))
}

// ServeConfig returns the go-plugin configuration Serve uses, with log as the
// plugin's logger. Test harnesses (package sdktest) set its Test field to
// serve in-process.
func ServeConfig(a Analyzer, log *slog.Logger) *plugin.ServeConfig {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("analyzer", a.Info().Name)
	lim, err := fpcap.ParseLimits(os.Getenv(LimitsEnv))
	if err != nil {
		log.Warn("decoding limits from the host ignored; using the defaults", "env", LimitsEnv, "error", err)
		lim = fpcap.Limits{}
	}
	return &plugin.ServeConfig{
		HandshakeConfig: HandshakeConfig(),
		Plugins:         PluginSet(&Plugin{Analyzer: a, Log: log, Limits: lim}),
		GRPCServer:      grpcServer(lim),
		Logger:          HCLogger(log),
	}
}

// levelFromEnv reads LogLevelEnv's value; anything unknown means info.
func levelFromEnv(s string) slog.Level {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "trace":
		return LevelTrace
	case "debug":
		return slog.LevelDebug
	case "warn", "warning":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}

// LevelName returns the LogLevelEnv value for a slog level, for hosts.
func LevelName(l slog.Level) string {
	return strings.ToLower(hclogLevel(l).String())
}
