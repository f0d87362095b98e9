package sched

import (
	"context"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/protobuf/proto"

	"github.com/fleetprof/fleetprof/collector/internal/fleet"
	"github.com/fleetprof/fleetprof/collector/internal/registry"
	"github.com/fleetprof/fleetprof/collector/internal/selector"
	"github.com/fleetprof/fleetprof/collector/internal/store"
	agentv1 "github.com/fleetprof/fleetprof/proto/fleetprof/agent/v1"
	collectorv1 "github.com/fleetprof/fleetprof/proto/fleetprof/collector/v1"
)

// fakeClock is a clock tests move by hand. The scheduler waits on one
// timer at a time, so After replaces the previous waiter.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
	at  time.Time
	ch  chan time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.at, c.ch = c.now.Add(d), ch
	return ch
}

// advance moves the clock and reports whether the waiter fired.
func (c *fakeClock) advance(d time.Duration) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	if c.ch != nil && !c.at.After(c.now) {
		c.ch <- c.now
		c.ch = nil
		return true
	}
	return false
}

// fakeAgents are connected agents.
type fakeAgents struct {
	mu     sync.Mutex
	agents []registry.Agent
}

func (f *fakeAgents) Connections(sel selector.Selector) []registry.Agent {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []registry.Agent
	for _, a := range f.agents {
		if sel.Matches(a.Labels) {
			out = append(out, a)
		}
	}
	return out
}

// fakeStarter records the fleet captures started.
type fakeStarter struct {
	mu      sync.Mutex
	n       int
	started []fleet.Origin
	pending map[string]int
}

func (f *fakeStarter) StartFor(_ context.Context, req *collectorv1.StartCaptureRequest, o fleet.Origin) (*collectorv1.StartCaptureResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	id := fmt.Sprintf("f-%d", f.n)
	f.started = append(f.started, o)
	resp := &collectorv1.StartCaptureResponse{FleetId: id}
	for _, a := range o.AgentIDs {
		resp.Agents = append(resp.Agents, &collectorv1.AgentCapture{AgentId: a, CaptureId: id + "." + a})
	}
	if f.pending == nil {
		f.pending = map[string]int{}
	}
	f.pending[id] = len(o.AgentIDs)
	return resp, nil
}

func (f *fakeStarter) Pending(id string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.pending[id]
}

// finishAll marks every fleet capture finished.
func (f *fakeStarter) finishAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.pending)
}

// harness runs a Scheduler over a store file with a fake clock.
type harness struct {
	t       *testing.T
	path    string
	db      *store.DB
	clock   *fakeClock
	agents  *fakeAgents
	starter *fakeStarter
	s       *Scheduler
	runs    chan Run
	idle    chan struct{}
	stop    func()
	reg     *prometheus.Registry
}

var t0 = time.Date(2026, 11, 29, 12, 3, 0, 0, time.UTC)

func newHarness(t *testing.T, n int) *harness {
	t.Helper()
	h := &harness{
		t: t, path: filepath.Join(t.TempDir(), store.FileName), clock: &fakeClock{now: t0},
		agents: &fakeAgents{}, starter: &fakeStarter{}, reg: prometheus.NewRegistry(),
	}
	for i := range n {
		zone := "east"
		if i%2 == 1 {
			zone = "west"
		}
		h.agents.agents = append(h.agents.agents, registry.Agent{ID: fmt.Sprintf("a%02d", i), Labels: map[string]string{"model": "qwen3", "zone": zone}, Connected: true})
	}
	h.open()
	t.Cleanup(func() {
		h.stop()
		if err := h.db.Check(context.Background()); err != nil {
			t.Errorf("consistency check: %v", err)
		}
		h.db.Close()
	})
	return h
}

// open opens the store and starts a scheduler on it: a collector start.
func (h *harness) open() {
	h.t.Helper()
	db, err := store.Open(h.path, store.Options{NoSync: true})
	if err != nil {
		h.t.Fatal(err)
	}
	h.db = db
	h.runs = make(chan Run, 100)
	h.idle = make(chan struct{}, 100)
	h.s = New(Config{
		Store: db, Agents: h.agents, Starter: h.starter, Clock: h.clock, Rand: mrand.New(mrand.NewPCG(1, 2)),
		OnRun: func(r Run) { h.runs <- r },
		// One registry over restarts: each start registers under its own label.
		Registerer: prometheus.WrapRegistererWith(prometheus.Labels{"start": fmt.Sprint(h.clock.Now().Unix())}, h.reg),
	})
	h.s.idle = func(timer bool) {
		if !timer {
			h.clock.mu.Lock()
			h.clock.ch = nil // the loop no longer waits on it
			h.clock.mu.Unlock()
		}
		h.idle <- struct{}{}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.s.Run(ctx) }()
	var once sync.Once
	h.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				h.t.Errorf("Run: %v", err)
			}
		})
	}
	h.waitIdle()
}

// restart stops the scheduler, closes the store, moves the clock and
// starts again on the same file.
func (h *harness) restart(down time.Duration) {
	h.t.Helper()
	h.stop()
	if err := h.db.Close(); err != nil {
		h.t.Fatal(err)
	}
	h.clock.advance(down)
	h.open()
}

func (h *harness) waitIdle() {
	h.t.Helper()
	select {
	case <-h.idle:
	case <-time.After(5 * time.Second):
		h.t.Fatal("scheduler loop did not go idle")
	}
}

// advance moves the clock and waits for the loop to settle; it returns the
// runs made.
func (h *harness) advance(d time.Duration) []Run {
	h.t.Helper()
	if h.clock.advance(d) {
		h.waitIdle()
	}
	return h.drain()
}

// advanceTo moves the clock to t in steps that land on every fire time.
func (h *harness) advanceTo(t time.Time) []Run {
	h.t.Helper()
	var runs []Run
	for {
		next, ok := h.nextFire()
		if !ok || next.After(t) {
			break
		}
		runs = append(runs, h.advance(next.Sub(h.clock.Now()))...)
	}
	return append(runs, h.advance(t.Sub(h.clock.Now()))...)
}

func (h *harness) nextFire() (time.Time, bool) {
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	var next time.Time
	for _, e := range h.s.entries {
		if !e.fireAt.IsZero() && (next.IsZero() || e.fireAt.Before(next)) {
			next = e.fireAt
		}
	}
	return next, !next.IsZero()
}

func (h *harness) drain() []Run {
	var out []Run
	for {
		select {
		case r := <-h.runs:
			out = append(out, r)
		default:
			return out
		}
	}
}

// add adds a schedule and waits for the loop to see it.
func (h *harness) add(sc store.Schedule) store.Schedule {
	h.t.Helper()
	if sc.Name == "" {
		sc.Name = "test"
	}
	if sc.Options == nil {
		sc.Options, _ = proto.Marshal(&agentv1.CaptureOptions{DurationMs: 2000})
	}
	out, err := h.s.Add(context.Background(), sc)
	if err != nil {
		h.t.Fatal(err)
	}
	h.waitIdle()
	return out
}

func (h *harness) stored(id string) store.Schedule {
	h.t.Helper()
	var sc *store.Schedule
	err := h.db.View(context.Background(), func(r *store.Reader) (err error) { sc, err = r.Schedule(id); return err })
	if err != nil {
		h.t.Fatal(err)
	}
	return *sc
}

func TestCronFiring(t *testing.T) {
	tests := []struct {
		spec string
		want []time.Time // the run times from t0 (12:03) to 13:00
	}{
		{"*/20 * * * *", []time.Time{t0.Add(17 * time.Minute), t0.Add(37 * time.Minute), t0.Add(57 * time.Minute)}},
		{"@every 25m", []time.Time{t0.Add(25 * time.Minute), t0.Add(50 * time.Minute)}},
		{"@hourly", []time.Time{t0.Add(57 * time.Minute)}},
		{"30 12 * * *", []time.Time{t0.Add(27 * time.Minute)}},
		{"0 0 1 1 *", nil},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			h := newHarness(t, 2)
			sc := h.add(store.Schedule{Spec: tt.spec, Selector: "model=qwen3"})
			var got []time.Time
			for _, r := range h.advanceTo(t0.Add(57 * time.Minute)) {
				if !r.Due.Equal(r.At) || r.Outcome != OutcomeStarted || r.ScheduleID != sc.ID {
					t.Errorf("run %+v: want started at its due time", r)
				}
				got = append(got, r.Due)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("runs at %v, want %v", got, tt.want)
			}
			if len(h.starter.started) != len(tt.want) {
				t.Fatalf("%d fleet captures, want %d", len(h.starter.started), len(tt.want))
			}
			for _, o := range h.starter.started {
				if o.Trigger != "schedule" || o.ScheduleID != sc.ID || len(o.AgentIDs) != 2 {
					t.Errorf("origin %+v, want trigger schedule, schedule %s, 2 agents", o, sc.ID)
				}
			}
			if len(tt.want) > 0 {
				st := h.stored(sc.ID)
				if last := tt.want[len(tt.want)-1]; st.LastRunNS != last.UnixNano() || !strings.HasPrefix(st.LastResult, "started f-") {
					t.Errorf("stored last run %v %q, want %v started", time.Unix(0, st.LastRunNS).UTC(), st.LastResult, last)
				}
			}
		})
	}
}

func TestJitterBounds(t *testing.T) {
	h := newHarness(t, 1)
	const jitter = 90 * time.Second
	h.add(store.Schedule{Spec: "@every 10m", JitterNS: int64(jitter)})
	runs := h.advanceTo(t0.Add(200 * 10 * time.Minute))
	if len(runs) != 199 && len(runs) != 200 {
		t.Fatalf("%d runs in 2000 minutes of @every 10m, want 199 or 200", len(runs))
	}
	lo, hi := time.Duration(1<<62), time.Duration(-1)
	for _, r := range runs {
		d := r.At.Sub(r.Due)
		lo, hi = min(lo, d), max(hi, d)
		if d < 0 || d >= jitter {
			t.Errorf("run due %v ran at %v: delay %v outside [0, %v)", r.Due, r.At, d, jitter)
		}
	}
	// 200 uniform draws: the extremes land near the ends.
	if lo > 5*time.Second || hi < 85*time.Second {
		t.Errorf("jitter range [%v, %v] over %d runs, want about [0, 90s)", lo, hi, len(runs))
	}
	// Runs stay on the cron times: jitter does not drift the schedule.
	for i, r := range runs[1:] {
		if got := r.Due.Sub(runs[i].Due); got != 10*time.Minute {
			t.Fatalf("due times %v apart, want 10m", got)
		}
	}
}

func TestSampleSize(t *testing.T) {
	tests := []struct {
		n        int
		fraction float64
		count    int
		want     int
	}{
		{4, 0.25, 0, 1},
		{10, 0.25, 0, 3},
		{30, 0.1, 0, 3}, // 0.1·30 is 3.0000000000000004 in float64
		{7, 0.3, 0, 3},
		{1, 0.01, 0, 1},
		{0, 0.5, 0, 0},
		{12, 1, 0, 12},
		{7, 0, 3, 3},
		{2, 0, 5, 2},
		{5, 0, 0, 5},
	}
	for _, tt := range tests {
		if got := SampleSize(tt.n, tt.fraction, tt.count); got != tt.want {
			t.Errorf("SampleSize(%d, %g, %d) = %d, want %d", tt.n, tt.fraction, tt.count, got, tt.want)
		}
	}
}

func TestSampling(t *testing.T) {
	tests := []struct {
		name     string
		selector string
		fraction float64
		count    int
		busy     int // agents running a capture already
		wantN, k int
	}{
		{"fraction of all", "model=qwen3", 0.25, 0, 0, 12, 3},
		{"fraction of a zone", "zone=west", 0.25, 0, 0, 6, 2},
		{"count", "", 0, 5, 0, 12, 5},
		{"count above n", "zone=east", 0, 50, 0, 6, 6},
		{"all", "zone=east", 0, 0, 0, 6, 6},
		{"busy agents left out", "", 0.5, 0, 4, 8, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, 12)
			for i := range tt.busy {
				h.agents.agents[i].ActiveCapture = "other"
			}
			h.add(store.Schedule{Spec: "@every 1m", Selector: tt.selector, SampleFraction: tt.fraction, SampleCount: tt.count})
			seen := map[string]int{}
			for range 20 {
				runs := h.advance(time.Minute)
				if len(runs) != 1 {
					t.Fatalf("%d runs in a minute, want 1", len(runs))
				}
				r := runs[0]
				if r.Candidates != tt.wantN || len(r.Agents) != tt.k || len(slices.Compact(slices.Clone(r.Agents))) != tt.k {
					t.Fatalf("run asked %v of %d candidates, want %d distinct of %d", r.Agents, r.Candidates, tt.k, tt.wantN)
				}
				sel, _ := selector.Parse(tt.selector)
				for _, id := range r.Agents {
					var a registry.Agent
					for _, x := range h.agents.agents {
						if x.ID == id {
							a = x
						}
					}
					if !sel.Matches(a.Labels) || a.ActiveCapture != "" {
						t.Errorf("asked %s (labels %v, active %q), which is not an idle match", id, a.Labels, a.ActiveCapture)
					}
					seen[id]++
				}
				h.starter.finishAll()
			}
			// Random samples: over 20 runs every candidate gets asked.
			if tt.k < tt.wantN && len(seen) != tt.wantN {
				t.Errorf("20 runs asked %d distinct agents, want all %d candidates", len(seen), tt.wantN)
			}
		})
	}
}

func TestCapAndSkipIfBusy(t *testing.T) {
	h := newHarness(t, 10)
	capped := h.add(store.Schedule{Name: "capped", Spec: "@every 10m", MaxConcurrent: 4})
	busy := h.add(store.Schedule{Name: "busy", Spec: "@every 10m", SampleCount: 2, SkipIfBusy: true})
	byID := func(runs []Run) map[string]Run {
		m := map[string]Run{}
		for _, r := range runs {
			m[r.ScheduleID] = r
		}
		return m
	}
	// Run 1: capped asks 4 (the cap), busy asks 2. Both schedules share
	// the agents: the fake agents stay idle.
	m := byID(h.advance(10 * time.Minute))
	if r := m[capped.ID]; r.Outcome != OutcomeStarted || len(r.Agents) != 4 {
		t.Errorf("capped run 1: %s on %d agents, want started on 4", r.Outcome, len(r.Agents))
	}
	if r := m[busy.ID]; r.Outcome != OutcomeStarted || len(r.Agents) != 2 {
		t.Errorf("busy run 1: %s on %d agents, want started on 2", r.Outcome, len(r.Agents))
	}
	// Run 2: everything still in flight: capped is at its cap, busy skips.
	m = byID(h.advance(10 * time.Minute))
	if r := m[capped.ID]; r.Outcome != OutcomeSkipped || !strings.Contains(r.Detail, "at the cap of 4") {
		t.Errorf("capped run 2: %s %q, want skipped at the cap", r.Outcome, r.Detail)
	}
	if r := m[busy.ID]; r.Outcome != OutcomeSkipped || !strings.Contains(r.Detail, "previous run has 2 capture(s) in flight") {
		t.Errorf("busy run 2: %s %q, want skipped as busy", r.Outcome, r.Detail)
	}
	// Each fleet capture (f-1, f-2: one per schedule) has one capture
	// left: capped may start 3 more, busy still skips.
	h.starter.mu.Lock()
	h.starter.pending["f-1"], h.starter.pending["f-2"] = 1, 1
	h.starter.mu.Unlock()
	m = byID(h.advance(10 * time.Minute))
	if r := m[capped.ID]; r.Outcome != OutcomeStarted || len(r.Agents) != 3 {
		t.Errorf("capped run 3: %s on %d agents, want started on 3 (cap 4, 1 in flight)", r.Outcome, len(r.Agents))
	}
	if r := m[busy.ID]; r.Outcome != OutcomeSkipped {
		t.Errorf("busy run 3: %s, want skipped", r.Outcome)
	}
	// All done: busy runs again.
	h.starter.finishAll()
	m = byID(h.advance(10 * time.Minute))
	if r := m[busy.ID]; r.Outcome != OutcomeStarted || len(r.Agents) != 2 {
		t.Errorf("busy run 4: %s on %d agents, want started on 2", r.Outcome, len(r.Agents))
	}
}

func TestPauseResume(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, 3)
	sc := h.add(store.Schedule{Name: "nightly", Spec: "*/10 * * * *"})
	if runs := h.advance(7 * time.Minute); len(runs) != 1 {
		t.Fatalf("%d runs by 12:10, want 1", len(runs))
	}
	// Pause by name.
	if _, err := h.s.Pause(ctx, "nightly"); err != nil {
		t.Fatal(err)
	}
	h.waitIdle()
	if st := h.stored(sc.ID); !st.Paused || st.NextRunNS != 0 {
		t.Errorf("after pause: paused %v next %d, want paused with no next run", st.Paused, st.NextRunNS)
	}
	if runs := h.advanceTo(t0.Add(47 * time.Minute)); len(runs) != 0 {
		t.Errorf("paused schedule ran %d times", len(runs))
	}
	// Resume at 12:50: no catch-up of 12:20–12:50; next at 13:00.
	if _, err := h.s.Resume(ctx, sc.ID); err != nil {
		t.Fatal(err)
	}
	h.waitIdle()
	if st := h.stored(sc.ID); st.Paused || st.NextRunNS != t0.Add(57*time.Minute).UnixNano() {
		t.Errorf("after resume: paused %v next %v, want 13:00", st.Paused, time.Unix(0, st.NextRunNS).UTC())
	}
	if runs := h.advance(9 * time.Minute); len(runs) != 0 {
		t.Errorf("resumed schedule ran %d times before 13:00", len(runs))
	}
	runs := h.advance(time.Minute)
	if len(runs) != 1 || !runs[0].Due.Equal(t0.Add(57*time.Minute)) {
		t.Errorf("runs at 13:00 = %+v, want one due 13:00", runs)
	}
	// Remove: no more runs; a second remove is ErrNotFound.
	if _, err := h.s.Remove(ctx, sc.ID); err != nil {
		t.Fatal(err)
	}
	h.waitIdle()
	if _, err := h.s.Remove(ctx, sc.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Remove = %v, want ErrNotFound", err)
	}
	if runs := h.advance(time.Hour); len(runs) != 0 {
		t.Errorf("removed schedule ran %d times", len(runs))
	}
}

func TestMissedRunPolicy(t *testing.T) {
	h := newHarness(t, 2)
	sc := h.add(store.Schedule{Spec: "@every 10m"}) // next run 12:13
	// Down from 12:03 to 12:16: 12:13 was missed 3 minutes ago, less than
	// an interval: one catch-up run at start.
	h.restart(13 * time.Minute)
	if runs := h.advance(DefaultCatchUpDelay - time.Second); len(runs) != 0 {
		t.Fatalf("catch-up ran before agents had time to reconnect: %+v", runs)
	}
	runs := h.advance(time.Second)
	if len(runs) != 1 || !runs[0].CatchUp || !runs[0].Due.Equal(t0.Add(10*time.Minute)) || !runs[0].At.Equal(t0.Add(13*time.Minute+DefaultCatchUpDelay)) || runs[0].Outcome != OutcomeStarted {
		t.Fatalf("runs after a short outage = %+v, want one catch-up of 12:13 at 12:16:30", runs)
	}
	st := h.stored(sc.ID)
	if st.LastRunNS != t0.Add(10*time.Minute).UnixNano() || st.NextRunNS != t0.Add(20*time.Minute).UnixNano() || !strings.Contains(st.LastResult, "catch-up") {
		t.Errorf("after catch-up: last %v next %v %q, want last 12:13, next 12:23 (the grid of the missed run)", time.Unix(0, st.LastRunNS).UTC(), time.Unix(0, st.NextRunNS).UTC(), st.LastResult)
	}
	// Down from 12:16:30 to 13:00: 12:23, 12:33, 12:43, 12:53 were missed,
	// the first 37 minutes ago: more than an interval, so all are skipped.
	h.restart(43*time.Minute + 30*time.Second)
	if runs := h.drain(); len(runs) != 0 {
		t.Fatalf("runs after a long outage = %+v, want none", runs)
	}
	st = h.stored(sc.ID)
	if want := "skipped 4 missed run(s) while the collector was down"; !strings.HasPrefix(st.LastResult, want) || st.NextRunNS != t0.Add(67*time.Minute).UnixNano() {
		t.Errorf("after a long outage: %q next %v, want %q and next 13:10", st.LastResult, time.Unix(0, st.NextRunNS).UTC(), want)
	}
	if runs := h.advance(10 * time.Minute); len(runs) != 1 || runs[0].CatchUp {
		t.Errorf("runs at 13:10 = %+v, want one regular run", runs)
	}
	// A paused schedule does not catch up.
	if _, err := h.s.Pause(context.Background(), sc.ID); err != nil {
		t.Fatal(err)
	}
	h.waitIdle()
	h.restart(13 * time.Minute)
	if runs := h.drain(); len(runs) != 0 {
		t.Errorf("paused schedule ran after a restart: %+v", runs)
	}
}

func TestMissedDailyRun(t *testing.T) {
	h := newHarness(t, 1)
	sc := h.add(store.Schedule{Spec: "0 2 * * *"}) // next 02:00 tomorrow
	// Down until 09:00 the next day: 02:00 was missed 7 hours ago, within
	// its 24-hour interval: caught up.
	h.restart(21 * time.Hour)
	runs := h.advance(DefaultCatchUpDelay)
	if len(runs) != 1 || !runs[0].CatchUp {
		t.Fatalf("runs = %+v, want one catch-up", runs)
	}
	if st := h.stored(sc.ID); st.NextRunNS != time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC).UnixNano() {
		t.Errorf("next run %v, want 2026-12-01 02:00", time.Unix(0, st.NextRunNS).UTC())
	}
}

func TestAddValidates(t *testing.T) {
	h := newHarness(t, 0)
	good := store.Schedule{Name: "n", Spec: "@every 10m"}
	tests := []struct {
		name string
		edit func(*store.Schedule)
	}{
		{"no name", func(s *store.Schedule) { s.Name = " " }},
		{"bad spec", func(s *store.Schedule) { s.Spec = "61 * * * *" }},
		{"seconds field", func(s *store.Schedule) { s.Spec = "0 0 * * * *" }},
		{"bad selector", func(s *store.Schedule) { s.Selector = "a=b,,c" }},
		{"fraction above 1", func(s *store.Schedule) { s.SampleFraction = 1.5 }},
		{"fraction and count", func(s *store.Schedule) { s.SampleFraction, s.SampleCount = 0.5, 2 }},
		{"negative jitter", func(s *store.Schedule) { s.JitterNS = -1 }},
		{"negative cap", func(s *store.Schedule) { s.MaxConcurrent = -1 }},
		{"bad options", func(s *store.Schedule) { s.Options = []byte{0xff} }},
		{"bad id", func(s *store.Schedule) { s.ID = "../x" }},
	}
	for _, tt := range tests {
		sc := good
		tt.edit(&sc)
		if _, err := h.s.Add(context.Background(), sc); !errors.Is(err, ErrBadSchedule) {
			t.Errorf("Add(%s) = %v, want ErrBadSchedule", tt.name, err)
		}
	}
	if _, err := h.s.Add(context.Background(), good); err != nil {
		t.Fatal(err)
	}
	h.waitIdle()
	if _, err := h.s.Add(context.Background(), good); !errors.Is(err, ErrExists) {
		t.Errorf("Add of a taken name = %v, want ErrExists", err)
	}
}

func TestMetrics(t *testing.T) {
	h := newHarness(t, 4)
	h.add(store.Schedule{Spec: "@every 10m", SampleFraction: 0.5, SkipIfBusy: true})
	h.advance(10 * time.Minute) // started on 2
	h.advance(10 * time.Minute) // skipped: busy
	want := `
# HELP fleetprof_collector_schedule_captures_total Captures started by schedules.
# TYPE fleetprof_collector_schedule_captures_total counter
fleetprof_collector_schedule_captures_total{start="1795953780"} 2
# HELP fleetprof_collector_schedule_runs_total Schedule runs by outcome.
# TYPE fleetprof_collector_schedule_runs_total counter
fleetprof_collector_schedule_runs_total{outcome="skipped",start="1795953780"} 1
fleetprof_collector_schedule_runs_total{outcome="started",start="1795953780"} 1
`
	if err := testutil.GatherAndCompare(h.reg, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
}
