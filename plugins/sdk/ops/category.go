package ops

import (
	"strings"

	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
)

// The categories of PyTorch (kineto) device ops, and of ops with none.
const (
	// KernelCategory is a GPU kernel's (kineto cat "kernel"; older "Kernel").
	KernelCategory = "kernel"
	// MemcpyCategory is a GPU memory copy's ("gpu_memcpy"; older "Memcpy").
	MemcpyCategory = "gpu_memcpy"
	// MemsetCategory is a GPU memory set's ("gpu_memset"; older "Memset").
	MemsetCategory = "gpu_memset"
	// UnknownCategory is the category of an op with neither an hlo_category
	// nor a cat stat.
	UnknownCategory = "unknown"
)

// kinetoCategory maps a kineto device op's cat, lower-cased, to its category.
var kinetoCategory = map[string]string{
	"kernel":     KernelCategory,
	"gpu_memcpy": MemcpyCategory,
	"gpu_memset": MemsetCategory,
	"memcpy":     MemcpyCategory,
	"memset":     MemsetCategory,
}

// Category returns a device op event's category: XLA's hlo_category stat
// ("convolution fusion", "loop fusion", "copy-done", "all-reduce", ...);
// else, for a PyTorch (kineto) op, its cat stat as KernelCategory,
// MemcpyCategory or MemsetCategory (older kineto's "Kernel", "Memcpy" and
// "Memset" map to these); else UnknownCategory. Empty stats count as
// missing.
func Category(ev *capture.Event) string {
	if c, ok := StatString(ev, HLOCategoryStat); ok && c != "" {
		return c
	}
	if c, ok := StatString(ev, CatStat); ok {
		if k, ok := kinetoCategory[strings.ToLower(c)]; ok {
			return k
		}
	}
	return UnknownCategory
}

// isKinetoDeviceOp reports whether an event is a PyTorch (kineto) device op:
// its cat stat is a kernel, memcpy or memset in any case.
func isKinetoDeviceOp(ev *capture.Event) bool {
	c, ok := StatString(ev, CatStat)
	if !ok {
		return false
	}
	_, ok = kinetoCategory[strings.ToLower(c)]
	return ok
}
