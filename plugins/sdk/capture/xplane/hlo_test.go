package xplane

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/fleetprof/fleetprof/integration/fixtures"
	"github.com/fleetprof/fleetprof/plugins/capture/trim"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
	"github.com/fleetprof/fleetprof/plugins/sdk/ops"
)

// hloProto builds a serialized xla.HloProto with one computation holding
// the given instructions (name → metadata op_name; "" for no metadata).
func hloProto(insts [][2]string) []byte {
	var comp []byte
	comp = protowire.AppendTag(comp, 1, protowire.BytesType)
	comp = protowire.AppendString(comp, "main")
	for _, in := range insts {
		var inst []byte
		inst = protowire.AppendTag(inst, 1, protowire.BytesType)
		inst = protowire.AppendString(inst, in[0])
		inst = protowire.AppendTag(inst, 2, protowire.BytesType)
		inst = protowire.AppendString(inst, "fusion")
		inst = protowire.AppendTag(inst, 35, protowire.VarintType)
		inst = protowire.AppendVarint(inst, 7)
		if in[1] != "" {
			var md []byte
			md = protowire.AppendTag(md, 1, protowire.BytesType)
			md = protowire.AppendString(md, "dot_general")
			md = protowire.AppendTag(md, 2, protowire.BytesType)
			md = protowire.AppendString(md, in[1])
			inst = protowire.AppendTag(inst, 7, protowire.BytesType)
			inst = protowire.AppendBytes(inst, md)
		}
		comp = protowire.AppendTag(comp, 2, protowire.BytesType)
		comp = protowire.AppendBytes(comp, inst)
	}
	var mod []byte
	mod = protowire.AppendTag(mod, 1, protowire.BytesType)
	mod = protowire.AppendString(mod, "jit_f")
	mod = protowire.AppendTag(mod, 3, protowire.BytesType)
	mod = protowire.AppendBytes(mod, comp)
	var hp []byte
	hp = protowire.AppendTag(hp, 1, protowire.BytesType)
	return protowire.AppendBytes(hp, mod)
}

func TestDecodeHLO(t *testing.T) {
	got, err := decodeHLO(hloProto([][2]string{{"dot.1", "jit(f)/jit(main)/dot_general"}, {"copy.2", ""}}))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got["dot.1"] != "jit(f)/jit(main)/dot_general" {
		t.Errorf("decodeHLO = %v, want only dot.1's op_name", got)
	}
	good := hloProto([][2]string{{"dot.1", "x"}})
	for _, bad := range [][]byte{good[:len(good)-3], {0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f}, {0xff}} {
		if _, err := decodeHLO(bad); err == nil {
			t.Errorf("decodeHLO(% x) = nil error, want errHLO", bad)
		}
	}
}

func TestInstructionName(t *testing.T) {
	for in, want := range map[string]string{
		"%copy-start.1 = (f32[8]{0}, u32[]) copy-start(f32[8]{0} %p)": "copy-start.1",
		"fusion.3":             "fusion.3",
		"%broadcast.2 = f32[]": "broadcast.2",
	} {
		if got := instructionName(in); got != want {
			t.Errorf("instructionName(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestXLAOpNames: device ops of real captures that carry their HLO modules
// get the op_name of their instruction's metadata, by program id.
func TestXLAOpNames(t *testing.T) {
	td := fixtures.Dir(t)
	tests := []struct {
		file string
		// want maps an op (hlo_op, else instruction name) to the xla_op_name
		// every one of its kept events must have; "" means none.
		want map[string]string
	}{
		{"real/jax-rocm-gemm/tw003.xplane.pb", map[string]string{
			"wrapped_broadcast": "jit(broadcast_in_dim)/broadcast_in_dim",
			"copy.1":            "", // inserted by XLA: no metadata
		}},
		{"real/xprof-tpu-inference/tpu_inference_2.xplane.pb", map[string]string{
			"broadcast.2": "jit(broadcast_in_dim)/jit(main)/broadcast_in_dim",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			c := trimFile(t, filepath.Join(td, tt.file))
			seen := map[string]int{}
			for op := range ops.DeviceOps(c) {
				key, _ := ops.StatString(op.Event, ops.HLOOpStat)
				if key == "" {
					key = instructionName(op.Event.Name)
				}
				want, ok := tt.want[key]
				if !ok {
					continue
				}
				seen[key]++
				got, _ := ops.StatString(op.Event, ops.XLAOpNameStat)
				if got != want {
					t.Fatalf("%s: xla_op_name = %q, want %q", key, got, want)
				}
			}
			for key := range tt.want {
				if seen[key] == 0 {
					t.Errorf("no kept op %s", key)
				}
			}
		})
	}
}

// trimFile opens and trims an XPlane file.
func trimFile(t *testing.T, path string) *capture.Capture {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		t.Fatal(err)
	}
	f, err := Open(fh, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	x := trim.NewIndexer(trim.Options{})
	if err := f.Walk(context.Background(), x); err != nil {
		t.Fatal(err)
	}
	res, err := x.Finish(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	return res.Capture
}
