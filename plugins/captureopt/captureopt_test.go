package captureopt

import (
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/testing/protocmp"

	agentv1 "github.com/fleetprof/fleetprof/proto/fleetprof/agent/v1"
)

// flagInfo is what a flag set says about one flag.
type flagInfo struct{ Default, Usage string }

func stdFlags(o *Options) (*flag.FlagSet, map[string]flagInfo) {
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	o.Register(fs)
	m := map[string]flagInfo{}
	fs.VisitAll(func(f *flag.Flag) { m[f.Name] = flagInfo{f.DefValue, f.Usage} })
	return fs, m
}

func pFlags(o *Options) (*pflag.FlagSet, map[string]flagInfo) {
	fs := pflag.NewFlagSet("cli", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	o.Register(fs)
	m := map[string]flagInfo{}
	fs.VisitAll(func(f *pflag.Flag) { m[f.Name] = flagInfo{f.DefValue, f.Usage} })
	return fs, m
}

// TestRegisterSame: the stdlib and pflag sets define the same flags with
// the same defaults and help, and leave the options at Defaults().
func TestRegisterSame(t *testing.T) {
	var a, b Options
	_, std := stdFlags(&a)
	_, pf := pFlags(&b)
	if diff := cmp.Diff(std, pf); diff != "" {
		t.Errorf("flags differ (-stdlib +pflag):\n%s", diff)
	}
	for _, name := range Names() {
		if _, ok := std[name]; !ok {
			t.Errorf("no flag --%s", name)
		}
	}
	if a != Defaults() || b != Defaults() {
		t.Errorf("after Register: stdlib %+v, pflag %+v; want Defaults() %+v", a, b, Defaults())
	}
	if got := std["host-tracer-level"].Default; got != "-1" {
		t.Errorf("--host-tracer-level default %s, want -1 (unset)", got)
	}
}

// TestParseSame: the same command line gives the same options on both.
func TestParseSame(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want func(*Options)
	}{
		{"none", nil, func(*Options) {}},
		{"all", []string{"--backend", "grpc", "--duration", "3s", "--steps", "5", "--host-tracer-level", "3",
			"--device-tracer-level", "2", "--python-tracer-level", "1", "--gap", "2ms", "--pad", "50us", "--keep-raw",
			"--workload-body", "b.json", "--workload-endpoint", "/generate", "--workload-method", "PUT",
			"--warmups", "0", "--requests", "9", "--concurrency", "4", "--rate", "2.5"},
			func(o *Options) {
				*o = Options{Backend: "grpc", Duration: 3 * time.Second, Steps: 5, HostTracerLevel: 3, DeviceTracerLevel: 2,
					PythonTracerLevel: 1, Gap: 2 * time.Millisecond, Pad: 50 * time.Microsecond, KeepRaw: true,
					WorkloadBody: "b.json", WorkloadEndpoint: "/generate", WorkloadMethod: "PUT",
					Warmups: 0, Requests: 9, Concurrency: 4, Rate: 2.5}
			}},
		{"deprecated --num-steps", []string{"--num-steps", "7"}, func(o *Options) { o.Steps = 7 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := Defaults()
			tt.want(&want)
			var a, b Options
			sfs, _ := stdFlags(&a)
			pfs, _ := pFlags(&b)
			if err := sfs.Parse(tt.args); err != nil {
				t.Fatalf("stdlib Parse(%q) = %v", tt.args, err)
			}
			if err := pfs.Parse(tt.args); err != nil {
				t.Fatalf("pflag Parse(%q) = %v", tt.args, err)
			}
			if diff := cmp.Diff(want, a); diff != "" {
				t.Errorf("stdlib Parse(%q) (-want +got):\n%s", tt.args, diff)
			}
			if diff := cmp.Diff(want, b); diff != "" {
				t.Errorf("pflag Parse(%q) (-want +got):\n%s", tt.args, diff)
			}
		})
	}
}

// TestMerge: a flag given on the command line (even to its default) beats
// the policy file, which beats the flag's default.
func TestMerge(t *testing.T) {
	const policy = `
duration: 3s
num_steps: 4
device_tracer_level: 2
keep_raw: true
workload_body: body.json
requests: 5
`
	tests := []struct {
		name string
		args []string
		want func(*Options)
	}{
		{"policy fills unset flags", nil, func(o *Options) {}},
		{"flag wins", []string{"--duration", "1s", "--requests", "7"}, func(o *Options) { o.Duration, o.Requests = time.Second, 7 }},
		{"flag at its default wins", []string{"--device-tracer-level", "-1", "--keep-raw=false", "--steps", "0"},
			func(o *Options) { o.DeviceTracerLevel, o.KeepRaw, o.Steps = Unset, false, 0 }},
		{"alias counts as given", []string{"--num-steps", "0"}, func(o *Options) { o.Steps = 0 }},
	}
	var p Options = Defaults()
	if err := yaml.Unmarshal([]byte(policy), &p); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := Defaults()
			want.Duration, want.Steps, want.DeviceTracerLevel, want.KeepRaw = 3*time.Second, 4, 2, true
			want.WorkloadBody, want.Requests = "body.json", 5
			tt.want(&want)

			var a, b Options
			sfs, _ := stdFlags(&a)
			pfs, _ := pFlags(&b)
			if err := sfs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			if err := pfs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			a.Merge(p, sfs)
			b.Merge(p, pfs)
			if diff := cmp.Diff(want, a); diff != "" {
				t.Errorf("stdlib Merge, args %q (-want +got):\n%s", tt.args, diff)
			}
			if diff := cmp.Diff(want, b); diff != "" {
				t.Errorf("pflag Merge, args %q (-want +got):\n%s", tt.args, diff)
			}
		})
	}
}

func TestYAML(t *testing.T) {
	tests := []struct {
		name, doc string
		want      func(*Options)
		wantErr   error
	}{
		{"empty", "", func(*Options) {}, nil},
		{"null", "~", func(*Options) {}, nil},
		{"keys", "backend: http\nhost_tracer_level: 0\npad: 100µs\nworkload_method: GET\nrate: 1.5\n",
			func(o *Options) {
				o.Backend, o.HostTracerLevel, o.Pad, o.WorkloadMethod, o.Rate = "http", 0, 100*time.Microsecond, "GET", 1.5
			}, nil},
		{"unknown", "durashun: 2s\n", nil, ErrUnknown},
		{"flag spelling", "host-tracer-level: 2\n", nil, ErrUnknown},
		{"bad duration", "duration: soon\n", nil, ErrSyntax},
		{"bad int", "steps: many\n", nil, ErrSyntax},
		{"bad bool", "keep_raw: maybe\n", nil, ErrSyntax},
		{"not a value", "duration: [1s]\n", nil, ErrSyntax},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Defaults()
			err := yaml.Unmarshal([]byte(tt.doc), &got)
			if tt.wantErr != nil {
				var oe *OptionError
				if !errors.Is(err, tt.wantErr) || !errors.As(err, &oe) || oe.Line == 0 {
					t.Errorf("Unmarshal(%q) = %v, want an *OptionError with a line wrapping %v", tt.doc, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Unmarshal(%q) = %v", tt.doc, err)
			}
			want := Defaults()
			tt.want(&want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Unmarshal(%q) (-want +got):\n%s", tt.doc, diff)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name     string
		change   func(*Options)
		wantName string
		wantErr  error
	}{
		{"defaults", func(*Options) {}, "", nil},
		{"levels 0", func(o *Options) { o.HostTracerLevel, o.DeviceTracerLevel, o.PythonTracerLevel = 0, 0, 0 }, "", nil},
		{"backend", func(o *Options) { o.Backend = "ftp" }, "backend", ErrBackend},
		{"negative duration", func(o *Options) { o.Duration = -time.Second }, "duration", ErrRange},
		{"long duration", func(o *Options) { o.Duration = 2 * time.Hour }, "duration", ErrRange},
		{"negative steps", func(o *Options) { o.Steps = -1 }, "steps", ErrRange},
		{"host level", func(o *Options) { o.HostTracerLevel = 4 }, "host-tracer-level", ErrRange},
		{"device level", func(o *Options) { o.DeviceTracerLevel = 3 }, "device-tracer-level", ErrRange},
		{"python level", func(o *Options) { o.PythonTracerLevel = 2 }, "python-tracer-level", ErrRange},
		{"level below unset", func(o *Options) { o.HostTracerLevel = -2 }, "host-tracer-level", ErrRange},
		{"gap", func(o *Options) { o.Gap = -1 }, "gap", ErrRange},
		{"pad", func(o *Options) { o.Pad = -1 }, "pad", ErrRange},
		{"endpoint", func(o *Options) { o.WorkloadBody, o.WorkloadEndpoint = "b", "v1/score" }, "workload-endpoint", ErrEndpoint},
		{"endpoint unused without a body", func(o *Options) { o.WorkloadEndpoint = "v1/score" }, "", nil},
		{"concurrency", func(o *Options) { o.WorkloadBody, o.Concurrency = "b", 257 }, "concurrency", ErrRange},
		{"warmups", func(o *Options) { o.WorkloadBody, o.Warmups = "b", -1 }, "warmups", ErrRange},
		{"rate", func(o *Options) { o.WorkloadBody, o.Rate = "b", -1 }, "rate", ErrRange},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := Defaults()
			tt.change(&o)
			err := o.Validate()
			if tt.wantErr == nil {
				if err != nil {
					t.Errorf("Validate(%+v) = %v, want nil", o, err)
				}
				return
			}
			var oe *OptionError
			if !errors.Is(err, tt.wantErr) || !errors.As(err, &oe) || oe.Name != tt.wantName {
				t.Errorf("Validate = %v, want an *OptionError for --%s wrapping %v", err, tt.wantName, tt.wantErr)
			}
		})
	}
}

func TestProtoRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		msg  *agentv1.CaptureOptions
	}{
		{"defaults", &agentv1.CaptureOptions{HostTracerLevel: -1, DeviceTracerLevel: -1, PythonTracerLevel: -1}},
		{"all", &agentv1.CaptureOptions{Backend: "grpc", DurationMs: 2500, NumSteps: 3, HostTracerLevel: 3, DeviceTracerLevel: 2,
			PythonTracerLevel: 1, GapPs: 2e9, PadPs: 1e8, KeepRaw: true,
			Workload: &agentv1.Workload{Endpoint: "/generate", Method: "POST", Body: []byte(`{"text":"hi"}`),
				Warmups: 1, Requests: 4, Concurrency: 2, Rate: 0.5}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, body := FromProto(tt.msg)
			got, err := o.ToProto(body)
			if err != nil {
				t.Fatalf("ToProto(FromProto(m)) = %v", err)
			}
			if diff := cmp.Diff(tt.msg, got, protocmp.Transform()); diff != "" {
				t.Errorf("ToProto(FromProto(m)) (-want +got):\n%s", diff)
			}
			back, body2 := FromProto(got)
			if diff := cmp.Diff(o, back); diff != "" || string(body) != string(body2) {
				t.Errorf("FromProto(ToProto(o)) (-want +got):\n%s; body %q, want %q", diff, body2, body)
			}
		})
	}
	// A message that leaves levels at proto3's 0 reads them as unset.
	if o, body := FromProto(&agentv1.CaptureOptions{}); o != Defaults() || body != nil {
		t.Errorf("FromProto(empty) = %+v, %q; want Defaults(), nil", o, body)
	}
}

func TestToProtoErrors(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.json")
	if err := os.WriteFile(big, make([]byte, 11), 0o644); err != nil {
		t.Fatal(err)
	}
	o := Defaults()
	o.WorkloadBody = big
	if _, err := o.ReadBody(10); !errors.Is(err, ErrBodyTooLarge) {
		t.Errorf("ReadBody(10) of 11 bytes = %v, want ErrBodyTooLarge", err)
	}
	if b, err := o.ReadBody(11); err != nil || len(b) != 11 {
		t.Errorf("ReadBody(11) = %d bytes, %v; want 11, nil", len(b), err)
	}
	o.DeviceTracerLevel = 0
	if _, err := o.ToProto(nil); !errors.Is(err, ErrUnsendable) {
		t.Errorf("ToProto with --device-tracer-level 0 = %v, want ErrUnsendable", err)
	}
	o = Defaults()
	o.Backend = "ftp"
	if _, err := o.ToProto(nil); !errors.Is(err, ErrBackend) {
		t.Errorf("ToProto with --backend ftp = %v, want ErrBackend", err)
	}
}

// TestRegisterOnly: the named options alone, with the same flags as
// Register gives them; an unknown name (or an alias) panics.
func TestRegisterOnly(t *testing.T) {
	var all Options
	_, full := pFlags(&all)
	o := Defaults()
	fs := pflag.NewFlagSet("experiment", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	o.RegisterOnly(fs, "duration", "host-tracer-level", "gap")
	got := map[string]flagInfo{}
	fs.VisitAll(func(f *pflag.Flag) { got[f.Name] = flagInfo{f.DefValue, f.Usage} })
	want := map[string]flagInfo{"duration": full["duration"], "host-tracer-level": full["host-tracer-level"], "gap": full["gap"]}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("RegisterOnly flags (-want +got):\n%s", diff)
	}
	if err := fs.Parse([]string{"--duration", "3s", "--host-tracer-level", "3"}); err != nil {
		t.Fatal(err)
	}
	if o.Duration != 3*time.Second || o.HostTracerLevel != 3 || o.DeviceTracerLevel != Defaults().DeviceTracerLevel {
		t.Errorf("after parsing: %+v", o)
	}
	for _, bad := range []string{"no-such-option", "num-steps"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("RegisterOnly(%q) did not panic", bad)
				}
			}()
			var o Options
			o.RegisterOnly(pflag.NewFlagSet("x", pflag.ContinueOnError), bad)
		}()
	}
}
