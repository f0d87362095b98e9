// Command soak is the collector's kill -9 and corruption run (issue 13):
// uploaders send captures in small chunks, resuming after every break,
// while the real fleetprof-collector is SIGKILLed at random moments and
// restarted on the same data folder. Afterwards it checks that every
// capture an uploader saw committed is listed once with the bytes sent,
// that the GCS backup folders verify, that `fleetprof-collector check`
// finds the store consistent; then it damages copies of the database
// (truncated, zero-filled, overwritten, emptied) and checks that each is
// refused by name, and that a restore from GCS brings the data back. It
// prints a Markdown table and exits non-zero on any loss, corruption or
// damage let through. Run it with `make soak` (integration/bench/soak.sh).
//
// With -costly it instead measures the collector's peak RSS while it is
// sent a 16 MB .fpcap of empty events (issue 13 finding 2); -collector
// picks the binary, so an older build can be measured the same way.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"cloud.google.com/go/storage"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/fleetprof/fleetprof/integration/internal/hostile"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture/fpcap"
	agentv1 "github.com/fleetprof/fleetprof/proto/fleetprof/agent/v1"
	collectorv1 "github.com/fleetprof/fleetprof/proto/fleetprof/collector/v1"
)

// config is what the flags set.
type config struct {
	bin, collector, out, capture string
	duration, killMin, killMax   time.Duration
	uploaders, chunk             int
	costly                       bool
}

func main() {
	var cfg config
	flag.StringVar(&cfg.bin, "bin", "bin", "folder of the built binaries (fleetprof-collector, fleetprof-gcsemu)")
	flag.StringVar(&cfg.collector, "collector", "", "the collector binary (default: BIN/fleetprof-collector)")
	flag.StringVar(&cfg.out, "out", "bench-out/soak", "work folder (emptied first)")
	flag.StringVar(&cfg.capture, "capture", "", "the .fpcap each upload sends, made distinct per capture (required unless -costly)")
	flag.DurationVar(&cfg.duration, "duration", 2*time.Minute, "how long uploads run while the collector is killed")
	flag.DurationVar(&cfg.killMin, "kill-min", 500*time.Millisecond, "shortest time between two SIGKILLs")
	flag.DurationVar(&cfg.killMax, "kill-max", 4*time.Second, "longest time between two SIGKILLs")
	flag.IntVar(&cfg.uploaders, "uploaders", 8, "uploads in flight at once")
	flag.IntVar(&cfg.chunk, "chunk", 64<<10, "upload chunk size (small: more chunks in flight when a kill comes)")
	flag.BoolVar(&cfg.costly, "costly", false, "measure peak RSS on a 16 MB capture of empty events instead")
	flag.Parse()
	if cfg.collector == "" {
		cfg.collector = filepath.Join(cfg.bin, "fleetprof-collector")
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	if cfg.costly {
		err = runCostly(ctx, cfg, os.Stdout)
	} else {
		err = runSoak(ctx, cfg, log, os.Stdout)
	}
	if err != nil {
		log.Error("soak failed", "error", err)
		os.Exit(1)
	}
}

// freeAddr returns a loopback address free a moment ago.
func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "127.0.0.1:0"
	}
	defer l.Close()
	return l.Addr().String()
}

// proc is a started process with its output in a file.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
	log  string
}

// start runs name with args, its output appended to logPath.
func start(name, logPath string, args ...string) (*proc, error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, err
	}
	p := &proc{cmd: cmd, done: make(chan struct{}), log: logPath}
	go func() { p.err = cmd.Wait(); f.Close(); close(p.done) }()
	return p, nil
}

// kill SIGKILLs the process group and waits for it.
func (p *proc) kill() {
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}

// stop SIGTERMs the process and waits up to d, then kills it.
func (p *proc) stop(d time.Duration) {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(d):
		p.kill()
	}
}

// waitPort waits until addr accepts connections, the process dies, or d
// passes.
func waitPort(p *proc, addr string, d time.Duration) error {
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		select {
		case <-p.done:
			return fmt.Errorf("%s exited: %v (see %s)", p.cmd.Path, p.err, p.log)
		default:
		}
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("%s did not listen on %s in %s", p.cmd.Path, addr, d)
}

// collector is the collector under test, restartable on one data folder.
type collector struct {
	bin, data, grpc, http, log string
	args                       []string
	p                          *proc
}

// run starts the collector and waits for its gRPC port.
func (c *collector) run() (time.Duration, error) {
	t0 := time.Now()
	p, err := start(c.bin, c.log, append([]string{"--data", c.data, "--insecure", "--listen", c.grpc, "--http", c.http, "--log-level", "warn"}, c.args...)...)
	if err != nil {
		return 0, err
	}
	c.p = p
	err = waitPort(p, c.grpc, time.Minute)
	return time.Since(t0), err
}

// refused starts the collector on data and returns its output once it
// exits, or an error if it serves.
func (c *collector) refused(data string) (string, error) {
	logPath := filepath.Join(filepath.Dir(c.log), "refused.log")
	os.Remove(logPath)
	p, err := start(c.bin, logPath, append([]string{"--data", data, "--insecure", "--listen", freeAddr(), "--http", "-"}, c.args...)...)
	if err != nil {
		return "", err
	}
	select {
	case <-p.done:
	case <-time.After(time.Minute):
		p.kill()
		return "", fmt.Errorf("the collector served %s instead of refusing it", data)
	}
	b, _ := os.ReadFile(logPath)
	if p.err == nil {
		return string(b), fmt.Errorf("the collector exited 0 on %s", data)
	}
	return string(b), nil
}

// sent is one capture an uploader saw committed.
type sent struct {
	sum  [32]byte
	size int
}

// soakStats are the uploaders' counters.
type soakStats struct {
	attempts, breaks, resumed atomic.Int64
}

// upload sends data as capture id, resuming after every broken attempt,
// until the collector says it is committed or ctx ends.
func upload(ctx context.Context, cc *grpc.ClientConn, agent, id string, data []byte, chunk int, st *soakStats) error {
	sum := sha256.Sum256(data)
	chunks := (len(data) + chunk - 1) / chunk
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		st.attempts.Add(1)
		committed, resumed, err := attempt(ctx, cc, agent, id, data, sum[:], chunk, chunks)
		if resumed > 0 {
			st.resumed.Add(1)
		}
		if committed {
			return nil
		}
		if err != nil && !strings.Contains(err.Error(), "Unavailable") && !strings.Contains(err.Error(), "Canceled") &&
			!strings.Contains(err.Error(), "EOF") && !strings.Contains(err.Error(), "ResourceExhausted") &&
			!strings.Contains(err.Error(), "connection") && !strings.Contains(err.Error(), "transport") {
			return fmt.Errorf("upload %s: %w", id, err) // a refusal: nothing to retry
		}
		st.breaks.Add(1)
		time.Sleep(time.Duration(50+rand.IntN(200)) * time.Millisecond)
	}
}

// attempt is one upload stream: where it resumed, and whether it ended
// committed.
func attempt(ctx context.Context, cc *grpc.ClientConn, agent, id string, data, sum []byte, chunk, chunks int) (bool, int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	s, err := agentv1.NewAgentServiceClient(cc).Upload(ctx)
	if err != nil {
		return false, 0, err
	}
	err = s.Send(&agentv1.UploadRequest{Msg: &agentv1.UploadRequest_Start{Start: &agentv1.UploadStart{
		CaptureId: id, AgentId: agent, Chunks: int64(chunks), Bytes: int64(len(data)), Sha256: sum}}})
	if err != nil {
		return false, 0, err
	}
	first, err := s.Recv()
	if err != nil {
		return false, 0, err
	}
	if first.GetCommitted() {
		return true, first.GetNextSeq(), nil
	}
	for seq := first.GetNextSeq(); seq < int64(chunks); seq++ {
		off := seq * int64(chunk)
		if err := s.Send(&agentv1.UploadRequest{Msg: &agentv1.UploadRequest_Chunk{Chunk: &agentv1.UploadChunk{
			Seq: seq, Offset: off, Data: data[off:min(off+int64(chunk), int64(len(data)))]}}}); err != nil {
			return false, first.GetNextSeq(), err
		}
		if _, err := s.Recv(); err != nil {
			return false, first.GetNextSeq(), err
		}
	}
	if err := s.Send(&agentv1.UploadRequest{Msg: &agentv1.UploadRequest_End{End: &agentv1.UploadEnd{Chunks: int64(chunks)}}}); err != nil {
		return false, first.GetNextSeq(), err
	}
	last, err := s.Recv()
	if err != nil {
		return false, first.GetNextSeq(), err
	}
	return last.GetCommitted(), first.GetNextSeq(), nil
}

// distinct returns the capture in base with its context naming id, so
// every upload has its own bytes and SHA-256.
func distinct(base []byte, id string) ([]byte, error) {
	c, err := fpcap.Read(strings.NewReader(string(base)))
	if err != nil {
		return nil, err
	}
	if c.Context == nil {
		c.Context = map[string]string{}
	}
	c.Context["soak.id"] = id
	var b strings.Builder
	if err := fpcap.Write(&b, c); err != nil {
		return nil, err
	}
	return []byte(b.String()), nil
}

// row is one line of the report.
type row struct{ measure, value string }

func runSoak(ctx context.Context, cfg config, log *slog.Logger, out io.Writer) error {
	if cfg.capture == "" {
		return errors.New("-capture is required")
	}
	base, err := os.ReadFile(cfg.capture)
	if err != nil {
		return err
	}
	if err := os.RemoveAll(cfg.out); err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.out, 0o755); err != nil {
		return err
	}
	var rows []row
	add := func(m, format string, args ...any) { rows = append(rows, row{m, fmt.Sprintf(format, args...)}) }

	gcsAddr := freeAddr()
	gcs, err := start(filepath.Join(cfg.bin, "fleetprof-gcsemu"), filepath.Join(cfg.out, "gcs.log"),
		"--addr", gcsAddr, "--bucket", "soak", "--root", filepath.Join(cfg.out, "gcs"))
	if err != nil {
		return err
	}
	defer gcs.stop(5 * time.Second)
	if err := waitPort(gcs, gcsAddr, 30*time.Second); err != nil {
		return err
	}
	gcsFlags := []string{"--gcs-bucket", "soak", "--gcs-prefix", "soak", "--gcs-endpoint", "http://" + gcsAddr}
	c := &collector{bin: cfg.collector, data: filepath.Join(cfg.out, "data"), grpc: freeAddr(), http: freeAddr(),
		log: filepath.Join(cfg.out, "collector.log"),
		// No analyzer plugins: each capture gets its summary and backup at
		// once, so the backups keep up with the uploads.
		args: append([]string{"--plugins", filepath.Join(cfg.out, "no-plugins"), "--snapshot-interval", "5s", "--shutdown-timeout", "2s"}, gcsFlags...)}
	if _, err := c.run(); err != nil {
		return err
	}
	defer func() { c.p.stop(5 * time.Second) }()
	cc, err := grpc.NewClient(c.grpc, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer cc.Close()

	// Uploads for the duration, the collector killed at random moments.
	var st soakStats
	var mu sync.Mutex
	committed := map[string]sent{}
	var refusals []error
	uctx, stopUploads := context.WithCancel(ctx)
	var next atomic.Int64
	var wg sync.WaitGroup
	t0 := time.Now()
	for u := range cfg.uploaders {
		wg.Go(func() {
			for uctx.Err() == nil {
				id := fmt.Sprintf("soak-%d-%06d", u, next.Add(1))
				data, err := distinct(base, id)
				if err != nil {
					mu.Lock()
					refusals = append(refusals, err)
					mu.Unlock()
					return
				}
				// Once started, an upload finishes (its own deadline),
				// whatever happens to the run's.
				err = upload(context.WithoutCancel(uctx), cc, fmt.Sprintf("soak-%d", u), id, data, cfg.chunk, &st)
				mu.Lock()
				if err != nil {
					refusals = append(refusals, err)
				} else {
					committed[id] = sent{sum: sha256.Sum256(data), size: len(data)}
				}
				mu.Unlock()
			}
		})
	}
	kills := 0
	var restart []time.Duration
	for time.Since(t0) < cfg.duration && ctx.Err() == nil {
		time.Sleep(cfg.killMin + time.Duration(rand.Int64N(int64(cfg.killMax-cfg.killMin))))
		c.p.kill()
		kills++
		d, err := c.run()
		if err != nil {
			stopUploads()
			wg.Wait()
			return fmt.Errorf("restart after kill %d: %w", kills, err)
		}
		restart = append(restart, d)
	}
	stopUploads()
	wg.Wait()
	log.Info("uploads done", "kills", kills, "committed", len(committed), "took", time.Since(t0).Round(time.Second))
	if len(refusals) > 0 {
		return fmt.Errorf("%d uploads refused, e.g. %w", len(refusals), refusals[0])
	}
	add("collector SIGKILLs at random moments", "%d in %s (every %s–%s)", kills, cfg.duration, cfg.killMin, cfg.killMax)
	add("captures committed (as the uploaders saw it)", "%d (%d upload attempts, %d cut or refused connection by a kill, %d resumed mid-way)",
		len(committed), st.attempts.Load(), st.breaks.Load(), st.resumed.Load())
	slices.Sort(restart)
	if len(restart) > 0 {
		add("restart (start-up check included) to listening, median / max", "%s / %s", restart[len(restart)/2].Round(time.Millisecond), restart[len(restart)-1].Round(time.Millisecond))
	}

	// Every capture listed once, with the bytes sent.
	api := collectorv1.NewCollectorServiceClient(cc)
	listed, err := listAll(ctx, api)
	if err != nil {
		return err
	}
	lost, dup := 0, 0
	seen := map[string]int{}
	for _, l := range listed {
		seen[l.GetCaptureId()]++
	}
	for id := range committed {
		if seen[id] == 0 {
			lost++
		}
	}
	for _, n := range seen {
		if n > 1 {
			dup++
		}
	}
	corrupt := 0
	for _, id := range slices.Sorted(maps.Keys(committed)) {
		b, err := export(ctx, api, id)
		if err != nil || sha256.Sum256(b) != committed[id].sum {
			corrupt++
		}
	}
	add("captures lost / listed twice / bytes differ", "**%d / %d / %d** (%d listed)", lost, dup, corrupt, len(listed))

	// Backups: every folder's checksums.txt verifies.
	folders, bad, err := verifyBackups(ctx, api, "http://"+gcsAddr, committed)
	if err != nil {
		return err
	}
	add("GCS capture folders verified (sha256sum -c) / failing", "%d / **%d**", folders, bad)

	// A snapshot of the whole database, for the restore below: the kills
	// cut most of them short (each restart restarts the interval).
	t3 := time.Now()
	if err := waitSnapshot(ctx, "http://"+c.http+"/metrics", 10*time.Minute); err != nil {
		return err
	}
	add("a snapshot completed after the run", "in %s", time.Since(t3).Round(time.Second))

	// The store, offline.
	c.p.stop(10 * time.Second)
	t1 := time.Now()
	cout, cerr := exec.Command(cfg.collector, "check", "--data", c.data).CombinedOutput()
	st1, _ := os.Stat(filepath.Join(c.data, "fleetprof.db"))
	if cerr != nil {
		return fmt.Errorf("check after the kills: %v\n%s", cerr, cout)
	}
	add("`fleetprof-collector check` after the run", "consistent, %d MiB in %s", st1.Size()>>20, time.Since(t1).Round(time.Millisecond))

	// Damaged copies: each refused by name.
	db, err := os.ReadFile(filepath.Join(c.data, "fleetprof.db"))
	if err != nil {
		return err
	}
	damages := []struct {
		name string
		fn   func([]byte) []byte
		want []string
	}{
		{"truncated to 60 %", func(b []byte) []byte { return b[:len(b)*6/10/4096*4096] }, []string{"truncated", "fleetprof-collector restore"}},
		{"tail zero-filled", func(b []byte) []byte {
			cut := len(b) * 6 / 10 / 4096 * 4096
			return append(b[:cut:cut], make([]byte, len(b)-cut)...)
		}, []string{"damaged", "fleetprof-collector restore"}},
		{"64 pages overwritten", func(b []byte) []byte {
			b = slices.Clone(b)
			for i := range 64 * 4096 {
				b[2*4096+i] = 0xa5
			}
			return b
		}, []string{"damaged", "fleetprof-collector restore"}},
		{"meta pages overwritten", func(b []byte) []byte {
			b = slices.Clone(b)
			for i := range 2 * 4096 {
				b[i] = 0x5a
			}
			return b
		}, []string{"damaged", "fleetprof-collector restore"}},
		{"emptied (0 bytes), snapshot in GCS", func([]byte) []byte { return nil }, []string{"empty (0 bytes)", "the snapshot soak/snapshots/", "--new-store"}},
	}
	refusedOK := 0
	var damageNames []string
	for _, d := range damages {
		damageNames = append(damageNames, d.name)
		dir := filepath.Join(cfg.out, "damaged")
		os.RemoveAll(dir)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, "fleetprof.db"), d.fn(db), 0o600); err != nil {
			return err
		}
		outText, err := c.refused(dir)
		if err != nil {
			return fmt.Errorf("%s: %w", d.name, err)
		}
		for _, w := range d.want {
			if !strings.Contains(outText, w) {
				return fmt.Errorf("%s: refused without saying %q:\n%s", d.name, w, outText)
			}
		}
		if d.name[0] != 'e' {
			if code := exitCode(exec.Command(cfg.collector, "check", "--data", dir).Run()); code != 1 {
				return fmt.Errorf("%s: check exited %d, want 1", d.name, code)
			}
		}
		refusedOK++
	}
	add("damaged databases refused by name at start (and by `check`)", "%d of %d: %s", refusedOK, len(damages), strings.Join(damageNames, ", "))

	// Restore the emptied one from GCS and serve it.
	dir := filepath.Join(cfg.out, "damaged")
	t2 := time.Now()
	rout, err := exec.Command(cfg.collector, append([]string{"restore", "--data", dir, "--force"}, gcsFlags...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("restore: %v\n%s", err, rout)
	}
	took := time.Since(t2)
	c2 := &collector{bin: cfg.collector, data: dir, grpc: freeAddr(), http: "-", log: filepath.Join(cfg.out, "restored.log"), args: c.args}
	if _, err := c2.run(); err != nil {
		return err
	}
	cc2, err := grpc.NewClient(c2.grpc, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer cc2.Close()
	restored, err := listAll(ctx, collectorv1.NewCollectorServiceClient(cc2))
	c2.p.stop(5 * time.Second)
	if err != nil {
		return err
	}
	add("restore of the newest snapshot into the emptied folder, then served", "%s; %d of %d captures (those committed before the snapshot)", took.Round(time.Millisecond), len(restored), len(listed))

	fmt.Fprintln(out, "| measure | value |")
	fmt.Fprintln(out, "|---|---|")
	for _, r := range rows {
		fmt.Fprintf(out, "| %s | %s |\n", r.measure, r.value)
	}
	if lost > 0 || dup > 0 || corrupt > 0 || bad > 0 {
		return fmt.Errorf("%d lost, %d listed twice, %d with other bytes, %d backup folders failing", lost, dup, corrupt, bad)
	}
	return nil
}

// exitCode returns a command's exit code (-1 if it did not run).
func exitCode(err error) int {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	}
	return -1
}

// listAll lists every capture.
func listAll(ctx context.Context, api collectorv1.CollectorServiceClient) ([]*collectorv1.Capture, error) {
	var all []*collectorv1.Capture
	req := &collectorv1.ListCapturesRequest{Limit: 1000}
	for {
		resp, err := api.ListCaptures(ctx, req)
		if err != nil {
			return nil, err
		}
		all = append(all, resp.GetCaptures()...)
		if resp.GetNextPageToken() == "" {
			return all, nil
		}
		req.PageToken = resp.GetNextPageToken()
	}
}

// export downloads a stored capture's .fpcap.
func export(ctx context.Context, api collectorv1.CollectorServiceClient, id string) ([]byte, error) {
	s, err := api.Export(ctx, &collectorv1.ExportRequest{CaptureId: id, Format: "fpcap"})
	if err != nil {
		return nil, err
	}
	var b []byte
	for {
		m, err := s.Recv()
		if errors.Is(err, io.EOF) {
			return b, nil
		}
		if err != nil {
			return nil, err
		}
		b = append(b, m.GetData()...)
	}
}

// verifyBackups waits until every committed capture's backup is done and
// checks each capture folder in the bucket against its checksums.txt; it
// returns the folders verified and those failing.
func verifyBackups(ctx context.Context, api collectorv1.CollectorServiceClient, endpoint string, committed map[string]sent) (int, int, error) {
	end := time.Now().Add(10 * time.Minute)
	for {
		all, err := listAll(ctx, api)
		if err != nil {
			return 0, 0, err
		}
		done := 0
		for _, c := range all {
			if c.GetBackupStatus() == "done" {
				done++
			}
		}
		if done >= len(committed) {
			break
		}
		if time.Now().After(end) {
			return 0, 0, fmt.Errorf("%d of %d backups done after 10 minutes", done, len(committed))
		}
		time.Sleep(time.Second)
	}
	gcs, err := storage.NewClient(ctx, option.WithEndpoint(endpoint+"/storage/v1/"), option.WithoutAuthentication(), storage.WithJSONReads())
	if err != nil {
		return 0, 0, err
	}
	defer gcs.Close()
	bkt := gcs.Bucket("soak")
	read := func(name string) ([]byte, error) {
		r, err := bkt.Object(name).NewReader(ctx)
		if err != nil {
			return nil, err
		}
		defer r.Close()
		return io.ReadAll(r)
	}
	it := bkt.Objects(ctx, &storage.Query{Prefix: "soak/"})
	var sums []string
	for {
		a, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			return 0, 0, err
		}
		if strings.HasSuffix(a.Name, "/checksums.txt") {
			sums = append(sums, a.Name)
		}
	}
	ok, bad := 0, 0
	for _, name := range sums {
		folder := strings.TrimSuffix(name, "checksums.txt")
		b, err := read(name)
		good := err == nil
		for line := range strings.Lines(string(b)) {
			want, file, found := strings.Cut(strings.TrimSpace(line), "  ")
			if !found {
				good = false
				continue
			}
			data, err := read(folder + file)
			got := sha256.Sum256(data)
			if err != nil || hex.EncodeToString(got[:]) != want {
				good = false
			}
		}
		if good {
			ok++
		} else {
			bad++
		}
	}
	return ok, bad, nil
}

// runCostly sends a fresh collector a 16 MB .fpcap of empty events twice
// (the second a resume if the first left a staged part) and reports its peak
// RSS and what it answered.
func runCostly(ctx context.Context, cfg config, out io.Writer) error {
	if err := os.RemoveAll(cfg.out); err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.out, 0o755); err != nil {
		return err
	}
	c := &collector{bin: cfg.collector, data: filepath.Join(cfg.out, "data"), grpc: freeAddr(), http: "-",
		log: filepath.Join(cfg.out, "collector.log"), args: []string{"--plugins", filepath.Join(cfg.out, "no-plugins"), "--snapshot-interval", "0"}}
	if _, err := c.run(); err != nil {
		return err
	}
	defer c.p.stop(5 * time.Second)
	pid := c.p.cmd.Process.Pid
	before, err := hostile.PeakRSS(pid)
	if err != nil {
		return err
	}
	cc, err := grpc.NewClient(c.grpc, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer cc.Close()
	data, sum := hostile.EmptyEvents(16 << 20)
	fmt.Fprintf(out, "| attempt | took | answer | collector peak RSS |\n|---|---|---|---|\n")
	fmt.Fprintf(out, "| (started) | | | %d MiB |\n", before>>20)
	for i := 1; i <= 2; i++ {
		t0 := time.Now()
		actx, cancel := context.WithTimeout(ctx, 10*time.Minute)
		err := hostile.Upload{CaptureID: "costly", AgentID: "soak", Data: data, SHA256: sum}.Send(actx, cc)
		cancel()
		answer := "committed"
		if err != nil {
			answer = err.Error()
			if len(answer) > 160 {
				answer = answer[:160] + "…"
			}
		}
		select {
		case <-c.p.done:
			answer += " (the collector died: " + fmt.Sprint(c.p.err) + ")"
		default:
		}
		peak, _ := hostile.PeakRSS(pid)
		fmt.Fprintf(out, "| %d | %s | %s | %d MiB |\n", i, time.Since(t0).Round(time.Millisecond), strings.ReplaceAll(answer, "|", "/"), peak>>20)
		if peak == 0 {
			break
		}
	}
	return nil
}

// waitSnapshot waits until the collector at metricsURL has uploaded one more
// database snapshot, or d passes.
func waitSnapshot(ctx context.Context, metricsURL string, d time.Duration) error {
	count := func() float64 {
		req, err := http.NewRequestWithContext(ctx, "GET", metricsURL, nil)
		if err != nil {
			return -1
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return -1
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		for line := range strings.Lines(string(b)) {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), `fleetprof_collector_snapshots_total{result="done"} `); ok {
				var f float64
				fmt.Sscan(v, &f)
				return f
			}
		}
		return 0
	}
	first := count()
	end := time.Now().Add(d)
	for time.Now().Before(end) && ctx.Err() == nil {
		if n := count(); n > first {
			return nil
		}
		time.Sleep(time.Second)
	}
	return fmt.Errorf("no database snapshot completed in %s", d)
}
