package hostinfo

import (
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"
)

func fakeMetadata(t *testing.T, delay time.Duration) *httptest.Server {
	vals := map[string]string{
		"/computeMetadata/v1/instance/zone":                        "projects/123/zones/us-east5-b",
		"/computeMetadata/v1/instance/name":                        "t1v-n-3d21a6bb-w-0",
		"/computeMetadata/v1/instance/attributes/accelerator-type": "v6e-1",
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(delay)
		if r.Header.Get("Metadata-Flavor") != "Google" {
			http.Error(w, "missing header", http.StatusForbidden)
			return
		}
		v, ok := vals[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Metadata-Flavor", "Google")
		w.Write([]byte(v))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestCollect(t *testing.T) {
	host, _ := os.Hostname()
	fast := fakeMetadata(t, 0)
	slow := fakeMetadata(t, 400*time.Millisecond)
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	tests := []struct {
		name string
		opts Options
		want Info
	}{
		{"gce", Options{MetadataURL: fast.URL + "/computeMetadata/v1"},
			Info{Host: host, Zone: "us-east5-b", Instance: "t1v-n-3d21a6bb-w-0", Accelerator: "v6e-1"}},
		{"off", Options{MetadataURL: "off"}, Info{Host: host}},
		{"unreachable", Options{MetadataURL: closed.URL}, Info{Host: host}},
		{"slow", Options{MetadataURL: slow.URL + "/computeMetadata/v1", Timeout: 100 * time.Millisecond}, Info{Host: host}},
		{"not metadata", Options{MetadataURL: fast.URL + "/other"}, Info{Host: host}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			got := Collect(t.Context(), tt.opts)
			if got != tt.want {
				t.Errorf("Collect = %+v, want %+v", got, tt.want)
			}
			if d := time.Since(start); d > time.Second+500*time.Millisecond {
				t.Errorf("Collect took %v, want bounded by its timeout", d)
			}
		})
	}
}

func TestEnv(t *testing.T) {
	srv := fakeMetadata(t, 0)
	t.Setenv(MetadataURLEnv, srv.URL+"/computeMetadata/v1")
	got := Collect(t.Context(), Options{})
	if got.Zone != "us-east5-b" {
		t.Errorf("Collect with %s = %+v, want zone us-east5-b", MetadataURLEnv, got)
	}
	ctx := got.Context()
	if ctx["gce.accelerator_type"] != "v6e-1" || ctx["gce.instance"] != "t1v-n-3d21a6bb-w-0" {
		t.Errorf("Context() = %v", ctx)
	}
	if l := got.Labels(); l["zone"] != "us-east5-b" || len(l) != 3 {
		t.Errorf("Labels() = %v", l)
	}
}
