package backup

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/fleetprof/fleetprof/collector/internal/store/storetest"
	"github.com/fleetprof/fleetprof/collector/internal/watch"
)

func TestSummaryRow(t *testing.T) {
	ctx := context.Background()
	srv := emulator(t)
	gcs, _ := client(t, srv)
	db := storetest.Open(t)
	addCapture(t, db, testCapture{
		id: "cap-1", host: "tpu-host-0", created: created, labels: map[string]string{"model": "qwen3"},
		options: testOptions(t), context: map[string]string{"requests./v1/score": "4 (1 warmup + 3 profiled)"},
	})
	w, err := watch.New(watch.Config{Store: db})
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(Config{Store: db, Client: gcs, Bucket: testBucket, Prefix: "fleet/prod", TempDir: t.TempDir(), Summaries: w})
	if err != nil {
		t.Fatal(err)
	}
	res, err := b.Capture(ctx, "cap-1")
	if err != nil {
		t.Fatal(err)
	}
	if res.Uploaded != len(wantObjects)+1 {
		t.Errorf("uploaded %d objects, want the folder's %d and the summary row", res.Uploaded, len(wantObjects))
	}
	name := "fleet/prod/summaries/v1/dt=2026-02-05/cap-1.ndjson"
	row := read(t, gcs, name)
	if !bytes.HasSuffix(row, []byte("}\n")) || bytes.Count(row, []byte("\n")) != 1 {
		t.Errorf("%s is not one NDJSON line: %q", name, row)
	}
	var got struct {
		SchemaVersion int     `json:"schema_version"`
		CaptureID     string  `json:"capture_id"`
		AgentID       string  `json:"agent_id"`
		Committed     string  `json:"committed"`
		Requests      int64   `json:"requests"`
		DeviceOpUS    float64 `json:"device_op_us"`
		Options       struct {
			Endpoint string `json:"endpoint"`
		} `json:"options"`
		Labels []struct{ Key, Value string } `json:"labels"`
		Ops    []struct {
			Operation string  `json:"operation"`
			US        float64 `json:"us"`
		} `json:"ops"`
	}
	if err := json.Unmarshal(row, &got); err != nil {
		t.Fatal(err)
	}
	if got.SchemaVersion != 1 || got.CaptureID != "cap-1" || got.AgentID != "agent-tpu-host-0" || got.Requests != 3 ||
		got.DeviceOpUS != 5 || got.Options.Endpoint != "/v1/score" || got.Committed != "2026-02-05T20:15:30.000000Z" ||
		len(got.Labels) != 1 || got.Labels[0].Key != "model" {
		t.Errorf("summary row = %+v", got)
	}
	if objs := objects(t, gcs, "fleet/prod/summaries/"); len(objs) != 1 || objs[name].ContentType != "application/x-ndjson" {
		t.Errorf("summaries folder holds %v", objs)
	}
	// Again: nothing new to send.
	res, err = b.Capture(ctx, "cap-1")
	if err != nil || res.Uploaded != 0 || res.Unchanged != len(wantObjects)+1 {
		t.Errorf("second Capture = %+v, %v; want everything unchanged", res, err)
	}
}

// failingSummaries is a Summaries that always fails.
type failingSummaries struct{}

func (failingSummaries) SummaryLine(context.Context, string) ([]byte, error) {
	return nil, errors.New("no summary yet")
}

func TestSummaryRowFailureFailsTheTry(t *testing.T) {
	ctx := context.Background()
	srv := emulator(t)
	gcs, _ := client(t, srv)
	db := storetest.Open(t)
	addCapture(t, db, testCapture{id: "cap-1", host: "h", created: created, options: testOptions(t)})
	b, err := New(Config{Store: db, Client: gcs, Bucket: testBucket, TempDir: t.TempDir(), Summaries: failingSummaries{}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Capture(ctx, "cap-1"); err == nil || !strings.Contains(err.Error(), "no summary yet") {
		t.Errorf("Capture = %v, want the summary's error (the try is retried)", err)
	}
	if got := objects(t, gcs, "summaries/"); len(got) != 0 {
		t.Errorf("summaries uploaded: %v", got)
	}
}
