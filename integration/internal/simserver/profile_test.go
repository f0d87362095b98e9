package simserver

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"

	"github.com/fleetprof/fleetprof/plugins/capture/load"
	"github.com/fleetprof/fleetprof/plugins/capture/trim"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture/xplane"
)

// seedStepPS is one prefill step's summed op time: the seed run's 1,515.10125 µs.
const seedStepPS = 1_515_101_250

// seedStepOps is one prefill step's op events: the seed run's 620.
const seedStepOps = 620

// seedBody returns the seed's /start_profile body with output_dir replaced.
func seedBody(t *testing.T, dir string) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(readInput(t, "profile_config.json"), &m); err != nil {
		t.Fatal(err)
	}
	m["output_dir"] = dir
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// mustCall fails unless the request answers code.
func mustCall(t *testing.T, method, url string, body []byte, code int) reply {
	t.Helper()
	got := call(t, method, url, body, nil)
	if got.code != code {
		t.Fatalf("%s %s = %d %q, want %d", method, url, got.code, got.body, code)
	}
	return got
}

// runFolder returns the one run folder under dir/plugins/profile.
func runFolder(t *testing.T, dir string) string {
	t.Helper()
	root := filepath.Join(dir, "plugins", "profile")
	ents, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 || !regexp.MustCompile(`^\d{4}_\d{2}_\d{2}_\d{2}_\d{2}_\d{2}$`).MatchString(ents[0].Name()) {
		t.Fatalf("run folders in %s = %v, want one named YYYY_MM_DD_HH_MM_SS", root, ents)
	}
	return filepath.Join(root, ents[0].Name())
}

// checkCapture compares a loaded capture with the server's ground truth.
func checkCapture(t *testing.T, c *capture.Capture, p *Profile) {
	t.Helper()
	if got, want := c.DeviceOpEvents(), p.DeviceOpEvents(); got != want {
		t.Errorf("device op events = %d, want %d", got, want)
	}
	if got, want := c.EventsTotal, p.EventsTotal; got != want {
		t.Errorf("events total = %d, want %d", got, want)
	}
	devs := c.Devices()
	if len(devs) != len(p.Devices) {
		t.Fatalf("devices = %d, want %d", len(devs), len(p.Devices))
	}
	for i, d := range devs {
		w := p.Devices[i]
		if d.Name != w.Plane || d.Busy != w.Busy || d.OpEvents != w.OpEvents || d.OpTotal != w.OpTotal {
			t.Errorf("device %d = %s busy %d ops %d total %d, want %s busy %d ops %d total %d",
				i, d.Name, d.Busy, d.OpEvents, d.OpTotal, w.Plane, w.Busy, w.OpEvents, w.OpTotal)
		}
	}
	shift := (p.BaseNS - c.BaseNS) * capture.Nanosecond
	// The XSpace records the session (Task Environment), so its span is the
	// whole profile, whatever the events cover; the trace JSON does not.
	if c.Source.Format == string(load.FormatXPlane) {
		want := capture.Interval{Start: p.Span.Start + shift, End: p.Span.End + shift}
		if c.SpanFrom != capture.SpanFromSession || c.Span != want {
			t.Errorf("XSpace span %v from %q, want the session %v", c.Span, c.SpanFrom, want)
		}
	} else if c.SpanFrom != capture.SpanFromEvents {
		t.Errorf("trace JSON span from %q, want events (the converter records no session)", c.SpanFrom)
	}
	// Every step's burst lies in a window of its own.
	seen := map[int]bool{}
	for _, st := range p.Steps {
		b := capture.Interval{Start: st.Burst.Start + shift, End: st.Burst.End + shift}
		i := slices.IndexFunc(c.Windows, func(w capture.Interval) bool { return w.Start <= b.Start && b.End <= w.End })
		if i < 0 {
			t.Errorf("step %d burst %v lies in no window of %v", st.Seq, b, c.Windows)
			continue
		}
		if seen[i] {
			t.Errorf("step %d shares window %d with another step", st.Seq, i)
		}
		seen[i] = true
	}
	if len(c.Windows) != len(p.Steps) {
		t.Errorf("windows = %d, want one per step (%d)", len(c.Windows), len(p.Steps))
	}
}

func TestSeedWorkload(t *testing.T) {
	for _, mode := range []string{AutoStopEager, AutoStopNextStep} {
		t.Run(mode, func(t *testing.T) {
			s, url := startServer(t, Config{Hostname: "t1v-n-3d21a6bb-w-0:8476", AutoStop: mode})
			out := t.TempDir()
			score := readInput(t, "score_request.json")
			mustCall(t, "POST", url+"/v1/score", readInput(t, "warmup_request.json"), 200)
			got := mustCall(t, "POST", url+"/start_profile", seedBody(t, out), 200)
			if got.body != StartProfileText || got.contentType != "text/plain; charset=utf-8" {
				t.Errorf("start_profile = %q (%s), want %q as text/plain", got.body, got.contentType, StartProfileText)
			}
			if got := mustCall(t, "GET", url+"/profile_status", nil, 200); got.body != `{"status":"in_progress"}` {
				t.Errorf("status while profiling = %s", got.body)
			}
			// A second start fails as the real server does.
			mustCall(t, "POST", url+"/start_profile", seedBody(t, out), 500)
			for range 2 {
				mustCall(t, "POST", url+"/v1/score", score, 200)
			}
			// The seed body asks for num_steps 2: eager mode has stopped by now
			// and /stop_profile finds nothing; next-step mode, like sglang-jax,
			// is still tracing and /stop_profile ends it.
			wantStatus, wantStop := `{"status":"idle"}`, 500
			if mode == AutoStopNextStep {
				wantStatus, wantStop = `{"status":"in_progress"}`, 200
			}
			if got := mustCall(t, "GET", url+"/profile_status", nil, 200); got.body != wantStatus {
				t.Errorf("status after 2 requests = %s, want %s", got.body, wantStatus)
			}
			got = mustCall(t, "POST", url+"/stop_profile", nil, wantStop)
			if wantStop == 200 && got.body != StopProfileText {
				t.Errorf("stop_profile = %q, want %q", got.body, StopProfileText)
			}
			if got := mustCall(t, "GET", url+"/profile_status", nil, 200); got.body != `{"status":"idle"}` {
				t.Errorf("status after stop = %s", got.body)
			}

			p := s.LastProfile()
			if p == nil {
				t.Fatal("LastProfile() = nil after a profile")
			}
			if len(p.Steps) != 2 || len(p.Devices) != 1 || p.DroppedSteps != 0 {
				t.Fatalf("profile has %d steps, %d devices, %d dropped; want 2, 1, 0", len(p.Steps), len(p.Devices), p.DroppedSteps)
			}
			d := p.Devices[0]
			if d.OpEvents != 2*seedStepOps || d.Busy != 2*seedStepPS || d.OpTotal != 2*seedStepPS || d.Modules != 2 {
				t.Errorf("device truth = %+v, want %d ops, %d ps busy, 2 modules", d, 2*seedStepOps, 2*seedStepPS)
			}
			if p.HostLevel != 2 || p.PythonLevel != 1 || p.DeviceLevel != 2 {
				t.Errorf("levels = host %d python %d device %d, want 2 1 2", p.HostLevel, p.PythonLevel, p.DeviceLevel)
			}

			dir := runFolder(t, out)
			if p.Dir != dir {
				t.Errorf("truth dir = %s, want %s", p.Dir, dir)
			}
			ents, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, e := range ents {
				names = append(names, e.Name())
			}
			want := []string{"t1v-n-3d21a6bb-w-0_8476.trace.json.gz", "t1v-n-3d21a6bb-w-0_8476.xplane.pb"}
			if !slices.Equal(names, want) {
				t.Errorf("run folder holds %v, want %v", names, want)
			}
			for _, f := range want {
				c, err := load.File(t.Context(), filepath.Join(dir, f), load.Options{TempDir: t.TempDir()})
				if err != nil {
					t.Fatalf("load %s: %v", f, err)
				}
				t.Run(f, func(t *testing.T) { checkCapture(t, c, p) })
			}
			// The profile root resolves to the same capture.
			c, err := load.File(t.Context(), out, load.Options{TempDir: t.TempDir()})
			if err != nil {
				t.Fatalf("load the profile root: %v", err)
			}
			checkCapture(t, c, p)
		})
	}
}

func TestNumStepsAutoStop(t *testing.T) {
	for _, mode := range []string{AutoStopEager, AutoStopNextStep} {
		t.Run(mode, func(t *testing.T) {
			s, url := startServer(t, Config{AutoStop: mode, Devices: 2})
			out := t.TempDir()
			mustCall(t, "POST", url+"/start_profile", []byte(`{"output_dir":"`+out+`","num_steps":3}`), 200)
			// 1 prefill + 5 decode steps: the profile keeps the first 3.
			mustCall(t, "POST", url+"/generate", []byte(`{"text":"a b","sampling_params":{"max_new_tokens":5}}`), 200)
			if got := mustCall(t, "GET", url+"/profile_status", nil, 200); got.body != `{"status":"idle"}` {
				t.Errorf("status after the steps = %s, want idle", got.body)
			}
			mustCall(t, "POST", url+"/stop_profile", nil, 500)
			p := s.LastProfile()
			if p == nil {
				t.Fatal("no profile after num_steps")
			}
			var kinds []string
			for _, st := range p.Steps {
				kinds = append(kinds, st.Kind)
			}
			if want := []string{"prefill", "decode", "decode"}; !slices.Equal(kinds, want) {
				t.Errorf("steps = %v, want %v", kinds, want)
			}
			if len(p.Devices) != 2 || p.DeviceOpEvents() != 2*3*seedStepOps {
				t.Errorf("devices %d with %d op events, want 2 with %d", len(p.Devices), p.DeviceOpEvents(), 2*3*seedStepOps)
			}
			c, err := load.File(t.Context(), out, load.Options{TempDir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			checkCapture(t, c, p)
		})
	}
}

func TestNoDevicePlane(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		body string
	}{
		{"unpatched server", Config{DeviceTracer: DeviceTracerIgnored}, `{"device_tracer_level":2,"python_tracer_level":1}`},
		{"device tracing off", Config{}, `{"device_tracer_level":0}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, url := startServer(t, tt.cfg)
			out := profileOneScore(t, url, tt.body)
			p := s.LastProfile()
			if len(p.Devices) != 0 || p.HostEvents == 0 {
				t.Errorf("truth: %d devices, %d host events; want none and some", len(p.Devices), p.HostEvents)
			}
			_, err := load.File(t.Context(), out, load.Options{TempDir: t.TempDir()})
			if !errors.Is(err, trim.ErrNoDevicePlane) {
				t.Errorf("load = %v, want trim.ErrNoDevicePlane", err)
			}
		})
	}
}

func TestTracerLevels(t *testing.T) {
	tests := []struct {
		name                   string
		body                   string
		wantHost, wantPython   int
		wantHostEventsPerStep  int64
		wantIdleLoopAndThreads bool
	}{
		// sglang-jax sets a level only when truthy: 0 keeps the default.
		{"defaults", `{}`, 2, 0, 3, false},
		{"zero keeps the defaults", `{"host_tracer_level":0,"python_tracer_level":0}`, 2, 0, 3, false},
		{"host 1", `{"host_tracer_level":1}`, 1, 0, 3, false},
		{"python on", `{"python_tracer_level":1}`, 2, 1, 3 + int64(len(stepPython)), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, url := startServer(t, Config{})
			profileOneScore(t, url, tt.body)
			p := s.LastProfile()
			if p.HostLevel != tt.wantHost || p.PythonLevel != tt.wantPython {
				t.Errorf("levels host %d python %d, want %d %d", p.HostLevel, p.PythonLevel, tt.wantHost, tt.wantPython)
			}
			if !tt.wantIdleLoopAndThreads && p.HostEvents != tt.wantHostEventsPerStep {
				t.Errorf("host events = %d, want %d", p.HostEvents, tt.wantHostEventsPerStep)
			}
			if tt.wantIdleLoopAndThreads {
				// Two thread waits, the step's events, and whole idle iterations.
				loop := p.HostEvents - 2 - tt.wantHostEventsPerStep
				if loop <= 0 || loop%int64(len(idleIteration)) != 0 {
					t.Errorf("host events = %d: %d idle loop events, want a positive multiple of %d",
						p.HostEvents, loop, len(idleIteration))
				}
			}
		})
	}
}

func TestStartStep(t *testing.T) {
	s, url := startServer(t, Config{})
	out := t.TempDir()
	score := readInput(t, "score_request.json")
	mustCall(t, "POST", url+"/v1/score", score, 200) // step 0
	// Trace from step 2 for one step: step 1 runs untraced.
	mustCall(t, "POST", url+"/start_profile", []byte(`{"output_dir":"`+out+`","start_step":2,"num_steps":1}`), 200)
	for range 3 {
		mustCall(t, "POST", url+"/v1/score", score, 200) // steps 1, 2, 3
	}
	p := s.LastProfile()
	if p == nil || len(p.Steps) != 1 || p.Steps[0].Seq != 2 {
		t.Fatalf("truth = %+v, want step 2 alone", p)
	}
	if p.Span.Start != 0 || p.Steps[0].Start != 0 {
		t.Errorf("the trace starts at %d, its step at %d; want both at 0 (tracing begins with step 2)", p.Span.Start, p.Steps[0].Start)
	}
	c, err := load.File(t.Context(), out, load.Options{TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	checkCapture(t, c, p)
}

func TestEmptyXPlane(t *testing.T) {
	s, url := startServer(t, Config{EmptyXPlane: true, Hostname: "h"})
	out := t.TempDir()
	mustCall(t, "POST", url+"/start_profile", seedBody(t, out), 200)
	mustCall(t, "POST", url+"/v1/score", readInput(t, "score_request.json"), 200)
	mustCall(t, "POST", url+"/stop_profile", nil, 200) // success, as the real server reports
	dir := runFolder(t, out)
	if st, err := os.Stat(filepath.Join(dir, "h.xplane.pb")); err != nil || st.Size() != 0 {
		t.Fatalf("h.xplane.pb: %v, %v; want 0 bytes", st, err)
	}
	if _, err := load.File(t.Context(), out, load.Options{TempDir: t.TempDir()}); !errors.Is(err, xplane.ErrEmpty) {
		t.Errorf("load the run folder = %v, want xplane.ErrEmpty", err)
	}
	c, err := load.File(t.Context(), filepath.Join(dir, "h.trace.json.gz"), load.Options{TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	checkCapture(t, c, s.LastProfile())
}

// profileOneScore profiles one /v1/score of the seed run's request, the
// start_profile body (JSON) given but its output_dir, and returns that
// folder.
func profileOneScore(t *testing.T, url, body string) string {
	t.Helper()
	out := t.TempDir()
	var req map[string]any
	if err := json.Unmarshal([]byte(body), &req); err != nil {
		t.Fatal(err)
	}
	req["output_dir"] = out
	b, _ := json.Marshal(req)
	mustCall(t, "POST", url+"/start_profile", b, 200)
	mustCall(t, "POST", url+"/v1/score", readInput(t, "score_request.json"), 200)
	mustCall(t, "POST", url+"/stop_profile", nil, 200)
	return out
}
