package xplane

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"strconv"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
	"github.com/fleetprof/fleetprof/plugins/sdk/ops"
)

// This file reads the HLO modules a capture may carry (the /host:metadata
// plane: one event metadata per XLA program, id = program id, with the
// serialized xla.HloProto in its "Hlo Proto" stat) to name each device op by
// the framework op XLA recorded in its instruction's metadata, as xprof does:
// a GPU kernel whose tf_op only names its module ("XlaModule:") gets
// "jit(dot)/dot_general" this way.

// Names in the metadata plane.
const (
	// MetadataPlane is the plane that holds the HLO modules.
	MetadataPlane = "/host:metadata"
	// hloProtoStat is the stat that holds a serialized xla.HloProto.
	hloProtoStat = "Hlo Proto"
)

// maxHLOBytes bounds one HLO module, decompressed.
const maxHLOBytes = 256 << 20

// errHLO means an HLO module did not parse.
var errHLO = errors.New("xplane: malformed HLO module")

// hloNames maps program id → instruction name → metadata op_name.
type hloNames map[int64]map[string]string

// hloOpNames reads every HLO module of the file's metadata plane, once.
// Modules that do not parse are skipped: the names are a help, not a
// requirement.
func (f *File) hloOpNames() hloNames {
	f.hloOnce.Do(func() {
		for _, p := range f.planes {
			if p.name != MetadataPlane {
				continue
			}
			each := func(id int64, idx int32) {
				if idx == 0 {
					return
				}
				m := &p.meta[idx-1]
				for _, st := range m.stats {
					if st.Name != hloProtoStat {
						continue
					}
					names, err := decodeHLO(hloBytes(st))
					if err != nil || len(names) == 0 {
						continue
					}
					if f.hlo == nil {
						f.hlo = make(hloNames)
					}
					f.hlo[id] = names
				}
			}
			for id, idx := range p.dense {
				each(int64(id), idx)
			}
			for id, idx := range p.sparse {
				each(id, idx)
			}
		}
	})
	return f.hlo
}

// hloBytes returns a stat's serialized HloProto, gunzipped when it was
// stored compressed.
func hloBytes(st capture.Stat) []byte {
	b := st.Bytes
	if st.Kind == capture.StatString {
		b = []byte(st.Str)
	}
	if len(b) > 2 && b[0] == 0x1f && b[1] == 0x8b {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil
		}
		out, err := io.ReadAll(io.LimitReader(zr, maxHLOBytes))
		if err != nil {
			return nil
		}
		return out
	}
	return b
}

// decodeHLO reads an xla.HloProto and returns, for each instruction with an
// op_name in its metadata, that op_name by instruction name. The fields read:
// HloProto.hlo_module (1) → HloModuleProto.computations (3) →
// HloComputationProto.instructions (2) → HloInstructionProto.name (1) and
// .metadata (7) → OpMetadata.op_name (2).
func decodeHLO(b []byte) (map[string]string, error) {
	out := make(map[string]string)
	module, err := field(b, 1)
	if err != nil {
		return nil, err
	}
	for _, m := range module {
		err := eachBytes(m, 3, func(comp []byte) error {
			return eachBytes(comp, 2, func(inst []byte) error {
				var name, opName string
				err := eachField(inst, func(num protowire.Number, v []byte) error {
					switch num {
					case 1:
						name = string(v)
					case 7:
						ops, err := field(v, 2)
						if err != nil {
							return err
						}
						if len(ops) > 0 {
							opName = string(ops[len(ops)-1])
						}
					}
					return nil
				})
				if err == nil && name != "" && opName != "" {
					out[name] = opName
				}
				return err
			})
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// field returns every length-delimited value of field num in message b.
func field(b []byte, num protowire.Number) ([][]byte, error) {
	var out [][]byte
	err := eachBytes(b, num, func(v []byte) error { out = append(out, v); return nil })
	return out, err
}

// eachBytes calls fn with every length-delimited value of field num.
func eachBytes(b []byte, num protowire.Number, fn func([]byte) error) error {
	return eachField(b, func(n protowire.Number, v []byte) error {
		if n == num {
			return fn(v)
		}
		return nil
	})
}

// eachField calls fn with each length-delimited field of message b; other
// wire types are skipped.
func eachField(b []byte, fn func(protowire.Number, []byte) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return errHLO
		}
		b = b[n:]
		if typ == protowire.BytesType {
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return errHLO
			}
			if err := fn(num, v); err != nil {
				return err
			}
			b = b[n:]
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return errHLO
		}
		b = b[n:]
	}
	return nil
}

// xlaOpName returns the HLO metadata op_name of a device op event from its
// program_id stat and its instruction (the hlo_op stat, else the instruction
// name its HLO-text name begins with).
func (f *File) xlaOpName(name string, stats []capture.Stat) (string, bool) {
	var prog int64
	var haveProg bool
	var inst string
	for _, st := range stats {
		switch st.Name {
		case "program_id":
			switch st.Kind {
			case capture.StatInt:
				prog, haveProg = st.Int, true
			case capture.StatUint:
				prog, haveProg = int64(st.Uint), true
			case capture.StatString:
				if u, err := strconv.ParseUint(st.Str, 10, 64); err == nil {
					prog, haveProg = int64(u), true
				}
			}
		case ops.HLOOpStat:
			inst = st.String()
		case ops.XLAOpNameStat:
			return "", false // already named (a capture written back)
		}
	}
	if !haveProg {
		return "", false
	}
	if inst == "" {
		inst = instructionName(name)
	}
	names := f.hloOpNames()[prog]
	op, ok := names[inst]
	return op, ok && op != ""
}

// instructionName returns the instruction an event named by its HLO text
// runs ("%copy-start.1 = (f32[...]) ..." → "copy-start.1"), or the name.
func instructionName(name string) string {
	if i := strings.Index(name, " = "); i > 0 {
		name = name[:i]
	}
	return strings.TrimPrefix(name, "%")
}
