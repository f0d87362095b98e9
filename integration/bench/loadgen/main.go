// Command loadgen is the collector's load test (issue 7, item 5; issue 5,
// item 8): it connects many simulated agents to one collector over loopback
// (each with its own connection and control stream, registering and
// heartbeating at the interval the collector asks for), and while they hold
// on it uploads bursts of concurrent captures, each with a distinct capture
// id. At the end it lists every capture through the API and checks that none
// was lost or stored twice, samples the collector's RSS and CPU from
// /proc/PID, and prints a Markdown report.
//
// Run it through integration/bench/load.sh (`make bench`), which builds and
// starts the collector and makes the capture file.
package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	agentv1 "github.com/fleetprof/fleetprof/proto/fleetprof/agent/v1"
	collectorv1 "github.com/fleetprof/fleetprof/proto/fleetprof/collector/v1"
)

// chunkBytes is the agents' chunk size (the spool's, 1 MiB).
const chunkBytes = 1 << 20

// config is the command line.
type config struct {
	collector     string
	pid           int
	agents        int
	burst         int
	burstInterval time.Duration
	duration      time.Duration
	capture       string
	run           string
	connectRate   int
}

func main() {
	var cfg config
	flag.StringVar(&cfg.collector, "collector", "127.0.0.1:7070", "the collector's gRPC address (plain text, loopback)")
	flag.IntVar(&cfg.pid, "collector-pid", 0, "the collector's process id, for RSS and CPU from /proc (0: not measured)")
	flag.IntVar(&cfg.agents, "agents", 2000, "simulated agents, each with its own connection and control stream")
	flag.IntVar(&cfg.burst, "burst", 50, "captures uploaded at once in each burst")
	flag.DurationVar(&cfg.burstInterval, "burst-interval", 5*time.Second, "pause between the end of a burst and the next")
	flag.DurationVar(&cfg.duration, "duration", 2*time.Minute, "how long to hold the load (after every agent registered)")
	flag.StringVar(&cfg.capture, "capture", "", "the .fpcap every upload sends (required)")
	flag.StringVar(&cfg.run, "run", strconv.FormatInt(time.Now().Unix(), 36), "prefix of this run's capture ids")
	flag.IntVar(&cfg.connectRate, "connect-rate", 500, "agents connected per second at the start")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if cfg.capture == "" {
		fmt.Fprintln(os.Stderr, "loadgen: --capture is required")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, log, os.Stdout); err != nil {
		log.Error("load test failed", "error", err)
		os.Exit(1)
	}
}

// stats are the counters the agents and uploads keep.
type stats struct {
	registered  atomic.Int64
	connected   atomic.Int64 // control streams open now
	heartbeats  atomic.Int64
	streamErrs  atomic.Int64
	uploadErrs  atomic.Int64
	uploadRetry atomic.Int64
}

func run(ctx context.Context, cfg config, log *slog.Logger, out io.Writer) error {
	data, err := os.ReadFile(cfg.capture)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(data)
	var st stats
	actx, stopAgents := context.WithCancel(ctx)
	defer stopAgents()

	// Connect the agents, each on its own connection.
	t0 := time.Now()
	var wg sync.WaitGroup
	conns := make([]*grpc.ClientConn, cfg.agents)
	tick := time.NewTicker(time.Second / time.Duration(max(cfg.connectRate, 1)))
	for i := range cfg.agents {
		cc, err := grpc.NewClient(cfg.collector, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return err
		}
		conns[i] = cc
		id := fmt.Sprintf("sim-%05d", i)
		wg.Go(func() { holdAgent(actx, cc, id, i, &st) })
		<-tick.C
	}
	tick.Stop()
	for st.registered.Load() < int64(cfg.agents) {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Since(t0) > 5*time.Minute {
			return fmt.Errorf("only %d of %d agents registered in 5 minutes", st.registered.Load(), cfg.agents)
		}
		time.Sleep(50 * time.Millisecond)
	}
	log.Info("agents registered", "agents", cfg.agents, "took", time.Since(t0).Round(time.Millisecond))

	// Hold the load: bursts of uploads while the agents heartbeat.
	proc := newProcSampler(cfg.pid)
	proc.sample()
	hb0 := st.heartbeats.Load()
	start := time.Now()
	var lat, acks, commits []time.Duration
	var ids []string
	bursts := 0
	var minConnected int64 = int64(cfg.agents)
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-stopSampling:
				return
			case <-t.C:
				proc.sample()
				if c := st.connected.Load(); c < minConnected {
					minConnected = c
				}
			}
		}
	}()
	for time.Since(start) < cfg.duration && ctx.Err() == nil {
		var mu sync.Mutex
		var bwg sync.WaitGroup
		for j := range cfg.burst {
			id := fmt.Sprintf("load-%s-%04d-%02d", cfg.run, bursts, j)
			agent := fmt.Sprintf("sim-%05d", (bursts*cfg.burst+j)%cfg.agents)
			cc := conns[(bursts*cfg.burst+j)%cfg.agents]
			bwg.Go(func() {
				d, err := uploadRetrying(ctx, cc, id, agent, data, sum[:], &st)
				mu.Lock()
				defer mu.Unlock()
				ids = append(ids, id)
				if err != nil {
					st.uploadErrs.Add(1)
					log.Warn("upload failed", "capture_id", id, "error", err)
					return
				}
				lat, acks, commits = append(lat, d.total), append(acks, d.ack), append(commits, d.commit)
			})
		}
		bwg.Wait()
		bursts++
		select {
		case <-ctx.Done():
		case <-time.After(cfg.burstInterval):
		}
	}
	held := time.Since(start)
	close(stopSampling)
	<-sampled
	proc.sample()
	hbRate := float64(st.heartbeats.Load()-hb0) / held.Seconds()
	connectedEnd := st.connected.Load()

	// Every capture listed once, none missing.
	listed, err := listAll(ctx, conns[0], "load-"+cfg.run+"-")
	if err != nil {
		return fmt.Errorf("list captures: %w", err)
	}
	seen := map[string]int{}
	for _, id := range listed {
		seen[id]++
	}
	var lost, dup []string
	for _, id := range ids {
		if seen[id] == 0 {
			lost = append(lost, id)
		}
	}
	for id, n := range seen {
		if n > 1 {
			dup = append(dup, id)
		}
	}
	stopAgents()
	wg.Wait()
	for _, cc := range conns {
		cc.Close()
	}

	pcts := func(l []time.Duration) string {
		if len(l) == 0 {
			return "-"
		}
		slices.Sort(l)
		at := func(p float64) time.Duration { return l[min(len(l)-1, int(float64(len(l))*p))] }
		return fmt.Sprintf("%s / %s / %s / %s", ms(at(0.50)), ms(at(0.90)), ms(at(0.99)), ms(at(1)))
	}
	fmt.Fprintf(out, "| agents connected (min during the run / at the end) | %d / %d of %d |\n", minConnected, connectedEnd, cfg.agents)
	fmt.Fprintf(out, "| heartbeats received by the collector | %.0f/s |\n", hbRate)
	fmt.Fprintf(out, "| held for | %s |\n", held.Round(time.Second))
	fmt.Fprintf(out, "| uploads | %d in %d bursts of %d, %.2f MiB each |\n", len(ids), bursts, cfg.burst, float64(len(data))/(1<<20))
	fmt.Fprintf(out, "| captures committed per second (over the run) | %.2f |\n", float64(len(lat))/held.Seconds())
	fmt.Fprintf(out, "| ingest latency, last chunk sent → committed: p50 / p90 / p99 / max | %s |\n", pcts(lat))
	fmt.Fprintf(out, "| of which last chunk sent → acknowledged (staged): p50 / p90 / p99 / max | %s |\n", pcts(acks))
	fmt.Fprintf(out, "| of which UploadEnd sent → committed=true: p50 / p90 / p99 / max | %s |\n", pcts(commits))
	fmt.Fprintf(out, "| upload errors / retried attempts / control stream errors | %d / %d / %d |\n", st.uploadErrs.Load(), st.uploadRetry.Load(), st.streamErrs.Load())
	fmt.Fprintf(out, "| captures lost / duplicated (of %d listed) | %d / %d |\n", len(listed), len(lost), len(dup))
	if proc.ok {
		fmt.Fprintf(out, "| collector RSS: with the agents connected before the bursts / peak (VmHWM) / at the end | %s / %s / %s |\n",
			mib(proc.first), mib(proc.hwm), mib(proc.last))
		fmt.Fprintf(out, "| collector CPU (user+sys over the run; 200%% = both cores) | %.0f%% |\n", proc.cpuPct())
	}
	if len(lost) > 0 || len(dup) > 0 {
		return fmt.Errorf("%d captures lost (%v), %d duplicated (%v)", len(lost), head(lost), len(dup), head(dup))
	}
	if st.uploadErrs.Load() > 0 {
		return fmt.Errorf("%d uploads failed", st.uploadErrs.Load())
	}
	return nil
}

func head(s []string) []string { return s[:min(len(s), 5)] }

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

func mib(kb int64) string { return fmt.Sprintf("%.0f MiB", float64(kb)/1024) }

// holdAgent registers an agent and heartbeats until ctx ends, reconnecting
// when the stream breaks.
func holdAgent(ctx context.Context, cc *grpc.ClientConn, id string, i int, st *stats) {
	client := agentv1.NewAgentServiceClient(cc)
	first := true
	for ctx.Err() == nil {
		err := controlStream(ctx, client, id, i, st, first)
		first = false
		if ctx.Err() != nil {
			return
		}
		st.streamErrs.Add(1)
		_ = err
		select {
		case <-ctx.Done():
		case <-time.After(time.Duration(500+rand.IntN(500)) * time.Millisecond):
		}
	}
}

func controlStream(ctx context.Context, client agentv1.AgentServiceClient, id string, i int, st *stats, first bool) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := client.Control(ctx)
	if err != nil {
		return err
	}
	err = stream.Send(&agentv1.ControlRequest{Msg: &agentv1.ControlRequest_Register{Register: &agentv1.Register{
		AgentId: id, Host: id + ".load", AgentVersion: "loadgen", Backends: []string{"http"},
		Labels: map[string]string{"pool": strconv.Itoa(i % 20), "zone": []string{"us-east5-a", "us-east5-b"}[i%2], "load": "1"},
	}}})
	if err != nil {
		return err
	}
	m, err := stream.Recv()
	if err != nil {
		return err
	}
	reg := m.GetRegistered()
	if reg == nil {
		return errors.New("first answer is not Registered")
	}
	if first {
		st.registered.Add(1)
	}
	st.connected.Add(1)
	defer st.connected.Add(-1)
	every := time.Duration(reg.GetHeartbeatIntervalMs()) * time.Millisecond
	if every <= 0 {
		every = 5 * time.Second
	}
	recvErr := make(chan error, 1)
	go func() { // owned: ends when the stream does (cancel above)
		for {
			if _, err := stream.Recv(); err != nil {
				recvErr <- err
				return
			}
		}
	}()
	// Spread the heartbeats over the interval.
	t := time.NewTimer(time.Duration(rand.Int64N(int64(every))))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-recvErr:
			return err
		case <-t.C:
			if err := stream.Send(&agentv1.ControlRequest{Msg: &agentv1.ControlRequest_Heartbeat{Heartbeat: &agentv1.Heartbeat{ServerHealthy: true}}}); err != nil {
				return err
			}
			st.heartbeats.Add(1)
			t.Reset(every)
		}
	}
}

// uploadRetrying uploads a capture, resuming after a refusal or a broken
// stream (as an agent does), and returns the latency of the attempt that
// committed it.
func uploadRetrying(ctx context.Context, cc *grpc.ClientConn, id, agent string, data, sum []byte, st *stats) (timing, error) {
	var err error
	for attempt := range 10 {
		if attempt > 0 {
			st.uploadRetry.Add(1)
			time.Sleep(time.Duration(200*attempt) * time.Millisecond)
		}
		var t timing
		t, err = upload(ctx, cc, id, agent, data, sum)
		if err == nil {
			return t, nil
		}
		if ctx.Err() != nil {
			return t, err
		}
	}
	return timing{}, err
}

// upload runs one upload stream: start, the chunks from where the collector
// says to resume, end; it returns the time from the last chunk sent to
// committed=true.
func upload(ctx context.Context, cc *grpc.ClientConn, id, agent string, data, sum []byte) (timing, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	stream, err := agentv1.NewAgentServiceClient(cc).Upload(ctx)
	if err != nil {
		return timing{}, err
	}
	chunks := int64((len(data) + chunkBytes - 1) / chunkBytes)
	err = stream.Send(&agentv1.UploadRequest{Msg: &agentv1.UploadRequest_Start{Start: &agentv1.UploadStart{
		CaptureId: id, AgentId: agent, Chunks: chunks, Bytes: int64(len(data)), Sha256: sum,
	}}})
	if err != nil {
		return timing{}, recvErr(stream, err)
	}
	first, err := stream.Recv()
	if err != nil {
		return timing{}, err
	}
	if first.GetCommitted() {
		return timing{}, errors.New("committed before this upload: the capture id was used before")
	}
	for seq := first.GetNextSeq(); seq < chunks; seq++ {
		off := seq * chunkBytes
		end := min(off+chunkBytes, int64(len(data)))
		err := stream.Send(&agentv1.UploadRequest{Msg: &agentv1.UploadRequest_Chunk{Chunk: &agentv1.UploadChunk{Seq: seq, Offset: off, Data: data[off:end]}}})
		if err != nil {
			return timing{}, recvErr(stream, err)
		}
	}
	var t timing
	last := time.Now()
	// Wait for the last chunk's acknowledgement (durably staged), then end.
	for {
		m, err := stream.Recv()
		if err != nil {
			return t, err
		}
		if m.GetNextSeq() >= chunks {
			break
		}
	}
	t.ack = time.Since(last)
	endSent := time.Now()
	if err := stream.Send(&agentv1.UploadRequest{Msg: &agentv1.UploadRequest_End{End: &agentv1.UploadEnd{Chunks: chunks}}}); err != nil {
		return t, recvErr(stream, err)
	}
	for {
		m, err := stream.Recv()
		if err != nil {
			return t, err
		}
		if m.GetCommitted() {
			t.commit = time.Since(endSent)
			t.total = time.Since(last)
			_ = stream.CloseSend()
			return t, nil
		}
	}
}

// timing is one upload's latencies.
type timing struct {
	ack    time.Duration // last chunk sent → its acknowledgement (staged)
	commit time.Duration // UploadEnd sent → committed=true
	total  time.Duration // last chunk sent → committed=true
}

// recvErr returns the stream's status when a Send failed with io.EOF.
func recvErr(stream agentv1.AgentService_UploadClient, err error) error {
	if !errors.Is(err, io.EOF) {
		return err
	}
	for {
		if _, rerr := stream.Recv(); rerr != nil {
			if errors.Is(rerr, io.EOF) {
				return err
			}
			return rerr
		}
	}
}

// listAll lists every capture whose id starts with prefix, page by page.
func listAll(ctx context.Context, cc *grpc.ClientConn, prefix string) ([]string, error) {
	client := collectorv1.NewCollectorServiceClient(cc)
	var ids []string
	token := ""
	for {
		resp, err := client.ListCaptures(ctx, &collectorv1.ListCapturesRequest{Limit: 500, PageToken: token})
		if err != nil {
			return nil, err
		}
		for _, c := range resp.GetCaptures() {
			if strings.HasPrefix(c.GetCaptureId(), prefix) {
				ids = append(ids, c.GetCaptureId())
			}
		}
		token = resp.GetNextPageToken()
		if token == "" {
			return ids, nil
		}
	}
}

// procSampler reads a process's RSS and CPU time from /proc.
type procSampler struct {
	pid               int
	ok                bool
	first, last, hwm  int64 // kB
	cpu0, cpu1        int64 // clock ticks
	wall0, wall1      time.Time
	firstSampleFilled bool
}

func newProcSampler(pid int) *procSampler { return &procSampler{pid: pid} }

func (p *procSampler) sample() {
	if p.pid <= 0 {
		return
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.pid))
	if err != nil {
		return
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.pid))
	if err != nil {
		return
	}
	var rss, hwm int64
	for _, line := range strings.Split(string(status), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "VmRSS:" {
			rss, _ = strconv.ParseInt(f[1], 10, 64)
		}
		if len(f) >= 2 && f[0] == "VmHWM:" {
			hwm, _ = strconv.ParseInt(f[1], 10, 64)
		}
	}
	// Fields after the command name (which may hold spaces): utime is the
	// 14th field and stime the 15th of the whole line.
	rest := string(stat)
	if i := strings.LastIndexByte(rest, ')'); i >= 0 {
		rest = rest[i+2:]
	}
	f := strings.Fields(rest)
	if len(f) < 13 {
		return
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	stt, _ := strconv.ParseInt(f[12], 10, 64)
	now := time.Now()
	if !p.firstSampleFilled {
		p.first, p.cpu0, p.wall0, p.firstSampleFilled = rss, ut+stt, now, true
	}
	p.last, p.hwm, p.cpu1, p.wall1, p.ok = rss, hwm, ut+stt, now, true
}

// cpuPct is the CPU used between the first and last samples, in percent of
// one core (the kernel's USER_HZ is 100 on Linux).
func (p *procSampler) cpuPct() float64 {
	wall := p.wall1.Sub(p.wall0).Seconds()
	if wall <= 0 {
		return 0
	}
	return float64(p.cpu1-p.cpu0) / 100 / wall * 100
}
