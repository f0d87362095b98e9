package pluginhost

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/fleetprof/fleetprof/integration/logtest"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture/fpcap"
	capturev1 "github.com/fleetprof/fleetprof/proto/fleetprof/capture/v1"
)

// storedFpcap writes c as an .fpcap file unlike fpcap.Write does (each event
// in a batch of its own), so that a capture decoded and encoded again
// differs from it, and returns the file and its records.
func storedFpcap(t *testing.T, c *capture.Capture) ([]byte, int) {
	t.Helper()
	var recs []*capturev1.Record
	err := fpcap.Records(c, func(r *capturev1.Record) error {
		if b := r.GetEvents(); b != nil && len(b.Events) > 1 {
			for _, e := range b.Events {
				recs = append(recs, &capturev1.Record{Kind: &capturev1.Record_Events{Events: &capturev1.EventBatch{
					Plane: b.Plane, Line: b.Line, Events: []*capturev1.Event{proto.CloneOf(e)},
				}}})
			}
			return nil
		}
		if f := r.GetFooter(); f != nil {
			r = &capturev1.Record{Kind: &capturev1.Record_Footer{Footer: &capturev1.Footer{EventsKept: f.EventsKept, Records: int64(len(recs))}}}
		}
		recs = append(recs, proto.CloneOf(r))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	data := []byte(fpcap.Magic)
	for _, r := range recs {
		b, err := proto.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		data = protowire.AppendBytes(data, b)
	}
	return data, len(recs)
}

// TestRunFpcapSendsStoredRecords: a capture given as its stored .fpcap
// reaches the plugin process as exactly the stored records, byte for byte
// (not decoded and encoded again), and the SDK's plugins analyze it as they
// analyze the decoded capture.
func TestRunFpcapSendsStoredRecords(t *testing.T) {
	data, n := storedFpcap(t, testCapture())
	sum := sha256.Sum256(data)
	tally, c, err := fpcap.ReadTally(bytes.NewReader(data), fpcap.Options{SkipEvents: true})
	if err != nil {
		t.Fatal(err)
	}
	full, err := fpcap.Read(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if c.EventsKept() != 0 || tally.Events != 5 {
		t.Fatalf("ReadTally kept %d events and counted %d, want 0 and 5", c.EventsKept(), tally.Events)
	}
	h := New(discover(t, pluginDir(t, "good", "tap")), Config{Timeout: 30 * time.Second, ChunkBytes: 200})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	opts := map[string]string{"greeting": "hi"}
	stored := append(bytes.Clone(data), "bytes after the footer"...)
	got := h.RunFpcap(ctx, stored, tally, opts)
	if len(got) != 2 || got[0].Name != "good" || got[1].Name != "tap" || got[0].Error != "" || got[1].Error != "" {
		t.Fatalf("RunFpcap = %+v, want sections good and tap without errors", got)
	}
	if records, note := got[1].Summary[0].Value, got[1].Notes[0]; records != float64(n) || note != hex.EncodeToString(sum[:]) {
		t.Errorf("the plugin received %v records hashing to %s, want the %d stored records, %x", records, note, n, sum)
	}
	if diff := cmp.Diff(h.Run(ctx, full, opts)[0], got[0]); diff != "" {
		t.Errorf("RunFpcap's section differs from Run's on the decoded capture (-Run +RunFpcap):\n%s", diff)
	}
	// The test would see a capture decoded and encoded again: Run sends
	// other records.
	if again := h.Run(ctx, full, opts)[1]; again.Notes[0] == hex.EncodeToString(sum[:]) {
		t.Errorf("Run sent the stored records too; the test cannot tell them apart")
	}
}

func TestRunFpcapRefusesCostlyCaptures(t *testing.T) {
	var logs logtest.Buffer
	data, _ := storedFpcap(t, testCapture())
	tally, _, err := fpcap.ReadTally(bytes.NewReader(data), fpcap.Options{SkipEvents: true})
	if err != nil {
		t.Fatal(err)
	}
	h := New(discover(t, pluginDir(t, "good")), Config{Timeout: 30 * time.Second, Logger: newLogger(&logs), Limits: fpcap.Limits{MaxEvents: 4}})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	got := h.RunFpcap(ctx, data, tally, nil)
	if len(got) != 1 || !strings.Contains(got[0].Error, ErrLimit.Error()) || !strings.Contains(got[0].Error, "events=4") {
		t.Errorf("RunFpcap = %+v, want one section refused naming events=4", got)
	}
	if strings.Contains(logs.String(), "analyzing") {
		t.Errorf("a plugin ran on a refused capture; log:\n%s", logs.String())
	}
}
