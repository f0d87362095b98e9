// Package gen generates large, realistic profile captures for benchmarks and
// tests: the shape of the seed replica (an sglang-jax server on TPU with the
// python tracer on), scaled to any number of events, written as the Chrome
// trace JSON the TSL converter writes and as an XSpace (.xplane.pb), with the
// truth a correct reader must find in them.
//
// A capture is a pure function of its Config: every time and duration comes
// from a counter-based hash of the seed, so the same Config gives the same
// bytes, and the events can be walked again and again without being held in
// memory (a 4M-event capture is written with about 20 MB of RAM).
//
// The host plane /host:CPU (pid 701) has two threads blocked in
// threading.wait for the whole capture and the scheduler's python thread,
// which runs its idle loop (recv_requests → recv_pyobj → error.__init__ …,
// properly nested, time-ordered) except during bursts, when it dispatches
// steps (run_batch → forward_batch_generation → …) and waits for the devices.
// Each device plane /device:TPU:N (pid N+1) has an "XLA Modules" line and an
// "XLA Ops" line: each step runs the 620 real op executions of the seed run
// (ops.tsv: names, tf_op, durations from xprof's framework_op_stats) with
// small gaps, grouped into their jit modules.
package gen

import (
	"errors"
	"fmt"
)

// Defaults of Config.
const (
	DefaultEvents   = 4_000_000
	DefaultDevices  = 4
	DefaultBursts   = 3
	DefaultStartNS  = 1770322530140891000 // 2026-02-05 20:15:30.140891 UTC, the seed run's start
	DefaultHostname = "fleetprof-gen-w-0"
	// deviceShare is the part of the events the devices get when Steps is 0.
	deviceShare = 0.03
)

// Errors.
var (
	// ErrConfig means a Config field is out of range.
	ErrConfig = errors.New("gen: bad config")
	// ErrTooFewEvents means Events cannot hold the devices' steps and one
	// scheduler loop iteration.
	ErrTooFewEvents = errors.New("gen: too few events for the devices and bursts asked for (raise -events or lower -devices/-bursts)")
)

// Order is the order of the X events in the trace JSON.
type Order int

// The orders.
const (
	// DevicesFirst writes every device plane's events, then the host's, as
	// the TSL converter does (each line's events in time order).
	DevicesFirst Order = iota
	// HostFirst writes the host plane's events before the devices'.
	HostFirst
	// Shuffled writes the events in a random order (seeded). It holds every
	// event in memory: meant for small captures.
	Shuffled
)

// String names the order as the -order flag spells it.
func (o Order) String() string {
	switch o {
	case DevicesFirst:
		return "devices-first"
	case HostFirst:
		return "host-first"
	case Shuffled:
		return "shuffled"
	}
	return fmt.Sprintf("Order(%d)", int(o))
}

// ParseOrder parses an Order's name.
func ParseOrder(s string) (Order, error) {
	for _, o := range []Order{DevicesFirst, HostFirst, Shuffled} {
		if o.String() == s {
			return o, nil
		}
	}
	return 0, fmt.Errorf("%w: unknown order %q (want devices-first, host-first or shuffled)", ErrConfig, s)
}

// Config shapes a capture. The zero value gives the default benchmark capture.
type Config struct {
	// Events is the exact number of X events (0 means DefaultEvents).
	Events int64
	// Seed picks the capture; the same seed gives the same bytes.
	Seed int64
	// Devices is the number of TPU device planes (0 means DefaultDevices).
	Devices int
	// Bursts is the number of busy stretches (0 means DefaultBursts).
	Bursts int
	// Steps is the number of steps per burst; 0 gives the devices about 3 %
	// of the events (at least one step).
	Steps int
	// StartNS is the capture's start in epoch nanoseconds (0 means
	// DefaultStartNS).
	StartNS int64
	// Order is the JSON event order (zero: DevicesFirst).
	Order Order
	// Hostname goes into the XSpace's hostnames (empty means DefaultHostname).
	Hostname string
}

// withDefaults fills the zero fields.
func (c Config) withDefaults() Config {
	if c.Events == 0 {
		c.Events = DefaultEvents
	}
	if c.Devices == 0 {
		c.Devices = DefaultDevices
	}
	if c.Bursts == 0 {
		c.Bursts = DefaultBursts
	}
	if c.StartNS == 0 {
		c.StartNS = DefaultStartNS
	}
	if c.Hostname == "" {
		c.Hostname = DefaultHostname
	}
	return c
}

func (c Config) validate() error {
	switch {
	case c.Events < 0:
		return fmt.Errorf("%w: Events %d is negative", ErrConfig, c.Events)
	case c.Devices < 0 || c.Devices > 64:
		return fmt.Errorf("%w: Devices %d is outside 1..64", ErrConfig, c.Devices)
	case c.Bursts < 0 || c.Bursts > 10000:
		return fmt.Errorf("%w: Bursts %d is outside 1..10000", ErrConfig, c.Bursts)
	case c.Steps < 0 || c.Steps > 100000:
		return fmt.Errorf("%w: Steps %d is outside 0..100000", ErrConfig, c.Steps)
	case c.StartNS < 0 || c.StartNS > 4_000_000_000_000_000_000:
		return fmt.Errorf("%w: StartNS %d is outside 0..4e18", ErrConfig, c.StartNS)
	case c.Order < DevicesFirst || c.Order > Shuffled:
		return fmt.Errorf("%w: unknown Order %d", ErrConfig, c.Order)
	}
	return nil
}

// Capture is a planned capture: cheap to hold, walked again for each output.
type Capture struct {
	cfg    Config
	seed   uint64
	ops    []op
	prog   program
	planes []plane
	// steps holds, per step over every burst, when the devices start it.
	steps []stepPlan
	// hostEvents is the number of events on the scheduler's thread, bursts
	// included; idleEvents the part of them in idle loop iterations.
	hostEvents, idleEvents int64
	// burstAt[b] is the number of idle-loop events after which burst b starts.
	burstAt []int64
	// stepsPerBurst is the number of steps in each burst.
	stepsPerBurst int
	// end is the capture's end (the threading waits end there).
	end int64
}

// stepPlan is one step as the host dispatched it.
type stepPlan struct {
	run   int64 // run_id
	start int64 // the devices' common start, before per-device skew
}

// New plans a capture.
func New(cfg Config) (*Capture, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	ops, err := loadOps()
	if err != nil {
		return nil, err
	}
	c := &Capture{cfg: cfg, seed: uint64(cfg.Seed), ops: ops}
	c.prog = newProgram(ops)

	steps := cfg.Steps
	perStep := int64(cfg.Devices) * c.prog.eventsPerStep()
	if steps == 0 {
		steps = int(float64(cfg.Events) * deviceShare / float64(int64(cfg.Bursts)*perStep))
		steps = max(steps, 1)
	}
	c.stepsPerBurst = steps
	nSteps := int64(steps) * int64(cfg.Bursts)
	device := nSteps * perStep
	c.hostEvents = cfg.Events - device - 2 // the two threading waits
	c.idleEvents = c.hostEvents - nSteps*stepHostEvents
	if c.idleEvents < int64(len(idleTemplates[0].nodes)) {
		return nil, fmt.Errorf("%w: %d events, of which %d device op and module events (%d devices × %d bursts × %d steps × %d)",
			ErrTooFewEvents, cfg.Events, device, cfg.Devices, cfg.Bursts, steps, c.prog.eventsPerStep())
	}
	c.steps = make([]stepPlan, nSteps)
	c.planes = c.newPlanes()
	c.burstAt = make([]int64, cfg.Bursts)
	for b := range c.burstAt {
		// Spread the bursts evenly, each moved by up to a quarter of its share.
		f := (float64(b) + 0.5 + 0.5*(c.unit(streamBurst, uint64(b), 0, 0)-0.5)) / float64(cfg.Bursts)
		c.burstAt[b] = int64(f * float64(c.idleEvents))
	}
	// Run the scheduler once to learn when each step starts and where the
	// capture ends.
	end, err := c.hostThread(func(*event) error { return nil }, true)
	if err != nil {
		return nil, err
	}
	c.end = end + c.betweenNS(3*usec, 13*usec, streamTail, 0, 0, 0)
	return c, nil
}

// Config returns the capture's configuration with the defaults filled in.
func (c *Capture) Config() Config { return c.cfg }

// StepsPerBurst returns the number of steps in each burst.
func (c *Capture) StepsPerBurst() int { return c.stepsPerBurst }
