package web_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/fleetprof/fleetprof/collector/internal/agenttest"
	"github.com/fleetprof/fleetprof/collector/internal/server"
	"github.com/fleetprof/fleetprof/collector/internal/server/servertest"
	"github.com/fleetprof/fleetprof/collector/internal/store"
	"github.com/fleetprof/fleetprof/integration/fixtures"
	"github.com/fleetprof/fleetprof/plugins/capture/load"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
	agentv1 "github.com/fleetprof/fleetprof/proto/fleetprof/agent/v1"
	collectorv1 "github.com/fleetprof/fleetprof/proto/fleetprof/collector/v1"
)

var screenshots = flag.Bool("screenshots", false, "write the browser test's screenshots to docs/images (ui-captures.png, ui-report.png)")

// TestBrowser drives Debian's headless Chromium against the UI of a real
// collector holding captures of the tiny fixture made by a fleet capture
// and a schedule: it clicks from the capture list to a report and checks
// what the report shows, then adds a schedule through the form.
func TestBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the plugins and runs Chromium")
	}
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("no chromium on PATH: install Debian's chromium package (apt-get install -y chromium; .ci/run does) to run the browser test")
	}
	root := fixtures.Root(t)
	tiny := fixtures.Path(t, "tiny", "tiny-host.xplane.pb")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	tinyCap, err := load.File(ctx, tiny, load.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// The third agent serves another model run (the seed replica), so the
	// diff page has differences to show.
	seedCap, err := load.File(ctx, filepath.Join(fixtures.Dir(t), "seed-replica", "t1v-n-3d21a6bb-w-0.xplane.pb"), load.Options{})
	if err != nil {
		t.Fatal(err)
	}

	// A collector with the real analyzers, on loopback.
	srv, _ := servertest.Start(t, server.Config{
		Listen: "127.0.0.1:0", HTTP: "127.0.0.1:0", DataDir: t.TempDir(), PluginsDir: servertest.BuildPlugins(t),
		Insecure: true, NoSync: true, HeartbeatInterval: agenttest.Heartbeat, ShutdownTimeout: 2 * time.Second, AnalysisWorkers: 2,
	})
	cc, err := agenttest.Dial(srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()

	// Three agents that profile a fixture whenever asked: the tiny one in
	// us-east5-b, the seed replica in europe-west4-a.
	var wg sync.WaitGroup
	agentCtx, stopAgents := context.WithCancel(ctx)
	defer func() { stopAgents(); wg.Wait() }()
	for i, zone := range []string{"us-east5-b", "us-east5-b", "europe-west4-a"} {
		c := tinyCap
		if i == 2 {
			c = seedCap
		}
		a := &agenttest.Agent{
			ID: fmt.Sprintf("tpu-v6e-%d", i), Labels: map[string]string{"model": "qwen3-8b", "zone": zone},
			Make: func(*agentv1.CaptureCommand) *capture.Capture { return c },
		}
		reg := a.Registered()
		wg.Go(func() { _ = a.Run(agentCtx, cc) })
		select {
		case <-reg:
		case <-ctx.Done():
			t.Fatal("agent did not register")
		}
	}
	client := collectorv1.NewCollectorServiceClient(cc)
	started, err := client.StartCapture(ctx, &collectorv1.StartCaptureRequest{
		Selector: "model=qwen3-8b", Options: &agentv1.CaptureOptions{DurationMs: 100}, StartDelayMs: 100,
	})
	if err != nil {
		t.Fatal(err)
	}
	fleetCaps := map[string]string{} // agent → capture
	for _, a := range started.GetAgents() {
		fleetCaps[a.GetAgentId()] = a.GetCaptureId()
	}
	sc := collectorv1.NewScheduleServiceClient(cc)
	add, err := sc.AddSchedule(ctx, &collectorv1.AddScheduleRequest{Schedule: &collectorv1.Schedule{
		Name: "qwen3-sample", Cron: "@every 1s", Selector: "model=qwen3-8b,zone=us-east5-b", SampleCount: 1,
		Options: &agentv1.CaptureOptions{DurationMs: 100},
	}})
	if err != nil {
		t.Fatal(err)
	}
	// Every capture analyzed: 3 from the fleet capture, at least 1 from
	// the schedule, which is paused as soon as it has run (it adds a
	// capture a second: on a loaded machine analysis would never catch up
	// with it); a run already under way lands and is analyzed too, so the
	// list is stable.
	settled := func() (n, analyzed int, scheduled bool) {
		err := srv.Store().View(ctx, func(r *store.Reader) error {
			list, _, err := r.List(store.Filter{})
			for _, c := range list {
				n++
				if c.Status == store.StatusAnalyzed {
					analyzed++
				}
				scheduled = scheduled || c.Trigger == "schedule"
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return n, analyzed, scheduled
	}
	waitSettled := func(what string, all bool) {
		for {
			n, analyzed, scheduled := settled()
			if scheduled && n >= 4 && (analyzed == n || !all) {
				return
			}
			select {
			case <-ctx.Done():
				t.Fatalf("%s: %d of %d captures analyzed (a scheduled one: %v) before the deadline", what, analyzed, n, scheduled)
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	waitSettled("before pausing", false)
	if _, err := sc.PauseSchedule(ctx, &collectorv1.PauseScheduleRequest{Schedule: add.GetSchedule().GetScheduleId()}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // a run started before the pause commits by then
	waitSettled("after pausing", true)

	base := "http://" + srv.HTTPAddr()
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true), chromedp.NoFirstRun, chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900),
	)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()

	// The capture list, newest first: the scheduled capture heads it.
	if err := chromedp.Do(bctx, chromedp.EmulateViewport(1280, 900), chromedp.Navigate(base+"/captures"), chromedp.WaitVisible(chromedp.CSS("table.captures"))); err != nil {
		t.Fatal(err)
	}
	rows, err := chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll("table.captures tbody tr").length`))
	if err != nil {
		t.Fatal(err)
	}
	firstTrigger, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS("table.captures tbody tr:first-child td:nth-child(4)")))
	if err != nil {
		t.Fatal(err)
	}
	if rows < 3 || !strings.HasPrefix(firstTrigger, "schedule") || !strings.Contains(firstTrigger, "qwen3-sample") {
		t.Errorf("capture list: %d rows, first trigger %q; want at least 3, newest by schedule qwen3-sample", rows, firstTrigger)
	}
	shot(t, bctx, root, "ui-captures.png", false)

	// Click through to a report.
	link, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS("table.captures tbody tr:first-child a.capture-link")))
	if err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(bctx, chromedp.Click(chromedp.CSS("table.captures tbody tr:first-child a.capture-link")), chromedp.WaitVisible(chromedp.CSS("#components table"))); err != nil {
		t.Fatal(err)
	}
	loc, err := chromedp.Run(bctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	if want := base + "/captures/" + link; loc != want {
		t.Errorf("clicked to %s, want %s", loc, want)
	}
	checks := []struct {
		sel, want string
		prefix    bool
	}{
		{"h1.id", link, false},
		{"#components table tbody tr:first-child td:first-child", "attention", false}, // the default rules
		{"#top_ops table tbody tr:first-child td:first-child", "pallas_call", false},
		{"#top_ops table tbody tr:first-child td:nth-child(2)", "jit(jitted_run_model)/QWen3Attention/FlashAttention/jit(ragged_paged_attention)/RPA-bq_32-bkvp_512-p_1-/pallas_call", false},
		{"#op_types table tbody tr:first-child td:first-child", "pallas_call", false},
		{"figure.timeline figcaption", "3 non-idle window(s)", true},
	}
	for _, c := range checks {
		got, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS(c.sel)))
		if err != nil {
			t.Errorf("%s: %v", c.sel, err)
			continue
		}
		got = strings.Join(strings.Fields(got), " ")
		if (c.prefix && !strings.Contains(got, c.want)) || (!c.prefix && got != c.want) {
			t.Errorf("%s shows %q, want %q", c.sel, got, c.want)
		}
	}
	href, err := chromedp.Run(bctx, chromedp.AttributeValue(chromedp.CSS(".actions a[download]"), "href"))
	if err != nil || href.Value != "/captures/"+link+"/trace.json.gz" {
		t.Errorf("trace download link = %+v, %v", href, err)
	}
	shot(t, bctx, root, "ui-report.png", true)

	// Add a schedule through the form: cookie, CSRF token and POST in a
	// real browser.
	err = chromedp.Do(bctx,
		chromedp.Navigate(base+"/schedules"), chromedp.WaitVisible(chromedp.CSS("form.add")),
		chromedp.SendKeys(chromedp.CSS(`form.add input[name="name"]`), "nightly-europe"),
		chromedp.SendKeys(chromedp.CSS(`form.add input[name="cron"]`), "0 3 * * *"),
		chromedp.SendKeys(chromedp.CSS(`form.add input[name="selector"]`), "zone=europe-west4-a"),
		chromedp.SendKeys(chromedp.CSS(`form.add input[name="count"]`), "1"),
		chromedp.Click(chromedp.CSS(`form.add button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("p.flash")),
	)
	if err != nil {
		t.Fatal(err)
	}
	flash, _ := chromedp.Run(bctx, chromedp.Text(chromedp.CSS("p.flash")))
	names, _ := chromedp.Run(bctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("table.schedules tbody tr td:first-child b")].map(b => b.textContent)`))
	if flash != "Schedule added." || strings.Join(names, ",") != "nightly-europe,qwen3-sample" {
		t.Errorf("after adding through the form: flash %q, schedules %v", flash, names)
	}
	shot(t, bctx, root, "ui-schedules.png", false)

	// The diff of the tiny capture and the seed replica.
	err = chromedp.Do(bctx, chromedp.Navigate(base+"/diff?a="+fleetCaps["tpu-v6e-0"]+"&b="+fleetCaps["tpu-v6e-2"]), chromedp.WaitVisible(chromedp.CSS("table")))
	if err != nil {
		t.Fatal(err)
	}
	tables, err := chromedp.Run(bctx, chromedp.Evaluate[[]int](`[...document.querySelectorAll("main table")].map(t => t.tBodies[0].rows.length)`))
	if err != nil || len(tables) != 4 || tables[1] == 0 {
		t.Errorf("diff page tables have %v rows (%v), want 4 tables with components", tables, err)
	}
	shot(t, bctx, root, "ui-diff.png", false)

	// The agents, all three connected.
	if err := chromedp.Do(bctx, chromedp.Navigate(base+"/agents"), chromedp.WaitVisible(chromedp.CSS("table"))); err != nil {
		t.Fatal(err)
	}
	connected, err := chromedp.Run(bctx, chromedp.Evaluate[int](`[...document.querySelectorAll("tbody .badge")].filter(b => b.textContent == "connected").length`))
	if err != nil || connected != 3 {
		t.Errorf("agents page shows %d connected agents (%v), want 3", connected, err)
	}
	shot(t, bctx, root, "ui-agents.png", false)

	// Start a capture from the UI and follow it until every agent is done,
	// then until its capture is analyzed.
	err = chromedp.Do(bctx,
		chromedp.Navigate(base+"/captures"), chromedp.Click(chromedp.CSS("#start-capture")), chromedp.WaitVisible(chromedp.CSS("form.start")),
		chromedp.SendKeys(chromedp.CSS(`form.start input[name="selector"]`), "zone=europe-west4-a"),
		chromedp.SetValue(chromedp.CSS(`form.start input[name="duration"]`), "100ms"),
		chromedp.SendKeys(chromedp.CSS(`form.start input[name="endpoint"]`), "/v1/score"),
		chromedp.SendKeys(chromedp.CSS(`form.start textarea[name="body"]`), `{"text": "hello"}`),
		chromedp.Click(chromedp.CSS(`form.start button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("table.fleet-progress")),
	)
	if err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(bctx, chromedp.WaitVisible(chromedp.CSS("p.flash.progress-state"))); err != nil {
		t.Fatalf("fleet capture started from the UI never done: %v", err)
	}
	started2, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("table.fleet-progress tbody tr")].map(r => r.cells[0].textContent + " " + r.cells[1].textContent.trim() + " " + r.cells[2].textContent)`))
	if err != nil || len(started2) != 1 || !strings.HasPrefix(started2[0], "tpu-v6e-2 ") || !strings.HasSuffix(started2[0], " done") {
		t.Fatalf("progress rows %q (%v), want tpu-v6e-2 done", started2, err)
	}
	uiCapture := strings.Fields(started2[0])[1]
	for analyzed := false; !analyzed; {
		_ = srv.Store().View(ctx, func(r *store.Reader) error {
			c, err := r.Capture(uiCapture)
			analyzed = err == nil && c.Status == store.StatusAnalyzed
			return nil
		})
		select {
		case <-ctx.Done():
			t.Fatalf("capture %s started from the UI not analyzed before the deadline", uiCapture)
		case <-time.After(100 * time.Millisecond):
		}
	}

	// Last: Open in Perfetto leaves a second tab in front.
	checkCapturePage(t, bctx, root, base, link)
}

// shot takes a screenshot of the page: into docs/images with -screenshots,
// else into a temporary folder (so the path is exercised either way).
func shot(t *testing.T, ctx context.Context, root, name string, tall bool) {
	t.Helper()
	if tall {
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 2000)); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)) }()
	}
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if *screenshots {
		dir = filepath.Join(root, "docs", "images")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// checkCapturePage: the headline (idle %, device busy, the top component)
// is within the first screen and the context folded; a click on a window
// zooms to it and shows its device ops; Open in Perfetto runs Perfetto's
// postMessage handshake with a stand-in for ui.perfetto.dev on loopback,
// which answers PONG and records what it receives.
func checkCapturePage(t *testing.T, bctx context.Context, root, base, id string) {
	t.Helper()
	if err := chromedp.Do(bctx, chromedp.Navigate(base+"/captures/"+id), chromedp.WaitVisible(chromedp.CSS("#headline"))); err != nil {
		t.Fatal(err)
	}
	bottom, err := chromedp.Run(bctx, chromedp.Evaluate[float64](`document.querySelector("#headline").getBoundingClientRect().bottom`))
	if err != nil || bottom <= 0 || bottom > 900 {
		t.Errorf("headline ends at %v px (%v), want within the first 900 px", bottom, err)
	}
	head, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS("#headline")))
	if err != nil {
		t.Fatal(err)
	}
	head = strings.Join(strings.Fields(head), " ")
	for _, want := range []string{"% idle in the time profiled", "device busy", "µs", "top components", "attention"} {
		if !strings.Contains(head, want) {
			t.Errorf("headline %q lacks %q", head, want)
		}
	}
	open, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`document.querySelector("details.context").open`))
	if err != nil || open {
		t.Errorf("context details open = %v (%v), want folded", open, err)
	}

	// Zoom into the first window: its device ops at their own scale.
	if err := chromedp.Do(bctx, chromedp.Click(chromedp.CSS("p.windows a.window-link")), chromedp.WaitVisible(chromedp.CSS("svg.flame"))); err != nil {
		t.Fatal(err)
	}
	ops, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("svg.flame rect.op title")].map(t => t.textContent)`))
	if err != nil || len(ops) == 0 {
		t.Fatalf("zoomed window shows %d device ops (%v)", len(ops), err)
	}
	if !strings.Contains(strings.Join(ops, "\n"), "µs · ") && !strings.Contains(strings.Join(ops, "\n"), "ms · ") {
		t.Errorf("device op hover texts %q lack name · duration · type", ops[:min(len(ops), 3)])
	}
	loc, _ := chromedp.Run(bctx, chromedp.Location())
	if !strings.Contains(loc, "window=1") {
		t.Errorf("zoomed to %s, want ?window=1", loc)
	}
	shot(t, bctx, root, "ui-window.png", false)

	// Open in Perfetto, against a stand-in.
	type got struct {
		Title string `json:"title"`
		Size  int    `json:"size"`
		Magic []int  `json:"magic"`
	}
	received := make(chan got, 1)
	standIn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/got" {
			var g got
			if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&g); err == nil {
				select {
				case received <- g:
				default:
				}
			}
			return
		}
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, `<!doctype html><title>stand-in Perfetto</title><script>
window.addEventListener("message", function (e) {
  if (e.data === "PING") { e.source.postMessage("PONG", e.origin); return; }
  if (e.data && e.data.perfetto) {
    var p = e.data.perfetto;
    fetch("/got", {method: "POST", body: JSON.stringify({title: p.title, size: p.buffer.byteLength, magic: Array.from(new Uint8Array(p.buffer.slice(0, 2)))})});
  }
});
</script>`)
	}))
	defer standIn.Close()
	if _, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`document.getElementById("open-perfetto").dataset.ui = `+strconvQuote(standIn.URL+"/")+`; true`)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(bctx, chromedp.Click(chromedp.CSS("#open-perfetto"))); err != nil {
		t.Fatal(err)
	}
	select {
	case g := <-received:
		t.Logf("zoomed window: %d device ops; Perfetto stand-in received %q, %d bytes", len(ops), g.Title, g.Size)
		if g.Title != id || g.Size == 0 || len(g.Magic) != 2 || g.Magic[0] != 0x1f || g.Magic[1] != 0x8b {
			t.Errorf("Perfetto stand-in received %+v, want title %s and a gzipped trace", g, id)
		}
	case <-time.After(30 * time.Second):
		status, _ := chromedp.Run(bctx, chromedp.Text(chromedp.CSS("#perfetto-status")))
		t.Errorf("Perfetto stand-in received nothing in 30 s; the page says %q", status)
	}
}

// strconvQuote quotes s as a JavaScript string literal.
func strconvQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
