package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/fleetprof/fleetprof/agent/internal/config"
	"github.com/fleetprof/fleetprof/agent/internal/hostinfo"
	"github.com/fleetprof/fleetprof/plugins/captureopt"
	"github.com/fleetprof/fleetprof/plugins/flagusage"
	"github.com/fleetprof/fleetprof/plugins/size"
	"github.com/fleetprof/fleetprof/plugins/transport"
)

// errUsage means the command line was wrong; the message says how.
var errUsage = errors.New("usage")

// Config is everything the flags and the policy file decide.
type Config struct {
	// Mode is "daemon" or "capture".
	Mode string

	ID string
	// Host is the host name the agent reports (default: the machine's).
	Host      string
	Labels    map[string]string
	Collector string
	TLSCert   string
	TLSKey    string
	TLSCA     string
	TLSServer string
	Insecure  bool
	// ReconnectMax caps the delay between reconnects to the collector.
	ReconnectMax time.Duration
	// UploadPause pauses before each upload chunk and end (fault tests only).
	UploadPause time.Duration
	HTTPAddr    string
	// AddrFile, if set, is where the daemon writes its bound --http
	// address once listening (transport.WriteAddrFile).
	AddrFile    string
	WorkDir     string
	SpoolDir    string
	SpoolMax    int64
	ConfigFile  string
	MetadataURL string
	LogLevel    string
	LogFormat   string

	// The model server.
	Wrap          []string
	Attach        string
	APIKey        string
	ProfilerAddr  string
	Grace         time.Duration
	MinBackoff    time.Duration
	MaxBackoff    time.Duration
	HealthTimeout time.Duration

	// Capture holds the capture options: the defaults for the collector's
	// commands in daemon mode, the capture's in capture mode.
	Capture captureopt.Options

	// Standalone capture.
	Out       string
	Fleetprof string

	// Policy is the loaded --config file, if any.
	Policy *config.File

	// idSet is whether --id was given (else the client certificate's
	// identity, if any, replaces the host name default).
	idSet bool
}

type labelFlag map[string]string

// String formats the labels as k=v,k=v.
func (l labelFlag) String() string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(l)) {
		parts = append(parts, k+"="+l[k])
	}
	return strings.Join(parts, ",")
}

// Set adds one k=v label.
func (l labelFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("want key=value, got %q", s)
	}
	l[k] = v
	return nil
}

type sizeFlag struct{ n *int64 }

// String formats the size in bytes; 0 (unset) is "" so that help does not
// print "(default 0)" beside the default its usage text names.
func (s sizeFlag) String() string {
	if s.n == nil || *s.n == 0 {
		return ""
	}
	return fmt.Sprint(*s.n)
}

// Set parses a size like 10GiB.
func (s sizeFlag) Set(v string) error {
	n, err := size.Parse(v)
	if err != nil {
		return err
	}
	*s.n = n
	return nil
}

const helpDaemon = `fleetprof-agent runs beside a model server (sglang-jax) on each TPU VM, takes
profiles when the collector asks, trims them to the stretches where a device
was busy, and uploads them without losing any.

Usage:
  fleetprof-agent --collector HOST:PORT [flags] --attach http://127.0.0.1:30000
  fleetprof-agent --collector HOST:PORT [flags] --wrap -- python -m sgl_jax.launch_server --port 30000 ...
  fleetprof-agent capture [flags] -o DIR (--attach URL | --wrap -- CMD ARGS...)

Modes:
  daemon    (the default) dial the collector, register, take captures it
            commands, spool them on disk (--spool) and upload them; reconnects
            forever. /metrics and /healthz on --http.
  capture   one capture, no collector: writes DIR/capture.fpcap,
            DIR/trace.json.gz and the report (runs "fleetprof analyze").
            See "fleetprof-agent capture --help".

The model server:
  --wrap -- CMD ARGS...   start it as a child (own process group), pass its
                          output to this log, wait for GET /health, restart it
                          with backoff when it dies, forward SIGTERM/SIGINT and
                          kill the group after --grace
  --attach URL            use a server started elsewhere (with --wrap the URL
                          defaults to http://127.0.0.1:30000)
  --profiler-addr H:P     also capture through the JAX profiler gRPC service
                          (jax.profiler.start_server); loopback only

Examples:
  fleetprof-agent --collector collector.internal:7070 --tls-cert agent.pem \
      --tls-key agent-key.pem --tls-ca ca.pem --label model=qwen3 \
      --wrap -- python -m sgl_jax.launch_server --model-path Qwen/Qwen3-0.6B --port 30000
  fleetprof-agent capture --attach http://127.0.0.1:30000 --duration 2s \
      --workload-body score_request.json --workload-endpoint /v1/score \
      --warmups 1 --requests 2 -o ./profile-out

Flags:
`

const helpCapture = `fleetprof-agent capture takes one profile of a model server and writes, into -o DIR:
  capture.fpcap      the trimmed capture (non-idle windows, every event in them)
  trace.json.gz      the same as a Chrome/Perfetto trace
  report.md, ...     the report, made by "fleetprof analyze" (found beside this
                     binary, or give --fleetprof PATH)

Usage:
  fleetprof-agent capture --attach http://127.0.0.1:30000 [flags] -o DIR
  fleetprof-agent capture [flags] -o DIR --wrap -- python -m sgl_jax.launch_server ...

Integrity findings (a 0-byte XSpace, no device plane: "sglang-jax ignores
device_tracer_level unless patched", an event cap reached) are printed and
kept in the capture's context; a CPU-only capture is still written.

Example (the seed run's workload: 1 warm-up, 2 profiled /v1/score requests):
  fleetprof-agent capture --attach http://127.0.0.1:30000 --duration 2s \
      --workload-body ../shared/testdata/seed-run/inputs/score_request.json \
      --workload-endpoint /v1/score --warmups 1 --requests 2 -o out/

Flags:
`

// parseFlags parses the command line into a Config.
func parseFlags(args []string, stderr io.Writer) (*Config, error) {
	cfg := &Config{Mode: "daemon", Labels: map[string]string{}}
	if len(args) > 0 && args[0] == "capture" {
		cfg.Mode = "capture"
		args = args[1:]
	}
	// Everything after "--" is the wrapped command.
	if i := slices.Index(args, "--"); i >= 0 {
		cfg.Wrap = slices.Clone(args[i+1:])
		args = args[:i]
	}
	help := helpDaemon
	if cfg.Mode == "capture" {
		help = helpCapture
	}
	fs := flagusage.NewFlagSet("fleetprof-agent", help, stderr)
	host, _ := os.Hostname()
	wrap := fs.Bool("wrap", false, "start the model server given after -- as a child and supervise it")
	fs.StringVar(&cfg.Attach, "attach", "", "the model server's URL (default http://127.0.0.1:30000 with --wrap)")
	fs.StringVar(&cfg.APIKey, "api-key", "", "send Authorization: Bearer KEY to the model server (its --api-key)")
	fs.StringVar(&cfg.ProfilerAddr, "profiler-addr", "", "the JAX profiler gRPC service, e.g. 127.0.0.1:8466 (loopback only)")
	fs.DurationVar(&cfg.Grace, "grace", 30*time.Second, "with --wrap: time between SIGTERM and SIGKILL of the server's process group")
	fs.DurationVar(&cfg.MinBackoff, "restart-backoff", time.Second, "with --wrap: first delay before restarting a dead server (doubles up to --restart-max-backoff)")
	fs.DurationVar(&cfg.MaxBackoff, "restart-max-backoff", time.Minute, "with --wrap: longest restart delay")
	fs.DurationVar(&cfg.HealthTimeout, "health-timeout", 10*time.Minute, "how long to wait for the server's GET /health (model loading is slow)")

	fs.StringVar(&cfg.ID, "id", host, "the agent's id, unique in the fleet (with mTLS, the identity in its certificate; default: --host)")
	fs.StringVar(&cfg.Host, "host", host, "the host name the agent reports beside its captures (default: the machine's host name)")
	fs.Var(labelFlag(cfg.Labels), "label", "a label k=v for fleet selectors (repeatable; also from --config)")
	fs.StringVar(&cfg.Collector, "collector", "", "the collector's gRPC address HOST:PORT (none: standalone; use the capture command)")
	fs.StringVar(&cfg.TLSCert, "tls-cert", "", "client certificate (PEM) for mTLS to the collector")
	fs.StringVar(&cfg.TLSKey, "tls-key", "", "client key (PEM) for --tls-cert")
	fs.StringVar(&cfg.TLSCA, "tls-ca", "", "CA bundle (PEM) that signed the collector's certificate (default: system roots)")
	fs.StringVar(&cfg.TLSServer, "tls-server-name", "", "the collector's name in its certificate (default: from --collector)")
	fs.BoolVar(&cfg.Insecure, "insecure", false, "plaintext to the collector; allowed only for a loopback address")
	fs.DurationVar(&cfg.ReconnectMax, "reconnect-max-backoff", 30*time.Second, "longest delay between reconnects to the collector (it starts at 500ms and doubles)")
	fs.DurationVar(&cfg.UploadPause, "upload-pause", 0, "testing only: pause this long before each upload chunk and the upload's end, so fault tests can interrupt an upload (default: none)")
	fs.StringVar(&cfg.HTTPAddr, "http", "127.0.0.1:7072", "serve /metrics and /healthz here (daemon mode; empty: off)")
	fs.StringVar(&cfg.AddrFile, "addr-file", "", `daemon mode: once listening, write the bound address to this file as JSON, {"http":"127.0.0.1:7072"} (atomically; --http 127.0.0.1:0 picks a free port, read back here)`)
	fs.StringVar(&cfg.WorkDir, "work-dir", "", "raw profiler output goes under DIR/raw (default: the folder holding --spool, else /var/lib/fleetprof-agent; -o DIR/.raw for capture)")
	fs.StringVar(&cfg.SpoolDir, "spool", "", "captures wait here until the collector commits them (default: WORK-DIR/spool)")
	fs.Var(sizeFlag{&cfg.SpoolMax}, "spool-max-bytes", "bound on the spool, e.g. 10GiB; the oldest capture is dropped when full (default 10GiB)")
	fs.StringVar(&cfg.ConfigFile, "config", "", "policy file (YAML): labels, spool limits and default capture options (keyed by these flags' names with _ for -; a flag given wins)")
	fs.StringVar(&cfg.MetadataURL, "metadata-url", "", "GCE metadata server base (default "+hostinfo.DefaultMetadataURL+" or $"+hostinfo.MetadataURLEnv+`; "off" skips it)`)
	fs.StringVar(&cfg.LogLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&cfg.LogFormat, "log-format", "text", "text or json")

	cfg.Capture.Register(fs)

	fs.StringVar(&cfg.Out, "o", "", "capture: the output folder")
	fs.StringVar(&cfg.Fleetprof, "fleetprof", "", "capture: the fleetprof CLI for the report (default: beside this binary, then $PATH)")

	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("%w: unexpected arguments %q (put the server's command after --wrap --)", errUsage, fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	cfg.idSet = set["id"]
	if !set["id"] && set["host"] {
		cfg.ID = cfg.Host // one name for the agent and its host unless told otherwise
	}
	if *wrap && len(cfg.Wrap) == 0 {
		return nil, fmt.Errorf("%w: --wrap needs the server's command after --, e.g. --wrap -- python -m sgl_jax.launch_server --port 30000", errUsage)
	}
	if !*wrap && len(cfg.Wrap) > 0 {
		return nil, fmt.Errorf("%w: a command after -- needs --wrap", errUsage)
	}
	if len(cfg.Wrap) > 0 && cfg.Attach == "" {
		cfg.Attach = "http://127.0.0.1:30000"
	}
	if err := cfg.applyPolicy(set, fs); err != nil {
		return nil, err
	}
	return cfg, cfg.validate()
}

// applyPolicy loads --config and fills what the flags left unset: the
// policy's capture options are the defaults of the flags not given.
func (cfg *Config) applyPolicy(set map[string]bool, fs *flag.FlagSet) error {
	if cfg.ConfigFile == "" {
		return nil
	}
	p, err := config.Load(cfg.ConfigFile)
	if err != nil {
		return err
	}
	cfg.Policy = p
	for k, v := range p.Labels {
		if _, ok := cfg.Labels[k]; !ok {
			cfg.Labels[k] = v
		}
	}
	if !set["spool"] && p.Spool.Dir != "" {
		cfg.SpoolDir = p.Spool.Dir
	}
	if !set["spool-max-bytes"] && p.Spool.MaxBytes > 0 {
		cfg.SpoolMax = int64(p.Spool.MaxBytes)
	}
	cfg.Capture.Merge(p.Capture, fs)
	return nil
}

func (cfg *Config) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", errUsage, fmt.Sprintf(format, args...))
	}
	switch {
	case cfg.Attach == "" && cfg.ProfilerAddr == "":
		return bad("no model server: give --attach URL, --wrap -- CMD ..., or --profiler-addr HOST:PORT")
	case cfg.Mode == "capture" && cfg.Out == "":
		return bad("capture needs -o DIR")
	case cfg.Mode == "capture" && cfg.AddrFile != "":
		return bad("capture listens on nothing: drop --addr-file")
	case cfg.Mode == "capture" && cfg.Collector != "":
		return bad("capture is standalone: drop --collector (use \"fleetprof capture\" to capture through the collector)")
	case cfg.Mode == "daemon" && cfg.Collector == "":
		return bad("no --collector: run \"fleetprof-agent capture ... -o DIR\" for a one-off capture without a collector")
	case cfg.Capture.Backend == "grpc" && cfg.ProfilerAddr == "":
		return bad("--backend grpc needs --profiler-addr")
	case cfg.Capture.Backend == "http" && cfg.Attach == "":
		return bad("--backend http needs --attach or --wrap")
	case (cfg.TLSCert == "") != (cfg.TLSKey == ""):
		return bad("--tls-cert and --tls-key go together")
	case cfg.Insecure && (cfg.TLSCert != "" || cfg.TLSCA != ""):
		return bad("--insecure contradicts --tls-cert/--tls-ca")
	case cfg.LogFormat != "text" && cfg.LogFormat != "json":
		return bad("--log-format %q: want text or json", cfg.LogFormat)
	}
	if err := cfg.Capture.Validate(); err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	if cfg.Insecure && cfg.Collector != "" && !transport.Loopback(cfg.Collector) {
		return bad("--insecure is allowed only for a loopback collector address (got %s): use --tls-cert/--tls-key/--tls-ca", cfg.Collector)
	}
	return nil
}
