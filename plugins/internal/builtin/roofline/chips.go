package roofline

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
	"github.com/fleetprof/fleetprof/plugins/sdk/ops"
)

// Peak is what one device can do at most.
type Peak struct {
	// Chip names the device, e.g. "TPU v6e" or "H100 SXM".
	Chip string
	// FLOPS is the peak rate in floating point operations per second.
	FLOPS float64
	// BytesPerSec is the peak memory (HBM) bandwidth in bytes per second.
	BytesPerSec float64
	// Source says where the figures come from: SourceCapture or
	// SourcePublished.
	Source string
}

// The values of Peak.Source.
const (
	// SourceCapture: the profiler recorded the device's peaks on its plane
	// (TPU planes' peak_teraflops_per_second, peak_hbm_bw_gigabytes_per_second).
	SourceCapture = "capture"
	// SourcePublished: the vendor's published peak for the chip, from the
	// table in this package; not measured.
	SourcePublished = "published"
)

// Ridge returns the arithmetic intensity (FLOP per byte) at which the
// device turns from memory bound to compute bound.
func (p Peak) Ridge() float64 { return p.FLOPS / p.BytesPerSec }

// String describes the peak for people.
func (p Peak) String() string {
	src := "published peak"
	if p.Source == SourceCapture {
		src = "as the capture records it"
	}
	return fmt.Sprintf("%s: %.0f TFLOP/s, %.0f GB/s (%s)", p.Chip, p.FLOPS/1e12, p.BytesPerSec/1e9, src)
}

// chip is one row of the table of known chips.
type chip struct {
	name string
	// flops: dense BF16/FP16 matrix peak, FLOP/s; bw: HBM bytes/s.
	flops, bw float64
	// names matches the chip's name as profilers write it.
	names *regexp.Regexp
}

// chips are published peak figures (vendor data sheets): dense BF16 (FP16
// on V100) matrix throughput without sparsity, and HBM bandwidth. They are
// what the silicon can do at most, not what a capture measured.
var chips = []chip{
	{"TPU v4", 275e12, 1200e9, regexp.MustCompile(`(?i)\btpu ?v4\b`)},
	{"TPU v5e", 197e12, 819e9, regexp.MustCompile(`(?i)\btpu ?v5 ?(e|lite)`)},
	{"TPU v5p", 459e12, 2765e9, regexp.MustCompile(`(?i)\btpu ?v5 ?p?\b`)},
	{"TPU v6e", 918e12, 1640e9, regexp.MustCompile(`(?i)\btpu ?v6 ?(e|lite)?\b|trillium`)},
	{"H100 PCIe", 756e12, 2000e9, regexp.MustCompile(`(?i)\bh100\b.*pcie`)},
	{"H100 SXM", 989e12, 3350e9, regexp.MustCompile(`(?i)\bh100\b`)},
	{"A100 40GB", 312e12, 1555e9, regexp.MustCompile(`(?i)\ba100\b.*40 ?gb`)},
	{"A100 80GB", 312e12, 2039e9, regexp.MustCompile(`(?i)\ba100\b`)},
	{"MI300X", 1307.4e12, 5300e9, regexp.MustCompile(`(?i)\bmi300x?\b`)},
	{"V100", 125e12, 900e9, regexp.MustCompile(`(?i)\bv100\b`)},
}

// chipNamed returns the table's chip of that name.
func chipNamed(name string) (chip, bool) {
	for _, c := range chips {
		if c.name == name {
			return c, true
		}
	}
	return chip{}, false
}

// published returns the published peak of a chip in the table.
func published(name string) (Peak, bool) {
	c, ok := chipNamed(name)
	if !ok {
		return Peak{}, false
	}
	return Peak{Chip: c.name, FLOPS: c.flops, BytesPerSec: c.bw, Source: SourcePublished}, true
}

// DevicePeak returns the peak of a device plane: the peaks the capture
// records on the plane (TPUs), else the published peak of the chip the
// plane's name and stats identify (a device name such as "TPU v6 Lite" or
// "NVIDIA H100 80GB HBM3", or a GPU's vendor, compute capability, core
// count and memory size). It reports false when the device is unknown.
func DevicePeak(p *capture.Plane) (Peak, bool) {
	name := deviceName(p)
	tflops, ok1 := planeNumber(p, "peak_teraflops_per_second")
	gbps, ok2 := planeNumber(p, "peak_hbm_bw_gigabytes_per_second")
	if ok1 && ok2 && tflops > 0 && gbps > 0 {
		chip := name
		if c, ok := identify(p, name); ok {
			chip = c
		}
		if chip == "" {
			chip = p.Name
		}
		return Peak{Chip: chip, FLOPS: tflops * 1e12, BytesPerSec: gbps * 1e9, Source: SourceCapture}, true
	}
	if c, ok := identify(p, name); ok {
		return published(c)
	}
	return Peak{}, false
}

// deviceName returns the plane's device name stat, if any.
func deviceName(p *capture.Plane) string {
	for _, key := range []string{"device_type_string", "device_name", "device_type", "name", "model"} {
		for _, s := range p.Stats {
			if s.Name == key && s.Kind == capture.StatString && s.Str != "" {
				return s.Str
			}
		}
	}
	return ""
}

// identify names the chip of a plane: by a known name in its name stat, its
// other string stats or its own name, else by a GPU's vendor, compute
// capability, core count and memory size.
func identify(p *capture.Plane, name string) (string, bool) {
	texts := []string{name}
	for _, s := range p.Stats {
		if s.Kind == capture.StatString {
			texts = append(texts, s.Str)
		}
	}
	texts = append(texts, p.Name)
	for _, t := range texts {
		if t == "" {
			continue
		}
		for _, c := range chips {
			if c.names.MatchString(t) {
				return c.name, true
			}
		}
	}
	major, ok := planeNumber(p, "compute_cap_major")
	if !ok {
		return "", false
	}
	minor, _ := planeNumber(p, "compute_cap_minor")
	cores, _ := planeNumber(p, "core_count")
	mem, _ := planeNumber(p, "memory_size")
	vendor := ""
	for _, s := range p.Stats {
		if s.Name == "device_vendor" {
			vendor = strings.ToLower(s.String())
		}
	}
	switch {
	case strings.Contains(vendor, "amd"):
		if major == 9 && minor == 4 && (cores == 0 || cores >= 304) {
			return "MI300X", true
		}
	case major == 9 && minor == 0:
		if cores > 0 && cores < 132 {
			return "H100 PCIe", true
		}
		return "H100 SXM", true
	case major == 8 && minor == 0:
		if mem > 0 && mem < 48e9 {
			return "A100 40GB", true
		}
		return "A100 80GB", true
	case major == 7 && minor == 0:
		return "V100", true
	}
	return "", false
}

// planeNumber reads a numeric plane stat.
func planeNumber(p *capture.Plane, name string) (float64, bool) {
	for i := range p.Stats {
		if p.Stats[i].Name == name {
			ev := capture.Event{Stats: p.Stats[i : i+1]}
			return ops.StatNumber(&ev, name)
		}
	}
	return 0, false
}
