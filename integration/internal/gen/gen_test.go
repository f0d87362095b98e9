package gen

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/fleetprof/fleetprof/integration/fixtures"
	"github.com/fleetprof/fleetprof/plugins/sdk/capture"
	xplanev1 "github.com/fleetprof/fleetprof/proto/fleetprof/xplane/v1"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// small is the shape most tests use: small, two devices, three bursts.
var small = Config{Events: 50_000, Devices: 2, Seed: 7}

func mustNew(t testing.TB, cfg Config) *Capture {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New(%+v): %v", cfg, err)
	}
	return c
}

func writeJSON(t testing.TB, c *Capture) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := c.WriteJSON(&b); err != nil {
		t.Fatalf("WriteJSON: %v", err)
	}
	return b.Bytes()
}

func writeXSpace(t testing.TB, c *Capture) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := c.WriteXSpace(&b); err != nil {
		t.Fatalf("WriteXSpace: %v", err)
	}
	return b.Bytes()
}

// rec is an event in a form both formats can be compared in: times exact,
// args as the trace JSON writes them.
type rec struct {
	plane, line, name string
	start, dur        int64 // ps from the capture's base
	args              string
}

func (r rec) String() string {
	return fmt.Sprintf("%s/%s %q @%d+%d %s", r.plane, r.line, r.name, r.start, r.dur, r.args)
}

func cmpRec(a, b rec) int {
	return cmp.Or(strings.Compare(a.plane, b.plane), strings.Compare(a.line, b.line), cmp.Compare(a.start, b.start),
		cmp.Compare(b.dur, a.dur), strings.Compare(a.name, b.name), strings.Compare(a.args, b.args))
}

func argsText(m map[string]string) string {
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	})
	var sb strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&sb, "%s=%s;", k, m[k])
	}
	return sb.String()
}

// parseMicros parses a decimal µs text exactly into whole µs and ps.
func parseMicros(t testing.TB, s string) (us, ps int64) {
	t.Helper()
	ip, frac, _ := strings.Cut(s, ".")
	us, err := strconv.ParseInt(ip, 10, 64)
	if err != nil || len(frac) > 6 {
		t.Fatalf("bad µs %q", s)
	}
	frac += strings.Repeat("0", 6-len(frac))
	ps, err = strconv.ParseInt(frac, 10, 64)
	if err != nil {
		t.Fatalf("bad µs %q", s)
	}
	return us, ps
}

// traceJSON is the JSON's top level.
type traceJSON struct {
	DisplayTimeUnit string          `json:"displayTimeUnit"`
	Metadata        map[string]bool `json:"metadata"`
	TraceEvents     []jsonEvent     `json:"traceEvents"`
}

type jsonEvent struct {
	Ph   string          `json:"ph"`
	Pid  int64           `json:"pid"`
	Tid  int64           `json:"tid"`
	Ts   json.Number     `json:"ts"`
	Dur  json.Number     `json:"dur"`
	Name string          `json:"name"`
	Args json.RawMessage `json:"args"`
}

// parseJSON reads a trace JSON with encoding/json: its X events as recs,
// and the kinds of its events in order ("M", "X", "" for the closing {}).
func parseJSON(t testing.TB, data []byte, baseNS int64) (recs []rec, kinds []string, pids []int64) {
	t.Helper()
	var top traceJSON
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	if err := d.Decode(&top); err != nil {
		t.Fatalf("trace JSON does not parse: %v", err)
	}
	if top.DisplayTimeUnit != "ns" || !top.Metadata["highres-ticks"] {
		t.Errorf("header = %q %v, want ns and highres-ticks", top.DisplayTimeUnit, top.Metadata)
	}
	procs := map[int64]string{}
	threads := map[[2]int64]string{}
	var xs []jsonEvent
	for _, e := range top.TraceEvents {
		kinds = append(kinds, e.Ph)
		switch e.Ph {
		case "M":
			var a struct {
				Name string `json:"name"`
			}
			if err := json.Unmarshal(e.Args, &a); err != nil {
				t.Fatalf("M event %+v: %v", e, err)
			}
			switch e.Name {
			case "process_name":
				procs[e.Pid] = a.Name
			case "thread_name":
				threads[[2]int64{e.Pid, e.Tid}] = a.Name
			}
		case "X":
			xs = append(xs, e)
			pids = append(pids, e.Pid)
		}
	}
	for _, e := range xs {
		var args map[string]string
		if err := json.Unmarshal(e.Args, &args); err != nil {
			t.Fatalf("args %s: %v", e.Args, err)
		}
		us, ps := parseMicros(t, e.Ts.String())
		dus, dps := parseMicros(t, e.Dur.String())
		start := (us-baseNS/1000)*1_000_000 + ps - baseNS%1000*1000
		recs = append(recs, rec{plane: procs[e.Pid], line: threads[[2]int64{e.Pid, e.Tid}], name: e.Name,
			start: start, dur: dus*1_000_000 + dps, args: argsText(args)})
	}
	return recs, kinds, pids
}

// parseXSpace reads an XSpace with the generated protobuf types.
func parseXSpace(t testing.TB, data []byte, baseNS int64) []rec {
	t.Helper()
	var space xplanev1.XSpace
	if err := proto.Unmarshal(data, &space); err != nil {
		t.Fatalf("XSpace does not parse: %v", err)
	}
	var recs []rec
	for _, p := range space.GetPlanes() {
		str := func(s *xplanev1.XStat) (string, string) {
			name := p.GetStatMetadata()[s.GetMetadataId()].GetName()
			switch v := s.GetValue().(type) {
			case *xplanev1.XStat_StrValue:
				return name, v.StrValue
			case *xplanev1.XStat_RefValue:
				return name, p.GetStatMetadata()[int64(v.RefValue)].GetName()
			case *xplanev1.XStat_Int64Value:
				return name, strconv.FormatInt(v.Int64Value, 10)
			case *xplanev1.XStat_Uint64Value:
				return name, strconv.FormatUint(v.Uint64Value, 10)
			}
			t.Fatalf("stat %v: unexpected kind", s)
			return "", ""
		}
		for _, l := range p.GetLines() {
			for _, e := range l.GetEvents() {
				m := p.GetEventMetadata()[e.GetMetadataId()]
				args := map[string]string{}
				if m.GetDisplayName() != "" {
					args["long_name"] = m.GetDisplayName()
				}
				for _, s := range append(slices.Clone(m.GetStats()), e.GetStats()...) {
					k, v := str(s)
					args[k] = v
				}
				recs = append(recs, rec{plane: p.GetName(), line: l.GetName(), name: m.GetName(),
					start: (l.GetTimestampNs()-baseNS)*1000 + e.GetOffsetPs(), dur: e.GetDurationPs(), args: argsText(args)})
			}
		}
	}
	return recs
}

func TestFormatsAgree(t *testing.T) {
	c := mustNew(t, small)
	base := c.Config().StartNS
	fromJSON, kinds, pids := parseJSON(t, writeJSON(t, c), base)
	fromXSpace := parseXSpace(t, writeXSpace(t, c), base)
	if got, want := int64(len(fromJSON)), small.Events; got != want {
		t.Errorf("JSON holds %d X events, want %d", got, want)
	}
	// M events first, then X events, then the closing {}.
	firstX := slices.Index(kinds, "X")
	if firstX < 0 || slices.Contains(kinds[:firstX], "X") || slices.Contains(kinds[firstX:len(kinds)-1], "M") || kinds[len(kinds)-1] != "" {
		t.Errorf("event kinds are not M…, X…, {}: first X at %d, last %q", firstX, kinds[len(kinds)-1])
	}
	// Devices before the host, as the TSL converter writes them.
	if i := slices.Index(pids, 701); i < 0 || slices.ContainsFunc(pids[i:], func(p int64) bool { return p != 701 }) {
		t.Errorf("host events are not all after the device events")
	}
	slices.SortFunc(fromJSON, cmpRec)
	slices.SortFunc(fromXSpace, cmpRec)
	if len(fromJSON) != len(fromXSpace) {
		t.Fatalf("JSON has %d events, XSpace %d", len(fromJSON), len(fromXSpace))
	}
	for i := range fromJSON {
		if fromJSON[i] != fromXSpace[i] {
			t.Fatalf("event %d differs:\n JSON   %v\n XSpace %v", i, fromJSON[i], fromXSpace[i])
		}
	}
}

// TestTruth recomputes the truth from the parsed JSON with the capture
// model's own interval functions and compares it with the generator's.
func TestTruth(t *testing.T) {
	for _, cfg := range []Config{small, {Events: 20_000, Devices: 1, Bursts: 1, Seed: 3}, {Events: 80_000, Devices: 3, Bursts: 5, Steps: 2, Seed: 11}} {
		c := mustNew(t, cfg)
		t.Run(fmt.Sprintf("%d_events_%d_devices_%d_bursts", cfg.Events, c.Config().Devices, c.Config().Bursts), func(t *testing.T) {
			truth, err := c.Truth()
			if err != nil {
				t.Fatal(err)
			}
			recs, _, _ := parseJSON(t, writeJSON(t, c), c.Config().StartNS)
			span := capture.Interval{Start: 1<<63 - 1, End: -1 << 63}
			busy := map[string][]capture.Interval{}
			ops := map[string]int64{}
			for _, r := range recs {
				span.Start, span.End = min(span.Start, r.start), max(span.End, r.start+r.dur)
				if capture.IsDevicePlane(r.plane) && capture.IsOpLine(r.line) {
					busy[r.plane] = append(busy[r.plane], capture.Interval{Start: r.start, End: r.start + r.dur})
					ops[r.plane]++
				}
			}
			var all []capture.Interval
			var nOps int64
			for plane, iv := range busy {
				u := capture.Union(slices.Clone(iv))
				if got, want := truth.Exact.Busy[plane], capture.TotalLen(u); got != want {
					t.Errorf("busy %s = %d ps, want %d", plane, got, want)
				}
				if got, want := truth.Devices[plane].OpEvents, ops[plane]; got != want {
					t.Errorf("op events %s = %d, want %d", plane, got, want)
				}
				all = append(all, iv...)
				nOps += ops[plane]
			}
			win := capture.Windows(all, capture.DefaultGap, capture.DefaultPad, span)
			var kept int64
			for _, r := range recs {
				if capture.Hits(win, capture.Interval{Start: r.start, End: r.start + r.dur}) {
					kept++
				}
			}
			var wantWin [][2]int64
			for _, w := range win {
				wantWin = append(wantWin, [2]int64{w.Start, w.End})
			}
			checks := []struct {
				what      string
				got, want any
			}{
				{"events_total", truth.EventsTotal, int64(len(recs))},
				{"events_total vs config", truth.EventsTotal, cfg.Events},
				{"events_kept", truth.EventsKept, kept},
				{"device_op_events", truth.DeviceOpEvents, nOps},
				{"devices", len(truth.Devices), cfg.Devices},
				{"span", truth.Exact.Span, [2]int64{span.Start, span.End}},
				{"windows", fmt.Sprint(truth.Exact.Windows), fmt.Sprint(wantWin)},
				{"window count", len(truth.Windows), c.Config().Bursts},
			}
			for _, ck := range checks {
				if fmt.Sprint(ck.got) != fmt.Sprint(ck.want) {
					t.Errorf("%s = %v, want %v", ck.what, ck.got, ck.want)
				}
			}
		})
	}
}

// TestNesting checks that every line is in time order and that the host's
// calls nest properly.
func TestNesting(t *testing.T) {
	c := mustNew(t, small)
	type key struct{ p, l int }
	var stacks = map[key][]int64{}
	last := map[key]int64{}
	n := 0
	err := c.walk(c.planeOrder(DevicesFirst), func(e *event) error {
		n++
		k := key{e.plane, e.line}
		if e.dur <= 0 {
			return fmt.Errorf("event %d has duration %d", n, e.dur)
		}
		if p, ok := last[k]; ok && e.start < p {
			return fmt.Errorf("event %d on plane %d line %d starts at %d, before the previous one (%d)", n, e.plane, e.line, e.start, p)
		}
		last[k] = e.start
		if c.planes[e.plane].device >= 0 {
			return nil
		}
		st := stacks[k]
		for len(st) > 0 && st[len(st)-1] <= e.start {
			st = st[:len(st)-1]
		}
		if len(st) > 0 && e.start+e.dur > st[len(st)-1] {
			return fmt.Errorf("host event %d (%s) [%d, %d] overlaps its caller's end %d", n,
				c.planes[e.plane].metas[e.meta].name, e.start, e.start+e.dur, st[len(st)-1])
		}
		stacks[k] = append(st, e.start+e.dur)
		if e.start < 0 || e.start+e.dur > c.end {
			return fmt.Errorf("event %d [%d, %d] is outside the capture [0, %d]", n, e.start, e.start+e.dur, c.end)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestOrders(t *testing.T) {
	base := mustNew(t, small)
	want, _, _ := parseJSON(t, writeJSON(t, base), base.Config().StartNS)
	slices.SortFunc(want, cmpRec)
	for _, o := range []Order{HostFirst, Shuffled} {
		t.Run(o.String(), func(t *testing.T) {
			cfg := small
			cfg.Order = o
			c := mustNew(t, cfg)
			got, _, pids := parseJSON(t, writeJSON(t, c), c.Config().StartNS)
			switch o {
			case HostFirst:
				if i := slices.IndexFunc(pids, func(p int64) bool { return p != 701 }); i < 0 || slices.Contains(pids[i:], 701) {
					t.Errorf("host events are not all before the device events")
				}
			case Shuffled:
				if slices.IsSortedFunc(pids, cmp.Compare[int64]) {
					t.Errorf("shuffled events are grouped by pid")
				}
			}
			slices.SortFunc(got, cmpRec)
			if !slices.Equal(got, want) {
				t.Errorf("order %v changes the events, not only their order", o)
			}
		})
	}
}

func TestDeterministic(t *testing.T) {
	sum := func(cfg Config) string {
		c := mustNew(t, cfg)
		h := sha256.New()
		h.Write(writeJSON(t, c))
		h.Write(writeXSpace(t, c))
		return fmt.Sprintf("%x", h.Sum(nil))
	}
	a, b := sum(small), sum(small)
	if a != b {
		t.Errorf("two runs of %+v differ", small)
	}
	other := small
	other.Seed++
	if sum(other) == a {
		t.Errorf("seeds %d and %d give the same capture", small.Seed, other.Seed)
	}
}

// TestGolden pins a tiny capture's bytes, so a change of output is seen.
func TestGolden(t *testing.T) {
	c := mustNew(t, Config{Events: 3000, Devices: 1, Bursts: 1, Seed: 1})
	truth, err := c.Truth()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := truth.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&b, "json sha256 %x\nxspace sha256 %x\n", sha256.Sum256(writeJSON(t, c)), sha256.Sum256(writeXSpace(t, c)))
	path := filepath.Join("testdata", "tiny.golden")
	if *update {
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to make it)", err)
	}
	if !bytes.Equal(b.Bytes(), want) {
		t.Errorf("tiny capture differs from %s (run go test -update if the change is meant):\n%s", path, b.Bytes())
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		cfg  Config
		want error
	}{
		{Config{Events: -1}, ErrConfig},
		{Config{Devices: 65}, ErrConfig},
		{Config{Bursts: -2}, ErrConfig},
		{Config{Steps: -1}, ErrConfig},
		{Config{Order: 9}, ErrConfig},
		{Config{Events: 1000, Devices: 2}, ErrTooFewEvents},
		{Config{Events: 100_000, Devices: 8, Bursts: 10, Steps: 5}, ErrTooFewEvents},
	}
	for _, tt := range tests {
		if _, err := New(tt.cfg); !errors.Is(err, tt.want) {
			t.Errorf("New(%+v) = %v, want %v", tt.cfg, err, tt.want)
		}
	}
	if _, err := ParseOrder("sideways"); !errors.Is(err, ErrConfig) {
		t.Errorf("ParseOrder(sideways) = %v, want %v", err, ErrConfig)
	}
}

// TestEventCounts checks that a capture has exactly the events asked for,
// over shapes where the last idle iteration is cut short.
func TestEventCounts(t *testing.T) {
	for _, n := range []int64{10_000, 10_001, 10_013, 33_333} {
		c := mustNew(t, Config{Events: n, Devices: 1, Bursts: 2})
		var got int64
		if err := c.walk(c.planeOrder(DevicesFirst), func(*event) error { got++; return nil }); err != nil {
			t.Fatal(err)
		}
		if got != n {
			t.Errorf("Events %d: walked %d", n, got)
		}
	}
}

// TestOpsTable checks the embedded op table against the seed run's xprof
// output it was taken from.
func TestOpsTable(t *testing.T) {
	path := filepath.Join(fixtures.Dir(t), "seed-run", "artifacts", "derived", "device", "framework_op_stats_device.json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var tables []struct {
		Rows []struct {
			C []struct {
				V any `json:"v"`
			} `json:"c"`
		} `json:"rows"`
	}
	if err := json.Unmarshal(data, &tables); err != nil || len(tables) < 2 {
		t.Fatalf("%s: %v", path, err)
	}
	var want []string
	for _, r := range tables[1].Rows {
		if r.C[1].V == "Device" {
			want = append(want, fmt.Sprintf("%v %v %v %v", r.C[2].V, r.C[3].V, r.C[4].V, r.C[5].V))
		}
	}
	ops, err := loadOps()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	var execs int
	for _, o := range ops {
		got = append(got, fmt.Sprintf("%s %s %d %v", o.typ, o.operation, o.occ, float64(o.dur)*float64(o.occ)/1e6))
		execs += o.occ
	}
	if len(got) != len(want) || execs != 620 {
		t.Fatalf("ops.tsv has %d ops and %d executions, want %d and 620", len(got), execs, len(want))
	}
	for i := range got {
		g, w := strings.Fields(got[i]), strings.Fields(want[i])
		gt, _ := strconv.ParseFloat(g[len(g)-1], 64)
		wt, _ := strconv.ParseFloat(w[len(w)-1], 64)
		if strings.Join(g[:len(g)-1], " ") != strings.Join(w[:len(w)-1], " ") || gt-wt > 2e-5 || wt-gt > 2e-5 {
			t.Errorf("op %d = %s, want %s", i, got[i], want[i])
		}
	}
	p := newProgram(ops)
	if p.opsPerStep() != 620 {
		t.Errorf("a step runs %d ops, want 620", p.opsPerStep())
	}
}
