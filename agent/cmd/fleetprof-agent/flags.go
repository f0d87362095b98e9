package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/fleetprof/fleetprof/agent/internal/config"
	"github.com/fleetprof/fleetprof/agent/internal/hostinfo"
	"github.com/fleetprof/fleetprof/plugins/transport"

	"github.com/fleetprof/fleetprof/plugins/size"
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
	WorkDir     string
	SpoolDir    string
	SpoolMax    int64
	KeepRaw     bool
	ConfigFile  string
	MetadataURL string
	LogLevel    string
	LogFormat   string

	// The model server.
	Wrap          []string
	Attach        string
	APIKey        string
	ProfilerAddr  string
	Backend       string
	Grace         time.Duration
	MinBackoff    time.Duration
	MaxBackoff    time.Duration
	HealthTimeout time.Duration

	// Capture options (defaults for commands in daemon mode).
	Duration          time.Duration
	NumSteps          int64
	HostTracerLevel   int
	DeviceTracerLevel int
	PythonTracerLevel int
	Gap, Pad          time.Duration

	// The workload.
	WorkloadBody     string
	WorkloadEndpoint string
	WorkloadMethod   string
	Warmups          int
	Requests         int
	Concurrency      int
	Rate             float64

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
	cfg := &Config{Mode: "daemon", Labels: map[string]string{}, HostTracerLevel: -1, DeviceTracerLevel: -1, PythonTracerLevel: -1}
	if len(args) > 0 && args[0] == "capture" {
		cfg.Mode = "capture"
		args = args[1:]
	}
	// Everything after "--" is the wrapped command.
	if i := slices.Index(args, "--"); i >= 0 {
		cfg.Wrap = slices.Clone(args[i+1:])
		args = args[:i]
	}
	fs := flag.NewFlagSet("fleetprof-agent", flag.ContinueOnError)
	fs.SetOutput(stderr)
	help := helpDaemon
	if cfg.Mode == "capture" {
		help = helpCapture
	}
	fs.Usage = func() {
		fmt.Fprint(stderr, help)
		printDefaults(stderr, fs)
	}
	host, _ := os.Hostname()
	wrap := fs.Bool("wrap", false, "start the model server given after -- as a child and supervise it")
	fs.StringVar(&cfg.Attach, "attach", "", "the model server's URL (default http://127.0.0.1:30000 with --wrap)")
	fs.StringVar(&cfg.APIKey, "api-key", "", "send Authorization: Bearer KEY to the model server (its --api-key)")
	fs.StringVar(&cfg.ProfilerAddr, "profiler-addr", "", "the JAX profiler gRPC service, e.g. 127.0.0.1:8466 (loopback only)")
	fs.StringVar(&cfg.Backend, "backend", "", `default capture backend: "http" (/start_profile) or "grpc" (--profiler-addr)`)
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
	fs.StringVar(&cfg.WorkDir, "work-dir", "", "raw profiler output goes under DIR/raw (default: the folder holding --spool, else /var/lib/fleetprof-agent; -o DIR/.raw for capture)")
	fs.StringVar(&cfg.SpoolDir, "spool", "", "captures wait here until the collector commits them (default: WORK-DIR/spool)")
	fs.Var(sizeFlag{&cfg.SpoolMax}, "spool-max-bytes", "bound on the spool, e.g. 10GiB; the oldest capture is dropped when full (default 10GiB)")
	fs.BoolVar(&cfg.KeepRaw, "keep-raw", false, "keep raw profiler output after the capture is ingested")
	fs.StringVar(&cfg.ConfigFile, "config", "", "policy file (YAML): labels, spool limits, default capture options and workload")
	fs.StringVar(&cfg.MetadataURL, "metadata-url", "", "GCE metadata server base (default "+hostinfo.DefaultMetadataURL+" or $"+hostinfo.MetadataURLEnv+`; "off" skips it)`)
	fs.StringVar(&cfg.LogLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&cfg.LogFormat, "log-format", "text", "text or json")

	fs.DurationVar(&cfg.Duration, "duration", 0, "how long to profile (default 2s; with a workload and no duration, as long as the workload)")
	fs.Int64Var(&cfg.NumSteps, "num-steps", 0, "stop after N forward steps instead (http backend)")
	fs.IntVar(&cfg.HostTracerLevel, "host-tracer-level", -1, "host tracer level 0-3 (-1: server default, 2)")
	fs.IntVar(&cfg.DeviceTracerLevel, "device-tracer-level", -1, "device tracer level 0-2 (-1: server default, 1; unpatched sglang-jax ignores it)")
	fs.IntVar(&cfg.PythonTracerLevel, "python-tracer-level", -1, "python tracer level 0-1 (-1: server default, 0; 1 slows decode ~3x)")
	fs.DurationVar(&cfg.Gap, "gap", 0, "merge busy stretches closer than this (default 1ms)")
	fs.DurationVar(&cfg.Pad, "pad", 0, "widen each window by this on both sides (default 100µs)")

	fs.StringVar(&cfg.WorkloadBody, "workload-body", "", "replay this request body while profiling (e.g. score_request.json)")
	fs.StringVar(&cfg.WorkloadEndpoint, "workload-endpoint", "/v1/score", "the path to send the workload to")
	fs.StringVar(&cfg.WorkloadMethod, "workload-method", "POST", "the workload's HTTP method")
	fs.IntVar(&cfg.Warmups, "warmups", 1, "workload requests before profiling starts (not profiled)")
	fs.IntVar(&cfg.Requests, "requests", 2, "workload requests while profiling")
	fs.IntVar(&cfg.Concurrency, "concurrency", 1, "workload requests in flight at once")
	fs.Float64Var(&cfg.Rate, "rate", 0, "workload requests per second (0: as fast as --concurrency allows)")

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
	if err := cfg.applyPolicy(set); err != nil {
		return nil, err
	}
	return cfg, cfg.validate(set)
}

// applyPolicy loads --config and fills what the flags left unset.
func (cfg *Config) applyPolicy(set map[string]bool) error {
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
	c := p.Capture
	if !set["backend"] && cfg.Backend == "" {
		cfg.Backend = c.Backend
	}
	if !set["duration"] && c.Duration > 0 {
		cfg.Duration = time.Duration(c.Duration)
	}
	if !set["num-steps"] && c.NumSteps > 0 {
		cfg.NumSteps = c.NumSteps
	}
	level := func(name string, dst *int, p *int32) {
		if !set[name] && p != nil {
			*dst = int(*p)
		}
	}
	level("host-tracer-level", &cfg.HostTracerLevel, c.HostTracerLevel)
	level("device-tracer-level", &cfg.DeviceTracerLevel, c.DeviceTracerLevel)
	level("python-tracer-level", &cfg.PythonTracerLevel, c.PythonTracerLevel)
	if !set["gap"] && c.Gap > 0 {
		cfg.Gap = time.Duration(c.Gap)
	}
	if !set["pad"] && c.Pad > 0 {
		cfg.Pad = time.Duration(c.Pad)
	}
	cfg.KeepRaw = cfg.KeepRaw || c.KeepRaw
	if w := p.Workload; w != nil && !set["workload-body"] {
		body := w.BodyFile
		if body != "" && !filepath.IsAbs(body) {
			body = filepath.Join(filepath.Dir(cfg.ConfigFile), body)
		}
		cfg.WorkloadBody = body
		cfg.WorkloadEndpoint, cfg.WorkloadMethod = w.Endpoint, w.Method
		cfg.Warmups, cfg.Requests, cfg.Concurrency, cfg.Rate = w.Warmups, w.Requests, w.Concurrency, w.Rate
	}
	return nil
}

func (cfg *Config) validate(set map[string]bool) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", errUsage, fmt.Sprintf(format, args...))
	}
	switch {
	case cfg.Attach == "" && cfg.ProfilerAddr == "":
		return bad("no model server: give --attach URL, --wrap -- CMD ..., or --profiler-addr HOST:PORT")
	case cfg.Mode == "capture" && cfg.Out == "":
		return bad("capture needs -o DIR")
	case cfg.Mode == "capture" && cfg.Collector != "":
		return bad("capture is standalone: drop --collector (use \"fleetprof capture\" to capture through the collector)")
	case cfg.Mode == "daemon" && cfg.Collector == "":
		return bad("no --collector: run \"fleetprof-agent capture ... -o DIR\" for a one-off capture without a collector")
	case cfg.Backend != "" && cfg.Backend != "http" && cfg.Backend != "grpc":
		return bad("--backend %q: want http or grpc", cfg.Backend)
	case cfg.Backend == "grpc" && cfg.ProfilerAddr == "":
		return bad("--backend grpc needs --profiler-addr")
	case cfg.Backend == "http" && cfg.Attach == "":
		return bad("--backend http needs --attach or --wrap")
	case cfg.HostTracerLevel < -1 || cfg.HostTracerLevel > 3:
		return bad("--host-tracer-level %d: want 0..3", cfg.HostTracerLevel)
	case cfg.DeviceTracerLevel < -1 || cfg.DeviceTracerLevel > 2:
		return bad("--device-tracer-level %d: want 0..2", cfg.DeviceTracerLevel)
	case cfg.PythonTracerLevel < -1 || cfg.PythonTracerLevel > 1:
		return bad("--python-tracer-level %d: want 0..1", cfg.PythonTracerLevel)
	case cfg.Duration < 0 || cfg.NumSteps < 0:
		return bad("--duration and --num-steps must not be negative")
	case (cfg.TLSCert == "") != (cfg.TLSKey == ""):
		return bad("--tls-cert and --tls-key go together")
	case cfg.Insecure && (cfg.TLSCert != "" || cfg.TLSCA != ""):
		return bad("--insecure contradicts --tls-cert/--tls-ca")
	case cfg.LogFormat != "text" && cfg.LogFormat != "json":
		return bad("--log-format %q: want text or json", cfg.LogFormat)
	}
	if cfg.Insecure && cfg.Collector != "" && !transport.Loopback(cfg.Collector) {
		return bad("--insecure is allowed only for a loopback collector address (got %s): use --tls-cert/--tls-key/--tls-ca", cfg.Collector)
	}
	return nil
}

// printDefaults prints fs's flags as PrintDefaults does, spelled --flag as
// the README and the examples write them (the flag package accepts both).
func printDefaults(w io.Writer, fs *flag.FlagSet) {
	var b strings.Builder
	out := fs.Output()
	fs.SetOutput(&b)
	fs.PrintDefaults()
	fs.SetOutput(out)
	for line := range strings.Lines(b.String()) {
		if name, ok := strings.CutPrefix(line, "  -"); ok && len(strings.Fields(name)) > 0 && len(strings.Fields(name)[0]) > 1 {
			line = "  --" + name // one-letter flags such as -o keep one dash
		}
		fmt.Fprint(w, line)
	}
}
