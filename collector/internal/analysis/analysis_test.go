package analysis

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/fleetprof/fleetprof/collector/internal/capturetest"
	"github.com/fleetprof/fleetprof/collector/internal/pluginhost"
	"github.com/fleetprof/fleetprof/collector/internal/store"
	"github.com/fleetprof/fleetprof/collector/internal/store/storetest"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture/fpcap"
)

// plugins builds the plugin host's test plugin under the given names, with
// an allowlist.
func plugins(t testing.TB, names ...string) []pluginhost.Plugin {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(t.TempDir(), "testplugin")
	cmd := exec.Command("go", "build", "-o", bin, "../pluginhost/testdata/testplugin")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build test plugin: %v\n%s", err, out)
	}
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	var allow bytes.Buffer
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o755); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&allow, "%s  %s\n", hex.EncodeToString(sum[:]), n)
	}
	if err := os.WriteFile(filepath.Join(dir, pluginhost.AllowlistFile), allow.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	ps, err := pluginhost.Discover(dir)
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

// commit stores a capture as ingest would.
func commit(t *testing.T, db *store.DB, id string) {
	t.Helper()
	data, sum := capturetest.Fpcap(capturetest.Capture(1e18, capturetest.Op{TFOp: "jit(run)/mlp/dot_general:dot_general", Dur: capture.Microsecond}))
	err := db.Group(context.Background(), func(w *store.Writer) error {
		if _, err := w.BeginUpload(&store.Upload{CaptureID: id, AgentID: "a", Bytes: int64(len(data)), SHA256: sum}); err != nil {
			return err
		}
		if _, err := w.StageChunk(id, 0, 0, data); err != nil {
			return err
		}
		return w.Commit(&store.Capture{ID: id, AgentID: "a", CreatedNS: time.Now().UnixNano(), SizeBytes: int64(len(data))})
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestFailingPluginsNeverBlockIngest(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a plugin and waits for its timeout")
	}
	db := storetest.Open(t)
	// Left from before a restart: committed, never analyzed.
	commit(t, db, "waiting")
	const timeout = 3 * time.Second
	a := New(Config{Store: db, Plugins: plugins(t, "good", "crash", "hang"), Host: pluginhost.Config{Timeout: timeout}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() { cancel(); <-done }()

	// While the hung plugin holds the analysis, captures keep committing.
	time.Sleep(500 * time.Millisecond)
	t0 := time.Now()
	commit(t, db, "fresh")
	if d := time.Since(t0); d > 500*time.Millisecond {
		t.Errorf("commit took %v while a plugin hung", d)
	}
	a.Enqueue("fresh")

	status := func(id string) (s, detail string) {
		_ = db.View(ctx, func(r *store.Reader) error {
			c, err := r.Capture(id)
			if err == nil {
				s, detail = c.Status, c.StatusDetail
			}
			return err
		})
		return s, detail
	}
	deadline := time.Now().Add(4*timeout + 10*time.Second)
	for _, id := range []string{"waiting", "fresh"} {
		for {
			s, detail := status(id)
			if s == store.StatusAnalysisFailed {
				if detail != "failed analyzers: crash, hang" {
					t.Errorf("%s: detail %q", id, detail)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s still %q", id, s)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	r, err := Stored(ctx, db, "waiting")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range r.Sections {
		e := " ok"
		if s.Error != "" {
			e = strings.SplitN(s.Error, ":", 3)[1]
		}
		got = append(got, s.Name+e)
	}
	if want := "[crash plugin crashed good ok hang plugin timed out and was killed]"; fmt.Sprint(got) != want {
		t.Errorf("sections = %v, want %s", got, want)
	}
	if r.Summary.DeviceOpEvents != 1 {
		t.Errorf("summary: %d device ops, want 1", r.Summary.DeviceOpEvents)
	}
}

// commitTallied stores data as ingest does: with the summary and the tally
// of its one parse.
func commitTallied(t testing.TB, db *store.DB, id string, data []byte) {
	t.Helper()
	tally, c, err := fpcap.ReadTally(bytes.NewReader(data), fpcap.Options{SkipEvents: true})
	if err != nil {
		t.Fatal(err)
	}
	s := capture.Summarize(c)
	s.EventsKept = tally.Events
	summary, _ := json.Marshal(s)
	tb, _ := json.Marshal(tally)
	commitData(t, db, id, data, summary, tb)
}

// commitData stores data with a summary and a tally (either may be nil).
func commitData(t testing.TB, db *store.DB, id string, data, summary, tb []byte) {
	t.Helper()
	sum := sha256.Sum256(data)
	err := db.Group(context.Background(), func(w *store.Writer) error {
		if _, err := w.BeginUpload(&store.Upload{CaptureID: id, AgentID: "a", Bytes: int64(len(data)), SHA256: sum[:]}); err != nil {
			return err
		}
		if _, err := w.StageChunk(id, 0, 0, data); err != nil {
			return err
		}
		return w.Commit(&store.Capture{ID: id, AgentID: "a", CreatedNS: time.Now().UnixNano(), SizeBytes: int64(len(data)), Summary: summary, Tally: tb})
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestAnalyzeSendsStoredRecords: a capture stored with its tally is not
// decoded to be analyzed; the plugin processes receive exactly its stored
// records, and the report is the one a full decode gives. A capture stored
// before tallies were kept is decoded as before.
func TestAnalyzeSendsStoredRecords(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a plugin")
	}
	ctx := context.Background()
	db := storetest.Open(t)
	var ops []capturetest.Op
	for i := range 30 {
		ops = append(ops, capturetest.Op{TFOp: "jit(run)/mlp/dot_general:dot_general", Start: int64(i) * 3 * capture.Microsecond, Dur: capture.Microsecond})
	}
	data, _ := capturetest.Fpcap(capturetest.Capture(1e18, ops...))
	full, err := fpcap.Read(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	commitTallied(t, db, "new", data)
	commit(t, db, "old")
	a := New(Config{Store: db, Plugins: plugins(t, "good", "tap")})

	r, err := a.Analyze(ctx, "new", nil, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	if n := testutil.ToFloat64(a.decodes); n != 0 {
		t.Errorf("analysis decoded %v captures, want none", n)
	}
	sum := sha256.Sum256(data)
	if len(r.Sections) != 2 || r.Sections[1].Name != "tap" || len(r.Sections[1].Notes) != 1 {
		t.Fatalf("sections = %+v, want good and tap", r.Sections)
	}
	if got := r.Sections[1].Notes[0]; got != hex.EncodeToString(sum[:]) {
		t.Errorf("the plugin received records hashing to %s, want the stored .fpcap's %x", got, sum)
	}
	if got := r.Sections[0].Summary[0].Value; got != 30 {
		t.Errorf("good plugin counted %v events, want 30", got)
	}
	if diff := cmp.Diff(capture.Summarize(full), r.Summary, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("report summary differs from a full decode's (-want +got):\n%s", diff)
	}
	stored, err := Stored(ctx, db, "new")
	if err != nil || stored.Summary.EventsKept != 30 {
		t.Errorf("stored report: %v, summary %+v", err, stored.Summary)
	}

	if _, err := a.Analyze(ctx, "old", nil, nil, true); err != nil {
		t.Fatal(err)
	}
	if n := testutil.ToFloat64(a.decodes); n != 1 {
		t.Errorf("analysis decoded %v captures, want 1 (the one stored without a tally)", n)
	}
}
