package gen

import (
	_ "embed"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
)

// opsTSV holds the seed run's device ops; see its header.
//
//go:embed ops.tsv
var opsTSV string

// op is one HLO instruction of the served model.
type op struct {
	typ       string // framework op type; "Unknown" when there is no tf_op
	operation string // framework op name (the HLO name for Unknown)
	occ       int    // executions per step
	dur       int64  // ps per execution
	flops     uint64 // per execution, 0 if unknown
	bytes     uint64 // per execution, 0 if unknown
	name      string // HLO instruction name, e.g. "fusion.12"
	long      string // HLO text, the display name
	category  string // hlo_category
	module    string // jit module, e.g. "jit_jitted_run_model"
}

// tfOp returns the tf_op stat, or "" for ops without one.
func (o *op) tfOp() string {
	if o.typ == "Unknown" {
		return ""
	}
	return o.operation + ":" + o.typ
}

// loadOps parses ops.tsv and names each op as XLA would.
func loadOps() ([]op, error) {
	var ops []op
	counters := map[string]int{}
	for i, ln := range strings.Split(strings.TrimSpace(opsTSV), "\n") {
		if strings.HasPrefix(ln, "#") {
			continue
		}
		f := strings.Split(ln, "\t")
		if len(f) != 6 {
			return nil, fmt.Errorf("gen: ops.tsv line %d: %d fields, want 6", i+1, len(f))
		}
		occ, err := strconv.Atoi(f[2])
		if err != nil || occ < 1 {
			return nil, fmt.Errorf("gen: ops.tsv line %d: bad occurrences %q", i+1, f[2])
		}
		var nums [3]float64
		for j := range nums {
			nums[j], err = strconv.ParseFloat(f[3+j], 64)
			if err != nil || nums[j] < 0 || math.IsInf(nums[j], 0) {
				return nil, fmt.Errorf("gen: ops.tsv line %d: bad number %q", i+1, f[3+j])
			}
		}
		o := op{typ: f[0], operation: f[1], occ: occ}
		// Per execution, in ps; at least a nanosecond.
		o.dur = max(int64(math.Round(nums[0]*1e6/float64(occ))), nsec)
		us := float64(o.dur) / 1e6
		// Rates are GFLOP/s and GB/s: amounts per execution.
		o.flops = uint64(math.Round(nums[1] * 1e3 * us))
		o.bytes = uint64(math.Round(nums[2] * 1e3 * us))
		o.module = "jit_jitted_run_model"
		if strings.HasPrefix(o.operation, "jit(") {
			if k := strings.IndexByte(o.operation, ')'); k > 4 {
				o.module = "jit_" + o.operation[4:k]
			}
		}
		o.name, o.category = hloName(&o, counters)
		o.long = hloText(&o, i)
		ops = append(ops, o)
	}
	if len(ops) == 0 {
		return nil, fmt.Errorf("gen: ops.tsv holds no ops")
	}
	return ops, nil
}

// hloName names an op's HLO instruction and its category the way the seed
// replica does: Unknown ops are their own HLO instruction (copy-start.12),
// matmuls are convolutions, Pallas kernels custom calls, the rest fusions.
func hloName(o *op, counters map[string]int) (name, category string) {
	if o.typ == "Unknown" {
		return o.operation, "control flow"
	}
	prefix, category := "fusion", "non-fusion elementwise"
	switch o.typ {
	case "dot_general":
		prefix, category = "dot", "convolution"
	case "pallas_call":
		prefix, category = "custom-call", "custom-call"
	}
	counters[prefix]++
	return fmt.Sprintf("%s.%d", prefix, 3*counters[prefix]+len(prefix)), category
}

var (
	hloTypes = []string{"bf16", "bf16", "f32", "s32"}
	hloDims  = []string{"1", "8", "16", "128", "1024", "2048", "3072", "151936"}
)

// hloText makes up a plausible HLO instruction text for an op: its shapes
// come from its index, the rest from its name.
func hloText(o *op, i int) string {
	h := mix64(uint64(i) + 0x51ed27)
	shape := func() string {
		t := hloTypes[h%uint64(len(hloTypes))]
		a := hloDims[(h>>8)%uint64(len(hloDims))]
		b := hloDims[(h>>16)%uint64(len(hloDims))]
		h = mix64(h)
		return fmt.Sprintf("%s[%s,%s]{1,0:T(8,128)(2,1)}", t, a, b)
	}
	opcode, _, _ := strings.Cut(o.name, ".")
	out, in1, in2 := shape(), shape(), shape()
	s := fmt.Sprintf("%%%s = %s %s(%s %%param.%d, %s %%get-tuple-element.%d)", o.name, out, opcode, in1, i%7, in2, i%13+1)
	switch opcode {
	case "fusion":
		s += fmt.Sprintf(", kind=kLoop, calls=%%fused_computation.%d", i)
	case "dot":
		s += ", lhs_contracting_dims={1}, rhs_contracting_dims={0}"
	case "custom-call":
		s += `, custom_call_target=tpu_custom_call`
	}
	return s
}

// module is one jit program run in each step.
type module struct {
	name  string // the XLA Modules event's name, e.g. "jit_jitted_run_model(1)"
	execs []int  // indexes into ops, in execution order
}

// program is what the devices run each step: its modules in order.
type program struct {
	modules []module
}

// modulePriority orders the jit programs as sglang-jax runs them.
var modulePriority = map[string]int{"jit_jitted_run_model": 0, "jit_jitted_sampler": 1}

// newProgram lays the ops out into modules: each module's ops in a fixed
// order (the same model runs the same program whatever the seed), with the
// ops that run several times a step (a while loop's body) run round by round
// in the middle of their module.
func newProgram(ops []op) program {
	byModule := map[string][]int{}
	var names []string
	for i := range ops {
		m := ops[i].module
		if _, ok := byModule[m]; !ok {
			names = append(names, m)
		}
		byModule[m] = append(byModule[m], i)
	}
	slices.SortFunc(names, func(a, b string) int {
		pa, oka := modulePriority[a]
		pb, okb := modulePriority[b]
		switch {
		case oka && okb:
			return pa - pb
		case oka:
			return -1
		case okb:
			return 1
		}
		return strings.Compare(a, b)
	})
	r := rand.New(rand.NewPCG(0x5eed, 0x0b5))
	var p program
	for k, name := range names {
		var once, loop []int
		for _, i := range byModule[name] {
			if ops[i].occ == 1 {
				once = append(once, i)
			} else {
				loop = append(loop, i)
			}
		}
		r.Shuffle(len(once), func(a, b int) { once[a], once[b] = once[b], once[a] })
		execs := slices.Clone(once[:len(once)/2])
		for round := 0; ; round++ {
			n := 0
			for _, i := range loop {
				if ops[i].occ > round {
					execs = append(execs, i)
					n++
				}
			}
			if n == 0 {
				break
			}
		}
		execs = append(execs, once[len(once)/2:]...)
		p.modules = append(p.modules, module{name: fmt.Sprintf("%s(%d)", name, k+1), execs: execs})
	}
	return p
}

// opsPerStep counts op executions per step on one device.
func (p *program) opsPerStep() int {
	n := 0
	for _, m := range p.modules {
		n += len(m.execs)
	}
	return n
}

// eventsPerStep counts the events of a step on one device: its ops and
// one XLA Modules event per module.
func (p *program) eventsPerStep() int64 {
	return int64(p.opsPerStep() + len(p.modules))
}
