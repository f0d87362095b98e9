package simserver

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

// seedOpStats is xprof's framework_op_stats tool output for the device
// trace of the seed run: 500 real TPU ops of Qwen3-0.6B on a v6e-1.
//
//go:embed data/framework_op_stats_device.json
var seedOpStats []byte

// op is one device op of the table a forward step replays.
type op struct {
	// name is the HLO op's name, the event's name on the XLA Ops line.
	name string
	// typ is the framework op type ("dot_general"), or "Unknown".
	typ string
	// operation is the framework op's name, or the HLO name for Unknown.
	operation string
	// category is the hlo_category stat.
	category string
	// occurrences is how often a prefill step runs the op.
	occurrences int
	// total is the op's total time over its occurrences, in picoseconds.
	total int64
	// class is how its time grows with a step's shape (cost.go).
	class costClass
}

// tfOp returns the tf_op stat ("<op name>:<op type>"), or "" for ops with
// no framework op.
func (o *op) tfOp() string {
	if o.typ == "Unknown" {
		return ""
	}
	return o.operation + ":" + o.typ
}

// occurrenceDur returns the duration of occurrence i of the op: the total
// split into equal picoseconds, the remainder going to the first ones, so
// the occurrences add up to the total exactly.
func (o *op) occurrenceDur(i int) int64 {
	n := int64(o.occurrences)
	d := o.total / n
	if int64(i) < o.total%n {
		d++
	}
	return d
}

// opTable is the ops one prefill step runs.
type opTable struct {
	ops []op
	// events is the number of op events of one step.
	events int
	// total is the summed op time of one prefill step, in picoseconds.
	total int64
}

// parseOpTable reads the first table of a framework_op_stats JSON: its
// device rows, IDLE left out.
func parseOpTable(b []byte) (*opTable, error) {
	var tables []struct {
		Cols []struct {
			ID string `json:"id"`
		} `json:"cols"`
		Rows []struct {
			C []struct {
				V any `json:"v"`
			} `json:"c"`
		} `json:"rows"`
	}
	if err := json.Unmarshal(b, &tables); err != nil {
		return nil, fmt.Errorf("simserver: op table: %w", err)
	}
	if len(tables) == 0 {
		return nil, fmt.Errorf("simserver: op table: no tables")
	}
	col := map[string]int{}
	for i, c := range tables[0].Cols {
		col[c.ID] = i
	}
	for _, need := range []string{"host_or_device", "type", "operation", "occurrences", "total_time"} {
		if _, ok := col[need]; !ok {
			return nil, fmt.Errorf("simserver: op table: no column %q", need)
		}
	}
	t := &opTable{}
	taken := map[string]bool{}
	for ri, r := range tables[0].Rows {
		cell := func(id string) any {
			if i := col[id]; i < len(r.C) {
				return r.C[i].V
			}
			return nil
		}
		where, _ := cell("host_or_device").(string)
		typ, _ := cell("type").(string)
		if where != "Device" || typ == "IDLE" {
			continue
		}
		operation, _ := cell("operation").(string)
		occ, _ := cell("occurrences").(float64)
		totalUS, _ := cell("total_time").(float64)
		if operation == "" || occ < 1 || totalUS <= 0 || math.IsInf(totalUS, 0) {
			return nil, fmt.Errorf("simserver: op table: row %d: bad operation, occurrences or total time", ri)
		}
		o := op{
			typ:         typ,
			operation:   operation,
			category:    category(typ),
			occurrences: int(occ),
			total:       int64(math.Round(totalUS * 1e6)),
		}
		if typ == "Unknown" {
			o.name = operation
		}
		o.class = classify(&o)
		t.ops = append(t.ops, o)
		taken[o.name] = true
		t.events += o.occurrences
		t.total += o.total
	}
	if len(t.ops) == 0 {
		return nil, fmt.Errorf("simserver: op table: no device ops")
	}
	// Name the typed ops as XLA names fused HLO ops, avoiding the names
	// the table already uses.
	next := map[string]int{}
	for i := range t.ops {
		o := &t.ops[i]
		if o.name != "" {
			continue
		}
		prefix := hloPrefix(o.typ)
		for {
			next[prefix]++
			n := prefix + "." + strconv.Itoa(next[prefix])
			if !taken[n] {
				o.name = n
				taken[n] = true
				break
			}
		}
	}
	return t, nil
}

// category returns the hlo_category xprof gives an op of a framework type.
func category(typ string) string {
	switch typ {
	case "Unknown":
		return "control flow"
	case "dot_general":
		return "convolution"
	case "pallas_call":
		return "custom-call"
	}
	return "non-fusion elementwise"
}

// hloPrefix returns the HLO op name prefix of a framework type.
func hloPrefix(typ string) string {
	switch typ {
	case "dot_general":
		return "dot"
	case "pallas_call":
		return "pallas_call"
	}
	return "fusion"
}
