package simserver

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

// maxOpEvents bounds the device op events one profile records; steps past
// it are counted and noted as a warning, not recorded.
const maxOpEvents = 1_000_000

// levels are a profile's tracer levels.
type levels struct {
	host, device, python int
}

// defaultLevels are the JAX profiler's defaults (ProfileOptions).
var defaultLevels = levels{host: 2, device: 1, python: 0}

// origin says who started a session.
type origin uint8

const (
	fromHTTP origin = iota
	fromGRPC
)

// session is one profiling session: the steps served while it runs.
type session struct {
	origin origin
	// id is the profiler service's session id.
	id     string
	levels levels
	// outputDir is /start_profile's output_dir.
	outputDir string
	// start is when tracing began.
	start time.Time
	// startStep, if deferred, is the step at which tracing begins.
	startStep int64
	deferred  bool
	// numSteps, if positive, stops the session after that many steps.
	numSteps int
	steps    []stepRec
	// maxSteps bounds steps; dropped counts the steps past it.
	maxSteps int
	dropped  int
	// stopping is set once a stop has begun; the session then records
	// nothing more.
	stopping bool
	// ended is closed by Terminate to end a profiler service session early.
	ended   chan struct{}
	endOnce sync.Once
}

// end closes s.ended once.
func (s *session) end() { s.endOnce.Do(func() { close(s.ended) }) }

// stepRec is one forward step a session recorded.
type stepRec struct {
	seq   int64
	kind  stepKind
	start time.Time
	shape shape
}

// newSession returns a session with its bounds set.
func (s *Server) newSession(o origin, lv levels) *session {
	per := s.ops.events * s.cfg.Devices
	return &session{
		origin:   o,
		levels:   lv,
		start:    time.Now(),
		maxSteps: max(maxOpEvents/max(per, 1), 1),
		ended:    make(chan struct{}),
	}
}

// begin makes sess the running session, or returns ErrBusy.
func (s *Server) begin(sess *session) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sess != nil {
		return ErrBusy
	}
	s.sess = sess
	return nil
}

// forward runs one forward step of a batch of shape sh: it keeps the
// scheduler busy for the step's length, records the step in a running
// session, and idles for Config.StepGap so device bursts stay apart.
func (s *Server) forward(kind stepKind, sh shape) {
	s.sched.Lock()
	defer s.sched.Unlock()
	if s.cfg.AutoStop == AutoStopNextStep {
		s.autoStopDue()
	}
	seq := s.seq
	s.seq++
	t0 := time.Now()
	time.Sleep(time.Duration(s.ops.stepLength(s.cfg.Seed, seq, kind, sh, s.cfg.Devices) / capture.Nanosecond))
	s.stats.steps.Add(1)
	s.record(stepRec{seq: seq, kind: kind, start: t0, shape: sh})
	time.Sleep(s.cfg.StepGap)
}

// record adds a finished step to the running session; when that makes
// num_steps, it stops the session and writes its files. The caller holds
// s.sched.
func (s *Server) record(st stepRec) {
	s.mu.Lock()
	sess := s.sess
	if sess == nil || sess.stopping || st.start.Before(sess.start) {
		s.mu.Unlock()
		return
	}
	if sess.deferred {
		if st.seq < sess.startStep {
			s.mu.Unlock()
			return
		}
		sess.deferred = false
		sess.start = st.start
	}
	if len(sess.steps) < sess.maxSteps {
		sess.steps = append(sess.steps, st)
	} else {
		sess.dropped++
	}
	auto := s.cfg.AutoStop != AutoStopNextStep && sess.origin == fromHTTP && sess.numSteps > 0 && len(sess.steps)+sess.dropped >= sess.numSteps
	if auto {
		sess.stopping = true
	}
	s.mu.Unlock()
	if !auto {
		return
	}
	if err := s.finishHTTP(sess); err != nil {
		s.log.Error("auto-stop after num_steps", "steps", sess.numSteps, "err", err)
	}
}

// autoStopDue stops a /start_profile session that has recorded its
// num_steps, as sglang-jax does when the next batch begins. The caller
// holds s.sched.
func (s *Server) autoStopDue() {
	s.mu.Lock()
	sess := s.sess
	due := sess != nil && !sess.stopping && sess.origin == fromHTTP && sess.numSteps > 0 &&
		len(sess.steps)+sess.dropped >= sess.numSteps
	if due {
		sess.stopping = true
	}
	s.mu.Unlock()
	if !due {
		return
	}
	if err := s.finishHTTP(sess); err != nil {
		s.log.Error("auto-stop after num_steps", "steps", sess.numSteps, "err", err)
	}
}

// finish builds the capture of a stopping session, passes it to write,
// keeps its ground truth and frees the session. The caller holds s.sched.
func (s *Server) finish(sess *session, host string, write func(*capture.Capture, *Profile) error) error {
	stop := time.Now()
	c, p := s.build(sess, stop, host)
	err := write(c, p)
	s.mu.Lock()
	if s.sess == sess {
		s.sess = nil
	}
	if err == nil {
		s.last = p
	}
	s.mu.Unlock()
	return err
}

// startOptions are /start_profile's fields that matter here.
type startOptions struct {
	outputDir string
	startStep *int64
	numSteps  int
	levels    levels
}

// startHTTP begins a /start_profile session.
func (s *Server) startHTTP(o startOptions) error {
	if err := checkWritable(o.outputDir); err != nil {
		return err
	}
	sess := s.newSession(fromHTTP, o.levels)
	sess.outputDir = o.outputDir
	sess.numSteps = o.numSteps
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sess != nil {
		return ErrBusy
	}
	if o.startStep != nil && *o.startStep > s.seqHint() {
		sess.deferred = true
		sess.startStep = *o.startStep
	}
	s.sess = sess
	return nil
}

// seqHint is the number of the next forward step, read without s.sched
// (a step in flight may make it one low). The caller holds s.mu.
func (s *Server) seqHint() int64 { return s.stats.steps.Load() }

// stopHTTP ends the /start_profile session and writes its run folder.
func (s *Server) stopHTTP() error {
	s.sched.Lock()
	defer s.sched.Unlock()
	s.mu.Lock()
	sess := s.sess
	if sess == nil || sess.stopping || sess.origin != fromHTTP {
		s.mu.Unlock()
		return ErrNotProfiling
	}
	sess.stopping = true
	s.mu.Unlock()
	return s.finishHTTP(sess)
}

// finishHTTP writes a stopping /start_profile session's run folder. The
// caller holds s.sched.
func (s *Server) finishHTTP(sess *session) error {
	return s.finish(sess, s.cfg.Hostname, func(c *capture.Capture, p *Profile) error {
		dir, files, err := writeRunFolder(sess.outputDir, p.Host, c, time.Now(), s.cfg.EmptyXPlane)
		p.Dir, p.Files = dir, files
		return err
	})
}

// profiling reports whether a /start_profile session is running.
func (s *Server) profiling() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sess != nil && s.sess.origin == fromHTTP
}

// runGRPC runs a profiler service session for d, or until terminated or ctx
// is done, then builds its capture and hands it to write.
func (s *Server) runGRPC(ctx context.Context, id, host string, lv levels, d time.Duration,
	write func(*capture.Capture, *Profile) error) error {
	sess := s.newSession(fromGRPC, lv)
	sess.id = id
	if err := s.begin(sess); err != nil {
		return err
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-sess.ended:
	case <-ctx.Done():
		s.sched.Lock()
		defer s.sched.Unlock()
		s.mu.Lock()
		if s.sess == sess {
			s.sess = nil
		}
		s.mu.Unlock()
		return ctx.Err()
	}
	s.sched.Lock()
	defer s.sched.Unlock()
	s.mu.Lock()
	sess.stopping = true
	s.mu.Unlock()
	return s.finish(sess, host, write)
}

// terminate ends the profiler service session with id early (any when id
// is empty). It reports whether there was one.
func (s *Server) terminate(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sess == nil || s.sess.origin != fromGRPC || (id != "" && s.sess.id != id) {
		return false
	}
	s.sess.end()
	return true
}

// checkWritable makes dir and checks a file can be created in it.
func checkWritable(dir string) error {
	if strings.HasPrefix(dir, "gs://") {
		return fmt.Errorf("%w: %s: the simulated server has no GCS access", ErrOutputDir, dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("%w: %w", ErrOutputDir, err)
	}
	f, err := os.CreateTemp(dir, ".simserver-probe-*")
	if err != nil {
		return fmt.Errorf("%w: %w", ErrOutputDir, err)
	}
	f.Close()
	os.Remove(f.Name())
	return nil
}

// LastProfile returns the ground truth of the last profile the server
// wrote (by /stop_profile, num_steps or the profiler service), or nil.
func (s *Server) LastProfile() *Profile {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// sessionRunning reports whether any profiling session is running.
func (s *Server) sessionRunning() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sess != nil
}
