// Package captureopt defines the capture options once: each option's flag
// name, default and help, for the agent's flags (stdlib flag), the CLI's
// capture and schedule commands (pflag) and the agent's policy file (whose
// keys are the flag names with '_' for '-'); how a policy and a command line
// merge; their validation; and their conversion to and from
// agentv1.CaptureOptions.
//
// "Unset" means the same everywhere: a tracer level of -1, a duration, gap
// or pad of 0 and an empty backend leave the choice to the agent, which
// takes its policy file's value, else the model server's (or its own)
// default that each option's help names.
//
// Like plugins/transport, it is shared by the agent and the collector and is
// not part of the plugin SDK.
package captureopt

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Errors. Validation and parsing return an *OptionError wrapping one of them.
var (
	// ErrSyntax means a value does not parse as the option's type.
	ErrSyntax = errors.New("captureopt: bad syntax")
	// ErrRange means a value is outside the option's range.
	ErrRange = errors.New("captureopt: out of range")
	// ErrBackend means the backend is neither http nor grpc.
	ErrBackend = errors.New("captureopt: unknown backend")
	// ErrEndpoint means the workload endpoint is not a path.
	ErrEndpoint = errors.New("captureopt: endpoint is not a path")
	// ErrBodyTooLarge means the workload body file is over the limit.
	ErrBodyTooLarge = errors.New("captureopt: workload body too large")
	// ErrUnsendable means a value cannot travel in a capture command: the
	// agent reads a tracer level of 0 there as unset.
	ErrUnsendable = errors.New("captureopt: cannot be sent in a capture command")
	// ErrUnknown means a policy file names no option.
	ErrUnknown = errors.New("captureopt: unknown option")
)

// An OptionError names the option with a bad value.
type OptionError struct {
	// Name is the option's flag name, e.g. "host-tracer-level".
	Name string
	// Value is the value as given.
	Value string
	// Want says what would be accepted.
	Want string
	// Line is the policy file's line, 0 for flags.
	Line int
	// Err is one of the package's errors.
	Err error
}

// Error reads like "--host-tracer-level 5: want 0..3, or -1 (the default)".
func (e *OptionError) Error() string {
	s := "--" + e.Name
	if e.Value != "" {
		s += " " + e.Value
	}
	s += ": " + e.Want
	if e.Line > 0 {
		s = fmt.Sprintf("line %d: %s", e.Line, s)
	}
	return s
}

// Unwrap returns the package error it wraps.
func (e *OptionError) Unwrap() error { return e.Err }

// Unset is the tracer level that leaves the choice to the agent's policy,
// else to the model server.
const Unset = -1

// MaxDuration bounds Duration.
const MaxDuration = time.Hour

// MaxConcurrency bounds Concurrency.
const MaxConcurrency = 256

// MaxCommandBodyBytes bounds a workload body sent in a capture command.
const MaxCommandBodyBytes = 1 << 20

// Options are the capture options. Start from Defaults (the zero value asks
// for tracer levels 0 and no workload requests); Register binds them to
// flags with those defaults.
type Options struct {
	// Backend is "http" (sglang-jax's /start_profile) or "grpc" (the JAX
	// profiler service); "" leaves it to the agent (its policy, else http).
	Backend string
	// Duration is how long to profile, at most MaxDuration. 0 leaves it to
	// the agent: its policy's, else 2s, or as long as the workload runs
	// when there is one.
	Duration time.Duration
	// Steps stops the profile after this many forward steps (sglang-jax's
	// num_steps, http backend); 0: no step bound.
	Steps int64
	// HostTracerLevel (0-3), DeviceTracerLevel (0-2) and PythonTracerLevel
	// (0-1); Unset (-1) leaves each to the agent's policy, else the
	// server's default: 2, 1 and 0.
	HostTracerLevel, DeviceTracerLevel, PythonTracerLevel int
	// Gap merges busy stretches closer than this into one window; 0: the
	// agent's policy, else 1ms.
	Gap time.Duration
	// Pad widens each window on both sides; 0: the agent's policy, else 100µs.
	Pad time.Duration
	// KeepRaw keeps the raw profiler output on the agent after ingest.
	KeepRaw bool

	// WorkloadBody is a file replayed as the request body while profiling;
	// "" means no workload, and the other Workload fields are unused.
	WorkloadBody string
	// WorkloadEndpoint is the path the workload goes to. Default /v1/score.
	WorkloadEndpoint string
	// WorkloadMethod is its HTTP method. Default POST.
	WorkloadMethod string
	// Warmups are requests sent before profiling starts. Default 1.
	Warmups int
	// Requests are sent while profiling. Default 2.
	Requests int
	// Concurrency is the requests in flight at once, at most
	// MaxConcurrency. Default 1.
	Concurrency int
	// Rate is requests per second; 0: as fast as Concurrency allows.
	Rate float64
}

// Defaults returns every option's default.
func Defaults() Options {
	return Options{
		HostTracerLevel: Unset, DeviceTracerLevel: Unset, PythonTracerLevel: Unset,
		WorkloadEndpoint: "/v1/score", WorkloadMethod: "POST",
		Warmups: 1, Requests: 2, Concurrency: 1,
	}
}

// option is one capture option: its flag name, help and field. Its
// default is its field in Defaults().
type option struct {
	name string
	// alias is a deprecated name that still works, if any.
	alias string
	help  string
	field func(*Options) any
}

// table is the one definition of the options' names and help.
var table = []option{
	{"backend", "", `capture backend: "http" (sglang-jax /start_profile) or "grpc" (the JAX profiler service at the agent's --profiler-addr); empty: the agent's policy, else http`,
		func(o *Options) any { return &o.Backend }},
	{"duration", "", "how long to profile, at most 1h (0: the agent's policy, else 2s, or as long as the workload when there is one)",
		func(o *Options) any { return &o.Duration }},
	{"steps", "num-steps", "stop after this many forward steps (sglang-jax num_steps, http backend; 0: no step bound)",
		func(o *Options) any { return &o.Steps }},
	{"host-tracer-level", "", "host tracer level 0-3 (-1: the agent's policy, else the server's default, 2)",
		func(o *Options) any { return &o.HostTracerLevel }},
	{"device-tracer-level", "", "device tracer level 0-2 (-1: the agent's policy, else the server's default, 1; unpatched sglang-jax ignores it)",
		func(o *Options) any { return &o.DeviceTracerLevel }},
	{"python-tracer-level", "", "python tracer level 0-1 (-1: the agent's policy, else the server's default, 0; 1 slows decode ~3x)",
		func(o *Options) any { return &o.PythonTracerLevel }},
	{"gap", "", "merge busy stretches closer than this into one window (0: the agent's policy, else 1ms)",
		func(o *Options) any { return &o.Gap }},
	{"pad", "", "widen each window by this on both sides (0: the agent's policy, else 100us)",
		func(o *Options) any { return &o.Pad }},
	{"keep-raw", "", "keep the raw profiler output on the agent after the capture is ingested",
		func(o *Options) any { return &o.KeepRaw }},
	{"workload-body", "", "replay this file's content as the request body while profiling, e.g. score_request.json (empty: no workload)",
		func(o *Options) any { return &o.WorkloadBody }},
	{"workload-endpoint", "", "the path the workload's requests go to",
		func(o *Options) any { return &o.WorkloadEndpoint }},
	{"workload-method", "", "the workload's HTTP method",
		func(o *Options) any { return &o.WorkloadMethod }},
	{"warmups", "", "workload requests sent before profiling starts (not profiled)",
		func(o *Options) any { return &o.Warmups }},
	{"requests", "", "workload requests sent while profiling",
		func(o *Options) any { return &o.Requests }},
	{"concurrency", "", "workload requests in flight at once, at most 256",
		func(o *Options) any { return &o.Concurrency }},
	{"rate", "", "workload requests per second (0: as fast as --concurrency allows)",
		func(o *Options) any { return &o.Rate }},
}

// Names returns the options' flag names, in the order of Options' fields.
func Names() []string {
	names := make([]string, len(table))
	for i, opt := range table {
		names[i] = opt.name
	}
	return names
}

// Key returns an option's key in the policy file: its flag name with '_'
// for '-' (host-tracer-level is host_tracer_level).
func Key(name string) string { return strings.ReplaceAll(name, "-", "_") }

// lookup finds an option by flag name, alias or policy key.
func lookup(name string) (option, bool) {
	name = strings.ReplaceAll(name, "_", "-")
	for _, opt := range table {
		if opt.name == name || opt.alias == name {
			return opt, true
		}
	}
	return option{}, false
}

// FlagSet is what Register needs of a flag set; both *flag.FlagSet and
// *pflag.FlagSet have it.
type FlagSet interface {
	StringVar(p *string, name, value, usage string)
	DurationVar(p *time.Duration, name string, value time.Duration, usage string)
	Int64Var(p *int64, name string, value int64, usage string)
	IntVar(p *int, name string, value int, usage string)
	BoolVar(p *bool, name string, value bool, usage string)
	Float64Var(p *float64, name string, value float64, usage string)
}

// Register defines a flag for each option on fs, bound to o's fields and
// set to the defaults. A deprecated alias (--num-steps for --steps) is
// registered too: hidden with a warning on a pflag set, with help that
// says so on a stdlib one.
func (o *Options) Register(fs FlagSet) {
	def := Defaults()
	for _, opt := range table {
		register(fs, opt.name, opt.help, opt.field(o), opt.field(&def))
		if opt.alias == "" {
			continue
		}
		register(fs, opt.alias, "deprecated: the old name of --"+opt.name, opt.field(o), opt.field(&def))
		if d, ok := fs.(interface{ MarkDeprecated(name, msg string) error }); ok {
			_ = d.MarkDeprecated(opt.alias, "use --"+opt.name) // the flag was just defined
		}
	}
}

// RegisterOnly is Register for the named options alone, for a command
// whose other settings mean something else (`fleetprof experiment` varies
// the workload per cell); o's other fields are left as they are (start from
// Defaults()). A name that is not an option's panics: it is a mistake in
// the caller, found by its first test.
func (o *Options) RegisterOnly(fs FlagSet, names ...string) {
	def := Defaults()
	for _, name := range names {
		opt, ok := lookup(name)
		if !ok || opt.name != name {
			panic("captureopt: RegisterOnly: no option named " + name)
		}
		register(fs, opt.name, opt.help, opt.field(o), opt.field(&def))
	}
}

func register(fs FlagSet, name, help string, p, def any) {
	switch p := p.(type) {
	case *string:
		fs.StringVar(p, name, *def.(*string), help)
	case *time.Duration:
		fs.DurationVar(p, name, *def.(*time.Duration), help)
	case *int64:
		fs.Int64Var(p, name, *def.(*int64), help)
	case *int:
		fs.IntVar(p, name, *def.(*int), help)
	case *bool:
		fs.BoolVar(p, name, *def.(*bool), help)
	case *float64:
		fs.Float64Var(p, name, *def.(*float64), help)
	}
}

// Merge makes policy the default for the options fs's command line did not
// set: after it, an option is its flag's value if the flag was given
// (explicitly, even to its default), else policy's. o must be the options
// registered on fs, which has been parsed. Set flags are found with
// Changed on a *pflag.FlagSet and Visit on a *flag.FlagSet.
func (o *Options) Merge(policy Options, fs FlagSet) {
	given := explicit(fs)
	for _, opt := range table {
		if given(opt.name) || opt.alias != "" && given(opt.alias) {
			continue
		}
		switch p := opt.field(o).(type) {
		case *string:
			*p = *opt.field(&policy).(*string)
		case *time.Duration:
			*p = *opt.field(&policy).(*time.Duration)
		case *int64:
			*p = *opt.field(&policy).(*int64)
		case *int:
			*p = *opt.field(&policy).(*int)
		case *bool:
			*p = *opt.field(&policy).(*bool)
		case *float64:
			*p = *opt.field(&policy).(*float64)
		}
	}
}

// explicit returns whether a flag was set on fs's command line.
func explicit(fs FlagSet) func(name string) bool {
	switch fs := fs.(type) {
	case interface{ Changed(name string) bool }: // *pflag.FlagSet
		return fs.Changed
	case interface{ Visit(fn func(*flag.Flag)) }: // *flag.FlagSet
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		return func(name string) bool { return set[name] }
	}
	return func(string) bool { return false }
}

// Set parses value into the option named name (a flag name, its alias or
// its policy key), as its flag would.
func (o *Options) Set(name, value string) error {
	opt, ok := lookup(name)
	if !ok {
		return &OptionError{Name: strings.ReplaceAll(name, "_", "-"), Want: "no such option (" + strings.Join(Names(), ", ") + ")", Err: ErrUnknown}
	}
	bad := func(want string) error {
		return &OptionError{Name: opt.name, Value: strconv.Quote(value), Want: want, Err: ErrSyntax}
	}
	switch p := opt.field(o).(type) {
	case *string:
		*p = value
	case *time.Duration:
		d, err := time.ParseDuration(value)
		if err != nil {
			return bad("not a duration like 2s or 100us")
		}
		*p = d
	case *int64:
		n, err := strconv.ParseInt(value, 0, 64)
		if err != nil {
			return bad("not an integer")
		}
		*p = n
	case *int:
		n, err := strconv.ParseInt(value, 0, strconv.IntSize)
		if err != nil {
			return bad("not an integer")
		}
		*p = int(n)
	case *bool:
		b, err := strconv.ParseBool(value)
		if err != nil {
			return bad("not true or false")
		}
		*p = b
	case *float64:
		f, err := strconv.ParseFloat(value, 64)
		if err != nil {
			return bad("not a number")
		}
		*p = f
	}
	return nil
}

// Validate checks every option, returning an *OptionError for the first
// bad one.
func (o Options) Validate() error {
	bad := func(name string, value any, err error, want string) error {
		return &OptionError{Name: name, Value: fmt.Sprint(value), Want: want, Err: err}
	}
	level := func(name string, v, hi int) error {
		if v < Unset || v > hi {
			return bad(name, v, ErrRange, fmt.Sprintf("want 0..%d, or -1 for the default", hi))
		}
		return nil
	}
	switch {
	case o.Backend != "" && o.Backend != "http" && o.Backend != "grpc":
		return bad("backend", strconv.Quote(o.Backend), ErrBackend, "want http or grpc")
	case o.Duration < 0 || o.Duration > MaxDuration:
		return bad("duration", o.Duration, ErrRange, "want 0s..1h")
	case o.Steps < 0:
		return bad("steps", o.Steps, ErrRange, "must not be negative")
	}
	if err := level("host-tracer-level", o.HostTracerLevel, 3); err != nil {
		return err
	}
	if err := level("device-tracer-level", o.DeviceTracerLevel, 2); err != nil {
		return err
	}
	if err := level("python-tracer-level", o.PythonTracerLevel, 1); err != nil {
		return err
	}
	switch {
	case o.Gap < 0:
		return bad("gap", o.Gap, ErrRange, "must not be negative")
	case o.Pad < 0:
		return bad("pad", o.Pad, ErrRange, "must not be negative")
	}
	if o.WorkloadBody == "" {
		return nil
	}
	switch {
	case !strings.HasPrefix(o.WorkloadEndpoint, "/"):
		return bad("workload-endpoint", strconv.Quote(o.WorkloadEndpoint), ErrEndpoint, "want a path like /v1/score")
	case o.WorkloadMethod == "":
		return bad("workload-method", `""`, ErrSyntax, "want an HTTP method such as POST")
	case o.Warmups < 0:
		return bad("warmups", o.Warmups, ErrRange, "must not be negative")
	case o.Requests < 0:
		return bad("requests", o.Requests, ErrRange, "must not be negative")
	case o.Concurrency < 0 || o.Concurrency > MaxConcurrency:
		return bad("concurrency", o.Concurrency, ErrRange, fmt.Sprintf("want 0..%d", MaxConcurrency))
	case o.Rate < 0:
		return bad("rate", o.Rate, ErrRange, "must not be negative")
	}
	return nil
}

// ReadBody reads the workload body file, at most max bytes; nil (and no
// error) when there is no workload.
func (o Options) ReadBody(max int64) ([]byte, error) {
	if o.WorkloadBody == "" {
		return nil, nil
	}
	st, err := os.Stat(o.WorkloadBody)
	if err != nil {
		return nil, fmt.Errorf("read --workload-body: %w", err)
	}
	if st.Size() > max {
		return nil, &OptionError{Name: "workload-body", Value: o.WorkloadBody,
			Want: fmt.Sprintf("%d bytes, over the limit of %d", st.Size(), max), Err: ErrBodyTooLarge}
	}
	b, err := os.ReadFile(o.WorkloadBody)
	if err != nil {
		return nil, fmt.Errorf("read --workload-body: %w", err)
	}
	if len(b) > int(max) {
		return nil, &OptionError{Name: "workload-body", Value: o.WorkloadBody,
			Want: fmt.Sprintf("%d bytes, over the limit of %d", len(b), max), Err: ErrBodyTooLarge}
	}
	if b == nil {
		b = []byte{}
	}
	return b, nil
}
