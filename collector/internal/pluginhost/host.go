// Package pluginhost runs analyzer plugins: it finds their binaries in a
// folder, checks each against a sha256 allowlist, starts each as a
// go-plugin subprocess (gRPC over mutual TLS), streams it the capture in
// bounded chunks and collects its report section.
//
// A plugin that is refused, crashes, hangs past its timeout, fails the
// handshake or answers with garbage yields a section with Error set; the
// other plugins and the host carry on. Plugins log to stderr; their lines
// reach the host's logger under the plugin's name.
package pluginhost

import (
	"cmp"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/go-plugin"
	"golang.org/x/sync/errgroup"

	"github.com/fleetprof/fleetprof/plugins/sdk"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture/fpcap"
)

// Errors a plugin's section can carry, and Discover's.
var (
	// ErrNoAllowlist means a plugins folder has plugins but no allowlist.
	ErrNoAllowlist = errors.New("pluginhost: no plugin allowlist")
	// ErrBadAllowlist means the allowlist file is malformed.
	ErrBadAllowlist = errors.New("pluginhost: malformed plugin allowlist")
	// ErrNotAllowed means a plugin binary is not in the allowlist.
	ErrNotAllowed = errors.New("pluginhost: plugin not in the allowlist")
	// ErrChecksum means a plugin binary's sha256 differs from its
	// allowlist entry.
	ErrChecksum = errors.New("pluginhost: plugin checksum does not match the allowlist")
	// ErrHandshake means the plugin did not complete go-plugin's handshake:
	// it exited first, wrote something else on stdout, or speaks another
	// protocol version.
	ErrHandshake = errors.New("pluginhost: plugin handshake failed")
	// ErrTimeout means the plugin ran past its timeout and was killed.
	ErrTimeout = errors.New("pluginhost: plugin timed out and was killed")
	// ErrCrashed means the plugin process died or dropped the connection
	// while working.
	ErrCrashed = errors.New("pluginhost: plugin crashed")
	// ErrFailed means the plugin answered with an error or an unusable
	// section.
	ErrFailed = errors.New("pluginhost: plugin failed")
	// ErrDuplicate means two plugins report under the same section name;
	// the second (by file name) is not reported.
	ErrDuplicate = errors.New("pluginhost: two plugins report the same section name")
	// ErrCanceled means the run was canceled before the plugin finished.
	ErrCanceled = errors.New("pluginhost: run canceled")
	// ErrLimit means the capture costs more to decode than Config.Limits
	// allow; no plugin was started on it.
	ErrLimit = errors.New("pluginhost: capture exceeds the plugins' decoding limits; no plugin was started")
)

// Defaults for Config.
const (
	// DefaultTimeout bounds one plugin's whole run.
	DefaultTimeout = 2 * time.Minute
	// DefaultStartTimeout bounds one plugin's start and handshake.
	DefaultStartTimeout = 20 * time.Second
	// DefaultConcurrency is the most plugins run at once.
	DefaultConcurrency = 4
)

// Config sets how a Host runs plugins. The zero value works.
type Config struct {
	// Timeout bounds each plugin's run, from start to section; a plugin
	// past it is killed. Zero means DefaultTimeout.
	Timeout time.Duration
	// StartTimeout bounds each plugin's start and handshake (never more
	// than Timeout). Zero means DefaultStartTimeout.
	StartTimeout time.Duration
	// Concurrency is how many plugins run at once. Zero means
	// min(DefaultConcurrency, GOMAXPROCS).
	Concurrency int
	// ChunkBytes bounds each chunk of the capture sent to a plugin. Zero
	// means sdk.DefaultChunkBytes.
	ChunkBytes int
	// Logger receives the host's log and, under "plugin", each plugin's
	// stderr. Nil discards both.
	Logger *slog.Logger
	// Env is the plugins' environment, beside the variables go-plugin sets
	// and TMPDIR. The host's own environment is not passed on.
	Env []string
	// Limits bound what a capture may cost to decode: Run refuses a
	// capture past them before starting any plugin, and each plugin is
	// told them (sdk.LimitsEnv) and applies them to what it is sent. The
	// zero value means fpcap's defaults.
	Limits fpcap.Limits
}

// Host runs a fixed set of plugins on captures. It is safe for concurrent
// use. Each Run starts fresh plugin processes and kills them (gracefully,
// then by force after go-plugin's 2 s grace) before it returns, so a plugin
// never outlives the run that started it. The clients are therefore not
// go-plugin "managed": its global list of managed clients only grows, which
// a collector running analyses for months cannot afford, and
// plugin.CleanupClients has nothing left to do.
type Host struct {
	plugins []Plugin
	cfg     Config
	log     *slog.Logger
}

// New returns a Host for plugins, usually from Discover.
func New(plugins []Plugin, cfg Config) *Host {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = DefaultStartTimeout
	}
	cfg.StartTimeout = min(cfg.StartTimeout, cfg.Timeout)
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = min(DefaultConcurrency, runtime.GOMAXPROCS(0))
	}
	if cfg.ChunkBytes <= 0 {
		cfg.ChunkBytes = sdk.DefaultChunkBytes
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Host{plugins: slices.Clone(plugins), cfg: cfg, log: log.With("component", "pluginhost")}
}

// Plugins returns the host's plugins.
func (h *Host) Plugins() []Plugin { return slices.Clone(h.plugins) }

// result is one plugin's outcome.
type result struct {
	info sdk.Info
	ok   bool // info is known
	sec  *sdk.Section
	err  error
}

// Run runs every plugin on c with opts and returns one section per plugin,
// sorted by the analyzers' Order, then name. A plugin that fails gets a
// section with Error set (named after its binary if it never said its
// name); Run itself never fails. It returns when every plugin is done or
// killed.
func (h *Host) Run(ctx context.Context, c *capture.Capture, opts map[string]string) []*sdk.Section {
	return h.run(ctx, h.cfg.Limits.Check(c), func(ctx context.Context, an *sdk.Client) (*sdk.Section, error) {
		return an.Analyze(ctx, c, opts)
	})
}

// RunFpcap is Run for a capture held as the bytes of its .fpcap file (a
// stored capture, read and checked when it arrived), with the tally of
// that reading: the limits are checked on the tally and the records are
// streamed to each plugin as they are (sdk.Client.AnalyzeFpcap), so the
// capture is not decoded on this side at all.
func (h *Host) RunFpcap(ctx context.Context, data []byte, tally fpcap.Tally, opts map[string]string) []*sdk.Section {
	return h.run(ctx, h.cfg.Limits.CheckTally(tally), func(ctx context.Context, an *sdk.Client) (*sdk.Section, error) {
		return an.AnalyzeFpcap(ctx, data, opts)
	})
}

// run runs every plugin with analyze, unless the capture is past the
// limits (limitErr).
func (h *Host) run(ctx context.Context, limitErr error, analyze func(context.Context, *sdk.Client) (*sdk.Section, error)) []*sdk.Section {
	results := make([]result, len(h.plugins))
	if limitErr != nil {
		for i := range results {
			results[i] = result{err: fmt.Errorf("%w: %w (the capture limits of docs/security.md)", ErrLimit, limitErr)}
		}
		return h.assemble(results)
	}
	var g errgroup.Group
	g.SetLimit(h.cfg.Concurrency)
	for i, p := range h.plugins {
		g.Go(func() error {
			results[i] = h.runOne(ctx, p, analyze)
			return nil
		})
	}
	_ = g.Wait()
	return h.assemble(results)
}

// assemble turns the plugins' results into sections with unique names,
// sorted for reports.
func (h *Host) assemble(results []result) []*sdk.Section {
	type ordered struct {
		sec   *sdk.Section
		order int
	}
	// A section name belongs to the plugin whose binary has that name, or
	// else to the first by file name that reported it.
	owner := make(map[string]int)
	for i, r := range results {
		if r.err != nil || !r.ok {
			continue
		}
		cur, taken := owner[r.info.Name]
		if !taken || (h.plugins[i].Name == r.info.Name && h.plugins[cur].Name != r.info.Name) {
			owner[r.info.Name] = i
		}
	}
	// Owners keep their names; every other section gets a free one.
	names := make([]string, len(results))
	seen := make(map[string]bool, len(results))
	for name, i := range owner {
		names[i], seen[name] = name, true
	}
	for i, r := range results {
		if names[i] != "" {
			continue
		}
		name := h.plugins[i].Name
		if r.ok {
			name = r.info.Name
		}
		if seen[name] {
			name = unique(h.plugins[i].Name, seen)
		}
		names[i], seen[name] = name, true
	}
	all := make([]ordered, 0, len(results))
	for i, r := range results {
		p := h.plugins[i]
		name, title, order := names[i], p.Name, math.MaxInt
		if r.ok {
			title, order = r.info.Title, r.info.Order
		}
		err := r.err
		if o, ok := owner[r.info.Name]; r.ok && ok && o != i && err == nil {
			err = fmt.Errorf("%w: %s and %s both report %q", ErrDuplicate, h.plugins[o].Name, p.Name, r.info.Name)
		}
		sec := r.sec
		if err != nil {
			h.log.Warn("plugin failed", "plugin", p.Name, "error", err)
			sec = &sdk.Section{Name: name, Title: title, Rows: []sdk.Row{}, Error: err.Error()}
		}
		all = append(all, ordered{sec, order})
	}
	slices.SortStableFunc(all, func(a, b ordered) int {
		return cmp.Or(cmp.Compare(a.order, b.order), strings.Compare(a.sec.Name, b.sec.Name))
	})
	out := make([]*sdk.Section, len(all))
	for i, o := range all {
		out[i] = o.sec
	}
	return out
}

// runOne starts one plugin, has analyze call it and kills it.
func (h *Host) runOne(parent context.Context, p Plugin, analyze func(context.Context, *sdk.Client) (*sdk.Section, error)) (res result) {
	if p.Err != nil {
		return result{err: p.Err}
	}
	if err := parent.Err(); err != nil {
		return result{err: fmt.Errorf("%w: %s not started: %w", ErrCanceled, p.Name, err)}
	}
	log := h.log.With("plugin", p.Name)
	start := time.Now()
	ctx, cancel := context.WithTimeout(parent, h.cfg.Timeout)
	defer cancel()

	stderr := newLineLog(log, slog.LevelInfo, "stderr")
	syncOut := newLineLog(log, slog.LevelWarn, "stdout")
	syncErr := newLineLog(log, slog.LevelInfo, "stderr")
	cmd := exec.Command(p.Path)
	cmd.Env = h.env(log)
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  sdk.HandshakeConfig(),
		Plugins:          sdk.PluginSet(&sdk.Plugin{ChunkBytes: h.cfg.ChunkBytes}),
		Cmd:              cmd,
		SkipHostEnv:      true,
		SecureConfig:     &plugin.SecureConfig{Checksum: p.SHA256[:], Hash: sha256.New()},
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		StartTimeout:     min(h.cfg.StartTimeout, time.Until(deadline(ctx))),
		Logger:           hostLogger(log),
		Stderr:           stderr,
		SyncStdout:       syncOut,
		SyncStderr:       syncErr,
	})
	defer func() {
		client.Kill() // waits for the process and the log readers
		stderr.Close()
		syncOut.Close()
		syncErr.Close()
		log.Debug("plugin done", "duration", time.Since(start), "error", res.err)
	}()

	rpc, err := client.Client()
	if err != nil {
		return result{err: h.startError(parent, p, err)}
	}
	raw, err := rpc.Dispense(sdk.PluginName)
	if err != nil {
		return result{err: fmt.Errorf("%w: %s: %v", ErrHandshake, p.Name, clean(err.Error()))}
	}
	an, ok := raw.(*sdk.Client)
	if !ok {
		return result{err: fmt.Errorf("%w: %s: dispensed %T", ErrHandshake, p.Name, raw)}
	}
	info, err := an.Info(ctx)
	if err != nil {
		return result{err: h.callError(parent, ctx, p, "Info", err)}
	}
	res = result{info: info, ok: true}
	log = log.With("analyzer", info.Name)
	sec, err := analyze(ctx, an)
	if err != nil {
		res.err = h.callError(parent, ctx, p, "Analyze", err)
		return res
	}
	res.sec = sec
	log.Info("plugin ran", "rows", len(sec.Rows), "duration", time.Since(start).Round(time.Millisecond))
	return res
}

// env is a plugin's environment.
func (h *Host) env(log *slog.Logger) []string {
	env := slices.Clone(h.cfg.Env)
	if t := os.Getenv("TMPDIR"); t != "" {
		env = append(env, "TMPDIR="+t)
	}
	level := slog.LevelError
	for _, l := range []slog.Level{sdk.LevelTrace, slog.LevelDebug, slog.LevelInfo, slog.LevelWarn} {
		if log.Enabled(context.Background(), l) {
			level = l
			break
		}
	}
	return append(env, sdk.LogLevelEnv+"="+sdk.LevelName(level), sdk.LimitsEnv+"="+h.cfg.Limits.String())
}

// startError names why a plugin did not start; parent is the run's context.
func (h *Host) startError(parent context.Context, p Plugin, err error) error {
	msg := clean(err.Error())
	switch {
	case errors.Is(err, plugin.ErrChecksumsDoNotMatch):
		return fmt.Errorf("%w: %s changed after it was discovered", ErrChecksum, p.Name)
	case strings.Contains(msg, "timeout while waiting for plugin to start"):
		if parent.Err() != nil {
			return fmt.Errorf("%w: %s while starting: %w", ErrCanceled, p.Name, parent.Err())
		}
		return fmt.Errorf("%w: %s did not complete the handshake in %s", ErrTimeout, p.Name, h.cfg.StartTimeout)
	case strings.Contains(msg, "Unrecognized remote plugin message"):
		msg, _, _ = strings.Cut(err.Error(), "\n") // the rest is go-plugin's guesswork
		msg = clean(msg)
		return fmt.Errorf("%w: %s wrote something other than the handshake on stdout (a plugin must log to stderr only): %s", ErrHandshake, p.Name, msg)
	case strings.Contains(msg, "exited before we could connect"):
		return fmt.Errorf("%w: %s exited before the handshake (is it a fleetprof plugin? see its log)", ErrHandshake, p.Name)
	case strings.Contains(msg, "incompatible API version"), strings.Contains(msg, "incompatible core API version"):
		return fmt.Errorf("%w: %s speaks another protocol version (host: %d): rebuild it with this SDK: %s", ErrHandshake, p.Name, sdk.ProtocolVersion, msg)
	}
	return fmt.Errorf("%w: %s: %s", ErrHandshake, p.Name, msg)
}

// callError names why an Info or Analyze call failed: the run was canceled
// (parent done), the plugin's own time ran out (ctx done), or the plugin
// failed.
func (h *Host) callError(parent, ctx context.Context, p Plugin, call string, err error) error {
	// The plugin's side may see the deadline (sent with the call) before
	// this side does: whose deadline it was is then read from the contexts.
	expired := errors.Is(err, context.DeadlineExceeded)
	pd, parentDeadline := parent.Deadline()
	cd, _ := ctx.Deadline()
	switch {
	case parent.Err() != nil, expired && parentDeadline && !pd.After(cd):
		return fmt.Errorf("%w: %s during %s: %w", ErrCanceled, p.Name, call, cmp.Or(parent.Err(), context.DeadlineExceeded))
	case ctx.Err() != nil, expired:
		return fmt.Errorf("%w: %s: %s did not finish in %s", ErrTimeout, p.Name, call, h.cfg.Timeout)
	case errors.Is(err, sdk.ErrUnavailable):
		return fmt.Errorf("%w: %s exited or dropped the connection during %s (see its log)", ErrCrashed, p.Name, call)
	}
	return fmt.Errorf("%w: %s: %s", ErrFailed, p.Name, clean(err.Error()))
}

// unique returns name, or name with a number appended, whichever seen lacks.
func unique(name string, seen map[string]bool) string {
	u := name
	for n := 2; ; n++ {
		if !seen[u] {
			return u
		}
		u = fmt.Sprintf("%s_%d", name, n)
	}
}

// deadline returns ctx's deadline (it always has one here).
func deadline(ctx context.Context) time.Time {
	d, ok := ctx.Deadline()
	if !ok {
		return time.Now().Add(DefaultTimeout)
	}
	return d
}

// clean bounds a plugin-supplied text and drops control characters, so
// garbage from a plugin cannot garble a report.
func clean(s string) string {
	const maxLen = 1024
	if len(s) > maxLen {
		s = s[:maxLen] + "…"
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\t':
			return ' '
		case r < 0x20 || r == 0x7f || r == '\uFFFD':
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, ""))
}
