package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/storage"
	"github.com/fsouza/fake-gcs-server/fakestorage"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/api/iterator"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/fleetprof/fleetprof/collector/internal/backup"
	"github.com/fleetprof/fleetprof/collector/internal/capturetest"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
	collectorv1 "github.com/fleetprof/fleetprof/proto/fleetprof/collector/v1"
)

// TestBackupAndRestore: captures ingested over gRPC land in the GCS
// emulator with a checksums.txt that verifies, their backup status shows in
// the API, and a collector restored from a snapshot serves the same
// captures.
func TestBackupAndRestore(t *testing.T) {
	ctx := context.Background()
	gcs, err := fakestorage.NewServerWithOptions(fakestorage.Options{Host: "127.0.0.1", Scheme: "http", Writer: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	defer gcs.Stop()
	gcs.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: "fp-backup"})
	bc := BackupConfig{Bucket: "fp-backup", Prefix: "prod", Endpoint: gcs.URL(), SnapshotInterval: -1, MinBackoff: 10 * time.Millisecond}
	c := startCollectorWith(t, Config{Backup: bc})

	us := capture.Microsecond
	ids := []string{"cap-a", "cap-b"}
	data := map[string][]byte{}
	for i, id := range ids {
		cp := capturetest.Capture(1_770_000_000_000_000_000+int64(i), capturetest.Op{TFOp: "jit(run)/dot_general:dot_general", Start: 0, Dur: 7 * us})
		data[id] = upload(t, c, id, cp)
	}
	for _, id := range ids {
		waitFor(t, func() bool {
			g, err := c.client.GetCapture(ctx, &collectorv1.GetCaptureRequest{CaptureId: id})
			return err == nil && g.GetCapture().GetBackupStatus() == "done"
		})
	}

	client, err := backup.NewClient(ctx, gcs.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	bkt := client.Bucket("fp-backup")
	folders := map[string][]string{} // folder → object names
	it := bkt.Objects(ctx, &storage.Query{Prefix: "prod/"})
	for {
		a, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		dir, name, _ := strings.Cut(strings.TrimPrefix(a.Name, "prod/"), "/")
		folders[dir] = append(folders[dir], name)
	}
	// Each capture's summary row goes beside the folders (docs/fleet.md).
	if rows := folders["summaries"]; len(rows) != 2 {
		t.Errorf("summary rows %v, want one per capture", rows)
	}
	delete(folders, "summaries")
	if len(folders) != 2 {
		t.Fatalf("bucket holds folders %v, want one per capture", folders)
	}
	read := func(name string) []byte {
		r, err := bkt.Object(name).NewReader(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for dir, names := range folders {
		if !strings.HasSuffix(dir, "_manual_unknown_manual-agent_"+ids[0]) && !strings.HasSuffix(dir, "_manual_unknown_manual-agent_"+ids[1]) {
			t.Errorf("folder %q, want <time>_manual_unknown_manual-agent_<id>", dir)
		}
		sums := string(read("prod/" + dir + "/" + backup.ChecksumsName))
		if n := strings.Count(sums, "\n"); n != len(names)-1 {
			t.Errorf("%s: checksums.txt lists %d objects, the folder holds %d besides it", dir, n, len(names)-1)
		}
		for line := range strings.Lines(sums) {
			sum, name, _ := strings.Cut(strings.TrimSpace(line), "  ")
			got := sha256.Sum256(read("prod/" + dir + "/" + name))
			if hex.EncodeToString(got[:]) != sum {
				t.Errorf("%s/%s: sha256 does not match checksums.txt", dir, name)
			}
		}
	}

	// Snapshot, restore into a new folder, and serve from it.
	if _, _, err := c.srv.Backup().Snapshot(ctx); err != nil {
		t.Fatal(err)
	}
	before, err := c.client.ListCaptures(ctx, &collectorv1.ListCapturesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.stop(); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "restored")
	if _, err := backup.Restore(ctx, backup.RestoreConfig{Client: client, Bucket: "fp-backup", Prefix: "prod", DataDir: dir}); err != nil {
		t.Fatal(err)
	}
	c2 := startCollectorWith(t, Config{DataDir: dir})
	after, err := c2.client.ListCaptures(ctx, &collectorv1.ListCapturesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, after, protocmp.Transform()); diff != "" {
		t.Errorf("restored collector lists other captures (-before +after):\n%s", diff)
	}
	for _, id := range ids {
		got, err := exportBytes(t, c2, id, "fpcap")
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, data[id]) {
			t.Errorf("restored %s: %d bytes of .fpcap, want the %d uploaded", id, len(got), len(data[id]))
		}
	}
	if err := c2.srv.Store().Check(ctx); err != nil {
		t.Error(err)
	}
}

// TestBackupResumesAfterRestart: with GCS unreachable, ingest goes on and
// the backup stays pending (or failed); after a restart with GCS back, it
// completes.
func TestBackupResumesAfterRestart(t *testing.T) {
	ctx := context.Background()
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadURL := "http://" + dead.Addr().String()
	dead.Close() // nothing listens there now
	dir := t.TempDir()
	// A new database although the bucket cannot be listed (--new-store).
	c := startCollectorWith(t, Config{DataDir: dir, NewStore: true, Backup: BackupConfig{Bucket: "fp", Endpoint: deadURL, SnapshotInterval: -1, MinBackoff: 10 * time.Millisecond}})
	start := time.Now()
	for i, id := range []string{"r-1", "r-2", "r-3"} {
		upload(t, c, id, capturetest.Capture(1_770_000_000_000_000_000+int64(i), capturetest.Op{Start: 0, Dur: capture.Microsecond}))
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("3 uploads took %v with GCS down", took)
	}
	waitFor(t, func() bool {
		g, err := c.client.GetCapture(ctx, &collectorv1.GetCaptureRequest{CaptureId: "r-1"})
		return err == nil && strings.HasPrefix(g.GetCapture().GetBackupStatus(), "failed: ")
	})
	if err := c.stop(); err != nil {
		t.Fatal(err)
	}

	gcs, err := fakestorage.NewServerWithOptions(fakestorage.Options{Host: "127.0.0.1", Scheme: "http", Writer: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	defer gcs.Stop()
	gcs.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: "fp"})
	c2 := startCollectorWith(t, Config{DataDir: dir, Backup: BackupConfig{Bucket: "fp", Endpoint: gcs.URL(), SnapshotInterval: -1}})
	for _, id := range []string{"r-1", "r-2", "r-3"} {
		waitFor(t, func() bool {
			g, err := c2.client.GetCapture(ctx, &collectorv1.GetCaptureRequest{CaptureId: id})
			return err == nil && g.GetCapture().GetBackupStatus() == "done"
		})
	}
	objs, _, err := gcs.ListObjectsWithOptions("fp", fakestorage.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sums := 0
	for _, o := range objs {
		if strings.HasSuffix(o.Name, "/"+backup.ChecksumsName) {
			sums++
		}
	}
	if sums != 3 {
		t.Errorf("%d checksums.txt in the bucket, want 3", sums)
	}
}
