package ops

import (
	"strings"

	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

// UnknownType is the op type of an op with no framework op: XLA's own ops
// (copies, control flow, fusions it made itself) with no tf_op, GPU kernels
// with none, PyTorch kernels no framework op launched, and tf_op stats that
// follow no known format.
const UnknownType = "Unknown"

// DatasetType is the op type of a tf.data op ("Iterator::Batch::Map").
const DatasetType = "Dataset"

// The op types of GPU memory copies named in a tf_op with no ':'.
const (
	MemcpyHToDType = "MemcpyHToD"
	MemcpyDToHType = "MemcpyDToH"
	MemcpyDToDType = "MemcpyDToD"
	MemcpyHToHType = "MemcpyHToH"
)

// xlaModuleName is the tf_op name XLA on GPU writes on kernels: the module,
// not the op.
const xlaModuleName = "XlaModule"

// FrameworkOp returns the operation and op type of a device op event, as
// xprof's framework op statistics name them:
//
//   - a PyTorch (kineto) device op with a framework_op stat: the event's name
//     (the kernel) and the framework op that launched it; one without: the
//     event's name and UnknownType;
//   - an op with a tf_op stat: ParseTFOp of it, except that "XlaModule:..."
//     (XLA on GPU names the module there, not the op) counts as no tf_op;
//   - an op with no tf_op: the hlo_op stat, else the HLO instruction name of
//     the event (HLOName), and UnknownType.
//
// An empty stat counts as a missing one. Stats of any kind are read as text.
func FrameworkOp(ev *capture.Event) (operation, opType string) {
	if fw, ok := StatString(ev, FrameworkOpStat); ok && fw != "" {
		return ev.Name, fw
	}
	if isKinetoDeviceOp(ev) {
		return ev.Name, UnknownType
	}
	if tf, ok := StatString(ev, TFOpStat); ok && tf != "" && !isXLAModule(tf) {
		return ParseTFOp(tf)
	}
	if hlo, ok := StatString(ev, HLOOpStat); ok && hlo != "" {
		return hlo, UnknownType
	}
	return HLOName(ev.Name), UnknownType
}

// isXLAModule reports whether a tf_op names an XLA module ("XlaModule:",
// "XlaModule:#hlo_module=jit_f#") rather than an op.
func isXLAModule(tf string) bool {
	name, _, _ := strings.Cut(tf, ":")
	return name == xlaModuleName
}

// ParseTFOp splits a tf_op stat into operation and op type the way XLA's
// tsl::profiler::ParseTfOpFullname does:
//
//   - split at the first ':' into name and type. With no ':' at all, a
//     value starting MemcpyHToD, MemcpyDToH, MemcpyDToD or MemcpyHToH (any
//     case) has that type; anything else is (the value, UnknownType).
//   - name "Iterator": (the value, DatasetType).
//   - a TensorFlow op name ([A-Za-z0-9.][A-Za-z0-9_./>-]*) with a TensorFlow
//     op type ([A-Z_][a-zA-Z0-9_]*): (name, type).
//   - else let t be the type or, when it is empty, the name's last '/' scope
//     without a numeric "_N" suffix. A JAX op type ([a-z_][a-z0-9_]*, with
//     an optional "[...]" that is dropped) gives (name, t):
//     "jit(f)/LogitsProcessor/dot_general:" is dot_general.
//   - else an empty type gives (name, t): "jit(f)/jit(ragged_paged_attention):"
//     is jit(ragged_paged_attention); a non-empty one gives (the value,
//     UnknownType).
//
// An empty type is returned as UnknownType.
func ParseTFOp(tf string) (operation, opType string) {
	name, typ, ok := strings.Cut(tf, ":")
	if !ok {
		return tf, memcpyType(tf)
	}
	if name == "Iterator" {
		return tf, DatasetType
	}
	if isTFOpName(name) && isTFOpType(typ) {
		return name, typ
	}
	t := typ
	if typ == "" {
		t = deriveOpType(name)
	}
	if isJAXOpType(t) {
		if i := strings.IndexByte(t, '['); i >= 0 {
			t = t[:i]
		}
		return name, orUnknown(t)
	}
	if typ == "" {
		return name, orUnknown(t)
	}
	return tf, UnknownType
}

func orUnknown(t string) string {
	if t == "" {
		return UnknownType
	}
	return t
}

// memcpyType is the op type of a tf_op with no ':'.
func memcpyType(tf string) string {
	for _, t := range [...]string{MemcpyHToDType, MemcpyDToHType, MemcpyDToDType, MemcpyHToHType} {
		if len(tf) >= len(t) && strings.EqualFold(tf[:len(t)], t) {
			return t
		}
	}
	return UnknownType
}

// deriveOpType is the op type XLA derives from an op name: its last '/'
// scope without a numeric "_N" suffix ("model/layer/MatMul_1" is MatMul).
func deriveOpType(name string) string {
	last := name[strings.LastIndexByte(name, '/')+1:]
	i := strings.LastIndexByte(last, '_')
	if i >= 0 && isInteger(last[i+1:]) {
		return last[:i]
	}
	return last
}

// isInteger reports whether s is a decimal integer with an optional sign,
// as absl::SimpleAtoi accepts it (less its whitespace and range rules).
func isInteger(s string) bool {
	if s != "" && (s[0] == '+' || s[0] == '-') {
		s = s[1:]
	}
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// isTFOpName matches [A-Za-z0-9.][A-Za-z0-9_./>-]*.
func isTFOpName(s string) bool {
	if s == "" || !(isAlnum(s[0]) || s[0] == '.') {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(isAlnum(c) || c == '_' || c == '.' || c == '/' || c == '>' || c == '-') {
			return false
		}
	}
	return true
}

// isTFOpType matches [A-Z_][a-zA-Z0-9_]*.
func isTFOpType(s string) bool {
	if s == "" || !(isUpper(s[0]) || s[0] == '_') {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !(isAlnum(c) || c == '_') {
			return false
		}
	}
	return true
}

// isJAXOpType matches [a-z_][a-z0-9_]*(\[.*\])?.
func isJAXOpType(s string) bool {
	if s == "" || !(isLower(s[0]) || s[0] == '_') {
		return false
	}
	i := 1
	for ; i < len(s); i++ {
		c := s[i]
		if !(isLower(c) || isDigit(c) || c == '_') {
			break
		}
	}
	rest := s[i:]
	if rest == "" {
		return true
	}
	// RE2's '.' matches no newline.
	return len(rest) >= 2 && rest[0] == '[' && rest[len(rest)-1] == ']' && !strings.ContainsRune(rest, '\n')
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isLower(c byte) bool { return c >= 'a' && c <= 'z' }
func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }
func isAlnum(c byte) bool { return isDigit(c) || isLower(c) || isUpper(c) }

// HLOName returns the HLO instruction name of an op event's name. Newer XLA
// names TPU op events by their whole HLO text, "%copy-start.1 = (f32[...])
// copy-start(...)": the name is what comes before " = ", without its '%'.
// Any other name (an HLO name, a GPU kernel's name) is returned unchanged.
func HLOName(name string) string {
	lhs, _, ok := strings.Cut(name, " = ")
	if !ok {
		return name
	}
	id := strings.TrimPrefix(lhs, "%")
	if id == "" {
		return name
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !(isAlnum(c) || c == '_' || c == '.' || c == '-') {
			return name // not an HLO instruction: a kernel's name, say
		}
	}
	return id
}
