package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/storage"
	"github.com/fsouza/fake-gcs-server/fakestorage"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"

	"github.com/fleetprof/fleetprof/collector/internal/capturetest"
	"github.com/fleetprof/fleetprof/collector/internal/leakcheck"
	"github.com/fleetprof/fleetprof/collector/internal/store"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

func TestMain(m *testing.M) { os.Exit(leakcheck.Main(m)) }

const testBucket = "fleetprof-test"

// emulator starts fake-gcs-server on loopback with the test bucket.
func emulator(t *testing.T) *fakestorage.Server {
	t.Helper()
	srv, err := fakestorage.NewServerWithOptions(fakestorage.Options{Host: "127.0.0.1", Scheme: "http", Writer: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: testBucket})
	t.Cleanup(srv.Stop)
	return srv
}

// flaky is an http.RoundTripper that counts requests and fails those whose
// number (from 1) is in [failFrom, failTo), or every one while down.
type flaky struct {
	base http.RoundTripper

	mu       sync.Mutex
	n        int
	writes   int // POST, PUT, PATCH that reached the emulator
	failed   int
	failFrom int
	failTo   int
	down     bool
}

// RoundTrip implements http.RoundTripper.
func (f *flaky) RoundTrip(req *http.Request) (*http.Response, error) {
	f.mu.Lock()
	f.n++
	fail := f.down || (f.n >= f.failFrom && f.n < f.failTo)
	if fail {
		f.failed++
	} else if req.Method != http.MethodGet {
		f.writes++
	}
	f.mu.Unlock()
	if fail {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, errors.New("flaky: injected connection failure")
	}
	return f.base.RoundTrip(req)
}

func (f *flaky) set(fn func(f *flaky)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func (f *flaky) counts() (n, writes, failed int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n, f.writes, f.failed
}

// client returns a real storage client talking to srv over HTTP through a
// flaky transport.
func client(t *testing.T, srv *fakestorage.Server) (*storage.Client, *flaky) {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	f := &flaky{base: tr}
	c, err := storage.NewClient(context.Background(),
		option.WithEndpoint(srv.URL()+"/storage/v1/"), option.WithHTTPClient(&http.Client{Transport: f}),
		storage.WithJSONReads())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, f
}

// testCapture describes a capture to commit and analyze.
type testCapture struct {
	id, host string
	created  time.Time
	labels   map[string]string
	options  []byte
	context  map[string]string
}

// addCapture commits a small capture as ingest does and stores a report
// with one section holding a table and a bar chart, as analysis does.
func addCapture(t *testing.T, db *store.DB, tc testCapture) *store.Capture {
	t.Helper()
	ctx := context.Background()
	c := capturetest.Capture(tc.created.UnixNano(),
		capturetest.Op{TFOp: "jit(f)/dot_general:dot_general", Name: "fusion.1", Start: 0, Dur: 4_000_000},
		capturetest.Op{TFOp: "jit(f)/add:add", Name: "add.2", Start: 5_000_000, Dur: 1_000_000})
	c.Context = tc.context
	data, sum := capturetest.Fpcap(c)
	rec := &store.Capture{
		ID: tc.id, AgentID: "agent-" + tc.host, Host: tc.host, Labels: tc.labels, Trigger: "manual",
		CreatedNS: tc.created.UnixNano(), SizeBytes: int64(len(data)), SHA256: sum, Options: tc.options, Context: tc.context,
	}
	summary, err := json.Marshal(capture.Summarize(c))
	if err != nil {
		t.Fatal(err)
	}
	rec.Summary = summary
	reportDoc := fmt.Sprintf(`{"summary":%s,"analyzed_ns":1,"sections":[{"name":"top_ops","title":"Top ops",
		"columns":[{"key":"op","label":"Op"},{"key":"us","label":"Total","unit":"us"}],
		"rows":[{"op":"fusion.1","us":4},{"op":"add.2","us":1}],
		"charts":[{"kind":"bar","title":"Top ops","unit":"us","bars":[{"label":"fusion.1","value":4},{"label":"add.2","value":1}]}],
		"notes":["two ops"]}]}`, summary)
	err = db.Update(ctx, func(w *store.Writer) error {
		if _, err := w.BeginUpload(&store.Upload{CaptureID: tc.id, AgentID: rec.AgentID, Chunks: 2, Bytes: int64(len(data)), SHA256: sum}); err != nil {
			return err
		}
		half := len(data) / 2
		if _, err := w.StageChunk(tc.id, 0, 0, data[:half]); err != nil {
			return err
		}
		_, err := w.StageChunk(tc.id, 1, int64(half), data[half:])
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// Committed in a transaction of its own, as ingest does.
	err = db.Update(ctx, func(w *store.Writer) error {
		if err := w.Commit(rec); err != nil {
			return err
		}
		if err := w.PutReport(tc.id, []byte(reportDoc)); err != nil {
			return err
		}
		return w.SetStatus(tc.id, store.StatusAnalyzed, "")
	})
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// objects lists the emulator's objects under prefix: name → attrs.
func objects(t *testing.T, c *storage.Client, prefix string) map[string]*storage.ObjectAttrs {
	t.Helper()
	out := map[string]*storage.ObjectAttrs{}
	it := c.Bucket(testBucket).Objects(context.Background(), &storage.Query{Prefix: prefix})
	for {
		a, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out[a.Name] = a
	}
}

// read downloads an object.
func read(t *testing.T, c *storage.Client, name string) []byte {
	t.Helper()
	r, err := c.Bucket(testBucket).Object(name).NewReader(context.Background())
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	return b
}

// verifyFolder checks a capture's folder as `sha256sum -c` would: every
// object but checksums.txt is listed with the SHA-256 of its downloaded
// bytes, and nothing else is. It returns the names listed.
func verifyFolder(t *testing.T, c *storage.Client, folder string) []string {
	t.Helper()
	have := objects(t, c, folder+"/")
	sums := string(read(t, c, folder+"/"+ChecksumsName))
	var names []string
	for line := range strings.Lines(sums) {
		hexSum, name, ok := strings.Cut(strings.TrimSuffix(line, "\n"), "  ")
		if !ok {
			t.Fatalf("checksums.txt line %q is not in sha256sum format", line)
		}
		got := sha256.Sum256(read(t, c, folder+"/"+name))
		if hex.EncodeToString(got[:]) != hexSum {
			t.Errorf("%s: sha256 %x, checksums.txt says %s", name, got, hexSum)
		}
		names = append(names, name)
	}
	var stored []string
	for n := range have {
		if rel := strings.TrimPrefix(n, folder+"/"); rel != ChecksumsName {
			stored = append(stored, rel)
		}
	}
	slices.Sort(stored)
	if !slices.Equal(names, stored) {
		t.Errorf("checksums.txt lists %v, the folder holds %v", names, stored)
	}
	return names
}

// waitFor polls cond until it holds or 20 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// backupStatus returns a capture's backup status.
func backupStatus(t *testing.T, db *store.DB, id string) string {
	t.Helper()
	var s string
	err := db.View(context.Background(), func(r *store.Reader) error {
		c, err := r.Capture(id)
		if err != nil {
			return err
		}
		s = c.BackupStatus
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}
