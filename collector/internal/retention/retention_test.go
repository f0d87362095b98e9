package retention

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/fleetprof/fleetprof/collector/internal/store"
	"github.com/fleetprof/fleetprof/collector/internal/store/storetest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var now = time.Date(2026, 2, 5, 20, 0, 0, 0, time.UTC)

// tc is a capture to store: its age, model label, size and backup status.
type tc struct {
	id     string
	age    time.Duration
	model  string
	size   int
	backup string
}

// openStore opens a store holding caps, checked for consistency when the
// test ends.
func openStore(t *testing.T, caps []tc) *store.DB {
	t.Helper()
	ctx := context.Background()
	db := storetest.Open(t)
	for _, c := range caps {
		data := bytes.Repeat([]byte{'x'}, c.size)
		sum := sha256.Sum256(data)
		err := db.Update(ctx, func(w *store.Writer) error {
			if _, err := w.BeginUpload(&store.Upload{CaptureID: c.id, AgentID: "a", Chunks: 1, Bytes: int64(c.size), SHA256: sum[:]}); err != nil {
				return err
			}
			_, err := w.StageChunk(c.id, 0, 0, data)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		err = db.Update(ctx, func(w *store.Writer) error {
			return w.Commit(&store.Capture{
				ID: c.id, AgentID: "a", CreatedNS: now.Add(-c.age).UnixNano(), SizeBytes: int64(c.size), SHA256: sum[:],
				Labels: map[string]string{"model": c.model}, BackupStatus: c.backup,
			})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return db
}

func ids(t *testing.T, db *store.DB) []string {
	t.Helper()
	var out []string
	err := db.View(context.Background(), func(r *store.Reader) error {
		return r.Walk(func(c *store.Capture) bool { out = append(out, c.ID); return true })
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestApply(t *testing.T) {
	h := time.Hour
	// Oldest first: a1 b1 a2 a3 b2 a4 a5 (a: model=a, b: model=b).
	caps := []tc{
		{"a1", 100 * h, "a", 100, store.BackupDone},
		{"b1", 90 * h, "b", 1000, ""},
		{"a2", 80 * h, "a", 100, store.BackupPending},
		{"a3", 30 * h, "a", 100, store.BackupFailedPrefix + "503"},
		{"b2", 20 * h, "b", 1000, ""},
		{"a4", 10 * h, "a", 100, store.BackupDone},
		{"a5", 1 * h, "a", 100, ""},
	}
	tests := []struct {
		name        string
		policy      Policy
		wantDeleted []string
		wantKept    int
		wantBatches int
		wantRule    map[string]float64
	}{
		{
			name:        "age, everything",
			policy:      Policy{Rules: []Rule{{Name: "all", MaxAge: Duration(24 * h)}}},
			wantDeleted: []string{"a1", "b1"}, wantKept: 2, wantBatches: 1,
			wantRule: map[string]float64{"all": 2},
		},
		{
			name:        "age, pending backups too",
			policy:      Policy{DeletePendingBackups: true, Rules: []Rule{{Name: "all", MaxAge: Duration(24 * h)}}},
			wantDeleted: []string{"a1", "b1", "a2", "a3"}, wantKept: 0, wantBatches: 1,
			wantRule: map[string]float64{"all": 4},
		},
		{
			name:   "bytes per selector",
			policy: Policy{Rules: []Rule{{Name: "a", Selector: "model=a", MaxBytes: 250}}},
			// 500 bytes of model a: a2 and a3 (pending) count but stay, so
			// the next oldest go until 200 are left.
			wantDeleted: []string{"a1", "a4", "a5"}, wantKept: 2, wantBatches: 1,
			wantRule: map[string]float64{"a": 3},
		},
		{
			name: "bytes, everything, small batches",
			// 2500 bytes in all: the three oldest leave exactly 1300.
			policy:      Policy{BatchSize: 1, DeletePendingBackups: true, Rules: []Rule{{Name: "all", MaxBytes: 1300}}},
			wantDeleted: []string{"a1", "b1", "a2"}, wantKept: 0, wantBatches: 3,
			wantRule: map[string]float64{"all": 3},
		},
		{
			name: "two rules: age for b, bytes for a",
			policy: Policy{BatchSize: 2, DeletePendingBackups: true, Rules: []Rule{
				{Name: "b-age", Selector: "model=b", MaxAge: Duration(50 * h)},
				{Name: "a-bytes", Selector: "model=a", MaxBytes: 200},
			}},
			wantDeleted: []string{"a1", "b1", "a2", "a3"}, wantBatches: 2,
			wantRule: map[string]float64{"b-age": 1, "a-bytes": 3},
		},
		{
			name:        "nothing over the bounds",
			policy:      Policy{Rules: []Rule{{Name: "all", MaxAge: Duration(1000 * h), MaxBytes: 1 << 30}}},
			wantDeleted: nil, wantBatches: 0, wantRule: map[string]float64{"all": 0},
		},
		{
			name:        "selector matching nothing",
			policy:      Policy{Rules: []Rule{{Name: "c", Selector: "model=c", MaxAge: Duration(1)}}},
			wantDeleted: nil, wantBatches: 0, wantRule: map[string]float64{"c": 0},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := openStore(t, caps)
			before := ids(t, db)
			reg := prometheus.NewRegistry()
			r, err := New(Config{Store: db, Policy: tt.policy, Now: func() time.Time { return now }, Registerer: reg})
			if err != nil {
				t.Fatal(err)
			}
			res, err := r.Apply(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(res.IDs, tt.wantDeleted) {
				t.Errorf("Apply deleted %v, want %v", res.IDs, tt.wantDeleted)
			}
			want := slices.DeleteFunc(slices.Clone(before), func(id string) bool { return slices.Contains(tt.wantDeleted, id) })
			if got := ids(t, db); !slices.Equal(got, want) {
				t.Errorf("store holds %v after Apply, want %v", got, want)
			}
			var wantBytes int64
			for _, c := range caps {
				if slices.Contains(tt.wantDeleted, c.id) {
					wantBytes += int64(c.size)
				}
			}
			if res.Deleted != len(tt.wantDeleted) || res.Bytes != wantBytes || res.Kept != tt.wantKept || res.Batches != tt.wantBatches {
				t.Errorf("Apply = deleted %d (%d bytes), kept %d, %d batches; want %d (%d bytes), kept %d, %d batches",
					res.Deleted, res.Bytes, res.Kept, res.Batches, len(tt.wantDeleted), wantBytes, tt.wantKept, tt.wantBatches)
			}
			for rule, want := range tt.wantRule {
				if got := testutil.ToFloat64(r.deleted.WithLabelValues(rule)); got != want {
					t.Errorf("deleted{rule=%q} = %v, want %v", rule, got, want)
				}
			}
			if got := testutil.ToFloat64(r.batches); got != float64(tt.wantBatches) {
				t.Errorf("batches metric = %v, want %d", got, tt.wantBatches)
			}
			// A second pass finds nothing more to delete.
			res, err = r.Apply(context.Background())
			if err != nil || res.Deleted != 0 {
				t.Errorf("second Apply deleted %d (%v), want 0", res.Deleted, err)
			}
		})
	}
}

// TestApplyRechecksBackupStatus: a capture whose backup became pending
// between planning and its batch is kept.
func TestApplyRechecksBackupStatus(t *testing.T) {
	db := openStore(t, []tc{{"x", 48 * time.Hour, "a", 10, ""}, {"y", 47 * time.Hour, "a", 10, ""}})
	r, err := New(Config{Store: db, Policy: Policy{BatchSize: 1, Rules: []Rule{{MaxAge: Duration(time.Hour)}}}, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(context.Background(), func(w *store.Writer) error {
		gone, err := w.DeleteCaptures([]string{"x"}, func(c *store.Capture) bool { return true })
		if len(gone) != 0 {
			t.Errorf("keep-all DeleteCaptures deleted %d", len(gone))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(context.Background(), func(w *store.Writer) error { return w.SetBackupStatus("y", store.BackupPending) }); err != nil {
		t.Fatal(err)
	}
	res, err := r.Apply(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.IDs, []string{"x"}) || res.Kept != 1 {
		t.Errorf("Apply deleted %v and kept %d, want [x] and 1", res.IDs, res.Kept)
	}
}

func TestRunAppliesAtStartAndStops(t *testing.T) {
	db := openStore(t, []tc{{"old", 48 * time.Hour, "a", 10, ""}, {"new", time.Minute, "a", 10, ""}})
	r, err := New(Config{Store: db, Policy: Policy{Interval: Duration(time.Hour), Rules: []Rule{{MaxAge: Duration(24 * time.Hour)}}}, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for !slices.Equal(ids(t, db), []string{"new"}) {
		if time.Now().After(deadline) {
			t.Fatalf("Run did not apply the policy at start: store holds %v", ids(t, db))
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not stop")
	}
}

func TestParseFiles(t *testing.T) {
	files, err := filepath.Glob("testdata/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	wantErr := map[string]string{
		"unknown.bad.yaml":   "max_agee",
		"selector.bad.yaml":  "retention.rules[0].selector",
		"nobound.bad.yaml":   "retention.rules[0]: set max_age, max_bytes or both",
		"size.bad.yaml":      "not a size",
		"duplicate.bad.yaml": `retention.rules[1].name: "a" is used twice`,
		"batch.bad.yaml":     "retention.batch_size",
	}
	for _, path := range files {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			f, err := Load(path)
			if strings.HasSuffix(name, ".good.yaml") {
				if err != nil {
					t.Fatalf("Load = %v", err)
				}
				if f.Retention.Interval <= 0 || f.Retention.BatchSize <= 0 {
					t.Errorf("defaults not set: %+v", f.Retention)
				}
				return
			}
			if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), wantErr[name]) {
				t.Errorf("Load = %v, want ErrInvalid mentioning %q", err, wantErr[name])
			}
		})
	}
	f, err := Load("testdata/full.good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p := f.Retention
	if p.Interval != Duration(5*time.Minute) || p.BatchSize != 50 || len(p.Rules) != 2 ||
		p.Rules[0].Name != "qwen3" || p.Rules[0].MaxAge != Duration(30*24*time.Hour) || p.Rules[0].MaxBytes != 50<<30 ||
		p.Rules[1].Name != "rule-2" || p.Rules[1].MaxAge != Duration(2160*time.Hour) {
		t.Errorf("full.good.yaml = %+v", p)
	}
	if !p.Rules[0].sel.Matches(map[string]string{"model": "qwen3", "zone": "us-east5-b"}) || p.Rules[0].sel.Matches(map[string]string{"model": "qwen3"}) {
		t.Error("rule qwen3's selector does not match as written")
	}
}

func TestParseDuration(t *testing.T) {
	durations := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"720h", 720 * time.Hour, true}, {"30d", 30 * 24 * time.Hour, true}, {"90m", 90 * time.Minute, true},
		{"d", 0, false}, {"soon", 0, false},
	}
	for _, tt := range durations {
		got, err := ParseDuration(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}
